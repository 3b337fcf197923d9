"""Times the mount keeps between store writes: batched atime and directory times.

Owns two things, both per mount:

* pending time amendments (``TimesUpdate`` by key): a relatime atime bump
  on read, a directory's mtime/ctime after an entry changed in it. They
  reach the store together, in one ``amend_times`` transaction, every
  ``FLUSH_INTERVAL`` seconds, on fsync/fsyncdir and at unmount; none makes
  a version. A read never waits for a store write.
* the (mtime, ctime) of each directory an entry changed in, and the atime
  of each directory listed (relatime), in memory: for
  a directory with a marker object until the marker is amended (and after,
  harmlessly), for an implicit directory (no marker) for the life of the
  mount; attributes take the newer of this and the stored times.

The relatime rule (Linux's default for mounts): the atime moves on a read
only if it is not newer than mtime or ctime, or is a day old.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

import trio

from objfs.fs import names
from objfs.store.types import TimesUpdate

if TYPE_CHECKING:
    from objfs.fs.identity import MountIdentities
    from objfs.fs.runner import StoreRunner
    from objfs.store import Store
    from objfs.store.types import ObjectVersion

log = logging.getLogger("objfs.fs")

# Linux's clock id (Python 3.11 has no name for it): the kernel's own clock
# for inode times, one scheduler tick coarse.
CLOCK_REALTIME_COARSE = getattr(time, "CLOCK_REALTIME_COARSE", 5)
FLUSH_INTERVAL = 1.0  # seconds between batched time amendments
RELATIME_PERIOD_NS = 24 * 3600 * 1_000_000_000


def kernel_now_ns() -> int:
    """Now, as the kernel stamps a file's mtime on write (``current_time``).

    Under writeback caching the kernel keeps a file's mtime/ctime itself: at
    a write(2) it sets them to this clock and sends a setattr, unless they
    hold this value already. Times the mount gives a new file (or a
    truncate) from this clock agree with the kernel's, so a file made and
    written within one tick costs no setattr, and what is stored is what
    ``stat`` showed. The data of a write reaches the daemon later (at
    write-back, often a tick or two later): it moves no time itself, else
    the stored mtime would be that later tick while ``stat`` showed the
    kernel's.
    """
    return time.clock_gettime_ns(CLOCK_REALTIME_COARSE)


def relatime_due(atime_ns: int, mtime_ns: int, ctime_ns: int, now_ns: int) -> bool:
    """Whether a read at ``now_ns`` moves the atime (Linux relatime)."""
    return atime_ns <= mtime_ns or atime_ns <= ctime_ns or now_ns - atime_ns >= RELATIME_PERIOD_NS


class TimeKeeper:
    """See the module docstring."""

    def __init__(self) -> None:
        # key -> [atime, mtime, ctime] to write (None: keep the stored one);
        # TimesUpdate records are made when taken (a queue per create/unlink)
        self._pending: dict[str, list[int | None]] = {}
        # directory path -> [atime, mtime, ctime] recorded here (None: not changed)
        self._dirs: dict[str, list[int | None]] = {}

    def queue(
        self,
        key: str,
        *,
        atime_ns: int | None = None,
        mtime_ns: int | None = None,
        ctime_ns: int | None = None,
    ) -> None:
        old = self._pending.get(key)
        if old is None:
            self._pending[key] = [atime_ns, mtime_ns, ctime_ns]
            return
        if atime_ns is not None:
            old[0] = atime_ns
        if mtime_ns is not None:
            old[1] = mtime_ns
        if ctime_ns is not None:
            old[2] = ctime_ns

    def forget(self, key: str) -> None:
        """Drop a pending amendment (the key was just rewritten with its times)."""
        self._pending.pop(key, None)

    def take(self) -> list[TimesUpdate]:
        pending, self._pending = self._pending, {}
        return [TimesUpdate(key, *times) for key, times in pending.items()]

    def dir_changed(self, path: str, now_ns: int) -> None:
        """An entry changed in the directory: mtime and ctime are ``now_ns``."""
        times = self._dirs.setdefault(path, [None, None, None])
        times[1] = times[2] = now_ns

    def dir_read(self, path: str, now_ns: int) -> None:
        """The directory was listed and relatime says its atime moves."""
        self._dirs.setdefault(path, [None, None, None])[0] = now_ns

    def dir_times(self, path: str) -> tuple[int | None, int | None, int | None] | None:
        times = self._dirs.get(path)
        return None if times is None else (times[0], times[1], times[2])

    def dir_reset(self, path: str, *, atime: bool, mtime: bool) -> None:
        """The directory's times were set explicitly (utimensat): they win."""
        times = self._dirs.get(path)
        if times is None:
            return
        if atime:
            times[0] = None
        if mtime:
            times[1] = times[2] = None

    def dir_gone(self, path: str) -> None:
        for known in [p for p in self._dirs if names.is_under(p, path)]:
            del self._dirs[known]

    def dir_moved(self, old: str, new: str) -> None:
        for known in [p for p in self._dirs if names.is_under(p, old)]:
            self._dirs[new + known[len(old) :]] = self._dirs.pop(known)


class OwnChanges(Protocol):
    """The part of ``MetaCache`` a time amendment announces itself with."""

    def note_own_change(self, key: str) -> None: ...

    def drop_own_change(self, key: str) -> None: ...


class TimesHost(Protocol):
    """What ``flush_times`` uses of the mount (``ObjfsOperations``)."""

    store: Store
    run: StoreRunner
    bucket: str
    times: TimeKeeper
    identities: MountIdentities

    @property
    def cache(self) -> OwnChanges: ...  # each amendment is announced as an own change


async def flush_times(ops: TimesHost) -> None:
    """Write the pending time amendments in one transaction (never raises)."""
    updates = ops.times.take()
    if not updates:
        return
    for update in updates:
        ops.cache.note_own_change(update.key)
    done: dict[str, ObjectVersion] = {}
    try:
        # Batched for many callers: recorded as the mount's own identity.
        done = await ops.run(ops.store.amend_times, ops.identities.default_ctx, ops.bucket, updates)
    except Exception:
        log.warning("could not record %d time changes", len(updates), exc_info=True)
    for update in updates:
        if update.key not in done:  # vanished meanwhile: no change will be announced
            ops.cache.drop_own_change(update.key)


async def run_flusher(
    ops: TimesHost, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    task_status.started()
    while True:
        await trio.sleep(FLUSH_INTERVAL)
        await flush_times(ops)
