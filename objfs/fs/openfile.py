"""The shared state of one open file (one per inode, whatever the handle count).

Owns the copy-on-write writer of an open object and the rule of when a new
version is committed. Invariants:

* all handles of an inode share one ``OpenFile``; writes, truncates, reads
  through the writer and commits are serialized by its lock (the writer is
  not assumed thread-safe);
* data is only ever written into a writer opened on ``base`` (the version
  current at open or after our last commit); nothing reaches the key until
  ``commit``;
* ``commit`` makes at most one new version, only when something changed
  (data, or a new file that was never committed); a change of attributes
  alone on a committed file amends the version in place (no new version);
* after the file is unlinked or renamed away (``key`` None), commit discards
  the data instead of recreating the key.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import trio

from objfs.fs.runner import DURABLE_CTX, MOUNT_CTX, StoreRunner
from objfs.store.types import ObjectVersion, SystemMeta

log = logging.getLogger("objfs.fs")


class OpenFile:
    """See the module docstring."""

    def __init__(
        self,
        run: StoreRunner,
        bucket: str,
        key: str,
        base: ObjectVersion | None,
        sys_meta: SystemMeta,
        new: bool = False,
    ) -> None:
        self.run = run
        self.bucket = bucket
        self.key: str | None = key
        self.base = base
        self.writer: Any = None
        self.sys_meta = sys_meta
        self.meta_dirty = False
        self.must_commit = new
        self.needs_sync = False
        self.lock = trio.Lock()
        self.mtime_ns: int | None = None
        self.meta_gen = 0  # bumped by set_meta, which does not wait for the lock

    @property
    def size(self) -> int:
        if self.writer is not None:
            return int(self.writer.size)
        return self.base.size if self.base is not None else 0

    @property
    def dirty(self) -> bool:
        data = self.writer is not None and bool(self.writer.dirty)
        return data or self.must_commit or self.meta_dirty

    @property
    def data_dirty(self) -> bool:
        return self.must_commit or (self.writer is not None and bool(self.writer.dirty))

    def current_meta(self) -> SystemMeta:
        if self.mtime_ns is not None:
            return self.sys_meta.replace(mtime_ns=self.mtime_ns)
        return self.sys_meta

    async def _ensure_writer(self) -> Any:
        if self.writer is None:
            assert self.key is not None
            self.writer = await self.run(
                self.run.store.open_writer, MOUNT_CTX, self.bucket, self.key, base=self.base
            )
        return self.writer

    async def write(self, offset: int, data: bytes) -> int:
        async with self.lock:
            writer = await self._ensure_writer()
            await self.run(writer.write, offset, data)
            self.mtime_ns = time.time_ns()
        return len(data)

    async def truncate(self, size: int) -> None:
        async with self.lock:
            if self.writer is None and size == self.size:
                self.mtime_ns = time.time_ns()
                self.meta_dirty = True
                return
            writer = await self._ensure_writer()
            await self.run(writer.truncate, size)
            self.mtime_ns = time.time_ns()

    async def read(self, offset: int, size: int) -> bytes:
        if self.writer is None:
            length = min(size, self.size - offset)
            if length <= 0 or self.base is None:
                return b""
            return await self.run(
                self.run.store.read_range,
                MOUNT_CTX,
                self.bucket,
                self.base.key,
                offset,
                length,
                version_id=self.base.version_id,
            )
        async with self.lock:
            length = min(size, self.size - offset)
            if length <= 0:
                return b""
            return await self.run(self.writer.read, offset, length)

    def set_meta(self, sys_meta: SystemMeta, mtime_ns: int | None = None) -> None:
        """Attributes to record at the next commit (chmod/utimens while dirty)."""
        self.sys_meta = sys_meta
        if mtime_ns is not None:
            self.mtime_ns = mtime_ns
        self.meta_dirty = True
        self.meta_gen += 1

    async def commit(self, durable: bool) -> ObjectVersion | None:
        """Commit pending changes; returns the new current version or None if none."""
        async with self.lock:
            if self.key is None:
                return None
            ctx = DURABLE_CTX if durable else MOUNT_CTX
            if not self.dirty:
                if durable and self.needs_sync:
                    # The last commit was not fsynced and the store API has no
                    # "sync this version" call: flush the OS caches instead.
                    await trio.to_thread.run_sync(os.sync)
                    self.needs_sync = False
                return None
            store = self.run.store
            meta = self.current_meta()
            gen = self.meta_gen
            if not self.data_dirty and self.base is not None:
                version = await self.run(
                    store.update_sys_meta,
                    ctx,
                    self.bucket,
                    self.key,
                    meta,
                    version_id=self.base.version_id,
                )
            else:
                writer = await self._ensure_writer()
                kwargs: dict[str, Any] = {"sys_meta": meta}
                if self.base is not None:
                    kwargs["content_type"] = self.base.content_type
                    kwargs["user_meta"] = dict(self.base.user_meta)
                result = await self.run(writer.commit, ctx, **kwargs)
                version = await self.run(
                    store.head_object,
                    MOUNT_CTX,
                    self.bucket,
                    self.key,
                    version_id=result.version_id,
                )
            self.base = version
            self.must_commit = False
            self.needs_sync = not durable
            if gen == self.meta_gen:
                self.sys_meta = version.sys_meta
                self.meta_dirty = False
                self.mtime_ns = None
            # else: chmod/utimens arrived during the commit; it stays pending.
            return version

    async def _discard_locked(self) -> None:
        if self.writer is not None:
            writer, self.writer = self.writer, None
            await self.run(writer.close)
        self.must_commit = False
        self.meta_dirty = False

    async def close(self) -> None:
        """Drop the writer (after a commit, or discarding uncommitted work)."""
        async with self.lock:
            await self._discard_locked()

    async def detach(self, new_key: str | None, new_base: ObjectVersion | None) -> bool:
        """The key moved (rename, after a commit) or vanished (unlink).

        Unlinked: the writer stays so open handles still read their data, but
        nothing will be committed. Renamed: rebind to the new key and version.
        Returns whether a version had been committed (waiting for a commit in
        flight), i.e. whether the key exists in the store.
        """
        async with self.lock:
            committed = self.base is not None
            if new_key is None:
                self.key = None
                self.must_commit = False
                self.meta_dirty = False
                return committed
            await self._discard_locked()
            self.key = new_key
            self.base = new_base
            return committed
