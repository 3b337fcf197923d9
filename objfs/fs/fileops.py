"""File I/O handlers of the mount: open, create, read, write, flush, fsync, release.

Owns the file handle table and when versions are committed. Invariants:

* one ``OpenFile`` per inode, shared by all its handles (see ``openfile``);
* a version is committed on flush (each close) and release when something
  changed, durably on fsync (and only there: close never fsyncs);
* a new file is visible in its directory from ``create`` on (``pending``)
  but costs no version until its first commit, so ``cp`` of a new file makes
  exactly one version;
* ``keep_cache`` is True only when the kernel's cached data is known to be
  the version being opened (same version id and sequence as last time);
* version files (``.versions/...``) are opened read-only and read their
  version directly;
* opening a file this mount holds no key for (SSE-C, client-side encrypted)
  is EACCES (``encryption``), except ``O_TRUNC`` for writing, which reads
  nothing old.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import pyfuse3

from objfs.crypto.cse import META_KEY, CSEObject
from objfs.errors import ConditionalRequestConflict
from objfs.fs import names
from objfs.fs.attrs import new_entry_meta
from objfs.fs.encryption import is_cse, read_version, verify_readable
from objfs.fs.inodes import UNKNOWN, Kind, Node
from objfs.fs.mountcore import MountCore
from objfs.fs.openfile import OpenFile
from objfs.fs.pagecache import PushTarget
from objfs.fs.runner import caller, fuse_error, fuse_handler
from objfs.fs.times import flush_times, kernel_now_ns
from objfs.store.names import encode_key
from objfs.store.types import ObjectVersion
from objfs.store.writer import MAX_FILE_SIZE

log = logging.getLogger("objfs.fs")

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND
# What mknod makes: regular files and the special files the kernel does the
# I/O of (the daemon never opens a FIFO or a device).
SPECIAL_KINDS = frozenset({stat.S_IFREG, stat.S_IFIFO, stat.S_IFSOCK, stat.S_IFCHR, stat.S_IFBLK})


@dataclass(slots=True)
class FileHandle:
    node: Node
    state: OpenFile | None  # None for version files
    writable: bool


class FileOps(MountCore):
    """Handler group of ``ObjfsOperations`` (its dependencies: ``MountCore``):
    file handles and data."""

    def _init_files(self) -> None:
        self.file_handles: dict[int, FileHandle] = {}

    def _handle(self, fh: int) -> FileHandle:
        handle = self.file_handles.get(fh)
        if handle is None:
            raise fuse_error(errno.EBADF)
        return handle

    def _attach(self, node: Node, state: OpenFile | None, writable: bool) -> int:
        fh = self.new_fh()
        self.file_handles[fh] = FileHandle(node, state, writable)
        node.open_count += 1
        if writable:
            node.writers += 1  # no page-cache pushes while it is open (``pagecache``)
        return fh

    @fuse_handler
    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        node = self.node_of(inode)
        if node.is_dir:
            raise fuse_error(errno.EISDIR)
        if node.kind is Kind.FILE:
            # Close-to-open: see every change acknowledged before this open.
            await self.feed.catch_up()
            if node.path is None and not node.unlinked:
                raise self.gone(node)  # changed elsewhere: ESTALE, the kernel looks again
        writable = bool(flags & WRITE_FLAGS)
        if writable:
            self.check_writable(node)
            if node.path is not None and node.kind is not Kind.VFILE:
                await self.check_may_write(node.path)
        if node.kind is Kind.VFILE:
            version = node.version
            assert isinstance(version, ObjectVersion)
            if version.sse == "SSE-C" or is_cse(version):
                await self.run(verify_readable, self.store, caller(), self.encryption, version)
            return pyfuse3.FileInfo(fh=self._attach(node, None, False), keep_cache=True)
        opened = node.state
        shared = opened is not None
        if (
            opened is not None
            and node.version is UNKNOWN
            and not opened.dirty
            and node.path is not None
        ):
            # Changed outside since the state was opened: new opens see the new version.
            version = await self.file_version(node)
            current = cast(OpenFile, node.state)  # as before the await: not checked again
            if version is not None and current.writer is None:
                current.base = version
                shared = False
        created = False
        if node.state is None:
            version = await self.file_version(node)
            if version is None or node.path is None:  # gone, maybe while we asked
                raise self.gone(node)
            if version.sys_meta.symlink is not None:
                raise fuse_error(errno.ELOOP)
            if node.state is None:  # else a concurrent open got there first: share it
                created = True
                node.state = OpenFile(
                    self.run,
                    self.bucket,
                    self.keys.key(node.path),
                    version,
                    version.sys_meta,
                    encryption=self.encryption,
                )
        state = node.state
        if not (writable and flags & os.O_TRUNC):
            try:
                await state.check_keys()
            except BaseException:
                if created and node.open_count == 0 and node.state is state:
                    node.state = None
                raise
        fh = self._attach(node, state, writable)
        if flags & os.O_TRUNC and writable:
            await state.truncate(0)
        if flags & os.O_ACCMODE != os.O_WRONLY:
            self.note_read(node)  # the kernel may serve the reads from its cache
        base = state.base
        data_key = (base.version_id, base.seq) if base is not None else None
        keep = shared or (data_key is not None and node.cached_data == data_key)
        if self.pusher is not None:
            # The version or the cache may change now: no older push may land after.
            await self.pusher.fence(node)
        if not flags & os.O_TRUNC:
            node.cached_data = data_key
        return pyfuse3.FileInfo(fh=fh, keep_cache=keep)

    async def check_may_write(self, path: str) -> None:
        """EACCES now, not at close: a refused write must not vanish in the kernel's cache.

        The store owner on a bucket seen without a policy needs no worker
        thread (the memo the change poller keeps current, see
        ``AccessControl.owner_unbound``): the commit checks again anyway.
        """
        if self.store.access.owner_unbound(caller(), self.bucket):
            return
        await self.run.nowait(
            self.store.check_access,
            caller(),
            "s3:PutObject",
            self.bucket,
            self.keys.key(path),
            sse=self.encryption.write_request,
            solo=True,
        )

    @fuse_handler
    async def create(
        self,
        parent_inode: int,
        name: bytes,
        mode: int,
        flags: int,
        ctx: pyfuse3.RequestContext,
    ) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        parent = self.node_of(parent_inode)
        self.check_writable(parent)
        if parent.kind not in (Kind.ROOT, Kind.DIR):
            raise fuse_error(errno.ENOTDIR)
        path = self.child_path(parent, name, creating=True)
        # A new file costs no version until its first commit: a key S3 cannot
        # hold is refused now (ENAMETOOLONG), not at a close nobody checks.
        encode_key(self.keys.key(path))
        # The kernel only creates after a lookup found nothing: trust the
        # table instead of asking the store again (one small-file create
        # would otherwise cost three more queries).
        await self.check_may_write(path)
        await self.feed.catch_up()
        existing = self.cache.known(path)
        if existing is None and self.feed.changed_lately(self.keys.key(path)):
            # The kernel's negative entry may predate the key's creation
            # elsewhere: a new file here would replace it unseen.
            if await self.head(self.keys.key(path)) is not None:
                if flags & os.O_EXCL:
                    raise fuse_error(errno.EEXIST)
                raise fuse_error(errno.ESTALE)  # the kernel looks the name up, then opens
        if existing is not None:
            if flags & os.O_EXCL:
                raise fuse_error(errno.EEXIST)
            if existing.is_dir:
                raise fuse_error(errno.EISDIR)
            info = await self.open(existing.ino, flags, ctx)
            attr = await self.attrs(existing)
            self.table.add_lookups(existing)
            return info, attr
        node = self.table.node(Kind.FILE, path)
        meta = new_entry_meta(stat.S_IFREG | stat.S_IMODE(mode), ctx, await self.dir_owner(parent))
        changed = meta.atime_ns  # the directory's new mtime
        # The file's times on the kernel's clock: no setattr at its first
        # write when that comes within the same tick (``kernel_now_ns``).
        now = kernel_now_ns()
        meta = meta.replace(atime_ns=now, mtime_ns=None, ctime_ns=None)  # kept by the OpenFile
        state = OpenFile(
            self.run,
            self.bucket,
            self.keys.key(path),
            None,
            meta,
            new=True,
            encryption=self.encryption,
        )
        state.mtime_ns = state.ctime_ns = now
        node.state = state
        node.version = None
        node.cached_data = None
        self.cache.add_pending(node)
        self.cache.touched(path)
        self.entry_changed(parent.path, changed)
        fh = self._attach(node, state, True)
        attr = await self.attrs(node)
        self.table.add_lookups(node)
        return pyfuse3.FileInfo(fh=fh, keep_cache=True), attr

    @fuse_handler
    async def mknod(
        self,
        parent_inode: int,
        name: bytes,
        mode: int,
        rdev: int,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        kind = stat.S_IFMT(mode) or stat.S_IFREG
        if kind not in SPECIAL_KINDS:
            raise fuse_error(errno.EINVAL)
        path = await self.new_entry_path(parent_inode, name)
        parent = self.node_of(parent_inode)
        meta = new_entry_meta(kind | stat.S_IMODE(mode), ctx, await self.dir_owner(parent))
        if kind in (stat.S_IFCHR, stat.S_IFBLK):
            meta = meta.replace(rdev=rdev)
        key = self.keys.key(path)
        enc = self.encryption
        user_meta = None
        if enc.cse_key is not None and kind == stat.S_IFREG:
            # empty, but client-side encrypted like every new file
            user_meta = {META_KEY: CSEObject.new(enc.cse_key, self.store.chunk_size)[1]}
        with self.cache.own_change(key):
            await self.run(
                self.store.put_object,
                caller(),
                self.bucket,
                key,
                b"",
                sys_meta=meta,
                user_meta=user_meta,
                sse=enc.write_request,
            )
        self.cache.touched(path)
        self.entry_changed(parent.path, meta.mtime_ns)
        node = self.table.node(Kind.FILE, path)
        node.version = await self.head(key)
        attr = await self.attrs(node)
        self.table.add_lookups(node)
        return attr

    @fuse_handler
    async def read(self, fh: int, off: int, size: int) -> bytes:
        handle = self._handle(fh)
        if handle.state is not None:
            self.note_read(handle.node)
            return await handle.state.read(off, size, self._push_target(handle.node))
        version = handle.node.version
        assert isinstance(version, ObjectVersion)
        if version.is_delete_marker or off >= version.size:
            return b""
        return await self.run(
            read_version, self.store, caller(), self.encryption, version, off, size
        )

    def _push_target(self, node: Node) -> PushTarget | None:
        """Where a read of ``node`` may push what it decrypted beyond the request.

        Only when the kernel's page cache of the inode is known to hold the
        open state's version, unchanged by this mount (``pagecache`` says why).
        """
        pusher, state = self.pusher, node.state
        if (
            pusher is None
            or pusher.disabled
            or state is None
            or node.writers
            or node.path is None
            or node.unlinked
            or state.has_writes
            or state.dirty
        ):
            return None
        base = state.base
        if base is None or node.cached_data != (base.version_id, base.seq):
            return None
        version = node.version
        if (
            not isinstance(version, ObjectVersion)
            or version.version_id != base.version_id
            or version.seq != base.seq
        ):
            return None
        return PushTarget(pusher, node, pusher.epoch(node))

    @fuse_handler
    async def write(self, fh: int, off: int, buf: bytes) -> int:
        handle = self._handle(fh)
        if handle.state is None:
            raise fuse_error(errno.EBADF)
        if self.read_only:
            raise fuse_error(errno.EROFS)
        if off + len(buf) > MAX_FILE_SIZE:
            # S3's object size limit. Not a short write up to it: the kernel
            # turns a short direct write into EIO.
            raise fuse_error(errno.EFBIG)
        return await handle.state.write(off, buf)

    async def truncate_node(self, node: Node, size: int) -> None:
        if node.kind is not Kind.FILE:
            raise fuse_error(errno.EINVAL)
        if size > MAX_FILE_SIZE:
            raise fuse_error(errno.EFBIG)
        if self.pusher is not None:
            await self.pusher.fence(node)  # no push of older data may land after it
        if node.state is not None:
            await node.state.truncate(size)
            return
        await self.feed.catch_up()  # truncate(2) edits the version this mount knows
        version = await self.file_version(node)
        if version is None or node.path is None:
            raise self.gone(node)
        # truncate(2) on a path with no open handle: a private writer, never
        # attached to the node (an open() meanwhile must not share it).
        state = OpenFile(
            self.run,
            self.bucket,
            self.keys.key(node.path),
            version,
            version.sys_meta,
            encryption=self.encryption,
        )
        try:
            await state.truncate(size)
            committed = await state.commit(durable=False, own=self.own_commit)
        except ConditionalRequestConflict as err:
            self.edit_refused(node, state, err)
            raise
        finally:
            await state.close()
        if committed is not None:
            node.version = committed
            node.cached_data = None
            self.cache.touched(node.path)
            node.version = committed

    @property
    def own_commit(self) -> tuple[Callable[[str], None], Callable[[str], None]]:
        """What ``OpenFile.commit`` announces its change with, before the store
        makes it visible: the change poller may see the commit before the
        commit's caller resumes, and must know it for this mount's own (else
        it drops every directory's name set and the file's inode)."""
        return self.cache.note_own_change, self.cache.drop_own_change

    async def commit_node(self, node: Node, durable: bool) -> None:
        state = node.state
        if state is None:
            return
        if not durable and not state.dirty and not state.lock.locked():
            return  # nothing to commit, no commit in flight (a close after a flush)
        try:
            version = await state.commit(durable, own=self.own_commit)
        except ConditionalRequestConflict as err:
            self.edit_refused(node, state, err)
            raise
        if version is None:
            return
        node.version = version
        node.cached_data = (version.version_id, version.seq)
        self.cache.drop_pending(node)
        if node.path is not None:
            self.cache.touched(node.path)
            node.version = version

    def edit_refused(self, node: Node, state: OpenFile, err: Exception) -> None:
        """The store refused to commit ``state``, an edit of ``node``: its base
        is no longer the key's latest version (changed elsewhere meanwhile).
        The newer version stays; close()/fsync() answer ESTALE, and every
        later commit of the edit too (the open handles keep their data until
        closed); the log says it once. The node leaves its path, so the next
        lookup shows the newer version."""
        if state.refused:
            return
        state.refused = True
        log.warning("%s", err)
        if node.path is None:
            return  # the change poller detached it already
        parent_path, name = names.split(node.path)
        parent = self.table.find(Kind.DIR, parent_path) if parent_path else self.table.root
        self.cache.drop_pending(node)
        self.table.orphan(node)
        self.feed.drop_kernel_cache(node.ino)
        if parent is not None:
            pyfuse3.invalidate_entry_async(parent.ino, name.encode(), ignore_enoent=True)

    @fuse_handler
    async def flush(self, fh: int) -> None:
        handle = self._handle(fh)
        state = handle.state
        if state is None:
            return
        if state.must_commit and not state.has_writes and not state.meta_dirty:
            # A new file nothing was written to yet: shells open, dup2 and close
            # before writing (`echo x > f`); committing now would make an empty
            # version first. release commits it if nothing else does.
            return
        if state.emptied:
            # Truncated to 0 (open with O_TRUNC) and nothing written yet. A
            # flush is any close of the file description, also by a child
            # process that inherited it: every fork + exec closes it, at any
            # moment, e.g. between the open and the first write. Committing
            # then would make an empty version before the data. release
            # commits the empty file if no write and no flush after one does.
            return
        await self.commit_node(handle.node, durable=False)

    @fuse_handler
    async def fsync(self, fh: int, datasync: bool) -> None:
        handle = self._handle(fh)
        if handle.state is not None:
            await self.commit_node(handle.node, durable=True)
        if not datasync:
            await flush_times(self)

    @fuse_handler
    async def release(self, fh: int) -> None:
        self.fh_ctx.pop(fh, None)  # this request keeps its identity (fuse_handler set it)
        handle = self.file_handles.pop(fh, None)
        if handle is None:
            return
        node = handle.node
        try:
            if handle.state is not None:
                await self.commit_node(node, durable=False)
        finally:
            node.open_count -= 1
            if handle.writable:
                node.writers -= 1
            if node.open_count == 0 and node.state is not None:
                state, node.state = node.state, None
                self.cache.drop_pending(node)
                await state.close()
            self.table.release(node)

    async def flush_all(self) -> int:
        """Commit every open file (shutdown); returns how many failed."""
        failed = 0
        await flush_times(self)
        for node in self.table.nodes():
            if node.state is not None and node.state.dirty:
                try:
                    await self.commit_node(node, durable=True)
                except Exception:
                    failed += 1
                    log.exception("could not commit %s at shutdown", node.path)
        return failed


__all__ = ["FileOps", "FileHandle"]
