"""S3Backend against a real SeaweedFS: the ChunkBackend contract, its frame cache,
retries and ``BackendUnavailable`` while the server is paused, and a ChunkStore
writing and reading encrypted chunks through it."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import obstore
import pytest

from objfs.chunks.framecache import FrameCache
from objfs.chunks.s3 import S3Backend
from objfs.chunks.store import ChunkStore
from objfs.crypto.keyring import Keyring
from objfs.errors import AccessDenied, BackendUnavailable, IntegrityError, InvalidArgument


def backend(seaweedfs, bucket: str, **kw) -> S3Backend:
    kw.setdefault("timeout_s", 5.0)
    kw.setdefault("retries", 2)
    kw.setdefault("access_key", seaweedfs.access_key)
    kw.setdefault("secret_key", seaweedfs.secret_key)
    return S3Backend(bucket=bucket, endpoint=seaweedfs.endpoint, region=seaweedfs.region, **kw)


def name(i: int) -> str:
    return f"{i:08x}" + os.urandom(12).hex()


@pytest.fixture
def s3(seaweedfs, s3_bucket) -> S3Backend:
    return backend(seaweedfs, s3_bucket, prefix="store1/chunks")


def test_put_get_stat_delete_like_local(s3: S3Backend) -> None:
    a, b = name(1), name(2)
    data = os.urandom(100_000)
    before = time.time()
    s3.put(a, data)
    s3.put(b, [memoryview(b"ab"), b"cd", bytearray(b"ef")])  # pieces back to back
    assert s3.get(a) == data and s3.get(b) == b"abcdef"
    assert s3.get_prefix(a, 10) == data[:10] and s3.get_prefix(b, 100) == b"abcdef"
    mtime, size = s3.stat(a)
    assert size == len(data) and before - 2 < mtime < time.time() + 2
    assert s3.exists(a) and s3.stat(name(3)) is None and not s3.exists(name(3))
    s3.put(a, b"replaced")
    assert s3.get(a) == b"replaced"
    s3.sync([a, b])
    s3.sync_all()
    s3.delete(a)
    s3.delete(a)  # removing a missing blob is not an error
    assert not s3.exists(a)
    with pytest.raises(IntegrityError, match="missing"):
        s3.get(a)
    with pytest.raises(IntegrityError, match="missing"):
        s3.open_blob(a)
    with pytest.raises(IntegrityError, match="vanished"):
        s3.sync([a])
    with pytest.raises(InvalidArgument):
        s3.put("../etc", b"x")


def test_open_blob_reads_ranges(s3: S3Backend) -> None:
    n = name(4)
    data = os.urandom(300_000)
    s3.put(n, data)
    with s3.open_blob(n) as blob:
        assert blob.pread(0, 4096) == data[:4096]
        assert blob.pread(123_456, 70_000) == data[123_456:193_456]
        assert blob.pread(299_990, 100) == data[299_990:]  # fewer at the end
        assert blob.pread(300_000, 10) == b"" and blob.pread(400_000, 10) == b""
    s3.put(empty := name(5), b"")
    assert s3.get(empty) == b"" and s3.stat(empty)[1] == 0
    with s3.open_blob(empty) as blob:
        assert blob.pread(0, 10) == b""


def test_iterate_pages_past_1000_and_skips_foreign_keys(seaweedfs, s3_bucket) -> None:
    s3 = backend(seaweedfs, s3_bucket, prefix="p")
    names = {name(i) for i in range(1100)}
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda n: s3.put(n, b"x"), names))
    obstore.put(s3._store, "README", b"not a chunk")
    obstore.put(s3._store, "ab/.touch-ab12.1", b"leftover")
    other = backend(seaweedfs, s3_bucket, prefix="q")  # another store's prefix
    other.put(name(9999), b"y")
    before = s3.requests
    listed = dict(s3.iterate())
    assert set(listed) == names
    assert s3.requests - before >= 2  # more than one page of 1,000
    assert all(abs(m - time.time()) < 120 for m in listed.values())
    assert s3.cleanup_temp(0) == 1 and s3.cleanup_temp(0) == 0


def test_touch_refreshes_mtime_and_gc_never_discards(s3: S3Backend) -> None:
    n = name(6)
    s3.put(n, b"shared")
    old = s3.stat(n)[0]
    time.sleep(1.1)  # S3 mtimes have one-second resolution
    assert s3.touch(n)
    assert s3.stat(n)[0] > old and s3.get(n) == b"shared"
    assert not s3.touch(name(7))
    assert s3.discard_unless_touched(n, cutoff=old) is None  # touched since: kept
    assert s3.exists(n)
    # Not even an old one: S3 cannot delete only if untouched (see S3Backend).
    assert s3.discard_unless_touched(n, cutoff=time.time() + 10) is None
    assert s3.exists(n)
    s3.delete(n)
    assert [k for k, _ in s3.iterate()] == []  # no touch copies left behind


def test_cache_serves_repeated_reads_and_survives_restart(
    seaweedfs, s3_bucket, tmp_path: Path
) -> None:
    s3 = backend(seaweedfs, s3_bucket, cache_dir=tmp_path / "cache")
    n = name(8)
    data = os.urandom(50_000)
    s3.put(n, data)
    assert s3.get(n) == data
    sent = s3.requests
    for _ in range(5):
        assert s3.get(n) == data
        assert s3.get_prefix(n, 100) == data[:100]
        with s3.open_blob(n) as blob:
            assert blob.pread(1000, 10) == data[1000:1010]
    assert s3.requests == sent  # all from the cache
    again = backend(seaweedfs, s3_bucket, cache_dir=tmp_path / "cache")
    assert again.get(n) == data and again.requests == 0
    s3.delete(n)
    assert s3.cache is not None and s3.cache.get(n) is None


def test_corrupt_cache_file_is_dropped_not_served(seaweedfs, s3_bucket, tmp_path) -> None:
    s3 = backend(seaweedfs, s3_bucket, cache_dir=tmp_path / "cache")
    n = name(10)
    s3.put(n, b"A" * 5000)
    s3.get(n)
    (cached,) = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    cached.write_bytes(b"A" * 10)  # truncated
    sent = s3.requests
    assert s3.get(n) == b"A" * 5000 and s3.requests == sent + 1
    # at start-up a damaged file is removed too
    cached.write_bytes(b"short")
    cache = FrameCache(tmp_path / "cache", 1 << 20)
    assert cache.used_bytes == 0 and not cached.exists()


def test_cache_stays_within_its_bound_least_recently_used_first(
    seaweedfs, s3_bucket, tmp_path: Path
) -> None:
    s3 = backend(seaweedfs, s3_bucket, cache_dir=tmp_path / "cache", cache_bytes=100_000)
    names = [name(i) for i in range(8)]
    for n in names:
        s3.put(n, os.urandom(30_000))
    s3.get(names[0])
    for n in names[1:]:
        s3.get(names[0])  # keep the first one hot
        s3.get(n)
        files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
        assert sum(p.stat().st_size for p in files) <= 100_000
    assert s3.cache.get(names[0]) is not None  # the hot one stayed
    assert s3.cache.get(names[1]) is None  # the coldest went
    s3.put(big := name(99), os.urandom(200_000))
    s3.get(big)  # larger than the whole cache: not kept
    assert s3.cache.get(big) is None and s3.cache.used_bytes <= 100_000


def test_paused_server_is_backend_unavailable_then_recovers(seaweedfs, s3_bucket) -> None:
    s3 = backend(seaweedfs, s3_bucket, timeout_s=0.5, retries=2)
    n = name(11)
    s3.put(n, b"before")
    seaweedfs.pause()
    try:
        t0 = time.monotonic()
        with pytest.raises(BackendUnavailable) as err:
            s3.get(n)
        took = time.monotonic() - t0
        with pytest.raises(BackendUnavailable):
            s3.put(name(12), b"during")
    finally:
        seaweedfs.resume()
    assert took < 0.5 * (2 + 1) + 1.0
    assert seaweedfs.endpoint in str(err.value) and "3 tries" in str(err.value)
    assert err.value.status == 503 and err.value.code == "SlowDown"
    assert s3.get(n) == b"before"  # works again once it is back
    s3.put(n2 := name(13), b"after")
    assert s3.get(n2) == b"after"


def test_unreachable_endpoint_and_bad_credentials(seaweedfs, s3_bucket) -> None:
    down = S3Backend(
        bucket=s3_bucket,
        endpoint="http://127.0.0.1:9",
        access_key="a",
        secret_key="b",
        region="us-east-1",
        retries=1,
        timeout_s=1,
    )
    with pytest.raises(BackendUnavailable, match="127.0.0.1:9"):
        down.exists(name(1))
    wrong = backend(seaweedfs, s3_bucket, secret_key="wrong")
    with pytest.raises(AccessDenied, match="secret key"):
        wrong.put(name(1), b"x")


@pytest.mark.parametrize("kind", ["none", "AES256"])
def test_chunk_store_over_s3_end_to_end(seaweedfs, s3_bucket, tmp_path: Path, kind) -> None:
    keyring = Keyring.create(tmp_path / "keys")
    domain = keyring.new_domain(kind)[0]
    store = ChunkStore(backend(seaweedfs, s3_bucket, prefix="s", cache_dir=tmp_path / "c"))
    samples = [b"x", os.urandom(70_000), b"log line\n" * 50_000, os.urandom(1 << 20)]
    ids = [store.put(domain, data) for data in samples]
    assert all(new for _, new in ids)
    assert store.put(domain, samples[1]) == (ids[1][0], False)  # dedup onto the object
    store.sync(i for i, _ in ids)
    fresh = ChunkStore(backend(seaweedfs, s3_bucket, prefix="s"))  # no cache: range GETs
    for (chunk_id, _), data in zip(ids, samples, strict=True):
        assert fresh.get(domain, chunk_id, cached=False) == data
        assert fresh.read(domain, chunk_id, 5, 70_000) == data[5:70_000]
        assert store.get(domain, chunk_id) == data
    assert {i for i, _ in fresh.iter_ids()} == {i for i, _ in ids}
    if kind == "AES256":  # the S3 store only sees ciphertext
        raw = fresh.backend.get(ids[2][0].hex())
        assert b"log line" not in raw
