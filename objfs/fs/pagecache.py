"""The kernel page cache as the mount's read cache (``notify_store`` pushes).

A read decrypts more than the kernel asked for: a random 4 KiB read decrypts
its whole 64 KiB segment, a sequential read a whole chunk. The rest is pushed
into the kernel's page cache for the inode (``pyfuse3.notify_store``), so
later reads of it are answered by the kernel without a FUSE request. The
pages cost the daemon no memory; its own queue of data waiting to be pushed
is bounded (``QUEUE_BYTES``; a push that does not fit is dropped: it is only
an optimisation).

What the kernel does with a store (``fuse_notify_store``, fs/fuse/dev.c):
it finds or creates each page, locks it, copies the data in and marks it
up to date, *whatever the page held*, dirty pages included; data past the
inode's size *extends the size* like a write. Hence the rules:

* **Never on the event loop thread.** The store waits for each page's lock,
  and the kernel holds a page locked while a READ of it is in flight, which
  only this thread answers: a store of such a page from here would wait for
  ever. **Nor in a worker thread before its READ's reply**: two cold READs
  of one segment, each in a worker pushing the pages around its own, would
  each wait for the page the other READ holds locked until its reply (this
  deadlocked the mount). Everything is queued for one pusher thread, which
  no reply waits for. pyfuse3 drops the GIL for the store.
* **Only data of the version the kernel caches for that inode, never
  around local writes.** A push is offered only when the node is attached to
  its path, no writable handle is open on it (with writeback caching, a
  writable handle may have dirty pages in the kernel, which a store would
  overwrite; the kernel writes them back before the last release), its open
  state holds no written data, and the version read is the node's current
  version and the one its page cache is known to hold (``cached_data``).
* **Never past the size**: a push ends at the version's size, which is the
  inode's size in the kernel then (the kernel keeps its own size under
  writeback caching, and only a write or a truncate changes it, which
  fence first).
* **Fences.** Whatever changes what the kernel should hold for an inode
  (an open, which may switch the version or drop the cache; a truncate; the
  freshness poller's invalidation of a key changed elsewhere) calls
  ``fence(node)`` first: pushes queued before it are dropped and a store in
  progress for the node is waited for, so no push of older data can land
  after the change. Each push carries the node's ``push_epoch`` read
  before its data was read; the pusher drops it if the epoch moved.

``OBJFS_PAGE_PUSH=0`` in the daemon's environment turns pushes off (for
before/after benchmarks); the daemon logs what it stored at unmount.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pyfuse3
import trio


class Node(Protocol):
    """What the pusher uses of an inode (``inodes.Node``): its number and push fence."""

    ino: int
    push_epoch: int


log = logging.getLogger("objfs.fs")

PAGE = 4096
QUEUE_BYTES = 32 << 20  # data waiting for the pusher thread, at most
JOIN_TIMEOUT = 5.0  # seconds the unmount waits for a store in progress


def page_floor(n: int) -> int:
    return n & ~(PAGE - 1)


def page_ceil(n: int) -> int:
    return (n + PAGE - 1) & ~(PAGE - 1)


@dataclass(slots=True, frozen=True)
class PushTarget:
    """Where one read may push: the node, and its fence epoch before the read."""

    pusher: PagePusher
    node: Node
    epoch: int

    def push(self, offset: int, data: Any) -> bool:
        """Queue for the pusher thread (never blocks; any thread)."""
        return self.pusher.push(self.node, self.epoch, offset, data)


class PagePusher:
    """One thread that stores data into the kernel page cache; see the module docstring."""

    def __init__(self, limit: int = QUEUE_BYTES, store: Any = None) -> None:
        self.limit = limit
        self._store = store or pyfuse3.notify_store
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # the queue (the pusher thread waits)
        # Stores finished (``wait_idle`` waits), on the same lock: a store
        # wakes no one unless a fence waits for it (waking the idle pusher
        # thread after every worker thread's store cost it a switch and a GIL
        # hand-off: ~45,000 in a cold 20,000-read random run).
        self._idle = threading.Condition(lock)
        self._idle_waiters = 0
        self._queue: deque[tuple[Node, int, int, Any]] = deque()
        self._queued = 0
        self._busy: dict[int, int] = {}  # inode -> stores in progress
        self._closed = False
        self._thread: threading.Thread | None = None
        self.pushed = 0  # bytes stored
        self.dropped = 0  # bytes not stored (queue full, fenced, inode gone)
        self.disabled = False  # the kernel does not support it (ENOSYS)

    # -- event loop thread -------------------------------------------------

    def epoch(self, node: Node) -> int:
        return node.push_epoch

    def push(self, node: Node, epoch: int, offset: int, data: Any) -> bool:
        """Queue ``data`` (bytes or memoryview) for [offset, offset+len); never blocks."""
        n = len(data)
        if n <= 0 or self.disabled:
            return False
        with self._cond:
            if self._closed or self._queued + n > self.limit:
                self.dropped += n
                return False
            self._queue.append((node, epoch, offset, data))
            self._queued += n
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="objfs-pagepush", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return True

    def fence_nowait(self, node: Node) -> bool:
        """Void queued pushes of ``node``; False if a store for it is in progress."""
        with self._cond:
            node.push_epoch += 1
            return node.ino not in self._busy

    async def fence(self, node: Node) -> None:
        """Void queued pushes of ``node`` and wait out a store in progress for it."""
        if not self.fence_nowait(node):
            await trio.to_thread.run_sync(self.wait_idle, node.ino)

    def wait_idle(self, ino: int) -> None:
        """Until no store for inode ``ino`` is in progress (any thread but the event loop's)."""
        with self._cond:
            while ino in self._busy:
                self._idle_waiters += 1
                try:
                    self._idle.wait()
                finally:
                    self._idle_waiters -= 1

    def close(self, on_stuck: Callable[[], object] | None = None) -> None:
        """Drop what is queued and stop the thread (before the FUSE session closes).

        ``on_stuck``: called if a store is still waiting after ``JOIN_TIMEOUT``
        (the daemon aborts the FUSE connection, which ends it)."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._queued = 0
            self._cond.notify_all()
            self._idle.notify_all()
            thread = self._thread
        if thread is not None:
            # A store waiting for a page whose READ was never answered (the
            # loop ended on a signal) waits until the connection is aborted:
            # the unmount cannot (the reader holds the file open) nor can
            # closing the FUSE device (the store's write holds it).
            thread.join(JOIN_TIMEOUT)
            if thread.is_alive():
                log.warning("a page-cache push was still waiting at unmount")
                if on_stuck is not None:
                    on_stuck()
                    thread.join(JOIN_TIMEOUT)

    # -- pusher thread -------------------------------------------------------

    def store_now(self, node: Node, epoch: int, offset: int, data: Any) -> None:
        """Store ``data`` now unless fenced since ``epoch`` (never on the event loop thread)."""
        n = len(data)
        with self._cond:
            if self._closed or self.disabled or node.push_epoch != epoch or n <= 0:
                self.dropped += n
                return
            self._busy[node.ino] = self._busy.get(node.ino, 0) + 1
        self._store_unfenced(node, offset, data)

    def _store_unfenced(self, node: Node, offset: int, data: Any) -> None:
        """The store itself; the caller marked ``node`` busy (and this unmarks it)."""
        try:
            self._store(node.ino, offset, data)
            self.pushed += len(data)
        except OSError as err:
            self.dropped += len(data)
            if err.errno == errno.ENOSYS:
                self.disabled = True
            elif err.errno != errno.ENOENT:  # ENOENT: the kernel forgot the inode
                log.debug("notify_store of inode %d failed: %s", node.ino, err)
        except Exception:
            self.dropped += len(data)
            log.exception("notify_store of inode %d failed", node.ino)
        finally:
            with self._cond:
                left = self._busy[node.ino] - 1
                if left:
                    self._busy[node.ino] = left
                else:
                    del self._busy[node.ino]
                    if self._idle_waiters:
                        self._idle.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                node, epoch, offset, data = self._queue.popleft()
                self._queued -= len(data)
                if node.push_epoch != epoch or self.disabled:
                    self.dropped += len(data)
                    continue
                self._busy[node.ino] = self._busy.get(node.ino, 0) + 1
            self._store_unfenced(node, offset, data)


__all__ = ["PAGE", "PagePusher", "PushTarget", "page_ceil", "page_floor"]
