"""Disk space: what keeps a full disk from locking the store.

SQLite in WAL mode needs disk space to delete anything (WAL frames, then
the checkpoint), so a store whose disk is full to the last byte could not
delete, gc or repair its way out. Two things prevent it:

- **A free-space floor.** New data (a put, a copy, an upload part, a mount's
  writes and new files) is refused with ``StoreFull`` (HTTP 507, ENOSPC on
  the mount, one line on the CLI) once the store's filesystem has less than
  the floor free for unprivileged users (``f_bavail``). Deletes, gc, fsck
  and lease bookkeeping are never refused. ``OBJFS_MIN_FREE`` sets it: a
  size (``512M``, ``2G``), a percentage of the filesystem (``5%``), or ``0``
  (no floor). The default is ``max(64 MiB, 1% of the filesystem)``, at most
  1 GiB: 64 MiB holds SQLite's WAL at its checkpoint backstop (32 MiB)
  twice over, 1% grows with disks whose stores (and so whose largest
  deletes and gcs) are bigger, and no single transaction needs a gigabyte.
- **A reserve.** ``STORE/reserve`` is a preallocated file of
  ``OBJFS_RESERVE`` bytes (default 8 MiB; ``0``: none). The floor cannot
  stop another program from taking the last byte; when a delete, gc, fsck
  or the drop of a writer lease then fails with ``StoreFull``, the reserve
  is removed and the operation runs once more (``frees_space``); so does
  ``Store.open`` when SQLite has no room for the WAL and its index that the
  last process to close removed. The reserve is made again (at open, after
  gc) once the filesystem has room for it above the floor; until then new
  data needs its size free above the floor too (it must not take the room
  the reserve left: that room is for the deletes).

Invariants: checking the floor never writes; the reserve is either absent
or whole (made under a temporary name, allocated, then renamed).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from objfs.errors import StoreFull

log = logging.getLogger(__name__)

RESERVE_NAME = "reserve"
RESERVE_BYTES = 8 << 20  # default (OBJFS_RESERVE): a big delete or gc's WAL, and its checkpoint
MIN_FLOOR = 64 << 20
MAX_FLOOR = 1 << 30
FLOOR_PERCENT = 1.0
# A measurement of free space is reused while its owner has written less
# than this since and it is this recent (a statvfs per chunk is cheap, but
# the mount's small commits come by the thousand).
_REMEASURE_BYTES = 64 << 20
_REMEASURE_S = 0.5

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|[kmgt]?i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def human(size: float) -> str:
    """Rounded down: a free space just under the floor never reads as equal to it."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return (
                f"{size:.0f} {unit}" if unit == "B" else f"{math.floor(size * 10) / 10:.1f} {unit}"
            )
        size /= 1024
    raise AssertionError("unreachable")


def parse_floor(text: str, fs_bytes: int) -> int:
    """``OBJFS_MIN_FREE``'s value in bytes for a filesystem of ``fs_bytes``; ValueError if bad."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size or a percentage: {text!r}")
    number, unit = float(match.group(1)), match.group(2).lower()
    if unit == "%":
        if number > 100:
            raise ValueError(f"more than 100%: {text!r}")
        return int(fs_bytes * number / 100)
    return int(number * _UNITS[unit[:1]])


def default_floor(fs_bytes: int) -> int:
    return max(MIN_FLOOR, min(MAX_FLOOR, int(fs_bytes * FLOOR_PERCENT / 100)))


class Space:
    """The floor and the reserve of one store directory. Thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.reserve_path = root / RESERVE_NAME
        self._lock = threading.Lock()
        self._floor: int | None = None
        self._reserve: int | None = None
        self._free = 0  # the last measurement, less what was charged since
        self._measured = 0.0  # monotonic time of the last measurement
        self._charged = 0

    # -- the floor -------------------------------------------------------------

    @property
    def floor(self) -> int:
        if self._floor is None:
            self._floor = self._setting("OBJFS_MIN_FREE", default_floor)
        return self._floor

    @property
    def reserve_bytes(self) -> int:
        if self._reserve is None:
            self._reserve = self._setting("OBJFS_RESERVE", lambda _fs: RESERVE_BYTES)
        return self._reserve

    def _setting(self, name: str, default: Callable[[int], int]) -> int:
        st = os.statvfs(self.root)
        fs_bytes = st.f_blocks * st.f_frsize
        raw = os.environ.get(name, "").strip()
        if raw:
            try:
                return parse_floor(raw, fs_bytes)
            except ValueError as exc:
                log.warning("ignoring %s: %s (examples: 512M, 2G, 5%%, 0)", name, exc)
        return default(fs_bytes)

    def free(self) -> int:
        """Bytes free on the store's filesystem for unprivileged users."""
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    def require_room(self, nbytes: int = 0) -> None:
        """Refuse new data (``StoreFull``) when the filesystem is under the floor;
        ``nbytes``: what the caller is about to write."""
        floor = self.floor
        what = "OBJFS_MIN_FREE"
        if self.reserve_bytes > 0 and not self.reserve_path.exists():
            # Released (or never made): its room is the deletes', not new data's.
            floor += self.reserve_bytes
            what += " and the space reserve"
        if floor <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if (
                now - self._measured > _REMEASURE_S
                or self._charged > _REMEASURE_BYTES
                or self._free - floor < 2 * _REMEASURE_BYTES
            ):
                self._free, self._measured, self._charged = self.free(), now, 0
            free = self._free
            if free - nbytes >= floor:
                self._free -= nbytes
                self._charged += nbytes
                return
            self._measured = 0.0  # measure again next time: space may come back
        raise StoreFull(
            f"the store's disk has {human(max(free, 0))} free, less than the "
            f"{human(floor)} kept for deletes, gc and fsck ({what}): "
            "new data is refused; delete objects and run 'objfs gc', or free space on the disk"
        )

    # -- the reserve ------------------------------------------------------------

    def release_reserve(self) -> bool:
        """Remove the reserve (a delete or gc found the disk full); False if there was none."""
        try:
            size = self.reserve_path.stat().st_size
            self.reserve_path.unlink()
        except FileNotFoundError:
            return False
        with self._lock:
            self._measured = 0.0
        log.info(  # not a warning: the CLI's one line is the command's own
            "the store's disk is full: released the %s reserve to go on; "
            "it is made again once there is room",
            human(size),
        )
        return True

    def restore_reserve(self) -> None:
        """Make the reserve if it is missing and the disk has room for it above
        the floor; never fails (a reserve is a safety net, not a requirement)."""
        size = self.reserve_bytes
        if size <= 0 or self.reserve_path.exists():
            return
        try:
            if self.free() - size < max(self.floor, size):
                return
            temp = self.root / f".{RESERVE_NAME}.{os.getpid()}.{threading.get_ident()}"
            fd = os.open(temp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
            try:
                try:
                    os.posix_fallocate(fd, 0, size)
                except OSError as exc:  # no fallocate here (some filesystems): write it
                    if exc.errno == errno.ENOSPC:
                        raise
                    block = bytes(min(size, 1 << 20))
                    for _ in range(-(-size // len(block))):
                        os.write(fd, block)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self.reserve_path)
        except OSError as exc:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(temp)
            log.info("no space reserve made in %s: %s", self.root, exc)


_Method = TypeVar("_Method", bound=Callable[..., Any])


def frees_space(method: _Method) -> _Method:
    """A store method that must work on a full disk (deletes, gc, fsck): when it
    fails with ``StoreFull``, release the reserve and run it once more."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except StoreFull:
            if not self.space.release_reserve():
                raise
        return method(self, *args, **kwargs)

    return cast(_Method, wrapper)
