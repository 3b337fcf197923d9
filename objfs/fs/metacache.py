"""What the mount believes the store holds, beyond each node's own slots.

The nodes of the ``InodeTable`` cache what the store last said of one key
(``Node.version``, ``exists``, ``stats``, the name set and listing of a
directory). ``MetaCache`` owns the rest, the state every handler group
shares about those caches, and the rules that keep them true:

* the names **epoch**: a directory's name set (``Node.names``) and last
  listing (``Node.listing``) speak for it only while they carry the current
  epoch; every change made elsewhere (``void_names``) makes them all void at
  once, so a name set is a superset of what the directory holds;
* **own changes**: a change this mount made is announced
  (``note_own_change``) before the store makes it visible; the change
  poller consumes the announcement (``consume_own_change``) instead of
  dropping caches the mount already keeps right. An announcement expires
  after ``OWN_CHANGE_TTL`` seconds, and ``drop_own_change`` takes back one
  whose change did not happen;
* **pending files**: files created here and not committed yet: they exist in
  the mount (lookups, listings, ``rmdir``) though the store has no key yet;
* **unsynced metadata**: whether a change since the last ``fsyncdir`` still
  needs the store to sync.

Invariants after every call: a name not in a directory's current name set
is not in the store under it, unless a pending file or a node this mount
knows says otherwise (``surely_absent``); a change this mount made at
``path`` is in its directory's name set (``touched``) and no longer answered
from any listing above it (``listing_stale``).

Plain data: no store calls, no event loop (``tests/fs/test_metacache.py``).
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from objfs.fs import names
from objfs.fs.inodes import UNKNOWN, InodeTable, Kind, Node
from objfs.fs.names import KeyMap
from objfs.store.types import DirStats, ListedFile, ObjectVersion

OWN_CHANGE_TTL = 5.0  # seconds an announced own change waits for the poller

# An entry of a directory snapshot (``DirOps.list_dir``, kept as
# ``Node.listing``): a listed file as the store gave it (its name is its key
# past the directory's key prefix), or (name, kind, path or None: join it, info).
Entry = ListedFile | tuple[str, Kind, str | None, Any]


class MetaCache:
    """The mount's shared cache state; see the module docstring."""

    __slots__ = ("table", "keys", "_epoch", "_own", "_pending", "_unsynced", "_clock")

    def __init__(
        self,
        table: InodeTable,
        keys: KeyMap,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table
        self.keys = keys
        # Bumped for every change made elsewhere: the directories' name sets
        # (``Node.names``) of an older epoch are void.
        self._epoch = 0
        self._own: dict[str, deque[float]] = {}  # key -> expiry of each announced change
        self._pending: set[Node] = set()  # created files not committed yet
        self._unsynced = False
        self._clock = clock

    # -- the names epoch ----------------------------------------------------

    @property
    def epoch(self) -> int:
        """The current names epoch: read it before asking the store for a listing."""
        return self._epoch

    def void_names(self) -> None:
        """Something changed elsewhere: a name may have appeared anywhere."""
        self._epoch += 1

    def forget_everything(self) -> None:
        """Changes elsewhere were missed: every listing and name set is void."""
        self.table.root.forget_cache()
        self._epoch += 1

    def forget_dirs_above(self, path: str) -> None:
        """``path`` changed elsewhere: its directories' cached facts are void."""
        find = self.table.find
        for anc in names.ancestors(path):
            node = find(Kind.DIR, anc)
            if node is not None:
                node.forget_cache()

    # -- name sets and listings ---------------------------------------------

    def known_names(self, node: Node | None) -> set[str] | None:
        """The names directory ``node`` may hold, when known (see ``Node.names``)."""
        if node is None or node.names_epoch != self._epoch:
            return None
        if node.names is None and node.names_src is not None:
            self._names_of_listing(node, node.names_src)
        return node.names

    def set_names(
        self,
        node: Node,
        found: set[str] | None,
        epoch: int,
        src: tuple[Any, int] | None = None,
    ) -> None:
        """Remember ``found`` (or the listing ``src``, see ``Node.names_src``) as all
        of ``node``'s names, if nothing changed elsewhere since ``epoch`` (read
        before the store was asked)."""
        if epoch == self._epoch:
            node.names, node.names_src, node.names_epoch = found, src, epoch
            node.listing, node.listing_changed = src, (set() if src is not None else None)

    def _names_of_listing(self, node: Node, src: tuple[Any, int]) -> None:
        """Turn the listing kept by ``set_names`` (``src``, ``node.names_src``) into
        ``node.names`` (first use)."""
        entries, cut = src
        node.names_src = None
        node.names = {e.key[cut:] if e.__class__ is ListedFile else e[0] for e in entries}

    def from_listing(self, path: str, fnode: Node | None) -> Node | None:
        """The FILE or DIR node at ``path`` as its directory's last listing shows it,
        None when that listing cannot say (see ``Node.listing``): the lookups
        of ``rm -r``/``find`` after a readdir (not readdirplus) cost no store call."""
        parent_path, name = names.split(path)
        parent = self.table.find(Kind.DIR, parent_path) if parent_path else self.table.root
        if (
            parent is None
            or parent.listing is None
            or parent.names_epoch != self._epoch
            or name in parent.listing_changed  # type: ignore[operator]
        ):
            return None
        entries, cut = parent.listing
        want = name.encode("utf-8", "surrogatepass")

        def name_of(e: Any) -> bytes:
            text = e.key[cut:] if e.__class__ is ListedFile else e[0]
            return text.encode("utf-8", "surrogatepass")

        # Entries are in byte order of their names (an out-of-order one, such
        # as .versions first, is only missed here: the caller asks the store).
        i = bisect.bisect_left(entries, want, key=name_of)
        if i == len(entries) or name_of(entries[i]) != want:
            return None
        entry = entries[i]
        if entry.__class__ is ListedFile:
            node = fnode or self.table.node(Kind.FILE, path)
            node.listed = entry
            return node
        if entry[1] is Kind.DIR:
            dnode = self.table.node(Kind.DIR, path)
            dnode.exists = True
            return dnode
        return None  # a pending file's entry: its node knows more

    def listing_stale(self, path: str) -> None:
        """This mount changed ``path``: its directory's listing no longer speaks
        for it, nor the listings above for the directories on the way (an
        implicit directory goes when its last key does)."""
        find, root = self.table.find, self.table.root
        while path:
            path, _, name = path.rpartition("/")
            parent = find(Kind.DIR, path) if path else root
            if parent is not None and parent.listing_changed is not None:
                parent.listing_changed.add(name)

    def surely_absent(self, path: str, fnode: Node | None) -> bool:
        """No store query needed: the parent's name set says ``path`` is not there.

        Like a negative entry in the kernel's cache, and dropped by the same
        change poller: a lookup of a new name in a directory this mount
        listed or made costs no worker-thread hop.
        """
        parent_path, name = names.split(path)
        table = self.table
        parent = table.find(Kind.DIR, parent_path) if parent_path else table.root
        known = self.known_names(parent)
        if known is None or name in known:
            return False
        if fnode is not None and fnode.version is not UNKNOWN and fnode.version is not None:
            return False
        dnode = table.find(Kind.DIR, path)
        if dnode is not None and dnode.exists is True:
            return False
        return not self.pending_under(path)

    def known(self, path: str) -> Node | None:
        """The FILE/DIR node at ``path`` when this mount knows it exists (no store query)."""
        fnode = self.table.find(Kind.FILE, path)
        if fnode is not None and (fnode.state is not None or fnode.version not in (None, UNKNOWN)):
            return fnode
        dnode = self.table.find(Kind.DIR, path)
        return dnode if dnode is not None and dnode.exists is True else None

    def touched(self, path: str) -> None:
        """Something at ``path`` changed here: drop cached facts about it and its dirs.

        The name joins its directory's name set (a superset: removals may stay);
        the listings of the directories on the way no longer speak for it
        (``listing_stale``) and whether they exist is asked again.
        """
        find = self.table.find
        parent_path, _, name = path.rpartition("/")
        parent = find(Kind.DIR, parent_path) if parent_path else self.table.root
        if parent is not None:
            if parent.names is None and parent.names_src is not None:
                self._names_of_listing(parent, parent.names_src)
            if parent.names is not None:
                parent.names.add(name)
        # One walk up for listing_stale and the ancestors' existence.
        while True:
            if parent is not None:
                if parent.listing_changed is not None:
                    parent.listing_changed.add(name)
                if parent_path:
                    parent.exists = UNKNOWN
            if not parent_path:
                break
            parent_path, _, name = parent_path.rpartition("/")
            parent = find(Kind.DIR, parent_path) if parent_path else self.table.root
        for kind in (Kind.FILE, Kind.DIR):
            node = find(kind, path)
            if node is not None and node.state is None:
                node.forget_cache()
        self._unsynced = True

    def subdirs_changed(self, parent_path: str | None, delta: int) -> None:
        """A sub-directory appeared (+1) or went (-1) in ``parent_path``."""
        if parent_path is None:
            return
        node = self.table.find(Kind.DIR, parent_path) if parent_path else self.table.root
        if node is not None and node.stats is not None:
            node.stats = DirStats(max(0, node.stats.subdirs + delta), node.stats.newest_ns)

    def maybe_vanished(self, parent_path: str) -> None:
        """An entry left ``parent_path``; if that was an implicit directory it may be gone,
        and with it a sub-directory of its own parent: recount that one."""
        if not parent_path:
            return
        node = self.table.find(Kind.DIR, parent_path)
        if node is not None and isinstance(node.version, ObjectVersion):
            return  # a marker keeps the directory
        grand = names.split(parent_path)[0]
        gnode = self.table.find(Kind.DIR, grand) if grand else self.table.root
        if gnode is not None:
            gnode.stats = None

    # -- own changes ----------------------------------------------------------

    def note_own_change(self, key: str) -> None:
        """This mount makes one change to ``key``: the poller need not invalidate it.

        Announced before the store call that makes it visible (``own_change``,
        ``own_commit``): the poller may read the change from the feed before
        that call's caller resumes, and a change it takes for another's
        orphans the node, whose attributes are then the old version's.
        """
        self._own.setdefault(key, deque()).append(self._clock() + OWN_CHANGE_TTL)
        path = self.keys.path_of(key)
        if path is not None:
            self.listing_stale(path)

    @contextmanager
    def own_change(self, key: str) -> Iterator[None]:
        """Around a store call that changes ``key``: announced before it
        (``note_own_change``), taken back if it fails."""
        self.note_own_change(key)
        try:
            yield
        except BaseException:
            self.drop_own_change(key)
            raise
        path = self.keys.path_of(key)
        if path is not None:
            self.listing_stale(path)  # a listing made meanwhile does not speak for it

    def consume_own_change(self, key: str) -> bool:
        """True (and forgotten) when a change of ``key`` was announced by ``note_own_change``."""
        pending = self._own.get(key)
        now = self._clock()
        while pending and pending[0] < now:
            pending.popleft()
        if not pending:
            self._own.pop(key, None)
            return False
        pending.popleft()
        return True

    def drop_own_change(self, key: str) -> None:
        """Take back one ``note_own_change`` (the change did not happen after all)."""
        pending = self._own.get(key)
        if pending:
            pending.pop()
            if not pending:
                del self._own[key]

    # -- pending files --------------------------------------------------------

    def add_pending(self, node: Node) -> None:
        """``node`` is a file created here, not in the store until its first commit."""
        self._pending.add(node)

    def drop_pending(self, node: Node) -> None:
        """``node`` is committed, removed or replaced: no longer pending (if it was)."""
        self._pending.discard(node)

    def pending_under(self, path: str) -> bool:
        """Whether a pending file is at ``path`` or below it."""
        return any(n.path and names.is_under(n.path, path) for n in self._pending)

    def pending_in(self, dir_path: str | None) -> Sequence[str]:
        """The names of the pending files directly in the directory ``dir_path``."""
        if not self._pending:
            return ()
        split = names.split
        return [
            split(n.path)[1]
            for n in self._pending
            if n.path is not None and split(n.path)[0] == dir_path
        ]

    # -- unsynced metadata ----------------------------------------------------

    def mark_unsynced(self) -> None:
        """A metadata change the next ``fsyncdir`` must make durable."""
        self._unsynced = True

    def take_unsynced(self) -> bool:
        """Whether a sync is due since the last call (and none is, after it)."""
        unsynced, self._unsynced = self._unsynced, False
        return unsynced
