"""Directory operations of the mount: listing, mkdir, rmdir, unlink, symlink,
link and rename.

Invariants:

* readdir serves a snapshot taken when the listing starts (``start_id`` 0),
  so cookies (``index + 3``) stay valid while entries change; the snapshot
  costs one store listing plus one marker lookup per sub-directory never
  seen before (directory attributes live in the marker), never a query per
  file: file attributes come from the listing (``Store.list_directory``,
  one compact tuple per key), built without a coroutine per entry; a file
  node keeps that tuple and builds its ``ObjectVersion`` only when asked
  (100,000 entries must not cost 100,000 of those);
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
from typing import Any

import pyfuse3

from objfs.fs import names
from objfs.fs.attrs import new_entry_meta
from objfs.fs.inodes import UNKNOWN, Kind, Node
from objfs.fs.metacache import Entry
from objfs.fs.mountcore import MountCore
from objfs.fs.runner import caller, fuse_error, fuse_handler
from objfs.fs.times import flush_times
from objfs.store.listing import gc_paused
from objfs.store.types import DirectoryListing, DirStats, ListedFile

READDIR_OFFSET = 2  # next_id = index + 1 + READDIR_OFFSET (small cookies are reserved)


@dataclass(slots=True)
class DirHandle:
    node: Node
    entries: list[Entry] | None = None
    base: str = ""  # the directory's path when the snapshot was taken
    cut: int = 0  # the length of its key prefix


class DirOps(MountCore):
    """Handler group of ``ObjfsOperations`` (its dependencies: ``MountCore``):
    directories and names."""

    dir_handles: dict[int, DirHandle]  # set by ``ObjfsOperations.__init__``

    @fuse_handler
    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        node = self.node_of(inode)
        if not node.is_dir:
            raise fuse_error(errno.ENOTDIR)
        await self.note_dir_read(node)
        fh = self.new_fh()
        node.open_count += 1
        self.dir_handles[fh] = DirHandle(node)
        return fh

    @fuse_handler
    async def releasedir(self, fh: int) -> None:
        self.fh_ctx.pop(fh, None)
        handle = self.dir_handles.pop(fh, None)
        if handle is not None:
            handle.node.open_count -= 1
            self.table.release(handle.node)

    @fuse_handler
    async def fsyncdir(self, fh: int, datasync: bool) -> None:
        await flush_times(self)
        if self.cache.take_unsynced():
            await self.run(self.run.store.sync, caller())

    async def list_dir(self, node: Node) -> list[Entry]:
        """Snapshot of a mount directory (``Entry``), in name order.

        A listed file is its bare ``ListedFile`` and others carry path None:
        readdir makes names and paths only for the entries it sends (a
        listing of 100,000 keys holds one tuple per key, no more).
        """
        assert node.path is not None
        prefix = self.keys.dir_prefix(node.path)
        epoch = self.cache.epoch
        listing = await self.run(self.store.list_directory, caller(), self.bucket, prefix)
        node.stats = DirStats(listing.subdirs, listing.newest_ns)
        with gc_paused():
            entries = self._dir_entries(node, prefix, listing)
        if node.kind in (Kind.ROOT, Kind.DIR):
            # The directory's names, made into a set only if a lookup asks.
            self.cache.set_names(node, None, epoch, (entries, len(prefix)))
        return entries

    def _dir_entries(self, node: Node, prefix: str, listing: DirectoryListing) -> list[Entry]:
        assert node.path is not None
        cut = len(prefix)
        valid = names.valid_segment
        hidden = names.VERSIONS_DIR if node.kind is Kind.ROOT else None
        file_kind, dir_kind = Kind.FILE, Kind.DIR
        entries: list[Entry] = []
        append = entries.append
        dirs = []
        for item in listing.entries:
            if item.__class__ is str:
                name = item[cut:-1]
                if valid(name) and name != hidden:
                    dirs.append(name)
                continue
            name = item.key[cut:]  # type: ignore[union-attr]
            if (
                # valid_segment's rule, cheaper for the common short name
                (0 < len(name) <= 63 and name != "." and name != ".." and "\0" not in name)
                or valid(name)
            ) and name != hidden:
                append(item)  # type: ignore[arg-type]
        extra = False

        def name_of(e: Entry) -> str:
            return e.key[cut:] if e.__class__ is ListedFile else e[0]

        if dirs:
            files = {name_of(e) for e in entries}
            entries += [(n, dir_kind, None, None) for n in dirs if n not in files]
            extra = True
        pending = self.cache.pending_in(node.path)
        if pending:
            have = {name_of(e) for e in entries}
            for name in pending:
                if name not in have:
                    have.add(name)
                    append((name, file_kind, None, None))
                    extra = True
        if extra:
            entries.sort(key=lambda e: name_of(e).encode("utf-8", "surrogatepass"))
        if node.kind is Kind.ROOT and self.options.show_versions:
            entries.insert(0, (names.VERSIONS_DIR, Kind.VROOT, "", None))
        return entries

    @fuse_handler
    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        handle = self.dir_handles.get(fh)
        if handle is None:
            raise fuse_error(errno.EBADF)
        entries = handle.entries
        if entries is None or start_id == 0:
            if handle.node.kind in (Kind.VROOT, Kind.VDIR):
                entries = handle.entries = await self.versions.list_dir(handle.node)
            else:
                entries = handle.entries = await self.list_dir(handle.node)
            handle.base = handle.node.path or ""
            handle.cut = len(self.keys.dir_prefix(handle.base))
        start = start_id - READDIR_OFFSET if start_id else 0
        table = self.table
        reply = pyfuse3.readdir_reply
        version_attrs = self.version_attrs
        read_only = self.read_only
        file_attrs = self.defaults.file_maker(read_only)
        base, cut = handle.base, handle.cut
        join = names.join
        file_kind = Kind.FILE
        keyed = not self.keys.prefix  # a key is its path: one string for both
        for index in range(max(start, 0), len(entries)):
            entry = entries[index]
            if entry.__class__ is ListedFile:
                info: Any = entry
                kind = file_kind
                name = info.key[cut:]
                path = info.key if keyed else join(base, name)
            else:
                name, kind, path, info = entry  # type: ignore[misc]
                if path is None:
                    path = join(base, name)
            if kind is file_kind and info is not None:
                node = table.node(file_kind, path)
                if node.state is None and node.atime_ns is None:
                    # The listing has all it needs: no per-entry coroutine or
                    # store call; the node keeps the compact entry (fresher
                    # than any version it cached) as its version-to-be.
                    node.version = UNKNOWN
                    node.listed = info
                    if info.user_meta_blob is None:  # not client-side encrypted
                        attr = file_attrs(node.ino, info.size, info.last_modified_ns, info.sys_meta)
                    else:
                        attr = version_attrs(node.ino, info, read_only)
                    if not reply(token, name.encode(), attr, index + 1 + READDIR_OFFSET):
                        table.forget(node.ino, 0)
                        return
                    node.lookups += 1
                    continue
                # attributes of its own (open, or an atime not yet written)
                if node.state is None:
                    node.version = info.version()
            else:
                node = table.node(kind, path, info.version_id if kind is Kind.VFILE else None)
                if kind is Kind.VFILE:
                    node.version = info
            try:
                attr = await self.attrs(node)
            except pyfuse3.FUSEError:
                table.forget(node.ino, 0)
                continue  # vanished since the listing
            if not reply(token, name.encode(), attr, index + 1 + READDIR_OFFSET):
                table.forget(node.ino, 0)
                return
            table.add_lookups(node)

    @fuse_handler
    async def mkdir(
        self,
        parent_inode: int,
        name: bytes,
        mode: int,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        epoch = self.cache.epoch  # before the store says the name is free
        path = await self.new_entry_path(parent_inode, name)
        parent = self.node_of(parent_inode)
        meta = new_entry_meta(stat.S_IFDIR | stat.S_IMODE(mode), ctx, await self.dir_owner(parent))
        key = self.keys.dir_prefix(path)
        with self.cache.own_change(key):
            await self.run(
                self.store.put_object,
                caller(),
                self.bucket,
                key,
                b"",
                content_type="application/x-directory",
                sys_meta=meta,
            )
        self.cache.touched(path)
        self.entry_changed(parent.path, meta.mtime_ns)
        self.cache.subdirs_changed(parent.path, +1)
        node = self.table.node(Kind.DIR, path)
        node.version = await self.head(key)
        node.exists = True
        node.stats = DirStats(0, None)
        self.cache.set_names(node, set(), epoch)  # new: empty
        attr = await self.attrs(node)
        self.table.add_lookups(node)
        return attr

    async def dir_is_empty(self, path: str) -> bool:
        prefix = self.keys.dir_prefix(path)
        page = await self.run(
            self.store.list_objects, caller(), self.bucket, prefix=prefix, max_keys=2
        )
        if any(v.key != prefix for v in page.contents):
            return False
        return not self.cache.pending_under(path)

    @fuse_handler
    async def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        parent = self.node_of(parent_inode)
        if parent.kind in (Kind.VROOT, Kind.VDIR):
            await self.versions.rmdir(parent, name)
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
            with self.cache.own_change(key):
                await self.run.nowait(self.store.delete_object, caller(), self.bucket, key)
            self.times.forget(key)
        self.cache.touched(path)
        self.times.dir_gone(path)
        self.entry_changed(parent.path)
        self.cache.subdirs_changed(parent.path, -1)
        self.cache.maybe_vanished(parent.path or "")
        self.table.orphan(node)

    @fuse_handler
    async def unlink(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        parent = self.node_of(parent_inode)
        if parent.kind is Kind.VDIR:
            await self.versions.unlink(parent, name)
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
        self.cache.drop_pending(node)
        if committed:
            with self.cache.own_change(self.keys.key(path)):
                await self.run.nowait(
                    self.store.delete_object, caller(), self.bucket, self.keys.key(path)
                )
            self.times.forget(self.keys.key(path))
        node.unlinked = True
        if node.state is not None:
            node.state.ctime_ns = time.time_ns()  # the link count changed
        # Detached first, so it keeps the version it knew: a descriptor that
        # holds it without an open (O_PATH) still stats it (touched would
        # drop it), and the kernel's ctime write-back right after the unlink
        # is answered.
        self.table.orphan(node)
        self.cache.touched(path)
        self.entry_changed(parent.path)
        self.cache.maybe_vanished(parent.path or "")

    @fuse_handler
    async def link(
        self,
        inode: int,
        new_parent_inode: int,
        new_name: bytes,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        raise fuse_error(errno.EPERM)  # an object has exactly one key

    @fuse_handler
    async def symlink(
        self,
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
        meta = new_entry_meta(stat.S_IFLNK | 0o777, ctx, await self.dir_owner(parent))
        meta = meta.replace(symlink=text)
        key = self.keys.key(path)
        with self.cache.own_change(key):
            await self.run(self.store.put_object, caller(), self.bucket, key, b"", sys_meta=meta)
        self.cache.touched(path)
        self.entry_changed(parent.path, meta.mtime_ns)
        node = self.table.node(Kind.FILE, path)
        node.version = await self.head(key)
        attr = await self.attrs(node)
        self.table.add_lookups(node)
        return attr

    @fuse_handler
    async def rename(
        self,
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
            self.cache.subdirs_changed(old_parent.path, -1)
            if dst is None:
                self.cache.subdirs_changed(new_parent.path, +1)
        self.cache.touched(old)
        self.cache.touched(new)
        now = time.time_ns()
        self.entry_changed(old_parent.path, now)
        self.entry_changed(new_parent.path, now)
        self.cache.maybe_vanished(old_parent.path or "")

    async def rename_file(self, src: Node, old: str, new: str, dst: Node | None) -> None:
        if src.state is not None:
            await self.commit_node(src, durable=False)
        if dst is not None and dst.state is not None:
            await dst.state.hold_base()  # its handles keep the replaced data
        async with self.feed.lock:  # the feed skips exactly this rename's changes
            moved = await self.run(
                self.store.rename, caller(), self.bucket, self.keys.key(old), self.keys.key(new)
            )
            self.feed.own(moved.first_seq, moved.last_seq)
        if dst is not None and dst.state is not None:
            await dst.state.detach(None, None)
            self.cache.drop_pending(dst)
        self.table.move(Kind.FILE, old, new)
        src.forget_cache()
        if src.state is not None:
            await src.state.detach(self.keys.key(new), await self.file_version(src))

    async def rename_dir(self, old: str, new: str) -> None:
        moving = self.table.live_under(old, frozenset({Kind.FILE}))
        for node in moving:
            if node.state is not None:
                await self.commit_node(node, durable=False)
        async with self.feed.lock:  # the feed skips exactly this rename's changes:
            # every node under the directory keeps its inode number
            moved = await self.run(
                self.store.rename_prefix,
                caller(),
                self.bucket,
                self.keys.dir_prefix(old),
                self.keys.dir_prefix(new),
            )
            self.feed.own(moved.first_seq, moved.last_seq)
        for node in self.table.live_under(new, frozenset({Kind.FILE})):
            if node.state is not None:
                await node.state.detach(None, None)
        self.table.move(Kind.DIR, old, new)
        for node in self.table.live_under(new, frozenset({Kind.FILE, Kind.DIR})):
            node.forget_cache()
            if node.state is not None and node.path is not None:
                await node.state.detach(self.keys.key(node.path), await self.file_version(node))
