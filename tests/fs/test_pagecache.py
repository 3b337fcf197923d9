"""The kernel page cache as the mount's read cache (``objfs/fs/pagecache.py``).

A random read pushes the rest of its decrypted 64 KiB segment into the
kernel's page cache, a sequential read the rest of its chunk: later reads of
those pages never reach the daemon. These tests check that the pushes
happen (``RWF_NOWAIT`` reads succeed only from the page cache) and, above
all, that no pushed page is ever read stale: after a write through the
mount, a truncate, a version committed elsewhere, a rename over the file, a
restore from ``.versions``; and that no push grows the file.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from objfs.store import OWNER, Store

from .support import Mount, drop_page_cache

pytestmark = pytest.mark.fuse

KIB = 1 << 10
MIB = 1 << 20
SEG = 64 * KIB


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_long,
]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]


def _cached(fd: int, offset: int, length: int = 4096) -> bool:
    """Whether the pages of [offset, offset+length) are all in the kernel page cache.

    ``mincore`` of a shared read-only mapping: asks the page cache, never
    the daemon (FUSE files refuse ``RWF_NOWAIT``).
    """
    start = offset - offset % mmap.PAGESIZE
    span = offset + length - start
    addr = _libc.mmap(None, span, mmap.PROT_READ, mmap.MAP_SHARED, fd, start)
    if addr in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap failed")
    try:
        vec = ctypes.create_string_buffer(-(-span // mmap.PAGESIZE))
        if _libc.mincore(addr, span, vec) != 0:
            raise OSError(ctypes.get_errno(), "mincore failed")
        return all(b & 1 for b in vec.raw)
    finally:
        _libc.munmap(addr, span)


def _wait_cached(fd: int, offset: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not _cached(fd, offset):
        assert time.monotonic() < deadline, f"page at {offset} was never pushed"
        time.sleep(0.02)


def _fresh_file(m: Mount, name: str, data: bytes) -> Path:
    """``data`` written through the mount, then the mount's page cache of it dropped."""
    path = m.path / name
    path.write_bytes(data)
    drop_page_cache(path)
    return path


def _read_random(fd: int, offset: int) -> bytes:
    # Never at 0 nor right after the previous read: that is a sequential stream.
    return os.pread(fd, 4096, offset)


def _wait_for(pred: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if pred():
                return
        except FileNotFoundError:
            pass  # the name is briefly missing while the mount catches up (as in test_reads)
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_random_read_pushes_its_segment_and_never_past_the_size(
    mounter: Callable[..., Mount],
) -> None:
    m = mounter(bucket="vers")
    size = 2 * MIB + 5000  # the last page is partial
    data = os.urandom(size)
    path = _fresh_file(m, "f", data)
    fd = os.open(path, os.O_RDONLY)
    try:
        off = 21 * SEG + 8 * 4096
        assert not _cached(fd, off + 4096)
        assert _read_random(fd, off) == data[off : off + 4096]
        # The rest of the segment arrives in the page cache: answered by the kernel.
        _wait_cached(fd, 21 * SEG)
        _wait_cached(fd, 22 * SEG - 4096)
        assert not _cached(fd, 22 * SEG)  # the next segment was not decrypted
        for page in range(21 * SEG, 22 * SEG, 4096):
            assert os.pread(fd, 4096, page) == data[page : page + 4096]
    finally:
        os.close(fd)
    fd = os.open(path, os.O_RDONLY)
    try:
        # The last segment: pushed up to the size (a partial page), never beyond it.
        assert _read_random(fd, 2 * MIB) == data[2 * MIB : 2 * MIB + 4096]
        _wait_cached(fd, size - size % 4096)
        assert os.fstat(fd).st_size == size
        assert os.pread(fd, 8192, size - 5000) == data[size - 5000 :]
        assert os.pread(fd, 4096, size) == b""
    finally:
        os.close(fd)
    assert os.stat(path).st_size == size
    assert path.read_bytes() == data
    assert m.problems() == []


def test_pushed_pages_never_outlive_a_write_or_truncate_through_the_mount(
    mounter: Callable[..., Mount],
) -> None:
    m = mounter(bucket="vers")
    data = os.urandom(2 * MIB + 3 * SEG)
    path = _fresh_file(m, "f", data)
    rfd = os.open(path, os.O_RDONLY)
    try:
        off = 19 * SEG + 4096
        assert _read_random(rfd, off) == data[off : off + 4096]
        _wait_cached(rfd, 19 * SEG + 8 * 4096)
        # A write into the pushed segment through another handle.
        new = os.urandom(4096)
        wfd = os.open(path, os.O_WRONLY)
        try:
            os.pwrite(wfd, new, 19 * SEG + 8 * 4096)
            assert os.pread(rfd, 4096, 19 * SEG + 8 * 4096) == new
            # A dirty page in a segment not read yet: a read of that segment
            # asks the daemon, whose state has not seen the write (it waits
            # in the kernel's writeback cache), and pushes nothing over it.
            os.pwrite(wfd, new, 30 * SEG + 8 * 4096)
            page = 30 * SEG + 4096
            assert _read_random(rfd, page) == data[page : page + 4096]
            time.sleep(0.2)  # a push, had one been queued, would have landed
            assert os.pread(rfd, 4096, 30 * SEG + 8 * 4096) == new
        finally:
            os.close(wfd)
        want = bytearray(data)
        want[19 * SEG + 8 * 4096 : 19 * SEG + 9 * 4096] = new
        want[30 * SEG + 8 * 4096 : 30 * SEG + 9 * 4096] = new
        assert os.pread(rfd, 4096, 19 * SEG + 8 * 4096) == new
    finally:
        os.close(rfd)
    fd = os.open(path, os.O_RDONLY)
    try:
        for page in [*range(19 * SEG, 20 * SEG, 4096), *range(30 * SEG, 31 * SEG, 4096)]:
            assert os.pread(fd, 4096, page) == bytes(want[page : page + 4096]), page
    finally:
        os.close(fd)
    # Truncate below a pushed segment, then grow again: zeros, not old pages.
    fd = os.open(path, os.O_RDONLY)
    try:
        off = 10 * SEG + 4096
        assert _read_random(fd, off) == bytes(want[off : off + 4096])
        _wait_cached(fd, 10 * SEG + 8 * 4096)
        os.truncate(path, 10 * SEG)
        assert os.fstat(fd).st_size == 10 * SEG
        assert os.pread(fd, 4096, 10 * SEG + 8 * 4096) == b""
        os.truncate(path, 12 * SEG)
        assert os.pread(fd, SEG, 10 * SEG) == bytes(SEG)
    finally:
        os.close(fd)
    assert path.read_bytes() == bytes(want[: 10 * SEG]) + bytes(2 * SEG)
    assert m.problems() == []


@pytest.mark.parametrize("bucket", ["vers", "plain"])
def test_pushed_pages_never_outlive_a_version_committed_elsewhere(
    mounter: Callable[..., Mount], bucket: str
) -> None:
    m = mounter(bucket=bucket)
    first = os.urandom(MIB + 7)
    path = _fresh_file(m, "f", first)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert _read_random(fd, 12 * SEG + 4096) == first[12 * SEG + 4096 : 12 * SEG + 8192]
        _wait_cached(fd, 12 * SEG + 8192)
    finally:
        os.close(fd)
    second = os.urandom(MIB + 7)  # the same size: only the bytes tell
    with Store.open(m.store) as store:
        store.put_object(OWNER, bucket, "f", second)

    def fresh() -> bool:
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.pread(fd, 4096, 12 * SEG + 8192) == second[12 * SEG + 8192 :][:4096]
        finally:
            os.close(fd)

    _wait_for(fresh, "a version committed over the store API never became visible")
    fd = os.open(path, os.O_RDONLY)
    try:
        for page in range(12 * SEG, 13 * SEG, 4096):
            assert os.pread(fd, 4096, page) == second[page : page + 4096], page
        assert os.pread(fd, 2 * MIB, 0) == second
    finally:
        os.close(fd)
    # A second mount of the same bucket commits; this one follows.
    other = mounter(bucket=bucket, name="other")
    third = os.urandom(MIB + 7)
    (other.path / "f").write_bytes(third)

    def fresh3() -> bool:
        return path.read_bytes() == third

    _wait_for(fresh3, "a version committed by another mount never became visible")
    assert m.problems() == []
    assert other.problems() == []


def test_pushed_pages_never_outlive_a_rename_over_or_a_restore(
    mounter: Callable[..., Mount],
) -> None:
    m = mounter(bucket="vers")
    old = os.urandom(2 * MIB + 4096)
    new = os.urandom(2 * MIB + 4096)
    path = _fresh_file(m, "f", old)
    other = _fresh_file(m, "g", new)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert _read_random(fd, 12 * SEG + 4096) == old[12 * SEG + 4096 : 12 * SEG + 8192]
        _wait_cached(fd, 12 * SEG + 8192)
    finally:
        os.close(fd)
    os.rename(other, path)
    fd = os.open(path, os.O_RDONLY)
    try:
        for page in range(12 * SEG, 13 * SEG, 4096):
            assert os.pread(fd, 4096, page) == new[page : page + 4096], page
        # Pushed from the renamed file's own reads, then restored over.
        assert _read_random(fd, 30 * SEG + 4096) == new[30 * SEG + 4096 : 30 * SEG + 8192]
        _wait_cached(fd, 30 * SEG + 8192)
    finally:
        os.close(fd)
    versions = sorted((m.path / ".versions" / "f").iterdir())
    oldest = versions[0]
    assert oldest.read_bytes() == old
    shutil.copyfile(oldest, path)
    fd = os.open(path, os.O_RDONLY)
    try:
        for page in range(30 * SEG, 31 * SEG, 4096):
            assert os.pread(fd, 4096, page) == old[page : page + 4096], page
    finally:
        os.close(fd)
    # And over the CLI: the store's copy of the first version back on top.
    objfs = Path(sys.executable).parent / "objfs"
    if objfs.exists():
        fd = os.open(path, os.O_RDONLY)
        try:
            assert _read_random(fd, 15 * SEG + 4096) == old[15 * SEG + 4096 : 15 * SEG + 8192]
            _wait_cached(fd, 15 * SEG + 8192)
        finally:
            os.close(fd)
        subprocess.run(
            [str(objfs), "--store", str(m.store), "put", "-", "s3://vers/f"],
            input=new,
            check=True,
            capture_output=True,
        )
        _wait_for(lambda: path.read_bytes() == new, "a put by the CLI never became visible")
    assert m.problems() == []


def test_sequential_reads_push_ahead_and_stay_exact(mounter: Callable[..., Mount]) -> None:
    m = mounter(bucket="plain")
    data = os.urandom(6 * MIB + 12345)
    path = _fresh_file(m, "f", data)
    with open(path, "rb") as f:
        got = b"".join(iter(lambda: f.read(128 * KIB), b""))
    assert got == data
    assert os.stat(path).st_size == len(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.pread(fd, len(data) + 10, 0) == data
    finally:
        os.close(fd)
    assert m.problems() == []


def test_many_concurrent_random_readers_neither_deadlock_nor_read_wrong_bytes(
    mounter: Callable[..., Mount],
) -> None:
    # More readers than the mount has worker threads, all on a few segments:
    # stores wait for pages other READs hold locked, which must still be served.
    m = mounter(bucket="plain")
    data = os.urandom(2 * MIB)
    path = _fresh_file(m, "f", data)
    errors: list[str] = []

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        fd = os.open(path, os.O_RDONLY)
        try:
            for n in range(300):
                if n % 50 == 0:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                off = rng.randrange(MIB // 4096, 2 * MIB // 4096) * 4096
                if os.pread(fd, 4096, off) != data[off : off + 4096]:
                    errors.append(f"wrong bytes at {off}")
        finally:
            os.close(fd)

    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        assert not t.is_alive(), "readers stuck: the mount deadlocked"
    assert errors == []
    assert m.problems() == []


def test_readers_missing_the_same_segment_at_once_do_not_deadlock(
    mounter: Callable[..., Mount],
) -> None:
    # Two READs of different pages of one segment, both cold: each is read
    # in a worker thread, and each pushes the pages around its own, which
    # include the page the other READ holds locked until its reply. A worker
    # that stored before replying waited for the other's reply, and the
    # other for its own: both for ever (found in CI, the live-maintenance
    # test). Readers in step over many fresh segments make that meeting likely.
    m = mounter(bucket="plain")
    data = os.urandom(16 * MIB)
    path = _fresh_file(m, "f", data)
    segments = len(data) // (64 << 10)
    order = list(range(1, segments))
    random.Random(5).shuffle(order)  # far jumps: random reads, not a stream
    start = threading.Barrier(4)
    errors: list[str] = []

    def reader(page: int) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            start.wait()
            for seg in order:
                off = seg * (64 << 10) + page * 4096
                if os.pread(fd, 4096, off) != data[off : off + 4096]:
                    errors.append(f"wrong bytes at {off}")
        finally:
            os.close(fd)

    threads = [threading.Thread(target=reader, args=(p,), daemon=True) for p in (3, 5, 9, 12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "readers stuck: the mount deadlocked"
    assert errors == []
    assert m.problems() == []
