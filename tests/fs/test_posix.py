"""The mount as a POSIX file system: special files, times, link counts,
directory times, unlink of open files, limits (issue 9).

Everything goes through a real mount; the last checks look at the store
after unmounting (versions made, what was recorded).
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from objfs.errors import NoSuchKey
from objfs.store import OWNER, Store
from objfs.store.sysmeta import file_type

from .support import Mount, run

DAY_NS = 86_400 * 1_000_000_000


def versions(store_path: Path, bucket: str, key: str) -> list:
    store = Store.open(store_path)
    try:
        return store.key_versions(OWNER, bucket, key)
    finally:
        store.close()


def bind_socket(path: Path | str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    return sock


# --- special files -----------------------------------------------------------


def test_special_files_created_changed_and_kept(
    mounter: Callable[..., Mount], fs_store: Path
) -> None:
    m = mounter()
    mnt = m.path
    os.mkfifo(mnt / "fifo", 0o640)
    os.mknod(mnt / "chr", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(mnt / "blk", 0o660 | stat.S_IFBLK, os.makedev(8, 1))
    bind_socket(mnt / "sock").close()
    kinds = {"fifo": stat.S_ISFIFO, "chr": stat.S_ISCHR, "blk": stat.S_ISBLK, "sock": stat.S_ISSOCK}
    for name, check in kinds.items():
        st = os.lstat(mnt / name)
        assert check(st.st_mode), name
        assert st.st_size == 0 and st.st_nlink == 1
    assert os.lstat(mnt / "chr").st_rdev == os.makedev(1, 3)
    assert os.lstat(mnt / "blk").st_rdev == os.makedev(8, 1)
    assert stat.S_IMODE(os.lstat(mnt / "fifo").st_mode) == 0o640
    # chmod, chown, rename and unlink on them
    os.chmod(mnt / "fifo", 0o604)
    os.chown(mnt / "chr", 1234, 5678)
    os.rename(mnt / "blk", mnt / "blk2")
    os.unlink(mnt / "sock")
    assert sorted(os.listdir(mnt)) == ["blk2", "chr", "fifo"]
    st = os.lstat(mnt / "chr")
    assert (st.st_uid, st.st_gid) == (1234, 5678) and stat.S_ISCHR(st.st_mode)
    # ls -l shows the type letter and the device numbers
    listing = run(["ls", "-l", str(mnt)])
    assert any(line.startswith("p") and line.endswith(" fifo") for line in listing.splitlines())
    assert any(line.startswith("c") and "1, 3" in line for line in listing.splitlines())
    m.stop()
    m.start()
    assert stat.S_ISFIFO(os.lstat(mnt / "fifo").st_mode)
    assert stat.S_IMODE(os.lstat(mnt / "fifo").st_mode) == 0o604
    st = os.lstat(mnt / "blk2")
    assert stat.S_ISBLK(st.st_mode) and st.st_rdev == os.makedev(8, 1)
    st = os.lstat(mnt / "chr")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3) and st.st_uid == 1234
    # versioned like any object; shown in .versions/
    vdir = mnt / ".versions" / "fifo"
    (entry,) = os.listdir(vdir)
    assert stat.S_ISFIFO(os.lstat(vdir / entry).st_mode)
    m.stop()
    (fifo_version,) = versions(fs_store, "vers", "fifo")  # chmod amended, no new version
    assert file_type(fifo_version.sys_meta) == "fifo" and fifo_version.size == 0
    assert [file_type(v.sys_meta) for v in versions(fs_store, "vers", "blk")][1] == "block-device"


def test_fifo_carries_data_and_socket_accepts(mnt: Mount) -> None:
    fifo = mnt.path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    with open(fifo, "wb") as w:
        w.write(b"through the pipe\n")
    out, _ = reader.communicate(timeout=10)
    assert out == b"through the pipe\n"
    # a Unix socket bound in the mount accepts a connection by its path
    server = bind_socket(mnt.path / "srv.sock")
    server.listen(1)
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        got.append(conn.recv(100))
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(str(mnt.path / "srv.sock"))
    client.sendall(b"hello")
    client.close()
    thread.join(10)
    server.close()
    assert got == [b"hello"]
    assert stat.S_ISSOCK(os.lstat(mnt.path / "srv.sock").st_mode)


# --- times ---------------------------------------------------------------------


def test_time_update_rules_and_no_new_versions(
    mounter: Callable[..., Mount], fs_store: Path
) -> None:
    m = mounter()
    f = m.path / "t"
    f.write_bytes(b"one")
    st0 = os.stat(f)
    assert (
        st0.st_atime_ns <= st0.st_mtime_ns == st0.st_ctime_ns or st0.st_ctime_ns >= st0.st_mtime_ns
    )
    time.sleep(0.05)
    os.chmod(f, 0o600)  # chmod: ctime only
    st1 = os.stat(f)
    assert st1.st_ctime_ns > st0.st_ctime_ns
    assert st1.st_mtime_ns == st0.st_mtime_ns
    time.sleep(0.05)
    with open(f, "r+b") as fh:  # write: mtime and ctime
        fh.write(b"TWO")
    st2 = os.stat(f)
    assert st2.st_mtime_ns > st1.st_mtime_ns and st2.st_ctime_ns >= st2.st_mtime_ns
    # utimensat: nanoseconds, UTIME_OMIT (os.utime cannot omit: use touch -a / -m)
    os.utime(f, ns=(1_000_000_123, 2_000_000_456))
    st3 = os.stat(f)
    assert (st3.st_atime_ns, st3.st_mtime_ns) == (1_000_000_123, 2_000_000_456)
    assert st3.st_ctime_ns >= st2.st_ctime_ns
    run(["touch", "-m", "-d", "@5.000000007", str(f)])  # atime UTIME_OMIT
    st4 = os.stat(f)
    assert (st4.st_atime_ns, st4.st_mtime_ns) == (1_000_000_123, 5_000_000_007)
    before = time.time_ns()
    run(["touch", "-a", str(f)])  # atime UTIME_NOW, mtime UTIME_OMIT
    st5 = os.stat(f)
    assert st5.st_atime_ns >= before - 10_000_000 and st5.st_mtime_ns == 5_000_000_007
    # before 1970 and after 2038, also past what nanoseconds in an int64 hold
    far = (1 << 33) * 1_000_000_000 + 999_999_999  # year 2242
    farther = (1 << 40) * 1_000_000_000 + 1  # year ~36812: stored as [seconds, ns]
    os.utime(f, ns=(-123_456_789_012, far))
    st6 = os.stat(f)
    assert (st6.st_atime_ns, st6.st_mtime_ns) == (-123_456_789_012, far)
    os.utime(f, ns=(farther, -1))
    assert (os.stat(f).st_atime_ns, os.stat(f).st_mtime_ns) == (farther, -1)
    # the same on a directory and a symlink
    (m.path / "d").mkdir()
    os.utime(m.path / "d", ns=(7, -7_000_000_001))
    st = os.stat(m.path / "d")
    assert (st.st_atime_ns, st.st_mtime_ns) == (7, -7_000_000_001)
    os.symlink("t", m.path / "l")
    os.utime(m.path / "l", ns=(11, 12), follow_symlinks=False)
    assert os.lstat(m.path / "l").st_mtime_ns == 12
    m.stop()
    m.start()
    assert (os.stat(f).st_atime_ns, os.stat(f).st_mtime_ns) == (farther, -1)
    assert os.stat(m.path / "d").st_mtime_ns == -7_000_000_001
    assert os.lstat(m.path / "l").st_atime_ns == 11
    m.stop()
    assert len(versions(fs_store, "vers", "t")) == 2  # create + the write; times amended


def test_mtime_shown_while_mounted_is_the_one_stored(
    mounter: Callable[..., Mount], fs_store: Path
) -> None:
    """Issue 19 item 15: what ``stat`` shows while mounted is what the store keeps.

    Under writeback caching the kernel stamps mtime/ctime at each write(2)
    and the data reaches the daemon later (at close): a time the daemon took
    then was a tick or two (4-8 ms) later than the one ``stat`` had shown.
    Files are made the ways tools make them: written at once, written across
    clock ticks, rewritten, truncated, touched, given times with ns.
    """
    m = mounter()
    made = 0

    def name() -> Path:
        nonlocal made
        made += 1
        return m.path / f"d{made % 7}" / f"f{made}"

    for d in range(7):
        (m.path / f"d{d}").mkdir()
    for i in range(120):
        name().write_bytes(b"x" * (i * 37))  # one write, then close
        fd = os.open(name(), os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"a" * 100)  # most often in the create's clock tick
        time.sleep(0.002 * (i % 4))
        os.write(fd, b"b" * 5000)
        time.sleep(0.002 * (i % 3 + 1))  # the data reaches the daemon at close
        os.close(fd)
        path = name()
        path.write_bytes(b"first")
        with open(path, "r+b") as fh:  # an existing file rewritten
            fh.seek(i)
            fh.write(b"again")
            time.sleep(0.001 * (i % 5))
        path = name()
        path.write_bytes(b"y" * 10)
        if i % 2:
            os.truncate(path, 3)
        else:
            os.utime(path)  # touch: now
    for i in range(40):
        path = name()
        path.write_bytes(b"z")
        os.utime(path, ns=(1_700_000_000_123_456_789 + i, 1_600_000_000_987_654_321 + i))
    shown = {
        str(p.relative_to(m.path)): os.stat(p).st_mtime_ns
        for p in m.path.rglob("f*")
        if p.is_file()
    }
    assert len(shown) == made
    m.stop()
    store = Store.open(fs_store)
    try:
        stored = {key: store.head_object(OWNER, "vers", key).sys_meta.mtime_ns for key in shown}
    finally:
        store.close()
    moved = {key: (shown[key], stored[key]) for key in shown if shown[key] != stored[key]}
    assert moved == {}, f"{len(moved)} of {len(shown)} files: (shown, stored) {moved}"
    m.start()
    again = {key: os.stat(m.path / key).st_mtime_ns for key in shown}
    assert again == shown


def test_relatime_atime_batched_without_versions(
    mounter: Callable[..., Mount], fs_store: Path
) -> None:
    m = mounter()
    f = m.path / "r"
    f.write_bytes(b"data")
    os.utime(f, ns=(1_000_000_000, 2_000_000_000))  # atime older than mtime
    before = time.time_ns()
    assert f.read_bytes() == b"data"
    st = os.stat(f)
    assert st.st_atime_ns >= before - 10_000_000  # moved: it was older than mtime
    assert st.st_mtime_ns == 2_000_000_000
    first = st.st_atime_ns
    time.sleep(0.05)
    assert f.read_bytes() == b"data"
    assert os.stat(f).st_atime_ns == first  # relatime: newer than mtime, not a day old
    # a day-old atime moves again
    now = time.time_ns()
    os.utime(f, ns=(now - DAY_NS - 10**9, now - 2 * DAY_NS))
    m.stop()  # drops the kernel's page cache with the mount
    m.start()
    with open(f, "rb") as fh:
        fh.read()
    assert os.stat(f).st_atime_ns >= now
    time.sleep(1.5)  # one batch interval: the store has it without an unmount
    (v,) = versions(fs_store, "vers", "r")[:1]
    assert v.sys_meta.atime_ns is not None and v.sys_meta.atime_ns >= now
    m.stop()
    assert len(versions(fs_store, "vers", "r")) == 1


# --- directories ---------------------------------------------------------------


def test_directory_link_counts(mounter: Callable[..., Mount], fs_store: Path) -> None:
    m = mounter()
    top = m.path / "top"
    top.mkdir()
    assert os.stat(top).st_nlink == 2
    for name in "abc":
        (top / name).mkdir()
    (top / "f").write_bytes(b"x")
    assert os.stat(top).st_nlink == 5
    (top / "b").rmdir()
    assert os.stat(top).st_nlink == 4
    os.rename(top / "c", m.path / "c")
    assert os.stat(top).st_nlink == 3
    root_links = os.stat(m.path).st_nlink
    assert root_links == 2 + 2  # top, c
    m.stop()
    # an implicit directory (no marker) counts too
    store = Store.open(fs_store)
    try:
        store.put_object(OWNER, "vers", "imp/x/1", b"1")
        store.put_object(OWNER, "vers", "imp/y/2", b"2")
    finally:
        store.close()
    m.start()
    assert os.stat(m.path / "top").st_nlink == 3
    assert os.stat(m.path / "imp").st_nlink == 4
    assert os.stat(m.path).st_nlink == 5
    assert run(["find", str(m.path / "imp"), "-type", "f"]).count("\n") == 2


def test_directory_times_follow_entry_changes(mounter: Callable[..., Mount]) -> None:
    m = mounter()
    d = m.path / "d"
    d.mkdir()
    other = m.path / "o"
    other.mkdir()
    steps: list[Callable[[], None]] = [
        lambda: (d / "f").write_bytes(b"1"),  # create
        lambda: os.mkfifo(d / "p"),
        lambda: os.symlink("f", d / "l"),
        lambda: (d / "sub").mkdir(),
        lambda: (d / "sub").rmdir(),
        lambda: os.rename(d / "f", d / "g"),  # rename within
        lambda: os.rename(d / "g", other / "g"),  # rename out
        lambda: os.rename(other / "g", d / "g"),  # rename in
        lambda: os.unlink(d / "l"),
    ]
    for step in steps:
        os.utime(d, ns=(0, 0))
        st = os.stat(d)
        assert st.st_mtime_ns == 0  # an explicit time wins over an earlier entry change
        ctime_before = st.st_ctime_ns
        time.sleep(0.01)
        started = time.time_ns()
        step()
        st = os.stat(d)
        assert st.st_mtime_ns >= started - 5_000_000, step
        assert st.st_ctime_ns > ctime_before, step
        assert st.st_atime_ns == 0, step
    # kept for a directory with a marker: after a remount too
    os.utime(d, ns=(0, 0))
    time.sleep(0.01)
    (d / "late").write_bytes(b"z")
    late = os.stat(d).st_mtime_ns
    assert late > 0
    m.stop()
    m.start()
    assert os.stat(d).st_mtime_ns == late
    os.utime(d, ns=(3, 4))
    m.stop()
    m.start()
    assert os.stat(d).st_mtime_ns == 4


def test_directory_atime_follows_relatime_on_listing(mounter: Callable[..., Mount]) -> None:
    m = mounter()
    d = m.path / "d"
    d.mkdir()
    (d / "f").write_bytes(b"1")
    os.utime(d, ns=(1_000, 2_000))  # atime older than mtime
    before = time.time_ns()
    assert os.listdir(d) == ["f"]
    first = os.stat(d).st_atime_ns
    assert first >= before - 5_000_000
    assert os.stat(d).st_mtime_ns == 2_000  # a listing changes only the atime
    time.sleep(0.01)
    os.listdir(d)
    assert os.stat(d).st_atime_ns == first  # newer than mtime and ctime: stays
    m.stop()
    m.start()
    assert os.stat(d).st_atime_ns == first  # stored in the marker


def test_implicit_directory_time_is_its_newest_child(
    mounter: Callable[..., Mount], fs_store: Path
) -> None:
    store = Store.open(fs_store)
    try:
        store.put_object(OWNER, "vers", "imp/a", b"1")
        newest = store.put_object(OWNER, "vers", "imp/b", b"2").last_modified_ns
    finally:
        store.close()
    m = mounter()
    assert os.stat(m.path / "imp").st_mtime_ns == newest
    time.sleep(0.01)
    (m.path / "imp" / "c").write_bytes(b"3")
    assert os.stat(m.path / "imp").st_mtime_ns > newest


# --- unlink of open files ----------------------------------------------------------


def test_unlink_open_file_keeps_handles_working(
    mounter: Callable[..., Mount], fs_store: Path
) -> None:
    m = mounter(bucket="plain")
    f = m.path / "open"
    f.write_bytes(b"A" * 3000)
    with open(f, "r+b") as fh:
        ctime = os.fstat(fh.fileno()).st_ctime_ns
        time.sleep(0.01)
        os.unlink(f)
        assert not f.exists()
        assert os.fstat(fh.fileno()).st_nlink == 0
        assert os.fstat(fh.fileno()).st_ctime_ns > ctime  # a link count change
        assert fh.read(4) == b"AAAA"
        fh.seek(0)
        fh.write(b"B" * (20 << 20))  # more than a writer keeps in memory: chunks are stored
        fh.flush()
        os.fsync(fh.fileno())
        fh.seek(20 << 20)
        fh.write(b"tail")
        fh.flush()
        fh.seek(0)
        data = fh.read()
        assert len(data) == (20 << 20) + 4 and data.endswith(b"Btail")
        assert os.fstat(fh.fileno()).st_nlink == 0
    assert not f.exists() and os.listdir(m.path) == []
    m.stop()
    store = Store.open(fs_store)
    try:
        with pytest.raises(NoSuchKey):
            store.head_object(OWNER, "plain", "open")
        assert store.gc(OWNER, grace_seconds=0).chunks_removed >= 1  # what the writer stored
        # nothing left on disk that nothing references, nothing resurrected
        assert store.fsck(OWNER).ok
        assert store.gc(OWNER, grace_seconds=0).chunks_removed == 0
    finally:
        store.close()


def test_file_replaced_by_rename_stays_readable_while_open(
    mounter: Callable[..., Mount], fs_store: Path
) -> None:
    m = mounter(bucket="plain")
    (m.path / "old").write_bytes(b"old data")
    (m.path / "new").write_bytes(b"new data")
    with open(m.path / "old", "rb") as fh:
        os.rename(m.path / "new", m.path / "old")
        assert os.fstat(fh.fileno()).st_nlink == 0
        assert fh.read() == b"old data"
    assert (m.path / "old").read_bytes() == b"new data"
    assert os.stat(m.path / "old").st_nlink == 1


# --- limits ------------------------------------------------------------------------


def test_limits_names_links_statfs_pathconf(mnt: Mount) -> None:
    path = mnt.path
    seg = "s" * 200
    depth = 0
    with pytest.raises(OSError) as err:
        while True:
            path = path / seg
            path.mkdir()
            depth += 1
    assert err.value.errno == errno.ENAMETOOLONG
    assert depth == 5  # 5 * 201 bytes fit in a 1,024-byte key, 6 do not
    with pytest.raises(OSError) as err:
        (mnt.path / ("n" * 256)).write_bytes(b"")
    assert err.value.errno == errno.ENAMETOOLONG
    (mnt.path / "a").write_bytes(b"1")
    with pytest.raises(OSError) as err:
        os.link(mnt.path / "a", mnt.path / "b")
    assert err.value.errno == errno.EPERM
    st = os.statvfs(mnt.path)
    assert st.f_namemax == 255 and st.f_blocks > 0 and st.f_bsize > 0
    assert os.pathconf(mnt.path, "PC_NAME_MAX") == 255
    assert os.pathconf(mnt.path, "PC_LINK_MAX") >= 1


def test_a_file_whose_key_is_too_long_is_refused_at_open(mnt: Mount, fs_store: Path) -> None:
    """Issue 19 item 4: open(O_CREAT) of a path whose key would be over 1,024 bytes
    is ENAMETOOLONG at once, as mkdir is; nothing is left to vanish at close."""
    top = mnt.path / ("d" * 250) / ("e" * 250) / ("f" * 250) / ("g" * 250)
    top.mkdir(parents=True)  # the marker "d.../e.../f.../g.../" is 1,004 bytes
    fits = top / ("h" * 19)  # 1,023 bytes
    fits.write_bytes(b"kept")
    too_long = top / ("h" * 21)  # 1,025 bytes
    for flags in (os.O_CREAT | os.O_WRONLY, os.O_CREAT | os.O_EXCL | os.O_RDWR):
        with pytest.raises(OSError) as err:
            os.close(os.open(too_long, flags, 0o644))
        assert err.value.errno == errno.ENAMETOOLONG
    # A shell redirection ignores errors at close: it must fail at open.
    done = subprocess.run(["sh", "-c", f"echo data > {too_long}"], capture_output=True, text=True)
    assert done.returncode != 0 and "too long" in done.stderr
    with pytest.raises(OSError) as err:
        os.mknod(too_long, 0o644 | stat.S_IFREG)
    assert err.value.errno == errno.ENAMETOOLONG
    assert os.listdir(top) == [fits.name]
    assert fits.read_bytes() == b"kept"
    prefix = str(top.relative_to(mnt.path)) + "/"
    with Store.open(fs_store) as store:
        keys = [v.key for v in store.list_objects(OWNER, "vers", prefix=prefix).contents]
    assert keys == [prefix, prefix + fits.name]  # the marker and the file


def test_past_the_largest_file_size_is_efbig(mnt: Mount, fs_store: Path) -> None:
    """Issue 19 item 16: S3's 5 TiB object limit is the mount's largest file size;
    truncating or writing past it is EFBIG (not EINVAL), and nothing is stored."""
    largest = 5 << 40
    path = mnt.path / "big"
    path.write_bytes(b"x")
    # (Up to the limit is allowed, but a 5 TiB hole costs the store ~13 s.)
    with pytest.raises(OSError) as err:
        os.truncate(path, largest + 1)
    assert err.value.errno == errno.EFBIG
    fd = os.open(path, os.O_RDWR)
    try:
        with pytest.raises(OSError) as err:
            os.ftruncate(fd, largest + 4096)
        assert err.value.errno == errno.EFBIG
    finally:
        os.close(fd)
    assert os.stat(path).st_size == 1
    # Writes the kernel hands over at once (O_DIRECT): EFBIG at the pwrite,
    # also for one that would end past the limit.
    block = mmap.mmap(-1, 4096)
    block.write(b"a" * 4096)
    fd = os.open(path, os.O_RDWR | os.O_DIRECT)
    try:
        for offset in (largest, largest - 1, 1 << 50):
            with pytest.raises(OSError) as err:
                os.pwrite(fd, block, offset)
            assert err.value.errno == errno.EFBIG
        assert os.fstat(fd).st_size == 1
    finally:
        os.close(fd)
    # A buffered write past the limit waits in the kernel's page cache
    # (writeback caching: FUSE cannot tell the kernel a maximum file size);
    # its refusal is EFBIG at fsync, an error at close, and nothing stored.
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, b"ab", largest)
        with pytest.raises(OSError) as err:
            os.fsync(fd)
        assert err.value.errno == errno.EFBIG
    finally:
        try:
            os.close(fd)
        except OSError as closing:  # the kernel reports a failed writeback as EIO
            assert closing.errno == errno.EIO
    mnt.stop()
    sizes = [v.size for v in versions(fs_store, "vers", "big")]
    assert sizes[0] == 1 and largest + 2 not in sizes
    mnt.start()
    assert (mnt.path / "big").read_bytes() == b"x"


def test_documented_refusals(mnt: Mount) -> None:
    """What mount.objfs(8) LIMITS says is not provided, answers as it says."""
    with pytest.raises(OSError) as err:
        os.open(mnt.path, os.O_TMPFILE | os.O_RDWR)
    assert err.value.errno == errno.EOPNOTSUPP
    (mnt.path / "f").write_bytes(b"1")
    result = subprocess.run(["fallocate", "-l", "4096", str(mnt.path / "f")], capture_output=True)
    assert result.returncode != 0 and b"not supported" in result.stderr
    # RENAME_EXCHANGE is refused, RENAME_NOREPLACE honoured (renameat2 through libc)
    (mnt.path / "g").write_bytes(b"2")
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, noreplace, exchange = -100, 1, 2
    f, g = bytes(mnt.path / "f"), bytes(mnt.path / "g")
    assert libc.renameat2(at_fdcwd, f, at_fdcwd, g, exchange) == -1
    assert ctypes.get_errno() == errno.EINVAL
    assert libc.renameat2(at_fdcwd, f, at_fdcwd, g, noreplace) == -1
    assert ctypes.get_errno() == errno.EEXIST
    assert (mnt.path / "f").read_bytes() == b"1"
