"""Freshness: changes made outside this mount show up within a second.

A trio task polls ``store.changes_since(seq)`` every ``interval`` seconds;
on a PostgreSQL store it is woken as soon as any node commits a change
(LISTEN/NOTIFY, ``ChangeFeed.wait_for_change``), the interval being the
fallback.
For each change to a key under the mount prefix it

* drops the node caches of the key and of its directories,
* detaches a changed file's node from its path, so the next lookup makes a
  new inode (the kernel ignores sizes from getattr for a regular file it
  caches under writeback caching), and invalidates the old inode's cached
  data (from a worker thread: ``invalidate_inode`` can block), after
  fencing the page-cache pushes of the inode (``pagecache``),
* invalidates the kernel's directory entry (parent, name) so the next
  lookup asks again (``invalidate_entry_async``, safe inside handlers).

Changes this mount committed itself (announced with
``MetaCache.note_own_change``, or for a rename the change seqs its transaction
wrote, ``own``) are skipped: the kernel already holds the right data, and
the inodes keep their numbers. A file with uncommitted data open here keeps
its state: if that state edits the old version, its commit is refused by the
store (``ConditionalRequestConflict``); a rewrite from scratch still replaces
the key (last close wins).

Close-to-open: ``open`` and ``create`` call ``catch_up`` first, which reads
the feed as the polling task does (one query when nothing changed). So an
``open()`` sees every change acknowledged before it began: a file changed
outside is detached from its path there, and the open answers ESTALE, which
makes the kernel look the name up again (``LOOKUP_REVAL``) and open the new
inode, with the new size and no stale page cache. One ``lock`` orders the
readers of the feed: each change is applied once.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Protocol

import pyfuse3
import trio

from objfs.fs import names
from objfs.fs.inodes import Kind
from objfs.store.types import OWNER_IDENTITY, Change, ChangeFeedGap, RequestContext

if TYPE_CHECKING:
    from objfs.fs.inodes import InodeTable
    from objfs.fs.metacache import MetaCache
    from objfs.fs.names import KeyMap
    from objfs.fs.pagecache import PagePusher
    from objfs.fs.runner import StoreRunner
    from objfs.store import Store

log = logging.getLogger("objfs.fs")

PUSHED_GAP_S = 0.02  # at least this between two reads of a pushed feed

# The change feed is store-owner data (it names every key that changes). The
# daemon opened the store directory itself, which is owner power, and uses the
# feed only to drop its own caches: whatever identity its requests act as.
FEED_CTX = RequestContext(OWNER_IDENTITY, "mount")


# A key changed outside stays "recent" this long: a create that the kernel
# sends on a negative entry it cached before the change (entry_timeout, 1 s
# by default) asks the store whether the key exists now.
RECENT_S = 3.0
RECENT_MAX = 10_000  # more recent keys than this: every create asks the store


class FeedHost(Protocol):
    """What the change poller uses of the mount (``ObjfsOperations``): the
    store and its runner, the caches it drops, the page-cache pusher it
    fences (None until the daemon sets one), and the identity check it asks
    for after a store-wide change."""

    store: Store
    run: StoreRunner
    bucket: str
    keys: KeyMap
    table: InodeTable
    cache: MetaCache
    pusher: PagePusher | None

    async def recheck_identity(self) -> None: ...


def interval_from_env() -> float:
    """Seconds between two polls (``OBJFS_FEED_INTERVAL``, for tests and tuning;
    default 0.3, at least 0.0001)."""
    try:
        return max(0.0001, float(os.environ.get("OBJFS_FEED_INTERVAL") or 0.3))
    except ValueError:
        return 0.3


class ChangePoller:
    def __init__(self, ops: FeedHost, interval: float | None = None, batch: int = 10000) -> None:
        self.ops = ops
        self.interval = interval_from_env() if interval is None else interval
        self.batch = batch
        self.seq: int | None = None  # the last change read (None: not started)
        self.lock = trio.Lock()
        self._own: list[tuple[int, int]] = []  # change seq ranges this mount made
        self._stale: set[int] = set()  # inodes whose kernel cache is still to drop
        self._recent: dict[str, float] = {}  # key changed outside -> until when
        self._recent_all = 0.0  # too many recent keys: all are recent until then

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        ops = self.ops
        self.seq = await ops.run(ops.store.change_seq, FEED_CTX)
        task_status.started()
        feed = ops.store.change_feed
        while True:
            if feed.pushes_changes:
                # Another node's commit wakes the poller at once (PostgreSQL's
                # LISTEN/NOTIFY); the interval is the fallback, and a busy
                # store is read at most every PUSHED_GAP_S.
                await trio.to_thread.run_sync(
                    feed.wait_for_change, self.interval, abandon_on_cancel=True
                )
                await trio.sleep(PUSHED_GAP_S)
            else:
                await trio.sleep(self.interval)
            await self.catch_up()
            stale, self._stale = self._stale, set()
            for ino in stale:
                await trio.to_thread.run_sync(_invalidate_inode, ino, ops.pusher)

    async def catch_up(self) -> None:
        """Apply every change committed so far (the polling task's step).

        The kernel caches of changed inodes are dropped by the polling task
        (``invalidate_inode`` can block: never inside a handler).
        """
        if self.seq is None:
            return
        ops = self.ops
        async with self.lock:
            while True:
                try:
                    seq, changes = await ops.run.nowait(
                        ops.store.changes_since, FEED_CTX, self.seq, self.batch, solo=True
                    )
                except ChangeFeedGap as gap:
                    # gc forgot changes this mount had not read: any key it
                    # knows may have changed. Read on from the newest.
                    log.info("%s: every cached name and file is checked again", gap)
                    ops.cache.forget_everything()  # new names anywhere: listings are void
                    self._recent_all = time.monotonic() + RECENT_S
                    seq, changes = gap.seq, self.everything_known(gap.seq)
                    changes.append(Change(gap.seq, "", ""))  # users and keys too
                except Exception:
                    log.warning("polling the store for changes failed", exc_info=True)
                    return
                store_wide = False
                for change in changes:
                    self._stale |= self.apply(change)
                    store_wide = store_wide or not change.bucket
                self.seq = seq
                self._own = [(a, b) for a, b in self._own if b > seq]
                if store_wide:  # users, keys, policies: is the mount's key still good?
                    await ops.recheck_identity()
                if len(changes) < self.batch:
                    return

    def own(self, first_seq: int, last_seq: int) -> None:
        """Changes ``first_seq``..``last_seq`` are this mount's (a rename it made,
        announced while holding ``lock``): the feed skips them."""
        if first_seq <= last_seq and (self.seq is None or last_seq > self.seq):
            self._own.append((first_seq, last_seq))

    def drop_kernel_cache(self, ino: int) -> None:
        """The kernel's cached data of ``ino`` is stale: the polling task drops it."""
        self._stale.add(ino)

    def changed_lately(self, key: str) -> bool:
        """Whether ``key`` changed outside this mount in the last ``RECENT_S``."""
        now = time.monotonic()
        if now < self._recent_all:
            return True
        until = self._recent.get(key)
        return until is not None and now < until

    def _note_recent(self, key: str) -> None:
        now = time.monotonic()
        if len(self._recent) >= RECENT_MAX:
            self._recent = {k: t for k, t in self._recent.items() if t > now}
            if len(self._recent) >= RECENT_MAX:
                self._recent.clear()
                self._recent_all = now + RECENT_S
        self._recent[key] = now + RECENT_S

    def everything_known(self, seq: int) -> list[Change]:
        """A change of every key the mount holds a node for, and of the bucket's
        configuration: what ``apply`` does for them drops every cache."""
        ops = self.ops
        keys = {""}  # the bucket's configuration (its policy)
        for node in ops.table.nodes():
            if node.kind is Kind.FILE and node.path:
                keys.add(ops.keys.key(node.path))
            elif node.kind is Kind.DIR and node.path:
                keys.add(ops.keys.dir_prefix(node.path))
        return [Change(seq, ops.bucket, key) for key in sorted(keys)]

    def apply(self, change: Change) -> set[int]:
        """Drop caches for one change; returns inodes whose kernel cache must go."""
        ops = self.ops
        if change.bucket != ops.bucket:
            return set()
        if not change.key:  # the bucket's config (its policy) changed elsewhere
            ops.store.access.forget(change.bucket)
        if any(a <= change.seq <= b for a, b in self._own):
            return set()
        if ops.cache.consume_own_change(change.key):
            return set()
        self._note_recent(change.key)
        ops.cache.void_names()  # a name may have appeared: name sets are void
        path = ops.keys.path_of(change.key)
        if path is None:
            return set()
        ops.cache.forget_dirs_above(path)
        stale: set[int] = set()
        fnode = ops.table.find(Kind.FILE, path)
        if fnode is not None and fnode.state is not None:
            fnode.state.forget_readers()  # its reads resolve the version again
        if fnode is not None and not (fnode.state is not None and fnode.state.dirty):
            # Under writeback caching the kernel keeps its own size for an
            # inode it knows, whatever getattr says: a file changed outside
            # gets a new inode on its next lookup. Open handles keep the old
            # one and the version they opened.
            ops.table.orphan(fnode)
            stale.add(fnode.ino)
            if ops.pusher is not None:
                ops.pusher.fence_nowait(fnode)  # waited out before the invalidation
        dnode = ops.table.find(Kind.DIR, path)
        if dnode is not None:
            dnode.forget_cache()
            stale.add(dnode.ino)
        # Invalidate the entry of the key and of every ancestor directory the
        # kernel may hold as a negative entry (a new key can create dirs).
        parts = path.split("/")
        for depth, name in enumerate(parts):
            parent_path = "/".join(parts[:depth])
            parent = ops.table.find(Kind.DIR, parent_path) if depth else ops.table.root
            if parent is None:
                break
            last = depth == len(parts) - 1
            if last or ops.table.find(Kind.DIR, names.join(parent_path, name)) is None:
                pyfuse3.invalidate_entry_async(parent.ino, name.encode(), ignore_enoent=True)
        return stale


def _invalidate_inode(ino: int, pusher: PagePusher | None = None) -> None:
    if pusher is not None:
        pusher.wait_idle(ino)  # a page-cache push of old data must not land after
    try:
        pyfuse3.invalidate_inode(ino, attr_only=False)
    except OSError:
        pass  # the kernel no longer knows this inode
