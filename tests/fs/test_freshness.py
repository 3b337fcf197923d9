"""Changes made outside the mount (another process: CLI, API) show within 1 s,
even with long kernel cache timeouts."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from objfs.store import OWNER, Store, maintenance

from .support import Mount

pytestmark = pytest.mark.fuse


def eventually(check: Callable[[], bool], within: float = 1.0) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within:
            raise AssertionError(f"not visible within {within} s")
        time.sleep(0.02)
    return time.monotonic() - start


def _read(path: os.PathLike[str]) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def test_outside_put_overwrite_delete_visible_within_a_second(
    mounter: Callable[..., Mount],
) -> None:
    m = mounter(options="attr_timeout=300,entry_timeout=300")
    store = Store.open(m.store)
    try:
        path = m.path / "news.txt"
        assert not path.exists()
        store.put_object(OWNER, "vers", "news.txt", b"first")
        eventually(lambda: _read(path) == b"first")
        assert path.stat().st_size == 5  # now cached by the kernel for 300 s
        store.put_object(OWNER, "vers", "news.txt", b"second, longer")
        eventually(lambda: _read(path) == b"second, longer")
        eventually(lambda: path.stat().st_size == 14)
        store.put_object(OWNER, "vers", "dir/inner", b"x")
        eventually(
            lambda: os.listdir(m.path / "dir") == ["inner"] if (m.path / "dir").exists() else False
        )
        store.delete_object(OWNER, "vers", "news.txt")
        eventually(lambda: not path.exists())
    finally:
        store.close()


def test_new_open_sees_outside_change_while_another_handle_is_open(mnt: Mount) -> None:
    path = mnt.path / "held"
    path.write_bytes(b"old")
    with open(path, "rb") as held:
        assert held.read() == b"old"
        store = Store.open(mnt.store)
        try:
            store.put_object(OWNER, "vers", "held", b"new content")
        finally:
            store.close()
        eventually(lambda: _read(path) == b"new content")


def test_last_close_wins_over_outside_write(mnt: Mount) -> None:
    path = mnt.path / "race"
    with open(path, "wb") as f:
        f.write(b"from the mount")
        f.flush()
        store = Store.open(mnt.store)
        try:
            store.put_object(OWNER, "vers", "race", b"from outside")
        finally:
            store.close()
        time.sleep(0.5)
        f.write(b"!")
    eventually(lambda: _read(path) == b"from the mount!")
    # Exactly two versions, in this order: the outside write is kept (not
    # overwritten in place, not lost), the close made one version, no more.
    store = Store.open(mnt.store)
    try:
        history = []
        for v in store.key_versions(OWNER, "vers", "race"):
            with store.get_object(OWNER, "vers", "race", version_id=v.version_id) as r:
                history.append(r.read())
    finally:
        store.close()
    assert history == [b"from the mount!", b"from outside"]
    versions = sorted((mnt.path / ".versions" / "race").iterdir())  # oldest first
    assert [v.read_bytes() for v in versions] == [b"from outside", b"from the mount!"]


def test_outside_puts_show_in_directories_the_mount_listed_or_made(
    mounter: Callable[..., Mount],
) -> None:
    """A lookup of a name not in a directory's known names is answered from
    memory; a key put elsewhere must still show within a second."""
    m = mounter(options="attr_timeout=300,entry_timeout=300")
    (m.path / "made").mkdir()
    (m.path / "made" / "own.txt").write_bytes(b"own")
    (m.path / "listed").mkdir()
    (m.path / "listed" / "a").write_bytes(b"a")
    store = Store.open(m.store)
    try:
        assert os.listdir(m.path / "listed") == ["a"]
        assert not (m.path / "made" / "new.txt").exists()
        assert not (m.path / "listed" / "b").exists()
        assert not (m.path / "top.txt").exists()
        store.put_object(OWNER, "vers", "made/new.txt", b"new")
        store.put_object(OWNER, "vers", "listed/b", b"b")
        store.put_object(OWNER, "vers", "top.txt", b"top")
        store.put_object(OWNER, "vers", "made/sub/deep", b"deep")
        eventually(lambda: _read(m.path / "made" / "new.txt") == b"new")
        eventually(lambda: _read(m.path / "listed" / "b") == b"b")
        eventually(lambda: _read(m.path / "top.txt") == b"top")
        eventually(lambda: _read(m.path / "made" / "sub" / "deep") == b"deep")
        assert (m.path / "made" / "own.txt").read_bytes() == b"own"
    finally:
        store.close()


def test_a_key_overwritten_outside_never_looks_missing_to_readers(
    mounter: Callable[..., Mount],
) -> None:
    """While the poller detaches the old inode and the kernel's dentry
    invalidation is on its way, open and stat of the path go through the
    stale dentry: the mount answers ESTALE, the kernel looks the name up
    again, and the reader gets a version, never ENOENT."""
    m = mounter(options="attr_timeout=300,entry_timeout=300")
    store = Store.open(m.store)
    path = m.path / "hot.txt"
    missing: list[str] = []
    try:
        store.put_object(OWNER, "vers", "hot.txt", b"v0")
        eventually(lambda: _read(path) == b"v0")
        for n in range(1, 31):
            want = f"v{n}".encode()
            store.put_object(OWNER, "vers", "hot.txt", want)
            deadline = time.monotonic() + 2
            while True:
                try:
                    os.stat(path)
                    with open(path, "rb") as f:
                        got = f.read()
                except FileNotFoundError as exc:
                    missing.append(f"round {n}: {exc.strerror} on {exc.filename}")
                    got = None
                if got == want:
                    break
                assert time.monotonic() < deadline, f"round {n}: {got!r}"
        assert not missing, missing
    finally:
        store.close()


def test_a_mount_that_missed_pruned_changes_drops_its_caches(
    mounter: Callable[..., Mount], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The daemon is stopped while a file it holds is overwritten, a new key
    # appears and gc forgets those changes: its poller then finds a gap in
    # the feed (ChangeFeedGap) and checks every name and file again.
    m = mounter(options="attr_timeout=300,entry_timeout=300")
    path = m.path / "held.txt"
    path.write_bytes(b"old")
    assert _read(path) == b"old" and path.stat().st_size == 3
    (m.path / "dir").mkdir()
    assert os.listdir(m.path / "dir") == []
    time.sleep(0.5)  # the poller has read the feed up to here
    monkeypatch.setattr(maintenance, "KEEP_CHANGES", 1)
    assert m.proc is not None
    os.kill(m.proc.pid, signal.SIGSTOP)
    try:
        store = Store.open(m.store)
        try:
            store.put_object(OWNER, "vers", "held.txt", b"new, longer")
            store.put_object(OWNER, "vers", "dir/inner", b"x")
            store.put_object(OWNER, "vers", "last", b"x")
            assert store.gc(OWNER).changes_pruned >= 2
        finally:
            store.close()
    finally:
        os.kill(m.proc.pid, signal.SIGCONT)
    eventually(lambda: _read(path) == b"new, longer", within=5)
    eventually(lambda: path.stat().st_size == 11, within=5)
    eventually(lambda: os.listdir(m.path / "dir") == ["inner"], within=5)
    assert "every cached name and file is checked again" in m.log_text()


def test_own_attribute_changes_stand_while_the_poller_runs_flat_out(
    mounter: Callable[..., Mount], monkeypatch: pytest.MonkeyPatch
) -> None:
    """chmod, chown, utime, xattrs, mknod, mkdir, symlink and unlink made through
    the mount are its own changes even when the change poller reads them from
    the feed before the handler that made them resumes: the node is not
    detached, and what the call returns (and the kernel caches) is the new
    state, never the version before it."""
    monkeypatch.setenv("OBJFS_FEED_INTERVAL", "0.0001")  # poll between any two awaits
    m = mounter(options="attr_timeout=300,entry_timeout=300")
    fifo, reg = m.path / "fifo", m.path / "reg"
    os.mkfifo(fifo, 0o644)
    reg.write_bytes(b"x" * 100)
    with open(reg, "r+b") as f:  # a long-lived handle, as an editor keeps
        for i in range(150):
            for path in (fifo, reg):
                mode = (0o400, 0o644, 0o755, 0o600)[i % 4]
                os.chmod(path, mode)
                assert os.lstat(path).st_mode & 0o7777 == mode, (path, i)
                os.utime(path, ns=(i * 10**9, (i + 7) * 10**9))
                assert os.lstat(path).st_mtime_ns == (i + 7) * 10**9, (path, i)
            f.seek(0, os.SEEK_END)
            f.write(bytes([i]))  # an append through the open handle
            f.flush()
            assert reg.read_bytes()[-1] == i, i
            os.setxattr(reg, "user.n", str(i).encode())
            assert os.getxattr(reg, "user.n") == str(i).encode(), i
            (m.path / f"d{i}").mkdir()
            (m.path / f"l{i}").symlink_to("reg")
            assert os.readlink(m.path / f"l{i}") == "reg"
            (m.path / f"l{i}").unlink()
            (m.path / f"d{i}").rmdir()
            assert not (m.path / f"d{i}").exists()
