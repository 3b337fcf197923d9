"""Inode table: stable inode numbers for what the kernel has looked up.

Owns the map ino <-> node, where a node is (kind, mount path, version id for
version files). Invariants after every call:

* an inode number is never reused within a mount (numbers only grow);
* a live node (``path`` not None) is reachable by (kind, path, version) and
  by ino; at most one live node per (kind, path, version);
* a node stays in the table while the kernel holds lookups on it or a file
  handle is open on it (``forget`` and ``release`` drop it then);
* rename moves live nodes (and, for a directory, everything below it) to the
  new path; a node that is unlinked or replaced becomes an orphan (path
  None): it keeps answering getattr/read for open handles, and is never found
  by path again.

The node also caches what the store last said about it (``version`` for
files, ``marker``/``exists`` for directories); the change poller clears
those caches when another process changes the key. A file node made by
readdir holds the listing's compact ``ListedFile`` (``listed``) until its
``version`` is first asked for.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import pyfuse3

from objfs.fs.names import is_under

if TYPE_CHECKING:
    from objfs.fs.openfile import OpenFile
    from objfs.store.types import DirStats, ListedFile, ObjectVersion


class Kind(enum.Enum):
    ROOT = "root"  # the mount root (a directory)
    DIR = "dir"  # a prefix pseudo-directory
    FILE = "file"  # an object: regular file or symlink
    VROOT = "vroot"  # /.versions
    VDIR = "vdir"  # /.versions/PATH: versions of key PATH + sub-tree PATH/
    VFILE = "vfile"  # /.versions/PATH/<stamp>_<versionid>

    # Members are singletons compared by identity: hash them so too (Enum's
    # own __hash__ is Python code, run for every (kind, path) table lookup).
    __hash__ = object.__hash__


DIR_KINDS = frozenset({Kind.ROOT, Kind.DIR, Kind.VROOT, Kind.VDIR})


class Unknown(enum.Enum):
    """The type of ``UNKNOWN``, a cache slot not filled: a one-member enum, so
    that ``x is UNKNOWN`` narrows ``x`` for a type checker."""

    UNKNOWN = "UNKNOWN"


UNKNOWN: Final = Unknown.UNKNOWN  # cache slot not filled


@dataclass(slots=True, eq=False)
class Node:
    ino: int
    kind: Kind
    path: str | None
    version_id: str | None = None
    lookups: int = 0
    open_count: int = 0
    # FILE: latest ObjectVersion; VFILE: that version; DIR: marker version or None
    # (read and set through ``version``).
    _version: ObjectVersion | None | Unknown = UNKNOWN
    # FILE: what a directory listing said of it, compact; ``version`` turns it
    # into the ObjectVersion when first asked (readdir of 100,000 entries must
    # not build 100,000 of those).
    listed: ListedFile | None = None
    # DIR: True/False when known (prefix has keys); UNKNOWN otherwise.
    exists: bool | Unknown = UNKNOWN
    state: OpenFile | None = None
    # (version_id, seq) of the data the kernel page cache holds, for keep_cache.
    cached_data: tuple[str, int] | None = None
    # FILE: open handles that may write (their dirty pages must not be
    # overwritten by a page-cache push), and the push fence (``pagecache``).
    writers: int = 0
    push_epoch: int = 0
    orphan_version: ObjectVersion | None = field(default=None)
    # DIR/ROOT: sub-directory count and newest child from the store, None until asked.
    stats: DirStats | None = None
    # FILE: an atime newer than the stored one, not yet written (relatime batch).
    atime_ns: int | None = None
    # FILE: removed by unlink or replaced by rename while open (link count 0).
    unlinked: bool = False
    # DIR/ROOT: every name the directory may hold (a superset: a name not in
    # it does not exist), valid while ``names_epoch`` is the mount's epoch.
    names: set[str] | None = None
    names_epoch: int = 0
    # DIR/ROOT: (entries, prefix length) of the listing that gives ``names``,
    # turned into the set only when a lookup first needs it.
    names_src: tuple[Any, int] | None = None
    # DIR/ROOT: the last listing, (entries, prefix length), valid while
    # ``names_epoch`` is the mount's epoch, except for the names in
    # ``listing_changed`` (changed by this mount since): a lookup of a name
    # it holds needs no store call.
    listing: tuple[Any, int] | None = None
    listing_changed: set[str] | None = None

    @property
    def is_dir(self) -> bool:
        return self.kind in DIR_KINDS

    @property
    def version(self) -> ObjectVersion | None | Unknown:
        if self._version is UNKNOWN and self.listed is not None:
            self._version, self.listed = self.listed.version(), None
        return self._version

    @version.setter
    def version(self, value: ObjectVersion | None | Unknown) -> None:
        self._version = value
        self.listed = None

    def forget_cache(self) -> None:
        self.version = UNKNOWN
        self.exists = UNKNOWN
        self.stats = None
        self.names = None
        self.names_src = None
        self.listing = self.listing_changed = None


class InodeTable:
    """ino <-> node for one mount; see the module docstring for invariants."""

    def __init__(self) -> None:
        self._next = pyfuse3.ROOT_INODE + 1
        self._by_ino: dict[int, Node] = {}
        self._by_path: dict[tuple[Kind, str, str | None], Node] = {}
        root = Node(pyfuse3.ROOT_INODE, Kind.ROOT, "")
        root.exists = True
        root.version = None
        self._add(root)
        self.root = root

    def __len__(self) -> int:
        return len(self._by_ino)

    def _add(self, node: Node) -> None:
        self._by_ino[node.ino] = node
        assert node.path is not None
        self._by_path[(node.kind, node.path, node.version_id)] = node

    def get(self, ino: int) -> Node | None:
        return self._by_ino.get(ino)

    def find(self, kind: Kind, path: str, version_id: str | None = None) -> Node | None:
        return self._by_path.get((kind, path, version_id))

    def node(self, kind: Kind, path: str, version_id: str | None = None) -> Node:
        """The live node for (kind, path, version), created when missing."""
        found = self._by_path.get((kind, path, version_id))
        if found is not None:
            return found
        node = Node(self._next, kind, path, version_id)
        self._next += 1
        self._add(node)
        return node

    def nodes(self) -> list[Node]:
        return list(self._by_ino.values())

    def live_under(self, path: str, kinds: frozenset[Kind]) -> list[Node]:
        """Live nodes of ``kinds`` at or below ``path``."""
        return [
            n for (kind, p, _), n in self._by_path.items() if kind in kinds and is_under(p, path)
        ]

    def orphan(self, node: Node) -> None:
        """Detach ``node`` from its path (unlinked or replaced)."""
        if node.path is None:
            return
        self._by_path.pop((node.kind, node.path, node.version_id), None)
        if node.version is not UNKNOWN:
            node.orphan_version = node.version
        node.path = None
        self._maybe_drop(node)

    def move(self, kind: Kind, old: str, new: str) -> None:
        """Rename: the node at ``old`` (and for a directory all below it) to ``new``."""
        if kind is Kind.FILE:
            moving = (
                [self._by_path[(kind, old, None)]] if (kind, old, None) in self._by_path else []
            )
        else:
            moving = self.live_under(old, frozenset({Kind.FILE, Kind.DIR}))
        for node in moving:
            del self._by_path[(node.kind, node.path, node.version_id)]  # type: ignore[arg-type]
        for node in moving:
            assert node.path is not None
            node.path = new + node.path[len(old) :]
            displaced = self._by_path.get((node.kind, node.path, None))
            if displaced is not None:
                displaced.unlinked = True
                self.orphan(displaced)
            self._add(node)

    def add_lookups(self, node: Node, count: int = 1) -> None:
        node.lookups += count

    def forget(self, ino: int, count: int) -> None:
        node = self._by_ino.get(ino)
        if node is None or node is self.root:
            return
        node.lookups = max(0, node.lookups - count)
        self._maybe_drop(node)

    def release(self, node: Node) -> None:
        """Called when the last handle on ``node`` closed."""
        self._maybe_drop(node)

    def _maybe_drop(self, node: Node) -> None:
        if node is self.root or node.lookups > 0 or node.open_count > 0:
            return
        self._by_ino.pop(node.ino, None)
        if node.path is not None:
            key = (node.kind, node.path, node.version_id)
            if self._by_path.get(key) is node:
                del self._by_path[key]
