"""unlink on the mount: done on the event loop when nothing waits, else in a worker.

objfs/fs/runner.py ``StoreRunner.nowait``: the delete of an unlink runs on
the thread that serves every FUSE request, with ``RequestContext.nowait``;
when another writer holds the database, the store refuses and the delete
waits in a worker thread instead. What a user would notice: the unlink
completes once the other writer is done, and the mount keeps answering
other requests meanwhile.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable

import pytest

from objfs.errors import NoSuchKey
from objfs.store import OWNER, Store

from .support import Mount

FAST = OWNER.with_options(durable=False)


def test_unlink_waits_for_another_writer_without_freezing_the_mount(
    mounter: Callable[..., Mount],
) -> None:
    m = mounter("plain")
    (m.path / "a").write_bytes(b"first")
    (m.path / "elsewhere").mkdir()
    (m.path / "elsewhere" / "b").write_bytes(b"second")
    os.listdir(m.path)
    other = sqlite3.connect(m.store / "meta.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's write in progress
    done = threading.Event()
    failure: list[BaseException] = []

    def unlink() -> None:
        try:
            os.unlink(m.path / "a")
        except BaseException as exc:  # noqa: BLE001 - reported below
            failure.append(exc)
        done.set()

    try:
        worker = threading.Thread(target=unlink)
        worker.start()
        time.sleep(0.3)
        assert not done.is_set(), "the unlink did not wait for the other writer"
        # Meanwhile the mount answers: a read of another file, the lookup of a
        # new name (in another directory: the kernel itself holds the
        # unlink's directory locked while the unlink runs).
        t0 = time.monotonic()
        assert (m.path / "elsewhere" / "b").read_bytes() == b"second"
        assert not (m.path / "elsewhere" / "never-there").exists()
        assert time.monotonic() - t0 < 5
        assert not done.is_set()
    finally:
        other.execute("ROLLBACK")
        other.close()
    worker.join(30)
    assert done.is_set() and not failure, failure
    assert sorted(os.listdir(m.path)) == ["elsewhere"]
    with Store.open(m.store) as store:
        with pytest.raises(NoSuchKey):
            store.head_object(FAST, "plain", "a")
        assert [v.key for v in store.list_object_versions(FAST, "plain").versions] == [
            "elsewhere/",
            "elsewhere/b",
        ]


def test_rm_r_of_a_tree_leaves_delete_markers_in_a_versioned_bucket(
    mounter: Callable[..., Mount],
) -> None:
    m = mounter("vers")
    for d in range(3):
        (m.path / f"d{d}").mkdir()
        for f in range(20):
            (m.path / f"d{d}" / f"f{f:02d}").write_bytes(f"{d}/{f}".encode())
    m.stop()
    m.start()
    for d in range(3):
        for f in range(20):
            os.unlink(m.path / f"d{d}" / f"f{f:02d}")
        os.rmdir(m.path / f"d{d}")
    assert os.listdir(m.path) == []
    with Store.open(m.store) as store:
        versions = store.list_object_versions(FAST, "vers", prefix="d1/f05").versions
        assert [(v.key, v.is_delete_marker) for v in versions] == [
            ("d1/f05", True),
            ("d1/f05", False),
        ]
        assert store.list_objects(FAST, "vers").contents == []


def _forget_dentries() -> None:
    """Make the kernel drop its dentries and inodes: the next stat is a LOOKUP."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2\n")


def test_lookups_after_a_listing_see_every_change_this_mount_made_since(
    mounter: Callable[..., Mount],
) -> None:
    """A name's lookup may be answered from its directory's last listing
    (``MetaCache.from_listing``): never once this mount changed that name."""
    m = mounter("plain")
    d = m.path / "dir"
    d.mkdir()
    for name in ("mode", "data", "xattr", "times", "gone", "moved", "same"):
        (d / name).write_bytes(b"12345")
    m.stop()
    m.start()
    held = os.open(d, os.O_RDONLY)  # the directory (and its listing) stays known
    try:
        assert len(os.listdir(d)) == 7  # the listing
        os.chmod(d / "mode", 0o600)
        (d / "data").write_bytes(b"longer than before")
        os.setxattr(d / "xattr", "user.k", b"v")
        os.utime(d / "times", ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
        os.unlink(d / "gone")
        os.rename(d / "moved", m.path / "moved")
        time.sleep(1.5)  # batched time amendments reach the store
        _forget_dentries()
        assert os.stat(d / "mode").st_mode & 0o777 == 0o600
        assert os.stat(d / "data").st_size == len(b"longer than before")
        assert os.getxattr(d / "xattr", "user.k") == b"v"
        assert os.stat(d / "times").st_mtime_ns == 1_500_000_000_000_000_000
        assert not (d / "gone").exists()
        assert not (d / "moved").exists() and (m.path / "moved").read_bytes() == b"12345"
        assert (d / "same").read_bytes() == b"12345"
    finally:
        os.close(held)


def test_lookups_after_a_listing_see_a_change_made_elsewhere(
    mounter: Callable[..., Mount],
) -> None:
    m = mounter("plain")
    d = m.path / "dir"
    d.mkdir()
    (d / "outside").write_bytes(b"12345")
    (d / "same").write_bytes(b"12345")
    m.stop()
    m.start()
    held = os.open(d, os.O_RDONLY)
    try:
        assert sorted(os.listdir(d)) == ["outside", "same"]
        with Store.open(m.store) as store:
            store.put_object(FAST, "plain", "dir/outside", b"changed elsewhere")
            store.put_object(FAST, "plain", "dir/new", b"new")
        time.sleep(1.5)  # the mount's change poller runs every 0.3 s
        _forget_dentries()
        assert os.stat(d / "outside").st_size == len(b"changed elsewhere")
        assert (d / "new").read_bytes() == b"new"
        assert (d / "same").read_bytes() == b"12345"
    finally:
        os.close(held)


def test_a_lookup_answered_from_the_listing_has_the_listed_attributes(
    mounter: Callable[..., Mount],
) -> None:
    m = mounter("plain")
    d = m.path / "dir"
    d.mkdir()
    (d / "sub").mkdir()
    (d / "f").write_bytes(b"abc")
    os.chmod(d / "f", 0o640)
    os.utime(d / "f", ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = os.stat(d / "f")
    m.stop()
    m.start()
    held = os.open(d, os.O_RDONLY)  # the directory (and its listing) stays known
    assert sorted(os.listdir(d)) == ["f", "sub"]
    try:
        _forget_dentries()
        after = os.stat(d / "f")
    finally:
        os.close(held)
    assert (after.st_size, after.st_mode, after.st_mtime_ns) == (
        before.st_size,
        before.st_mode,
        before.st_mtime_ns,
    )
    assert os.path.isdir(d / "sub") and os.listdir(d / "sub") == []


def test_an_implicit_directory_emptied_here_is_gone_for_a_lookup_after_the_listing(
    mounter: Callable[..., Mount],
) -> None:
    m = mounter("plain")
    with Store.open(m.store) as store:  # keys only: "top/implicit" has no marker
        store.put_object(FAST, "plain", "top/implicit/a", b"a")
        store.put_object(FAST, "plain", "top/implicit/b", b"b")
        store.put_object(FAST, "plain", "top/other", b"o")
    time.sleep(1)
    top = m.path / "top"
    held = os.open(top, os.O_RDONLY)
    try:
        assert sorted(os.listdir(top)) == ["implicit", "other"]  # the listing
        os.unlink(top / "implicit" / "a")
        os.unlink(top / "implicit" / "b")
        _forget_dentries()
        assert not (top / "implicit").exists()
        assert sorted(os.listdir(top)) == ["other"]
    finally:
        os.close(held)


def test_an_unlinked_file_held_without_an_open_keeps_answering(
    mounter: Callable[..., Mount],
) -> None:
    """An O_PATH descriptor holds the inode without a FUSE open: after the
    unlink the kernel writes back the ctime it set (a setattr the mount
    answers without amending anything), and stat/utime through the
    descriptor still answer (link count 0, the data's size), with no error
    in the daemon's log."""
    m = mounter("plain")
    target = m.path / "held"
    target.write_bytes(b"x" * 1000)
    fd = os.open(target, os.O_PATH)
    try:
        os.unlink(target)
        assert not target.exists()
        held = f"/proc/self/fd/{fd}"
        st = os.stat(held)
        assert st.st_nlink == 0
        assert st.st_size == 1000
        os.utime(held, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.chmod(held, 0o600)
        assert os.stat(held).st_nlink == 0
    finally:
        os.close(fd)
    assert os.listdir(m.path) == []
    assert m.problems() == []
