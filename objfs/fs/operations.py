"""The FUSE operations of an objfs mount: the namespace (lookup, getattr,
readdir, mkdir, rmdir, unlink, rename, symlink, setattr, statfs).

File I/O lives in ``fileops``, ``.versions/`` in ``versions``, extended
attributes in ``xattrs``, the change poller in ``freshness``; this class
glues them. Path <-> key rules are in ``names`` (including the rule for keys
that cannot be paths); inode rules in ``inodes``.

Invariants:

* every handler is wrapped by ``fuse_handler`` (no exception but
  ``FUSEError`` reaches pyfuse3) and every store call runs in a worker thread;
* attributes shown by ``ls -l`` come from the listing: readdir costs one
  listing of the directory plus one marker lookup per sub-directory, never a
  query per file;
* metadata-only changes (chmod, chown, utimens) amend the current version,
  they never make a new one; rename of a file or a whole directory is one
  store transaction;
* hard links are refused with EPERM (an object has one key).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import pyfuse3

from objfs.errors import MethodNotAllowed, NoSuchKey, NoSuchVersion
from objfs.fs import names
from objfs.fs.attrs import AttrDefaults
from objfs.fs.fileops import FileOps
from objfs.fs.inodes import DIR_KINDS, UNKNOWN, InodeTable, Kind, Node
from objfs.fs.names import KeyMap
from objfs.fs.options import MountOptions
from objfs.fs.runner import MOUNT_CTX, StoreRunner, fuse_error, fuse_handler
from objfs.fs.versions import VersionOps
from objfs.fs.xattrs import XattrOps
from objfs.store.types import ObjectVersion, SystemMeta

log = logging.getLogger("objfs.fs")

OWN_CHANGE_TTL = 5.0  # seconds an announced own change waits for the poller
READDIR_OFFSET = 2  # next_id = index + 1 + READDIR_OFFSET (small cookies are reserved)


@dataclass(slots=True)
class DirHandle:
    node: Node
    entries: list[tuple[str, Kind, str, Any]] | None = None


class ObjfsOperations(FileOps, VersionOps, XattrOps, pyfuse3.Operations):
    """One mounted bucket (or a prefix of it)."""

    enable_writeback_cache = True
    supports_dot_lookup = False

    def __init__(self, store: Any, bucket: str, options: MountOptions, *, threads: int = 6) -> None:
        super().__init__()
        self.store = store
        self.bucket = bucket
        self.options = options
        self.read_only = options.read_only
        self.run = StoreRunner(store, threads)
        self.keys = KeyMap(options.prefix)
        self.table = InodeTable()
        self.defaults = AttrDefaults(
            uid=os.getuid() if options.uid is None else options.uid,
            gid=os.getgid() if options.gid is None else options.gid,
            umask=options.umask,
            attr_timeout=options.attr_timeout,
            entry_timeout=options.entry_timeout,
            mount_time_ns=time.time_ns(),
        )
        self.root_meta = SystemMeta()
        self.dir_handles: dict[int, DirHandle] = {}
        self.pending: set[Node] = set()  # created files not committed yet
        self.own_changes: dict[str, deque[float]] = {}
        self.meta_unsynced = False
        self._next_fh = 1
        self._init_files()

    # -- helpers -----------------------------------------------------------

    def new_fh(self) -> int:
        fh = self._next_fh
        self._next_fh += 1
        return fh

    def node_of(self, ino: int) -> Node:
        node = self.table.get(ino)
        if node is None:
            raise fuse_error(errno.ENOENT)
        return node

    def child_path(self, parent: Node, raw: bytes, creating: bool = False) -> str:
        """Mount path of ``raw`` in ``parent``; raises for names no key can hold."""
        name = names.decode_name(raw)
        if name is None:
            raise fuse_error(errno.EINVAL if creating else errno.ENOENT)
        if len(raw) > names.NAME_MAX:
            raise fuse_error(errno.ENAMETOOLONG)
        if not names.valid_segment(name):
            raise fuse_error(errno.EINVAL if creating else errno.ENOENT)
        assert parent.path is not None
        return names.join(parent.path, name)

    def check_writable(self, node: Node | None = None) -> None:
        if self.read_only or (
            node is not None and node.kind in (Kind.VROOT, Kind.VDIR, Kind.VFILE)
        ):
            raise fuse_error(errno.EROFS)

    async def head(self, key: str, version_id: str | None = None) -> ObjectVersion | None:
        try:
            return await self.run(
                self.store.head_object, MOUNT_CTX, self.bucket, key, version_id=version_id
            )
        except (NoSuchKey, NoSuchVersion, MethodNotAllowed):
            return None

    async def file_version(self, node: Node) -> ObjectVersion | None:
        """Latest version of a FILE node (cached until the poller says it changed)."""
        if node.path is None:
            return node.orphan_version
        if node.version is UNKNOWN:
            node.version = await self.head(self.keys.key(node.path))
        return node.version  # type: ignore[return-value]

    async def dir_marker(self, node: Node) -> ObjectVersion | None:
        if node.kind is not Kind.DIR or node.path is None:
            return None
        if node.version is UNKNOWN:
            node.version = await self.head(self.keys.dir_prefix(node.path))
        return node.version  # type: ignore[return-value]

    async def resolve(self, path: str) -> Node | None:
        """The FILE or DIR node at ``path`` if it exists (file wins the name)."""
        fnode = self.table.find(Kind.FILE, path)
        if fnode is not None and fnode.state is not None:
            return fnode
        dir_known = None
        if fnode is not None and fnode.version is not UNKNOWN:
            version = fnode.version
        else:
            version, dir_known = await self.run(self._probe, path)
        if version is not None:
            fnode = fnode or self.table.node(Kind.FILE, path)
            fnode.version = version
            return fnode
        if fnode is not None:
            fnode.version = None
        dnode = self.table.find(Kind.DIR, path)
        if dnode is not None and dnode.exists is True:
            return dnode
        prefix = self.keys.dir_prefix(path)
        exists = dir_known
        if exists is None:
            exists = await self.run(self.store.prefix_exists, MOUNT_CTX, self.bucket, prefix)
        if not exists and not any(n.path and names.is_under(n.path, path) for n in self.pending):
            return None
        dnode = dnode or self.table.node(Kind.DIR, path)
        dnode.exists = True  # the marker (attributes) is fetched when asked for
        return dnode

    def _probe(self, path: str) -> tuple[ObjectVersion | None, bool | None]:
        """(latest version of the key, whether the prefix has keys if it is not a file).

        One worker-thread call for a lookup: latency, not the queries, is the cost.
        """
        try:
            return self.store.head_object(MOUNT_CTX, self.bucket, self.keys.key(path)), None
        except (NoSuchKey, NoSuchVersion, MethodNotAllowed):
            pass
        return None, self.store.prefix_exists(MOUNT_CTX, self.bucket, self.keys.dir_prefix(path))

    def known(self, path: str) -> Node | None:
        """The FILE/DIR node at ``path`` when this mount knows it exists (no store query)."""
        fnode = self.table.find(Kind.FILE, path)
        if fnode is not None and (fnode.state is not None or fnode.version not in (None, UNKNOWN)):
            return fnode
        dnode = self.table.find(Kind.DIR, path)
        return dnode if dnode is not None and dnode.exists is True else None

    def note_own_change(self, key: str) -> None:
        """This mount just made one change to ``key``: the poller need not invalidate it."""
        self.own_changes.setdefault(key, deque()).append(time.monotonic() + OWN_CHANGE_TTL)

    def consume_own_change(self, key: str) -> bool:
        """True (and forgotten) when a change of ``key`` was announced by ``note_own_change``."""
        pending = self.own_changes.get(key)
        now = time.monotonic()
        while pending and pending[0] < now:
            pending.popleft()
        if not pending:
            self.own_changes.pop(key, None)
            return False
        pending.popleft()
        return True

    def touched(self, path: str) -> None:
        """Something at ``path`` changed here: drop cached facts about it and its dirs."""
        for anc in names.ancestors(path):
            node = self.table.find(Kind.DIR, anc)
            if node is not None:
                node.exists = UNKNOWN
        for kind in (Kind.FILE, Kind.DIR):
            node = self.table.find(kind, path)
            if node is not None and node.state is None:
                node.forget_cache()
        self.meta_unsynced = True

    async def attrs(self, node: Node) -> pyfuse3.EntryAttributes:
        d = self.defaults
        if node.kind is Kind.ROOT:
            attr = d.directory(node.ino, None, self.read_only)
            if self.root_meta != SystemMeta():
                attr = d.directory(node.ino, _fake_marker(self.root_meta), self.read_only)
            return attr
        if node.kind is Kind.DIR:
            return d.directory(node.ino, await self.dir_marker(node), self.read_only)
        if node.kind in (Kind.VROOT, Kind.VDIR):
            return d.directory(node.ino, None, read_only=True)
        if node.kind is Kind.VFILE:
            return d.version(node.ino, node.version, read_only=True)  # type: ignore[arg-type]
        state = node.state
        if state is not None:
            base = state.base
            modified = base.last_modified_ns if base is not None else d.mount_time_ns
            meta = state.current_meta()
            if meta.mtime_ns is None and state.data_dirty:
                meta = meta.replace(mtime_ns=time.time_ns())
            return d.file(node.ino, state.size, modified, meta, self.read_only)
        version = await self.file_version(node)
        if version is None:
            raise fuse_error(errno.ENOENT)
        return d.version(node.ino, version, self.read_only)

    # -- lookup & attributes ----------------------------------------------

    @fuse_handler
    async def lookup(
        self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent = self.node_of(parent_inode)
        if parent.kind in (Kind.VROOT, Kind.VDIR):
            node = await self.versions_lookup(parent, name)
        elif parent.kind not in (Kind.ROOT, Kind.DIR):
            raise fuse_error(errno.ENOTDIR)
        elif parent.kind is Kind.ROOT and name == names.VERSIONS_DIR.encode():
            node = self.table.node(Kind.VROOT, "")
        else:
            found = await self.resolve(self.child_path(parent, name))
            if found is None:
                # A negative entry the kernel may cache: the change poller
                # invalidates it when the name appears elsewhere.
                negative = pyfuse3.EntryAttributes()
                negative.st_ino = 0
                negative.entry_timeout = self.defaults.entry_timeout
                return negative
            node = found
        attr = await self.attrs(node)
        self.table.add_lookups(node)
        return attr

    @fuse_handler
    async def forget(self, inode_list: Any) -> None:
        for ino, count in inode_list:
            self.table.forget(ino, count)

    @fuse_handler
    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        return await self.attrs(self.node_of(inode))

    @fuse_handler
    async def setattr(
        self,
        inode: int,
        attr: pyfuse3.EntryAttributes,
        fields: pyfuse3.SetattrFields,
        fh: int | None,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        node = self.node_of(inode)
        self.check_writable(node)
        if fields.update_size:
            if node.is_dir:
                raise fuse_error(errno.EISDIR)
            await self.truncate_node(node, attr.st_size)
        meta_fields = (
            fields.update_mode,
            fields.update_uid,
            fields.update_gid,
            fields.update_mtime,
        )
        if any(meta_fields):
            await self.change_meta(node, attr, fields)
        return await self.attrs(node)

    async def change_meta(
        self, node: Node, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields
    ) -> None:
        if node.kind is Kind.ROOT:
            old = self.root_meta
        elif node.kind is Kind.DIR:
            marker = await self.dir_marker(node)
            old = marker.sys_meta if marker is not None else SystemMeta()
        elif node.state is not None:
            old = node.state.current_meta()
        else:
            version = await self.file_version(node)
            if version is None:
                raise fuse_error(errno.ENOENT)
            old = version.sys_meta
        changes: dict[str, Any] = {}
        if fields.update_mode:
            kind_bits = stat.S_IFDIR if node.is_dir else stat.S_IFREG
            if old.symlink is not None:
                kind_bits = stat.S_IFLNK
            changes["mode"] = kind_bits | stat.S_IMODE(attr.st_mode)
        if fields.update_uid:
            changes["uid"] = attr.st_uid
        if fields.update_gid:
            changes["gid"] = attr.st_gid
        if fields.update_mtime:
            changes["mtime_ns"] = attr.st_mtime_ns
        new = old.replace(**changes)
        if new == old:
            return
        if node.kind is Kind.ROOT:
            self.root_meta = new
        elif node.kind is Kind.DIR:
            assert node.path is not None
            key = self.keys.dir_prefix(node.path)
            if await self.dir_marker(node) is None:
                await self.run(
                    self.store.put_object,
                    MOUNT_CTX,
                    self.bucket,
                    key,
                    b"",
                    content_type="application/x-directory",
                    sys_meta=new,
                )
            else:
                await self.run(self.store.update_sys_meta, MOUNT_CTX, self.bucket, key, new)
            self.note_own_change(key)
            node.version = await self.head(key)
            self.meta_unsynced = True
        elif node.state is not None and (node.state.dirty or node.path is None):
            node.state.set_meta(new, changes.get("mtime_ns"))
        else:
            assert node.path is not None
            key = self.keys.key(node.path)
            version = await self.run(self.store.update_sys_meta, MOUNT_CTX, self.bucket, key, new)
            self.note_own_change(key)
            node.version = version
            if node.state is not None:
                node.state.base = version
                node.state.sys_meta = version.sys_meta
            self.meta_unsynced = True

    @fuse_handler
    async def readlink(self, inode: int, ctx: pyfuse3.RequestContext) -> bytes:
        node = self.node_of(inode)
        if node.kind is Kind.VFILE:
            version = node.version
        elif node.kind is Kind.FILE:
            version = await self.file_version(node)
        else:
            raise fuse_error(errno.EINVAL)
        target = version.sys_meta.symlink if isinstance(version, ObjectVersion) else None
        if target is None:
            raise fuse_error(errno.EINVAL)
        return target.encode("utf-8", "surrogateescape")

    @fuse_handler
    async def access(self, inode: int, mode: int, ctx: pyfuse3.RequestContext) -> bool:
        node = self.node_of(inode)
        if mode & os.W_OK and (self.read_only or node.kind in (Kind.VROOT, Kind.VDIR, Kind.VFILE)):
            return False
        if ctx.uid == 0:
            return True
        attr = await self.attrs(node)
        if ctx.uid == attr.st_uid:
            bits = (attr.st_mode >> 6) & 7
        elif ctx.gid == attr.st_gid or attr.st_gid in pyfuse3.get_sup_groups(ctx.pid):
            bits = (attr.st_mode >> 3) & 7
        else:
            bits = attr.st_mode & 7
        return (bits & mode) == mode

    @fuse_handler
    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        st = await self.run(os.statvfs, str(self.store.path))
        data = pyfuse3.StatvfsData()
        data.f_bsize = st.f_bsize
        data.f_frsize = st.f_frsize
        data.f_blocks = st.f_blocks
        data.f_bfree = st.f_bfree
        data.f_bavail = st.f_bavail
        data.f_files = st.f_files
        data.f_ffree = st.f_ffree
        data.f_favail = st.f_favail
        data.f_namemax = names.NAME_MAX
        return data

    # -- directories ------------------------------------------------------

    @fuse_handler
    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        node = self.node_of(inode)
        if not node.is_dir:
            raise fuse_error(errno.ENOTDIR)
        fh = self.new_fh()
        node.open_count += 1
        self.dir_handles[fh] = DirHandle(node)
        return fh

    @fuse_handler
    async def releasedir(self, fh: int) -> None:
        handle = self.dir_handles.pop(fh, None)
        if handle is not None:
            handle.node.open_count -= 1
            self.table.release(handle.node)

    @fuse_handler
    async def fsyncdir(self, fh: int, datasync: bool) -> None:
        if self.meta_unsynced:
            self.meta_unsynced = False
            await self.run(os.sync)

    async def list_dir(self, node: Node) -> list[tuple[str, Kind, str, Any]]:
        """Snapshot of a mount directory: (name, kind, path, ObjectVersion | None)."""
        assert node.path is not None
        prefix = self.keys.dir_prefix(node.path)

        def listing() -> list[ObjectVersion | str]:
            return list(
                self.store.iter_objects(MOUNT_CTX, self.bucket, prefix=prefix, delimiter="/")
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
        entries = [(n, Kind.FILE, names.join(node.path, n), v) for n, v in files.items()]
        entries += [(n, Kind.DIR, names.join(node.path, n), None) for n in dirs if n not in files]
        entries.sort(key=lambda e: e[0].encode("utf-8", "surrogatepass"))
        if node.kind is Kind.ROOT and self.options.show_versions:
            entries.insert(0, (names.VERSIONS_DIR, Kind.VROOT, "", None))
        return entries

    @fuse_handler
    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
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
        self, parent_inode: int, name: bytes, mode: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent = self.node_of(parent_inode)
        self.check_writable(parent)
        path = self.child_path(parent, name, creating=True)
        if await self.resolve(path) is not None:
            raise fuse_error(errno.EEXIST)
        meta = SystemMeta(
            mode=stat.S_IFDIR | stat.S_IMODE(mode),
            uid=ctx.uid,
            gid=ctx.gid,
            mtime_ns=time.time_ns(),
        )
        key = self.keys.dir_prefix(path)
        await self.run(
            self.store.put_object,
            MOUNT_CTX,
            self.bucket,
            key,
            b"",
            content_type="application/x-directory",
            sys_meta=meta,
        )
        self.note_own_change(key)
        self.touched(path)
        node = self.table.node(Kind.DIR, path)
        node.version = await self.head(key)
        node.exists = True
        attr = await self.attrs(node)
        self.table.add_lookups(node)
        return attr

    async def dir_is_empty(self, path: str) -> bool:
        prefix = self.keys.dir_prefix(path)
        page = await self.run(
            self.store.list_objects, MOUNT_CTX, self.bucket, prefix=prefix, max_keys=2
        )
        if any(v.key != prefix for v in page.contents):
            return False
        return not any(n.path and names.is_under(n.path, path) for n in self.pending)

    @fuse_handler
    async def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
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
            await self.run(self.store.delete_object, MOUNT_CTX, self.bucket, key)
            self.note_own_change(key)
        self.touched(path)
        self.table.orphan(node)

    @fuse_handler
    async def unlink(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
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
            await self.run(self.store.delete_object, MOUNT_CTX, self.bucket, self.keys.key(path))
            self.note_own_change(self.keys.key(path))
        self.touched(path)
        self.table.orphan(node)

    @fuse_handler
    async def link(
        self, inode: int, new_parent_inode: int, new_name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        raise fuse_error(errno.EPERM)  # an object has exactly one key

    @fuse_handler
    async def symlink(
        self, parent_inode: int, name: bytes, target: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent = self.node_of(parent_inode)
        self.check_writable(parent)
        path = self.child_path(parent, name, creating=True)
        if await self.resolve(path) is not None:
            raise fuse_error(errno.EEXIST)
        text = names.decode_name(target)
        if text is None:
            raise fuse_error(errno.EINVAL)
        meta = SystemMeta(
            mode=stat.S_IFLNK | 0o777,
            uid=ctx.uid,
            gid=ctx.gid,
            mtime_ns=time.time_ns(),
            symlink=text,
        )
        key = self.keys.key(path)
        await self.run(self.store.put_object, MOUNT_CTX, self.bucket, key, b"", sys_meta=meta)
        self.note_own_change(key)
        self.touched(path)
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
        self.touched(old)
        self.touched(new)

    async def rename_file(self, src: Node, old: str, new: str, dst: Node | None) -> None:
        if src.state is not None:
            await self.commit_node(src, durable=False)
        await self.run(
            self.store.rename, MOUNT_CTX, self.bucket, self.keys.key(old), self.keys.key(new)
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

    async def rename_dir(self, old: str, new: str) -> None:
        moving = self.table.live_under(old, frozenset({Kind.FILE}))
        for node in moving:
            if node.state is not None:
                await self.commit_node(node, durable=False)
        await self.run(
            self.store.rename_prefix,
            MOUNT_CTX,
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


def _fake_marker(meta: SystemMeta) -> ObjectVersion:
    return ObjectVersion(
        bucket="",
        key="",
        version_id="",
        is_latest=True,
        is_delete_marker=False,
        size=0,
        etag="",
        last_modified_ns=meta.mtime_ns or 0,
        sys_meta=meta,
    )


__all__ = ["ObjfsOperations", "DIR_KINDS"]
