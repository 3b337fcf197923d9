"""Freshness: changes made outside this mount show up within a second.

A trio task polls ``store.changes_since(seq)`` every ``interval`` seconds.
For each change to a key under the mount prefix it

* drops the node caches of the key and of its directories,
* invalidates the kernel's attributes and data of the key's inode (from a
  worker thread: ``invalidate_inode`` can block under writeback caching),
* invalidates the kernel's directory entry (parent, name) so the next
  lookup asks again (``invalidate_entry_async``, safe inside handlers).

Changes this mount committed itself (announced with
``ops.note_own_change``) are skipped: the kernel already holds the right data.
A file with uncommitted data open here keeps its state (last close wins).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pyfuse3
import trio

from objfs.fs import names
from objfs.fs.inodes import Kind

if TYPE_CHECKING:
    from objfs.fs.operations import ObjfsOperations
    from objfs.store.types import Change

log = logging.getLogger("objfs.fs")


class ChangePoller:
    def __init__(self, ops: ObjfsOperations, interval: float = 0.3, batch: int = 10000) -> None:
        self.ops = ops
        self.interval = interval
        self.batch = batch

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        ops = self.ops
        seq = await ops.run(ops.store.change_seq)
        task_status.started()
        while True:
            await trio.sleep(self.interval)
            while True:
                try:
                    seq, changes = await ops.run(ops.store.changes_since, seq, self.batch)
                except Exception:
                    log.warning("polling the store for changes failed", exc_info=True)
                    break
                inodes: set[int] = set()
                for change in changes:
                    inodes |= self.apply(change)
                for ino in inodes:
                    await trio.to_thread.run_sync(_invalidate_inode, ino)
                if len(changes) < self.batch:
                    break

    def apply(self, change: Change) -> set[int]:
        """Drop caches for one change; returns inodes whose kernel cache must go."""
        ops = self.ops
        if change.bucket != ops.bucket:
            return set()
        if ops.consume_own_change(change.key):
            return set()
        path = ops.keys.path_of(change.key)
        if path is None:
            return set()
        for anc in names.ancestors(path):
            node = ops.table.find(Kind.DIR, anc)
            if node is not None:
                node.forget_cache()
        stale: set[int] = set()
        for kind in (Kind.FILE, Kind.DIR):
            node = ops.table.find(kind, path)
            if node is None:
                continue
            if node.state is not None and node.state.dirty:
                continue
            node.forget_cache()
            node.cached_data = None
            stale.add(node.ino)
        parent_path, name = names.split(path)
        parent = ops.table.find(Kind.DIR, parent_path) if parent_path else ops.table.root
        if parent is not None:
            pyfuse3.invalidate_entry_async(parent.ino, name.encode(), ignore_enoent=True)
        return stale


def _invalidate_inode(ino: int) -> None:
    try:
        pyfuse3.invalidate_inode(ino, attr_only=False)
    except OSError:
        pass  # the kernel no longer knows this inode
