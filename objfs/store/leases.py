"""Writer leases: what keeps gc and fsck away from work not yet committed.

A writer stores chunks first and commits the manifest naming them later
(DESIGN.md, on-disk invariant 2). Between the two, the chunks are
unreferenced; without more, gc would take them for crash leftovers. So
every process that writes holds a **lease**: one row in ``meta.db``'s
``leases`` table, ``(lease_id, holder, since, expires)``.

- ``since``: no chunk this process has written or touched (a dedup hit
  refreshes a chunk's mtime) and not yet committed is older than this. It
  is the start of the oldest write in progress (a put, an upload part, an
  open ``ObjectWriter`` since its last commit), or the time of the last
  renewal when none is in progress.
- ``expires``: the holder renews the row from a background thread every
  quarter of the lease time (``OBJFS_LEASE_SECONDS``, default 60 s). A
  crashed holder stops renewing; once ``expires`` passes, gc drops the row
  and collects what the dead writer left.

A write *begins* (``Leases.begin``) before it stores its first chunk or
reads the base it builds on: the lease row is committed first (in its own
transaction, the first time, or when it is near expiry), so any chunk of
a write in progress either

- was written after the row committed, and gc sees the row (its cutoff is
  at most ``since``), or
- was written after gc read the lease table, so its mtime is newer than
  gc's own start, which also bounds the cutoff (objfs/store/maintenance.py).

A lease costs no transaction per write: begins and commits only update an
in-memory table; the renewal thread publishes the oldest start.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from objfs.errors import StoreFull
from objfs.meta import queries as q

if TYPE_CHECKING:
    from objfs.meta.db import Database

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 60.0


def lease_seconds_from_env() -> float:
    """The lease time this process announces (``OBJFS_LEASE_SECONDS``, for tests and tuning)."""
    raw = os.environ.get("OBJFS_LEASE_SECONDS")
    if not raw:
        return DEFAULT_LEASE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value < 1:
        log.warning("ignoring OBJFS_LEASE_SECONDS=%r: at least 1 second", raw)
        return DEFAULT_LEASE_SECONDS
    return value


@dataclass(slots=True, frozen=True)
class LeaseInfo:
    """A writer lease as stored (``objfs fsck`` and tests show them)."""

    lease_id: str
    holder: str
    since_ns: int
    expires_ns: int

    @property
    def live(self) -> bool:
        return self.expires_ns > time.time_ns()


_Method = TypeVar("_Method", bound=Callable[..., Any])


def leased(method: _Method) -> _Method:
    """Run a store method as one write on its process's lease (puts, copies, parts):
    begun before it reads or stores anything, ended when it returns or fails.
    New data: refused first when the disk is under the store's free-space floor."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.space.require_room()  # new data stops at the free-space floor (store/space.py)
        with self.leases.hold():
            return method(self, *args, **kwargs)

    return cast(_Method, wrapper)


class WriteIntent:
    """One write in progress in this process (a put, a part, an open writer)."""

    __slots__ = ("_leases", "_token")

    def __init__(self, leases: Leases, token: int) -> None:
        self._leases = leases
        self._token = token

    def renew(self) -> None:
        """Everything stored so far is committed: protect only what comes next."""
        self._leases.restart(self._token)

    def end(self) -> None:
        """The write is over (committed or abandoned); idempotent."""
        self._leases.end(self._token)


class Leases:
    """This process's lease on one store. Thread-safe."""

    def __init__(
        self,
        db: Database,
        seconds: float | None = None,
        *,
        on_full: Callable[[], bool] | None = None,
    ) -> None:
        self.db = db
        # Frees room on a full disk (the store's reserve); True if it did.
        self._on_full = on_full
        self.seconds = seconds if seconds is not None else lease_seconds_from_env()
        self.lease_id = uuid.uuid4().hex
        self.holder = f"pid {os.getpid()} on {socket.gethostname()}: {' '.join(sys.argv)[:200]}"
        self._lock = threading.Lock()
        self._publish_lock = threading.Lock()  # one publication at a time
        self._tokens = itertools.count(1)
        self._active: dict[int, int] = {}  # token -> start (ns)
        self._expires = 0  # ns; 0: no row known to be published
        self.lapses = 0  # renewals that came after the row had expired
        self._published = False  # a row may exist (a publication was begun)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- writes --------------------------------------------------------------

    def begin(self) -> WriteIntent:
        """Announce a write; returns once the lease covers it."""
        with self._lock:
            token = next(self._tokens)
            self._active[token] = time.time_ns()
            fresh = self._expires - time.time_ns() > self.seconds * 0.5e9
        if not fresh:
            try:
                self._publish()
            except BaseException:
                self.end(token)
                raise
        self._start_thread()
        return WriteIntent(self, token)

    @contextmanager
    def hold(self) -> Iterator[WriteIntent]:
        """``with store.leases.hold(): store chunks, commit`` (puts and parts)."""
        intent = self.begin()
        try:
            yield intent
        finally:
            intent.end()

    def restart(self, token: int) -> None:
        """Write ``token`` (``begin``'s) now starts again: what it stored is committed
        (``WriteIntent.renew``)."""
        with self._lock:
            if token in self._active:
                self._active[token] = time.time_ns()

    def end(self, token: int) -> None:
        """Write ``token`` is over (``WriteIntent.end``); idempotent."""
        with self._lock:
            self._active.pop(token, None)

    def keep_published(self) -> str:
        """Publish the row now unless it is fresh, and keep renewing it; returns
        the lease id (gc claims chunks to delete under it: objfs/store/chunkgc.py)."""
        with self._lock:
            fresh = self._expires - time.time_ns() > self.seconds * 0.5e9
        if not fresh:
            self._publish()
        self._start_thread()
        return self.lease_id

    def valid_for(self, seconds: float, lapses: int = 0) -> bool:
        """Whether the published row stays unexpired for ``seconds`` more and
        has not lapsed more than ``lapses`` times (a lapsed row may have been
        dropped by gc, and whatever it held taken over)."""
        with self._lock:
            return self._expires - time.time_ns() > seconds * 1e9 and self.lapses <= lapses

    def oldest_active(self) -> int | None:
        """The start of this process's oldest write in progress (ns), None if idle."""
        with self._lock:
            return min(self._active.values(), default=None)

    # -- the row in meta.db ----------------------------------------------------

    def _publish(self) -> None:
        with self._publish_lock:
            self._published = True  # from here on, close() drops the row
            with self._lock:
                now = time.time_ns()
                since = min([now, *self._active.values()])
            expires = now + int(self.seconds * 1e9)
            with self.db.write() as cur:
                q.put_lease(cur, self.lease_id, self.holder, since, expires)
            with self._lock:
                if self._expires and time.time_ns() > self._expires:
                    # Renewed too late: gc may have dropped the row meanwhile.
                    self.lapses += 1
                self._expires = expires

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(
                target=self._renew_loop, name="objfs-lease", daemon=True
            )
            self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.seconds / 4):
            try:
                self._publish()
            except Exception as exc:  # noqa: BLE001 - retried next round; writes check chunks
                if self._stop.is_set():
                    return
                log.warning("could not renew the writer lease: %s", exc)

    def _drop(self) -> None:
        with self.db.write() as cur:
            q.drop_lease(cur, self.lease_id)

    def close(self) -> None:
        """Stop renewing and drop the row (nothing of ours is in flight any more)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            # A Ctrl-C can land inside Thread.start(): then it never started.
            with contextlib.suppress(RuntimeError):
                thread.join(timeout=5)
        if self._published:
            try:
                try:
                    self._drop()
                except StoreFull:
                    # A full disk: the row must still go, or gc takes nothing of
                    # anyone's for a lease time. The reserve makes the room.
                    if self._on_full is None or not self._on_full():
                        raise
                    self._drop()
            except Exception as exc:  # noqa: BLE001 - it expires by itself
                log.info("writer lease left to expire: %s", exc)
            self._expires = 0
            self._published = False
