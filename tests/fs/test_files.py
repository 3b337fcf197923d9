"""POSIX file behaviour on a real mount: what a user of the filesystem notices."""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from objfs.store import OWNER, Store

from .support import Mount, run

pytestmark = pytest.mark.fuse


def test_write_read_stat(mnt: Mount) -> None:
    path = mnt.path / "hello.txt"
    path.write_bytes(b"hello world\n")
    assert path.read_bytes() == b"hello world\n"
    st = path.stat()
    assert st.st_size == 12
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o644
    assert abs(st.st_mtime - time.time()) < 30
    assert os.listdir(mnt.path) == ["hello.txt"]


def test_create_exclusive_and_trunc_append(mnt: Mount) -> None:
    path = mnt.path / "f"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.write(fd, b"abc")
    os.close(fd)
    with pytest.raises(FileExistsError):
        os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"def")
    os.close(fd)
    assert path.read_bytes() == b"abcdef"
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b"x")
    os.close(fd)
    assert path.read_bytes() == b"x"


def test_random_access_and_holes(mnt: Mount) -> None:
    path = mnt.path / "sparse"
    with open(path, "wb") as f:
        f.truncate(3 << 30)  # 3 GiB of holes: metadata only
        f.seek(5 << 20)
        f.write(b"middle")
    assert path.stat().st_size == 3 << 30
    with open(path, "rb") as f:
        f.seek((5 << 20) - 2)
        assert f.read(10) == b"\0\0middle\0\0"
        f.seek((3 << 30) - 4)
        assert f.read(100) == b"\0" * 4
    os.truncate(path, 7)
    assert path.read_bytes() == b"\0" * 7
    os.truncate(path, 10)
    assert path.read_bytes() == b"\0" * 10


def test_dd_notrunc_into_middle(mnt: Mount) -> None:
    path = mnt.path / "blob"
    data = bytes(range(256)) * 8192  # 2 MiB
    path.write_bytes(data)
    run(f"printf XYZ | dd of={path} bs=1 seek=1048570 conv=notrunc status=none")
    expect = bytearray(data)
    expect[1048570:1048573] = b"XYZ"
    assert path.read_bytes() == bytes(expect)
    run(f"truncate -s 100 {path}")
    assert path.read_bytes() == bytes(expect[:100])
    run(f"truncate -s +50 {path}")
    assert path.read_bytes() == bytes(expect[:100]) + b"\0" * 50


def test_chmod_touch_chown_do_not_make_versions(mnt: Mount) -> None:
    path = mnt.path / "meta"
    path.write_bytes(b"data")
    os.chmod(path, 0o751)
    run(f"touch -d '2001-02-03 04:05:06 UTC' {path}")
    os.chown(path, 1234, 5678)
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o751
    assert st.st_mtime == 981173106
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    versions = os.listdir(mnt.path / ".versions" / "meta")
    assert len(versions) == 1
    listing = run(["ls", "-l", "--time-style=+%Y", str(mnt.path)])
    assert "-rwxr-x--x 1 1234 5678 4 2001 meta" in listing


def test_directories(mnt: Mount) -> None:
    d = mnt.path / "a" / "b"
    d.mkdir(parents=True)
    (d / "f").write_text("x")
    with pytest.raises(OSError) as err:
        os.rmdir(mnt.path / "a")
    assert err.value.errno == errno.ENOTEMPTY
    with pytest.raises(FileExistsError):
        (mnt.path / "a").mkdir()
    os.chmod(d, 0o700)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    (d / "f").unlink()
    os.rmdir(d)
    os.rmdir(mnt.path / "a")
    assert os.listdir(mnt.path) == []


def test_rename_file_and_directory(mnt: Mount) -> None:
    (mnt.path / "d1" / "sub").mkdir(parents=True)
    (mnt.path / "d1" / "sub" / "x").write_text("1")
    (mnt.path / "d1" / "y").write_text("2")
    os.rename(mnt.path / "d1", mnt.path / "d2")
    assert sorted(os.listdir(mnt.path)) == ["d2"]
    assert (mnt.path / "d2" / "sub" / "x").read_text() == "1"
    (mnt.path / "z").write_text("new")
    os.rename(mnt.path / "z", mnt.path / "d2" / "y")  # replaces
    assert (mnt.path / "d2" / "y").read_text() == "new"
    assert not (mnt.path / "z").exists()


def test_symlink_and_hardlink(mnt: Mount) -> None:
    (mnt.path / "target").write_text("t")
    os.symlink("target", mnt.path / "link")
    assert os.readlink(mnt.path / "link") == "target"
    assert (mnt.path / "link").read_text() == "t"
    assert stat.S_ISLNK(os.lstat(mnt.path / "link").st_mode)
    with pytest.raises(PermissionError):
        os.link(mnt.path / "target", mnt.path / "hard")


def test_open_file_unlinked_keeps_data(mnt: Mount) -> None:
    path = mnt.path / "gone"
    path.write_bytes(b"still here")
    with open(path, "rb") as f:
        path.unlink()
        assert f.read() == b"still here"
    assert not path.exists()


def test_xattrs(mnt: Mount) -> None:
    path = mnt.path / "x.txt"
    path.write_text("hi")
    os.setxattr(path, "user.color", b"blue")
    names = os.listxattr(path)
    assert "user.s3.etag" in names and "user.color" in names
    assert os.getxattr(path, "user.color") == b"blue"
    assert os.getxattr(path, "user.s3.content_type") == b"text/plain"
    with pytest.raises(OSError):
        os.setxattr(path, "user.s3.etag", b"x")
    os.removexattr(path, "user.color")
    assert "user.color" not in os.listxattr(path)
    out = run(["getfattr", "-d", "-m", "-", str(path)])
    assert "user.s3.version_id=" in out and "user.s3.sse=" in out


def test_xattrs_meet_s3s_2kb_of_user_metadata(mnt: Mount) -> None:
    """user.* xattrs are S3 user metadata: the store's 2 KB rule answers ENOSPC."""
    path = mnt.path / "meta.txt"
    path.write_text("hi")
    os.setxattr(path, "user.a", b"a" * 1000)
    with pytest.raises(OSError) as err:
        os.setxattr(path, "user.b", b"b" * 1100)  # 1 + 1000 + 1 + 1100 > 2048
    assert err.value.errno == errno.ENOSPC
    assert "user.b" not in os.listxattr(path)
    os.setxattr(path, "user.b", b"b" * 1046)  # exactly 2048 bytes: allowed
    assert os.getxattr(path, "user.b") == b"b" * 1046


def test_statfs(mnt: Mount) -> None:
    st = os.statvfs(mnt.path)
    assert st.f_namemax == 255
    assert st.f_blocks > 0 and st.f_bsize > 0


def test_long_names(mnt: Mount) -> None:
    (mnt.path / ("n" * 255)).write_text("ok")
    with pytest.raises(OSError) as err:
        (mnt.path / ("n" * 256)).write_text("no")
    assert err.value.errno == errno.ENAMETOOLONG


def test_keys_that_are_not_paths(mnt: Mount) -> None:
    store = Store.open(mnt.store)
    try:
        for key in ("a", "a/b", "x//y", "./dot", "ok/../up", "ok/fine"):
            store.put_object(OWNER, "vers", key, key.encode())
    finally:
        store.close()
    assert sorted(os.listdir(mnt.path)) == ["a", "ok", "x"]
    assert (mnt.path / "a").read_bytes() == b"a"  # the file wins the name
    assert os.listdir(mnt.path / "ok") == ["fine"]
    assert os.listdir(mnt.path / "x") == []  # x//y is hidden, not lost
    with pytest.raises(OSError) as err:
        os.rmdir(mnt.path / "x")
    assert err.value.errno == errno.ENOTEMPTY
    versions = mnt.path / ".versions" / "a"
    assert "b" in os.listdir(versions)  # the shadowed key, read-only
    (vfile,) = os.listdir(versions / "b")
    assert (versions / "b" / vfile).read_bytes() == b"a/b"


def test_rename_directory_with_a_file_open_for_writing(mnt: Mount) -> None:
    (mnt.path / "d").mkdir()
    with open(mnt.path / "d" / "log", "wb") as f:
        f.write(b"before ")
        f.flush()
        os.rename(mnt.path / "d", mnt.path / "e")
        f.write(b"after")
    assert (mnt.path / "e" / "log").read_bytes() == b"before after"
    assert not (mnt.path / "d").exists()
    store = Store.open(mnt.store)
    try:
        with store.get_object(OWNER, "vers", "e/log") as reader:
            assert reader.read() == b"before after"
        assert not store.prefix_exists(OWNER, "vers", "d/")
    finally:
        store.close()


def test_defaults_for_objects_without_posix_attributes(
    mounter: Callable[..., Mount], fs_store: Path
) -> None:
    store = Store.open(fs_store)
    try:
        store.put_object(OWNER, "plain", "dir/from-s3", b"no mode here")
    finally:
        store.close()
    m = mounter(bucket="plain", options="uid=1234,gid=4321,umask=027")
    st = (m.path / "dir" / "from-s3").stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 4321, 0o640)
    st = (m.path / "dir").stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (1234, 0o750)
