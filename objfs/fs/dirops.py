"""Directory operations of the mount: listing, mkdir, rmdir, unlink, symlink,
link and rename.

Invariants:

* readdir serves a snapshot taken when the listing starts (``start_id`` 0),
  so cookies (``index + 3``) stay valid while entries change; the snapshot
  costs one store listing plus one marker lookup per sub-directory never
  seen before (directory attributes live in the marker), never a query per
  file: file attributes come from the listing;
* rmdir refuses a directory with any key below it, including keys hidden by
  the naming rule (they are never deleted behind the user's back);
* rename of a file or a whole directory is one store transaction; open
  files are committed first and then follow the new name;
* hard links are refused with EPERM (an object has exactly one key);
* every create, unlink, rename in or out, mkdir and rmdir moves the
  directory's mtime and ctime (``entry_changed``), and mkdir/rmdir/rename of
  a directory keeps the parent's cached sub-directory count (its link count)
  right without a new listing.
"""

from __future__ import annotations

import errno
import stat
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyfuse3

from objfs.fs import names
from objfs.fs.attrs import new_entry_meta
from objfs.fs.inodes import Kind, Node
from objfs.fs.runner import caller, fuse_error, fuse_handler
from objfs.fs.times import flush_times
from objfs.store.types import DirStats, ObjectVersion

if TYPE_CHECKING:
    from objfs.fs.operations import ObjfsOperations

READDIR_OFFSET = 2  # next_id = index + 1 + READDIR_OFFSET (small cookies are reserved)


@dataclass(slots=True)
class DirHandle:
    node: Node
    entries: list[tuple[str, Kind, str, Any]] | None = None


class DirOps:
    """Mixin of ``ObjfsOperations`` for directories and names."""

    @fuse_handler
    async def opendir(self: ObjfsOperations, inode: int, ctx: pyfuse3.RequestContext) -> int:
        node = self.node_of(inode)
        if not node.is_dir:
            raise fuse_error(errno.ENOTDIR)
        await self.note_dir_read(node)
        fh = self.new_fh()
        node.open_count += 1
        self.dir_handles[fh] = DirHandle(node)
        return fh

    @fuse_handler
    async def releasedir(self: ObjfsOperations, fh: int) -> None:
        self.fh_ctx.pop(fh, None)
        handle = self.dir_handles.pop(fh, None)
        if handle is not None:
            handle.node.open_count -= 1
            self.table.release(handle.node)

    @fuse_handler
    async def fsyncdir(self: ObjfsOperations, fh: int, datasync: bool) -> None:
        await flush_times(self)
        if self.meta_unsynced:
            self.meta_unsynced = False
            await self.run(self.run.store.sync, caller())

    async def list_dir(self: ObjfsOperations, node: Node) -> list[tuple[str, Kind, str, Any]]:
        """Snapshot of a mount directory: (name, kind, path, ObjectVersion | None)."""
        assert node.path is not None
        prefix = self.keys.dir_prefix(node.path)
        epoch = self.names_epoch

        def listing() -> list[ObjectVersion | str]:
            return list(
                self.store.iter_objects(caller(), self.bucket, prefix=prefix, delimiter="/")
            )

        files: dict[str, ObjectVersion | None] = {}
        dirs: list[str] = []
        for item in await self.run(listing):
            key = item if isinstance(item, str) else item.key
            name = self.keys.child_name(prefix, key)
            if name is None or (node.kind is Kind.ROOT and name == names.VERSIONS_DIR):
                continue
            if isinstance(item, str):
                dirs.append(name)
            else:
                files[name] = item
        for pending in self.pending:
            if pending.path is not None and names.split(pending.path)[0] == node.path:
                files.setdefault(names.split(pending.path)[1], None)
        stamps = [v.last_modified_ns for v in files.values() if v is not None]
        node.stats = DirStats(len(dirs), max(stamps) if stamps else None)
        entries = [(n, Kind.FILE, names.join(node.path, n), v) for n, v in files.items()]
        entries += [(n, Kind.DIR, names.join(node.path, n), None) for n in dirs if n not in files]
        entries.sort(key=lambda e: e[0].encode("utf-8", "surrogatepass"))
        if node.kind in (Kind.ROOT, Kind.DIR):
            self.set_names(node, {e[0] for e in entries}, epoch)
        if node.kind is Kind.ROOT and self.options.show_versions:
            entries.insert(0, (names.VERSIONS_DIR, Kind.VROOT, "", None))
        return entries

    @fuse_handler
    async def readdir(
        self: ObjfsOperations, fh: int, start_id: int, token: pyfuse3.ReaddirToken
    ) -> None:
        handle = self.dir_handles.get(fh)
        if handle is None:
            raise fuse_error(errno.EBADF)
        if handle.entries is None or start_id == 0:
            if handle.node.kind in (Kind.VROOT, Kind.VDIR):
                handle.entries = await self.versions_list(handle.node)
            else:
                handle.entries = await self.list_dir(handle.node)
        start = start_id - READDIR_OFFSET if start_id else 0
        for index in range(max(start, 0), len(handle.entries)):
            name, kind, path, info = handle.entries[index]
            node = self.table.node(kind, path, info.version_id if kind is Kind.VFILE else None)
            if kind is Kind.VFILE or (
                kind is Kind.FILE and node.state is None and info is not None
            ):
                node.version = info
            try:
                attr = await self.attrs(node)
            except pyfuse3.FUSEError:
                self.table.forget(node.ino, 0)
                continue  # vanished since the listing
            if not pyfuse3.readdir_reply(token, name.encode(), attr, index + 1 + READDIR_OFFSET):
                self.table.forget(node.ino, 0)
                return
            self.table.add_lookups(node)

    @fuse_handler
    async def mkdir(
        self: ObjfsOperations,
        parent_inode: int,
        name: bytes,
        mode: int,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        epoch = self.names_epoch  # before the store says the name is free
        path = await self.new_entry_path(parent_inode, name)
        parent = self.node_of(parent_inode)
        meta = new_entry_meta(stat.S_IFDIR | stat.S_IMODE(mode), ctx, await self.attrs(parent))
        key = self.keys.dir_prefix(path)
        await self.run(
            self.store.put_object,
            caller(),
            self.bucket,
            key,
            b"",
            content_type="application/x-directory",
            sys_meta=meta,
        )
        self.note_own_change(key)
        self.touched(path)
        self.entry_changed(parent.path, meta.mtime_ns)
        self.subdirs_changed(parent.path, +1)
        node = self.table.node(Kind.DIR, path)
        node.version = await self.head(key)
        node.exists = True
        node.stats = DirStats(0, None)
        self.set_names(node, set(), epoch)  # new: empty
        attr = await self.attrs(node)
        self.table.add_lookups(node)
        return attr

    async def dir_is_empty(self: ObjfsOperations, path: str) -> bool:
        prefix = self.keys.dir_prefix(path)
        page = await self.run(
            self.store.list_objects, caller(), self.bucket, prefix=prefix, max_keys=2
        )
        if any(v.key != prefix for v in page.contents):
            return False
        return not any(n.path and names.is_under(n.path, path) for n in self.pending)

    @fuse_handler
    async def rmdir(
        self: ObjfsOperations, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> None:
        parent = self.node_of(parent_inode)
        if parent.kind in (Kind.VROOT, Kind.VDIR):
            await self.versions_rmdir(parent, name)
            return
        self.check_writable(parent)
        path = self.child_path(parent, name)
        node = await self.resolve(path)
        if node is None:
            raise fuse_error(errno.ENOENT)
        if node.kind is not Kind.DIR:
            raise fuse_error(errno.ENOTDIR)
        if not await self.dir_is_empty(path):
            raise fuse_error(errno.ENOTEMPTY)
        key = self.keys.dir_prefix(path)
        if await self.head(key) is not None:
            await self.run(self.store.delete_object, caller(), self.bucket, key)
            self.note_own_change(key)
            self.times.forget(key)
        self.touched(path)
        self.times.dir_gone(path)
        self.entry_changed(parent.path)
        self.subdirs_changed(parent.path, -1)
        self.maybe_vanished(parent.path or "")
        self.table.orphan(node)

    @fuse_handler
    async def unlink(
        self: ObjfsOperations, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> None:
        parent = self.node_of(parent_inode)
        if parent.kind is Kind.VDIR:
            await self.versions_unlink(parent, name)
            return
        self.check_writable(parent)
        path = self.child_path(parent, name)
        node = await self.resolve(path)
        if node is None:
            raise fuse_error(errno.ENOENT)
        if node.kind is not Kind.FILE:
            raise fuse_error(errno.EISDIR)
        committed = True
        if node.state is not None:
            # Waits for a commit in flight (release racing with unlink).
            committed = await node.state.detach(None, None)
        self.pending.discard(node)
        if committed:
            await self.run(self.store.delete_object, caller(), self.bucket, self.keys.key(path))
            self.note_own_change(self.keys.key(path))
            self.times.forget(self.keys.key(path))
        self.touched(path)
        self.entry_changed(parent.path)
        self.maybe_vanished(parent.path or "")
        node.unlinked = True
        if node.state is not None:
            node.state.ctime_ns = time.time_ns()  # the link count changed
        self.table.orphan(node)

    @fuse_handler
    async def link(
        self: ObjfsOperations,
        inode: int,
        new_parent_inode: int,
        new_name: bytes,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        raise fuse_error(errno.EPERM)  # an object has exactly one key

    @fuse_handler
    async def symlink(
        self: ObjfsOperations,
        parent_inode: int,
        name: bytes,
        target: bytes,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        path = await self.new_entry_path(parent_inode, name)
        text = names.decode_name(target)
        if text is None:
            raise fuse_error(errno.EINVAL)
        parent = self.node_of(parent_inode)
        meta = new_entry_meta(stat.S_IFLNK | 0o777, ctx, await self.attrs(parent))
        meta = meta.replace(symlink=text)
        key = self.keys.key(path)
        await self.run(self.store.put_object, caller(), self.bucket, key, b"", sys_meta=meta)
        self.note_own_change(key)
        self.touched(path)
        self.entry_changed(parent.path, meta.mtime_ns)
        node = self.table.node(Kind.FILE, path)
        node.version = await self.head(key)
        attr = await self.attrs(node)
        self.table.add_lookups(node)
        return attr

    @fuse_handler
    async def rename(
        self: ObjfsOperations,
        parent_inode_old: int,
        name_old: bytes,
        parent_inode_new: int,
        name_new: bytes,
        flags: int,
        ctx: pyfuse3.RequestContext,
    ) -> None:
        old_parent = self.node_of(parent_inode_old)
        new_parent = self.node_of(parent_inode_new)
        self.check_writable(old_parent)
        self.check_writable(new_parent)
        if flags & pyfuse3.RENAME_EXCHANGE:
            raise fuse_error(errno.EINVAL)
        old = self.child_path(old_parent, name_old)
        new = self.child_path(new_parent, name_new, creating=True)
        src = await self.resolve(old)
        if src is None:
            raise fuse_error(errno.ENOENT)
        if old == new:
            return
        dst = await self.resolve(new)
        if dst is not None and flags & pyfuse3.RENAME_NOREPLACE:
            raise fuse_error(errno.EEXIST)
        if src.kind is Kind.FILE:
            if dst is not None and dst.kind is Kind.DIR:
                raise fuse_error(errno.EISDIR)
            await self.rename_file(src, old, new, dst)
        else:
            if names.is_under(new, old):
                raise fuse_error(errno.EINVAL)
            if dst is not None and dst.kind is Kind.FILE:
                raise fuse_error(errno.ENOTDIR)
            if dst is not None and not await self.dir_is_empty(new):
                raise fuse_error(errno.ENOTEMPTY)
            await self.rename_dir(old, new)
            self.times.dir_gone(new)
            self.times.dir_moved(old, new)
            self.subdirs_changed(old_parent.path, -1)
            if dst is None:
                self.subdirs_changed(new_parent.path, +1)
        self.touched(old)
        self.touched(new)
        now = time.time_ns()
        self.entry_changed(old_parent.path, now)
        self.entry_changed(new_parent.path, now)
        self.maybe_vanished(old_parent.path or "")

    async def rename_file(
        self: ObjfsOperations, src: Node, old: str, new: str, dst: Node | None
    ) -> None:
        if src.state is not None:
            await self.commit_node(src, durable=False)
        if dst is not None and dst.state is not None:
            await dst.state.hold_base()  # its handles keep the replaced data
        await self.run(
            self.store.rename, caller(), self.bucket, self.keys.key(old), self.keys.key(new)
        )
        self.note_own_change(self.keys.key(old))
        self.note_own_change(self.keys.key(new))
        if dst is not None and dst.state is not None:
            await dst.state.detach(None, None)
            self.pending.discard(dst)
        self.table.move(Kind.FILE, old, new)
        src.forget_cache()
        if src.state is not None:
            await src.state.detach(self.keys.key(new), await self.file_version(src))

    async def rename_dir(self: ObjfsOperations, old: str, new: str) -> None:
        moving = self.table.live_under(old, frozenset({Kind.FILE}))
        for node in moving:
            if node.state is not None:
                await self.commit_node(node, durable=False)
        await self.run(
            self.store.rename_prefix,
            caller(),
            self.bucket,
            self.keys.dir_prefix(old),
            self.keys.dir_prefix(new),
        )
        for node in self.table.live_under(new, frozenset({Kind.FILE})):
            if node.state is not None:
                await node.state.detach(None, None)
        self.table.move(Kind.DIR, old, new)
        for node in self.table.live_under(new, frozenset({Kind.FILE, Kind.DIR})):
            node.forget_cache()
            if node.state is not None and node.path is not None:
                await node.state.detach(self.keys.key(node.path), await self.file_version(node))
