"""objfs/fs/metacache.py: what the mount believes the store holds, as plain data.

No mount, no store: a ``MetaCache`` over an ``InodeTable`` is driven the way
the handlers and the change poller drive it, and asked what a lookup would
be told. What it promises: a name not in a directory's current name set is
not there (no store query), until a change elsewhere voids every name set
(the epoch); a change this mount made joins the name set and is no longer
answered from a listing; an announced own change is skipped by the poller
once, for ``OWN_CHANGE_TTL`` seconds at most.
"""

from __future__ import annotations

from objfs.fs import metacache
from objfs.fs.inodes import UNKNOWN, InodeTable, Kind
from objfs.fs.metacache import MetaCache
from objfs.fs.names import KeyMap
from objfs.store.types import DirStats, ListedFile, SystemMeta


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(prefix: str = "") -> tuple[MetaCache, InodeTable, Clock]:
    table = InodeTable()
    clock = Clock()
    return MetaCache(table, KeyMap(prefix), clock=clock), table, clock


def listed(key: str) -> ListedFile:
    return ListedFile("b", key, "v1", 1, 3, "etag", 1, "text/plain", SystemMeta(), "", None, None)


def test_a_name_set_answers_absent_names_until_a_change_elsewhere() -> None:
    cache, table, _ = make()
    d = table.node(Kind.DIR, "d")
    cache.set_names(d, {"a", "b"}, cache.epoch)
    assert cache.known_names(d) == {"a", "b"}
    assert cache.surely_absent("d/c", None)
    assert not cache.surely_absent("d/a", None)  # listed: the store is asked
    assert not cache.surely_absent("e/x", None)  # no name set for e
    cache.void_names()  # a change elsewhere: any name may have appeared
    assert cache.known_names(d) is None
    assert not cache.surely_absent("d/c", None)


def test_names_read_before_a_change_elsewhere_are_not_kept() -> None:
    cache, table, _ = make()
    d = table.node(Kind.DIR, "d")
    epoch = cache.epoch  # read before asking the store
    cache.void_names()  # the poller saw a change meanwhile
    cache.set_names(d, {"a"}, epoch)
    assert cache.known_names(d) is None
    assert not cache.surely_absent("d/z", None)


def test_a_known_file_or_directory_or_pending_file_is_never_surely_absent() -> None:
    cache, table, _ = make()
    d = table.node(Kind.DIR, "d")
    cache.set_names(d, set(), cache.epoch)
    f = table.node(Kind.FILE, "d/f")
    f.version = listed("d/f").version()
    assert not cache.surely_absent("d/f", f)
    sub = table.node(Kind.DIR, "d/sub")
    sub.exists = True
    assert not cache.surely_absent("d/sub", None)
    new = table.node(Kind.FILE, "d/new/inner")
    cache.add_pending(new)
    assert cache.pending_under("d/new") and not cache.surely_absent("d/new", None)
    cache.drop_pending(new)
    assert not cache.pending_under("d/new") and cache.surely_absent("d/new", None)


def test_touched_adds_the_name_drops_the_nodes_caches_and_needs_a_sync() -> None:
    cache, table, _ = make()
    d = table.node(Kind.DIR, "d")
    d.exists = True
    cache.set_names(d, {"a"}, cache.epoch)
    f = table.node(Kind.FILE, "d/b")
    f.version = None  # known absent
    assert cache.surely_absent("d/b", f)
    assert not cache.take_unsynced()
    cache.touched("d/b")
    assert cache.known_names(d) == {"a", "b"}
    assert f.version is UNKNOWN and not cache.surely_absent("d/b", f)
    assert d.exists is UNKNOWN  # whether the directory exists is asked again
    assert cache.take_unsynced() and not cache.take_unsynced()


def test_a_listing_answers_lookups_except_for_names_changed_here() -> None:
    cache, table, _ = make()
    root = table.root
    entries = [listed("a"), ("d", Kind.DIR, None, None), listed("z")]
    cache.set_names(root, None, cache.epoch, (entries, 0))
    found = cache.from_listing("a", None)
    assert found is not None and found.kind is Kind.FILE and found.listed == entries[0]
    dnode = cache.from_listing("d", None)
    assert dnode is not None and dnode.kind is Kind.DIR and dnode.exists is True
    assert cache.from_listing("m", None) is None  # not listed: the caller asks the store
    assert cache.known_names(root) == {"a", "d", "z"}  # made from the listing when asked
    cache.touched("z")  # changed here since the listing
    assert cache.from_listing("z", None) is None
    assert cache.from_listing("a", None) is not None
    cache.void_names()
    assert cache.from_listing("a", None) is None


def test_an_own_change_is_skipped_once_and_only_within_its_ttl() -> None:
    cache, table, clock = make()
    cache.set_names(table.root, None, cache.epoch, ([listed("k")], 0))
    cache.note_own_change("k")
    assert cache.from_listing("k", None) is None  # the listing no longer speaks for it
    cache.note_own_change("k")
    assert cache.consume_own_change("k")
    assert cache.consume_own_change("k")
    assert not cache.consume_own_change("k")  # two announced, two skipped
    cache.note_own_change("k")
    clock.now += metacache.OWN_CHANGE_TTL + 0.1
    assert not cache.consume_own_change("k")  # expired: the poller drops the caches


def test_a_dropped_own_change_is_not_skipped() -> None:
    cache, _, _ = make()
    cache.note_own_change("k")
    cache.drop_own_change("k")
    assert not cache.consume_own_change("k")
    cache.drop_own_change("never")  # nothing announced: nothing to take back


def test_own_changes_under_a_mount_prefix_mark_the_listing_of_their_directory() -> None:
    cache, table, _ = make("top/")
    d = table.node(Kind.DIR, "d")
    cache.set_names(d, None, cache.epoch, ([listed("top/d/x")], len("top/d/")))
    assert cache.from_listing("d/x", None) is not None
    cache.note_own_change("top/d/x")
    assert cache.from_listing("d/x", None) is None
    cache.note_own_change("elsewhere/x")  # outside the mount: no path to mark


def test_forget_everything_voids_the_root_and_every_name_set() -> None:
    cache, table, _ = make()
    root = table.root
    cache.set_names(root, {"a"}, cache.epoch)
    d = table.node(Kind.DIR, "d")
    cache.set_names(d, {"x"}, cache.epoch)
    cache.forget_everything()
    assert root.names is None
    assert cache.known_names(d) is None


def test_forget_dirs_above_drops_the_ancestors_caches() -> None:
    cache, table, _ = make()
    a = table.node(Kind.DIR, "a")
    ab = table.node(Kind.DIR, "a/b")
    for node in (a, ab):
        node.exists = True
        node.stats = DirStats(1, None)
    cache.forget_dirs_above("a/b/c")
    assert a.exists is UNKNOWN and ab.exists is UNKNOWN and ab.stats is None


def test_pending_files_are_listed_in_their_own_directory_only() -> None:
    cache, table, _ = make()
    assert cache.pending_in("d") == ()
    cache.add_pending(table.node(Kind.FILE, "d/new"))
    cache.add_pending(table.node(Kind.FILE, "d/sub/deep"))
    assert list(cache.pending_in("d")) == ["new"]
    assert list(cache.pending_in("")) == []


def test_known_is_what_the_mount_knows_exists() -> None:
    cache, table, _ = make()
    assert cache.known("f") is None
    f = table.node(Kind.FILE, "f")
    assert cache.known("f") is None  # version not asked yet
    f.version = listed("f").version()
    assert cache.known("f") is f
    d = table.node(Kind.DIR, "d")
    assert cache.known("d") is None
    d.exists = True
    assert cache.known("d") is d


def test_subdir_counts_follow_mkdir_and_rmdir_and_implicit_dirs_recount() -> None:
    cache, table, _ = make()
    d = table.node(Kind.DIR, "d")
    d.stats = DirStats(1, None)
    cache.subdirs_changed("d", +1)
    assert d.stats == DirStats(2, None)
    cache.subdirs_changed("d", -5)
    assert d.stats == DirStats(0, None)
    table.node(Kind.DIR, "d/implicit").version = None  # no marker
    cache.maybe_vanished("d/implicit")
    assert d.stats is None  # recounted when asked
