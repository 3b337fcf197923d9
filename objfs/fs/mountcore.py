"""What the FUSE handler groups of a mount share, declared once and typed.

pyfuse3 serves one ``Operations`` object, so the groups of FUSE handlers
(``FileOps`` in ``fileops``, ``DirOps`` in ``dirops``, ``XattrOps`` in
``xattrs``) are combined into ``ObjfsOperations`` (``operations``). Each
group subclasses ``MountCore`` instead of naming the combined class: the
dependencies a group may use are the ones declared here, and nothing here
imports a handler group (no import circle, type-only ones included). What
needs no handler of its own is a collaborator built with its dependencies
instead (``VersionTree``, ``MetaCache``, ``ChangePoller``, ``TimeKeeper``),
and so are the rules behind thin handlers (``XattrTable`` for ``XattrOps``).

* the collaborators, set by ``ObjfsOperations.__init__``: the store, the
  runner of store calls (``StoreRunner``: the worker-thread, ``solo`` and
  ``nowait`` modes), the metadata cache (``MetaCache``), the inode table,
  the key map, the time keeper, the change poller, the page-cache pusher,
  the ``.versions/`` tree;
* the core helpers ``ObjfsOperations`` defines (resolving a path, a node's
  attributes and versions, directory times), and the methods one group
  calls in another (``commit_node``, ``truncate_node``), declared for the
  type checker only: at run time this class holds nothing, so the method
  resolution order of the combined class is the groups' own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyfuse3

    from objfs.fs.attrs import AttrDefaults, DirOwner
    from objfs.fs.encryption import MountEncryption
    from objfs.fs.freshness import ChangePoller
    from objfs.fs.identity import MountIdentities
    from objfs.fs.inodes import InodeTable, Node
    from objfs.fs.metacache import MetaCache
    from objfs.fs.names import KeyMap
    from objfs.fs.options import MountOptions
    from objfs.fs.pagecache import PagePusher
    from objfs.fs.runner import StoreRunner
    from objfs.fs.times import TimeKeeper
    from objfs.fs.versions import VersionTree
    from objfs.store import Store
    from objfs.store.types import ObjectVersion, RequestContext


class MountCore:
    """The shared dependencies and core helpers of the handler groups (see above)."""

    store: Store
    bucket: str
    options: MountOptions
    read_only: bool
    encryption: MountEncryption
    run: StoreRunner
    keys: KeyMap
    table: InodeTable
    cache: MetaCache
    defaults: AttrDefaults
    times: TimeKeeper
    identities: MountIdentities
    feed: ChangePoller
    pusher: PagePusher | None
    fh_ctx: dict[int, RequestContext]  # who opened each handle
    versions: VersionTree  # the ``.versions/`` entries

    if TYPE_CHECKING:
        # -- core helpers (``ObjfsOperations``) --------------------------------
        def new_fh(self) -> int: ...
        def node_of(self, ino: int) -> Node: ...
        def child_path(self, parent: Node, raw: bytes, creating: bool = False) -> str: ...
        async def new_entry_path(self, parent_inode: int, name: bytes) -> str: ...
        def check_writable(self, node: Node | None = None) -> None: ...
        async def head(self, key: str, version_id: str | None = None) -> ObjectVersion | None: ...
        @staticmethod
        def gone(node: Node) -> pyfuse3.FUSEError: ...
        async def file_version(self, node: Node) -> ObjectVersion | None: ...
        async def resolve(self, path: str) -> Node | None: ...
        def entry_changed(self, parent_path: str | None, now_ns: int | None = None) -> None: ...
        def note_read(self, node: Node) -> None: ...
        async def note_dir_read(self, node: Node) -> None: ...
        async def dir_owner(self, node: Node) -> DirOwner: ...
        async def attrs(self, node: Node) -> pyfuse3.EntryAttributes: ...
        def version_attrs(
            self, ino: int, version: ObjectVersion, read_only: bool
        ) -> pyfuse3.EntryAttributes: ...
        async def recheck_identity(self) -> None: ...

        # -- called across groups ------------------------------------------------
        async def commit_node(self, node: Node, durable: bool) -> None: ...  # FileOps
        async def truncate_node(self, node: Node, size: int) -> None: ...  # FileOps
