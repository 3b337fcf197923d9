"""The FUSE operations of an objfs mount: lookup, attributes (getattr,
setattr, readlink, access, statfs) and the core helpers of the handler groups.

``ObjfsOperations`` builds the mount's collaborators, each with its
dependencies: the runner of store calls (``runner``), the inode table
(``inodes``), the metadata cache (``metacache``), the ``.versions/`` tree
(``versions``), the extended attributes (``xattrs``), the time keeper
(``times``) and the change poller (``freshness``); and it combines the
handler groups of file I/O (``fileops``), directories and renames
(``dirops``) and extended attributes (``xattrs``), which declare what they
use of it in ``mountcore``. Path <-> key rules are in ``names`` (including
the rule for keys that cannot be paths); inode rules in ``inodes``.

Invariants:

* every handler is wrapped by ``fuse_handler`` (no exception but
  ``FUSEError`` reaches pyfuse3) and every store call that may wait runs in
  a worker thread (``StoreRunner``; what may run on the event loop's thread
  is in ``objfs/store/CONTRACT.md``, "Calling the store from an event loop");
* node caches (latest version, directory existence) are dropped by this
  mount's own changes (``MetaCache.touched``) and by the change poller; the
  state the handler groups share about those caches (name sets, the names
  epoch, own changes, pending files) is the ``MetaCache`` ``cache``;
* metadata-only changes (chmod, chown, utimens) amend the current version,
  they never make a new one;
* encryption (which key each store call carries, the sizes of client-side
  encrypted files, key refusals) follows ``encryption``; heads of objects
  go through ``encryption.head_meta`` so attributes never need a key.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import stat
import time
from collections.abc import Callable
from typing import Any

import pyfuse3
import trio

from objfs.errors import AccessDenied, MethodNotAllowed, NoSuchKey, NoSuchVersion
from objfs.fs import names
from objfs.fs.attrs import AttrDefaults, DirOwner
from objfs.fs.dirops import DirHandle, DirOps
from objfs.fs.encryption import MountEncryption, head_meta, shown_size
from objfs.fs.fileops import FileOps
from objfs.fs.freshness import ChangePoller
from objfs.fs.identity import MountIdentities
from objfs.fs.inodes import UNKNOWN, InodeTable, Kind, Node
from objfs.fs.metacache import MetaCache
from objfs.fs.names import KeyMap
from objfs.fs.options import MountOptions
from objfs.fs.pagecache import PagePusher
from objfs.fs.runner import (
    FH_HANDLERS,
    StoreRunner,
    caller,
    ctx_with,
    fuse_error,
    fuse_handler,
)
from objfs.fs.times import TimeKeeper, relatime_due
from objfs.fs.versions import VersionTree
from objfs.fs.xattrs import XattrOps, XattrTable
from objfs.store import Store
from objfs.store.sysmeta import type_bits
from objfs.store.types import DirStats, ObjectVersion, RequestContext, SystemMeta

log = logging.getLogger("objfs.fs")

# What a mount whose access key was revoked still answers: the kernel letting
# go of inodes and handles (a release commits nothing: the store refuses), and
# the mount point's own attributes and statfs, which unmounting and tools that
# manage mounts (``mountpoint``, ``df``, ``os.path.ismount``) ask for.
CLEANUP_HANDLERS = frozenset({"forget", "release", "releasedir", "statfs"})


def _answered_when_refused(handler: str, args: tuple) -> bool:
    if handler in CLEANUP_HANDLERS:
        return True
    return handler == "getattr" and len(args) > 1 and args[1] == pyfuse3.ROOT_INODE


class ObjfsOperations(FileOps, DirOps, XattrOps, pyfuse3.Operations):
    """One mounted bucket (or a prefix of it)."""

    enable_writeback_cache = True
    supports_dot_lookup = False

    def __init__(
        self,
        store: Store,
        bucket: str,
        options: MountOptions,
        *,
        threads: int = 6,
        encryption: MountEncryption | None = None,
        identities: MountIdentities | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.bucket = bucket
        self.options = options
        self.encryption = encryption or MountEncryption()
        self.read_only = options.read_only
        self.run = StoreRunner(store, threads)
        self.traffic = self.run.traffic  # counted by fuse_handler
        self.keys = KeyMap(options.prefix)
        self.table = InodeTable()
        # What the mount believes the store holds (name sets, epochs, own
        # changes, pending files): shared by every handler group.
        self.cache = MetaCache(self.table, self.keys)
        self.versions = VersionTree(
            store, self.run, bucket, self.keys, self.table, self.cache, self.child_path
        )
        self.xattrs = XattrTable(
            store,
            self.run,
            bucket,
            self.keys,
            self.cache,
            file_version=self.file_version,
            commit_node=self.commit_node,
        )
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
        self.times = TimeKeeper()
        self.identities = identities or MountIdentities()
        # The context of every request when the mount acts as one identity
        # (``fuse_handler`` then asks no ``identify``); None: per caller.
        self.fixed_ctx = None if self.identities.per_caller else self.identities.default_ctx
        self.fh_ctx: dict[int, RequestContext] = {}  # who opened each handle
        self._next_fh = 1
        # Pushes decrypted data into the kernel page cache (``pagecache``):
        # set by the daemon once the FUSE session exists, None otherwise.
        self.pusher: PagePusher | None = None
        # Run on the event loop right after the kernel has the INIT reply.
        self.after_init: Callable[[], None] | None = None
        # Changes made elsewhere (the daemon runs its polling task; open and
        # create catch up with it first: close-to-open consistency).
        self.feed = ChangePoller(self)
        self.fuse_device: str | None = None  # major:minor of the mount, once known
        self._init_files()

    def init(self) -> None:
        """pyfuse3 calls this while it answers the kernel's INIT request; the
        reply goes out before the loop runs anything else, and the kernel acts
        on it as it reads it (``after_init`` then sees the read-ahead it set)."""
        if self.after_init is not None:
            trio.lowlevel.current_trio_token().run_sync_soon(self.after_init)

    # -- helpers -----------------------------------------------------------

    def new_fh(self) -> int:
        """A new file or directory handle, acting from now on as the caller who opened it."""
        fh = self._next_fh
        self._next_fh += 1
        self.fh_ctx[fh] = caller()
        return fh

    def identify(self, handler: str, args: tuple) -> RequestContext:
        """The identity a FUSE request acts as (``fuse_handler`` sets it for the task)."""
        refusal = self.identities.refusal
        if refusal is not None and not _answered_when_refused(handler, args):
            raise refusal  # the mount's access key no longer works (``recheck_identity``)
        for arg in args:
            if isinstance(arg, pyfuse3.RequestContext):
                return self.identities.for_caller(arg.uid, arg.gid, arg.pid)
        if handler in FH_HANDLERS and len(args) > 1:
            return self.fh_ctx.get(args[1], self.identities.default_ctx)
        return self.identities.default_ctx

    async def recheck_identity(self) -> None:
        """Users or keys changed elsewhere (the change poller saw it): act with
        the mount's access key only while it is good. While it is not, no
        fixed context: ``identify`` refuses every request."""
        before = self.identities.refusal
        try:
            refusal = await self.run(self.identities.recheck, self.store)
        except Exception:  # the store's own check of each request still holds
            log.warning("could not check the mount's access key", exc_info=True)
            return
        if (refusal is None) != (before is None):
            if refusal is not None:
                log.info("%s: every request is refused until it is active again", refusal)
            else:
                log.info("access key %s is active again", self.identities.access_key)
        per_caller = self.identities.per_caller
        self.fixed_ctx = None if per_caller or refusal else self.identities.default_ctx

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

    async def new_entry_path(self, parent_inode: int, name: bytes) -> str:
        """Path of a new entry ``name`` in a writable directory; EEXIST if taken."""
        parent = self.node_of(parent_inode)
        self.check_writable(parent)
        path = self.child_path(parent, name, creating=True)
        if await self.resolve(path) is not None:
            raise fuse_error(errno.EEXIST)
        return path

    def check_writable(self, node: Node | None = None) -> None:
        if self.read_only or (
            node is not None and node.kind in (Kind.VROOT, Kind.VDIR, Kind.VFILE)
        ):
            raise fuse_error(errno.EROFS)

    async def head(self, key: str, version_id: str | None = None) -> ObjectVersion | None:
        try:
            return await self.run.nowait(
                lambda ctx: head_meta(
                    self.store, ctx, self.encryption, self.bucket, key, version_id=version_id
                ),
                caller(),
                solo=True,
            )
        except (NoSuchKey, NoSuchVersion, MethodNotAllowed):
            return None

    @staticmethod
    def gone(node: Node) -> pyfuse3.FUSEError:
        """The error for a FILE node whose version is no longer there.

        A node the change poller detached from its path (the key changed or
        went away outside this mount) may still be reached through a kernel
        dentry whose invalidation is on its way: ESTALE makes the kernel look
        the name up again and retry (``LOOKUP_REVAL``), so open/stat of a key
        overwritten elsewhere finds the new version instead of failing with
        ENOENT. Unlinked here, or gone from its path: ENOENT.
        """
        if node.path is None and not node.unlinked:
            return fuse_error(errno.ESTALE)
        return fuse_error(errno.ENOENT)

    async def file_version(self, node: Node) -> ObjectVersion | None:
        """Latest version of a FILE node (cached until the poller says it changed)."""
        if node.path is None:
            return node.orphan_version
        if node.version is UNKNOWN:
            node.version = await self.head(self.keys.key(node.path))
        return node.version

    async def dir_marker(self, node: Node) -> ObjectVersion | None:
        if node.kind is not Kind.DIR or node.path is None:
            return None
        if node.version is UNKNOWN:
            node.version = await self.head(self.keys.dir_prefix(node.path))
        return node.version

    async def resolve(self, path: str) -> Node | None:
        """The FILE or DIR node at ``path`` if it exists (file wins the name)."""
        fnode = self.table.find(Kind.FILE, path)
        if fnode is not None and fnode.state is not None:
            return fnode
        if self.cache.surely_absent(path, fnode):
            return None
        dir_known = None
        if fnode is not None and fnode.version is not UNKNOWN:
            version = fnode.version
        elif (found := self.cache.from_listing(path, fnode)) is not None:
            return found  # the parent's last listing says: no store call
        else:
            version, dir_known = await self.run.nowait(self._probe, probe_ctx(), path, solo=True)
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
            exists = await self.run.nowait(
                self.store.prefix_exists, probe_ctx(), self.bucket, prefix, solo=True
            )
        if not exists and not self.cache.pending_under(path):
            return None
        dnode = dnode or self.table.node(Kind.DIR, path)
        dnode.exists = True  # the marker (attributes) is fetched when asked for
        return dnode

    def _probe(self, ctx: RequestContext, path: str) -> tuple[ObjectVersion | None, bool | None]:
        """(latest version of the key, whether the prefix has keys if it is not a file).

        One call for a lookup (``probe_ctx``): latency, not the queries, is the cost.
        """
        try:
            key = self.keys.key(path)
            return head_meta(self.store, ctx, self.encryption, self.bucket, key), None
        except (NoSuchKey, NoSuchVersion, MethodNotAllowed):
            pass
        return None, self.store.prefix_exists(ctx, self.bucket, self.keys.dir_prefix(path))

    def entry_changed(self, parent_path: str | None, now_ns: int | None = None) -> None:
        """An entry was created, removed or renamed in the directory ``parent_path``.

        Its mtime and ctime become now: in memory at once, and for a
        directory with a marker object in the next batched time amendment.
        """
        if parent_path is None:
            return
        now = now_ns if now_ns is not None else time.time_ns()
        self.times.dir_changed(parent_path, now)
        if parent_path == "" and not self.keys.prefix:
            return  # the bucket root has no marker: its times live in memory only
        node = self.table.find(Kind.DIR, parent_path) if parent_path else self.table.root
        if node is not None and node.version is None and parent_path:
            return  # known to have no marker: the in-memory time is all there is
        self.times.queue(self.keys.dir_prefix(parent_path), mtime_ns=now, ctime_ns=now)

    async def dir_stats(self, node: Node) -> DirStats:
        if node.stats is None:
            assert node.path is not None
            prefix = self.keys.dir_prefix(node.path)
            try:
                # a directory's link count: part of its attributes, not a listing
                node.stats = await self.run(self.store.dir_stats, probe_ctx(), self.bucket, prefix)
            except AccessDenied:
                # Who may not list a directory may still stat it (and read the
                # names they know): its link count and times are then unknown.
                return DirStats(subdirs=0, newest_ns=None)
        return node.stats

    def note_read(self, node: Node) -> None:
        """A read of a FILE node: move its atime when relatime says so (batched)."""
        if node.kind is not Kind.FILE or self.read_only:
            return
        state = node.state
        if state is not None:
            meta = state.current_meta()
            fallback = state.base.last_modified_ns if state.base is not None else 0
        elif isinstance(node.version, ObjectVersion):
            meta = node.version.sys_meta
            fallback = node.version.last_modified_ns
        else:
            return
        atime, mtime, ctime = meta.times(fallback)
        if node.atime_ns is not None:
            atime = max(atime, node.atime_ns)
        now = time.time_ns()
        if not relatime_due(atime, mtime, ctime, now):
            return
        node.atime_ns = now
        if state is not None:
            # Carried by the next commit too, without making the file dirty.
            state.sys_meta = state.sys_meta.replace(atime_ns=now)
        if node.path is not None and (state is None or state.base is not None):
            self.times.queue(self.keys.key(node.path), atime_ns=now)

    async def note_dir_read(self, node: Node) -> None:
        """A listing of a ROOT/DIR node: move its atime when relatime says so (batched)."""
        if self.read_only or node.kind not in (Kind.ROOT, Kind.DIR) or node.path is None:
            return
        attr = await self.attrs(node)
        now = time.time_ns()
        if not relatime_due(attr.st_atime_ns, attr.st_mtime_ns, attr.st_ctime_ns, now):
            return
        self.times.dir_read(node.path, now)
        if node.kind is Kind.DIR and isinstance(node.version, ObjectVersion):
            self.times.queue(self.keys.dir_prefix(node.path), atime_ns=now)

    async def dir_owner(self, node: Node) -> DirOwner:
        """What a new entry in directory ``node`` inherits (``new_entry_meta``):
        its mode and group as ``attrs`` shows them, without the rest."""
        if node.kind is Kind.ROOT:
            return self.defaults.dir_owner(_fake_marker(self.root_meta, 0))
        if node.kind is Kind.DIR:
            return self.defaults.dir_owner(await self.dir_marker(node))
        attr = await self.attrs(node)
        return DirOwner(attr.st_mode, attr.st_gid)

    async def attrs(self, node: Node) -> pyfuse3.EntryAttributes:
        d = self.defaults
        if node.kind in (Kind.ROOT, Kind.DIR):
            if node.kind is Kind.ROOT:
                marker = None
                if self.root_meta != SystemMeta():
                    marker = _fake_marker(self.root_meta, d.mount_time_ns)
            else:
                marker = await self.dir_marker(node)
            stats = await self.dir_stats(node)
            assert node.path is not None
            return d.directory(
                node.ino,
                marker,
                self.read_only,
                subdirs=stats.subdirs,
                changed=self.times.dir_times(node.path),
                newest_ns=stats.newest_ns,
            )
        if node.kind in (Kind.VROOT, Kind.VDIR):
            return d.directory(node.ino, None, read_only=True)
        if node.kind is Kind.VFILE:
            return self.version_attrs(node.ino, node.version, read_only=True)  # type: ignore[arg-type]
        state = node.state
        if state is not None:
            base = state.base
            modified = base.last_modified_ns if base is not None else d.mount_time_ns
            meta = state.current_meta()
            if meta.mtime_ns is None and state.data_dirty:
                meta = meta.replace(mtime_ns=time.time_ns())
            meta = self._with_atime(node, meta)
            nlink = 0 if node.unlinked else 1
            return d.file(node.ino, state.size, modified, meta, self.read_only, nlink)
        listed = node.listed
        if listed is not None and node.atime_ns is None and node.path is not None:
            # What the last listing said: no store call, no ObjectVersion built.
            return self.version_attrs(node.ino, listed, self.read_only)  # type: ignore[arg-type]
        version = await self.file_version(node)
        if version is None:
            raise self.gone(node)
        if node.atime_ns is not None:
            version = _with_meta(version, self._with_atime(node, version.sys_meta))
        attr = self.version_attrs(node.ino, version, self.read_only)
        if node.unlinked:
            attr.st_nlink = 0
        return attr

    @staticmethod
    def _with_atime(node: Node, meta: SystemMeta) -> SystemMeta:
        if node.atime_ns is not None and (meta.atime_ns is None or meta.atime_ns < node.atime_ns):
            return meta.replace(atime_ns=node.atime_ns)
        return meta

    def version_attrs(
        self, ino: int, version: ObjectVersion, read_only: bool
    ) -> pyfuse3.EntryAttributes:
        """Attributes of a stored version; a client-side encrypted one shows its plaintext size."""
        size = shown_size(version, self.store.chunk_size)
        return self.defaults.file(ino, size, version.last_modified_ns, version.sys_meta, read_only)

    # -- lookup & attributes ----------------------------------------------

    @fuse_handler
    async def lookup(
        self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent = self.node_of(parent_inode)
        if parent.kind in (Kind.VROOT, Kind.VDIR):
            node = await self.versions.lookup(parent, name)
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
            fields.update_atime,
            fields.update_ctime,
        )
        if any(meta_fields):
            await self.change_meta(node, attr, fields)
        return await self.attrs(node)

    async def change_meta(
        self, node: Node, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields
    ) -> None:
        if node.kind is Kind.FILE and node.path is None and node.state is None:
            # Unlinked and not open (the kernel writes back the ctime it set
            # at unlink): nothing left to amend, no attributes to work out.
            if node.orphan_version is None:
                raise self.gone(node)
            if fields.update_atime:
                node.atime_ns = None
            return
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
                raise self.gone(node)
            old = version.sys_meta
        changes: dict[str, Any] = {}
        if fields.update_mode:
            kind_bits = stat.S_IFDIR if node.is_dir else type_bits(old)
            changes["mode"] = kind_bits | stat.S_IMODE(attr.st_mode)
        if fields.update_uid:
            changes["uid"] = attr.st_uid
        if fields.update_gid:
            changes["gid"] = attr.st_gid
        if fields.update_mtime:
            changes["mtime_ns"] = attr.st_mtime_ns
        if fields.update_atime:
            changes["atime_ns"] = attr.st_atime_ns
            node.atime_ns = None  # an explicit atime replaces a pending relatime one
        if not changes and not fields.update_ctime:
            return
        # Any attribute change is a change of the inode: ctime is now, or what
        # the kernel says (it sends mtime and ctime together under writeback).
        changes["ctime_ns"] = attr.st_ctime_ns if fields.update_ctime else time.time_ns()
        new = old.replace(**changes)
        if new == old:
            return
        if (fields.update_atime or fields.update_mtime) and node.path:
            # Explicit times win over a batched relatime/dir-time amendment queued before.
            key = self.keys.dir_prefix(node.path) if node.is_dir else self.keys.key(node.path)
            self.times.forget(key)
        if node.is_dir and node.path is not None:
            self.times.dir_reset(node.path, atime=fields.update_atime, mtime=fields.update_mtime)
        if node.kind is Kind.ROOT:
            self.root_meta = new
        elif node.kind is Kind.DIR:
            assert node.path is not None
            key = self.keys.dir_prefix(node.path)
            marker = await self.dir_marker(node)
            with self.cache.own_change(key):
                if marker is None:
                    await self.run(
                        self.store.put_object,
                        caller(),
                        self.bucket,
                        key,
                        b"",
                        content_type="application/x-directory",
                        sys_meta=new,
                    )
                else:
                    await self.run(self.store.update_sys_meta, caller(), self.bucket, key, new)
            node.version = await self.head(key)
            self.cache.mark_unsynced()
        elif node.state is not None and (node.state.dirty or node.path is None):
            node.state.set_meta(new, changes.get("mtime_ns"), changes["ctime_ns"])
        elif node.path is None:
            return  # unlinked and not open: nothing left to amend
        else:
            key = self.keys.key(node.path)
            with self.cache.own_change(key):
                version = await self.run(
                    self.store.update_sys_meta, caller(), self.bucket, key, new
                )
            node.version = version
            if node.path is None:  # detached meanwhile (a change from elsewhere)
                node.orphan_version = version
            if node.state is not None:
                node.state.base = version
                node.state.sys_meta = version.sys_meta
            self.cache.mark_unsynced()

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
        st = await self.run.solo(os.statvfs, str(self.store.path))
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


def _with_meta(version: ObjectVersion, meta: SystemMeta) -> ObjectVersion:
    return dataclasses.replace(version, sys_meta=meta)


def _fake_marker(meta: SystemMeta, fallback_ns: int) -> ObjectVersion:
    return ObjectVersion(
        bucket="",
        key="",
        version_id="",
        is_latest=True,
        is_delete_marker=False,
        size=0,
        etag="",
        last_modified_ns=fallback_ns,
        sys_meta=meta,
    )


__all__ = ["ObjfsOperations", "DirHandle"]


def probe_ctx() -> RequestContext:
    """The caller's context for the mount's probes (a lookup's HEAD of the name and
    "is it a directory?", a directory's link count): checked like any call, but
    not requests of the access log (the open, read, write or listing that follows
    is); a refusal is still recorded."""
    return ctx_with(caller(), log=False)
