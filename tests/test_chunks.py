"""The chunk store over real files: round trips, dedup, damage detection, disk full."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from needs_root import cannot_run, require_root

from objfs.chunks.backend import TEMP_PREFIX, LocalBackend
from objfs.chunks.store import HEADER_LEN, TAG_LEN, ChunkStore, frame_overhead
from objfs.crypto.keyring import Domain, Keyring
from objfs.errors import IntegrityError, InvalidArgument, StoreFull

KINDS = ["none", "AES256", "SSE-C"]
MARKER = b"--objfs-plaintext-marker-7f3a9c--"


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.create(tmp_path / "keys")


@pytest.fixture
def chunks(tmp_path: Path) -> ChunkStore:
    return ChunkStore(LocalBackend(tmp_path / "chunks"))


def make_domain(keyring: Keyring, kind: str) -> Domain:
    if kind == "SSE-C":
        return keyring.new_ssec_domain(os.urandom(32))[0]
    return keyring.new_domain(kind)[0]


def chunk_file(store: ChunkStore, chunk_id: bytes) -> Path:
    assert isinstance(store.backend, LocalBackend)
    return Path(store.backend.path(chunk_id.hex()))


def all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def compressible(n: int) -> bytes:
    line = b"2026-05-09 07:35:25 INFO request served status=200 bytes=%d\n"
    out = b"".join(line % i for i in range(n // 40 + 1))
    return out[:n]


# ---- round trips and ids ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_persists_across_reopen(tmp_path: Path, keyring: Keyring, kind: str) -> None:
    customer = os.urandom(32)
    if kind == "SSE-C":
        domain, record = keyring.new_ssec_domain(customer)
    else:
        domain, record = keyring.new_domain(kind)
    store = ChunkStore(LocalBackend(tmp_path / "chunks"))
    samples = [b"", b"x", os.urandom(4097), compressible(300_000), os.urandom(1 << 20)]
    ids = [store.put(domain, data) for data in samples]
    assert all(new for _, new in ids)
    store.sync(i for i, _ in ids)

    # A new process would do this: load the key, reopen the domain, read.
    again = Keyring.load(tmp_path / "keys")
    if kind == "SSE-C":
        reopened = again.open_ssec_domain(domain.domain_id, record, customer)
    else:
        reopened = again.open_domain(domain.domain_id, record)
    fresh = ChunkStore(LocalBackend(tmp_path / "chunks"))
    for (chunk_id, _), data in zip(ids, samples, strict=True):
        assert fresh.get(reopened, chunk_id) == data
        assert fresh.read_domain_id(chunk_id) == domain.domain_id


@pytest.mark.parametrize("kind", KINDS)
def test_dedup_inside_a_domain(chunks: ChunkStore, keyring: Keyring, kind: str) -> None:
    domain = make_domain(keyring, kind)
    data = os.urandom(10_000)
    first, new1 = chunks.put(domain, data)
    second, new2 = chunks.put(domain, bytes(data))
    assert first == second and new1 and not new2
    assert first == chunks.chunk_id(domain, data) and len(first) == 32
    assert [i for i, _ in chunks.iter_ids()] == [first]


def test_dedup_hit_refreshes_mtime_for_gc_grace(chunks: ChunkStore, keyring: Keyring) -> None:
    domain = keyring.new_domain("AES256")[0]
    chunk_id, _ = chunks.put(domain, b"shared" * 100)
    path = chunk_file(chunks, chunk_id)
    old = path.stat().st_mtime - 86400
    os.utime(path, (old, old))
    assert chunks.put(domain, b"shared" * 100) == (chunk_id, False)
    assert dict(chunks.iter_ids())[chunk_id] > old + 3600


def test_same_data_in_two_domains_is_stored_twice(chunks: ChunkStore, keyring: Keyring) -> None:
    a, b = keyring.new_domain("AES256")[0], keyring.new_domain("AES256")[0]
    data = os.urandom(5000)
    id_a, _ = chunks.put(a, data)
    id_b, new_b = chunks.put(b, data)
    assert id_a != id_b and new_b
    assert chunks.get(a, id_a) == chunks.get(b, id_b) == data
    assert sorted(i for i, _ in chunks.iter_ids()) == sorted([id_a, id_b])


def test_chunk_id_is_keyed_not_a_bare_hash(chunks: ChunkStore, keyring: Keyring) -> None:
    import hashlib

    data = b"hello"
    ids = {chunks.chunk_id(keyring.new_domain("none")[0], data) for _ in range(3)}
    assert len(ids) == 3 and hashlib.sha256(data).digest() not in ids


# ---- damage is detected, never returned -------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("content", ["random", "compressible"])
def test_any_flipped_byte_is_detected(
    chunks: ChunkStore, keyring: Keyring, kind: str, content: str
) -> None:
    domain = make_domain(keyring, kind)
    data = os.urandom(300) if content == "random" else compressible(3000)
    chunk_id, _ = chunks.put(domain, data)
    path = chunk_file(chunks, chunk_id)
    good = path.read_bytes()
    codec = good[5]
    assert codec == (0 if content == "random" else 1)
    for pos in range(len(good)):  # header, nonce, payload and tag
        bad = bytearray(good)
        bad[pos] ^= 0x01
        # decode() is what get() runs on the file's bytes; a few go through the file.
        with pytest.raises(IntegrityError) as err:
            if pos in (0, len(good) // 2, len(good) - 1):
                path.write_bytes(bad)
                chunks.get(domain, chunk_id)
            else:
                chunks.decode(domain, chunk_id, bytes(bad))
        assert chunk_id.hex() in str(err.value), pos
    path.write_bytes(good)
    assert chunks.get(domain, chunk_id) == data


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_or_extended_file_is_detected(
    chunks: ChunkStore, keyring: Keyring, kind: str
) -> None:
    domain = make_domain(keyring, kind)
    chunk_id, _ = chunks.put(domain, os.urandom(2000))
    path = chunk_file(chunks, chunk_id)
    good = path.read_bytes()
    for cut in (0, 3, HEADER_LEN - 1, HEADER_LEN, len(good) - TAG_LEN, len(good) - 1):
        path.write_bytes(good[:cut])
        with pytest.raises(IntegrityError, match="is damaged"):
            chunks.get(domain, chunk_id)
    path.write_bytes(good + b"\0")
    with pytest.raises(IntegrityError, match="is damaged"):
        chunks.get(domain, chunk_id)


def test_wrong_domain_is_detected(chunks: ChunkStore, keyring: Keyring) -> None:
    enc = keyring.new_domain("AES256")[0]
    plain = keyring.new_domain("none")[0]
    chunk_id, _ = chunks.put(enc, b"secret data" * 100)
    for other in (keyring.new_domain("AES256")[0], plain, make_domain(keyring, "SSE-C")):
        with pytest.raises(IntegrityError, match="belongs to domain"):
            chunks.get(other, chunk_id)
    # Same domain id, different key (e.g. a domain record restored from elsewhere).
    forged = Domain(enc.domain_id, enc.kind, enc.id_key, os.urandom(32))
    with pytest.raises(IntegrityError, match="authentication failed"):
        chunks.get(forged, chunk_id)


def test_plaintext_frame_is_refused_for_an_encrypted_domain(
    chunks: ChunkStore, keyring: Keyring
) -> None:
    # A plaintext frame under an encrypted domain's chunk name means the data
    # sat unencrypted on disk (a bug, or a file swapped in): refused even when
    # it carries the right data, id and domain, and even with a valid check.
    enc = keyring.new_domain("AES256")[0]
    for data in (os.urandom(500), b"original" * 50):
        chunk_id, _ = chunks.put(enc, data)
        as_plain = Domain(enc.domain_id, "none", enc.id_key, None)
        header, payload = chunks.encode(as_plain, data, chunk_id)
        chunk_file(chunks, chunk_id).write_bytes(header + bytes(payload))
        with pytest.raises(IntegrityError, match="does not match a AES256 domain"):
            chunks.get(enc, chunk_id)
    # Nor is an encrypted frame accepted where plaintext is expected.
    plain = keyring.new_domain("none")[0]
    chunk_id, _ = chunks.put(plain, b"x" * 100)
    as_enc = Domain(plain.domain_id, "AES256", plain.id_key, os.urandom(32))
    header, payload = chunks.encode(as_enc, b"x" * 100, chunk_id)
    chunk_file(chunks, chunk_id).write_bytes(header + bytes(payload))
    with pytest.raises(IntegrityError, match="does not match a none domain"):
        chunks.get(plain, chunk_id)


def test_plain_chunk_swapped_for_another_is_detected(chunks: ChunkStore, keyring: Keyring) -> None:
    domain = keyring.new_domain("none")[0]
    id_a, _ = chunks.put(domain, b"a" * 1000)
    id_b, _ = chunks.put(domain, b"b" * 1000)
    chunk_file(chunks, id_a).write_bytes(chunk_file(chunks, id_b).read_bytes())
    with pytest.raises(IntegrityError, match="is damaged"):
        chunks.get(domain, id_a)


def test_missing_chunk_names_it(chunks: ChunkStore, keyring: Keyring) -> None:
    domain = keyring.new_domain("AES256")[0]
    chunk_id, _ = chunks.put(domain, b"data")
    chunks.delete(chunk_id)
    chunks.delete(chunk_id)  # idempotent
    assert not chunks.exists(chunk_id)
    with pytest.raises(IntegrityError) as err:
        chunks.get(domain, chunk_id)
    assert chunk_id.hex() in str(err.value) and "missing" in str(err.value)
    with pytest.raises(IntegrityError):
        chunks.sync([chunk_id])


def test_bad_chunk_id_is_invalid_argument(chunks: ChunkStore, keyring: Keyring) -> None:
    domain = keyring.new_domain("none")[0]
    for bad in (b"", b"short", os.urandom(33)):
        with pytest.raises(InvalidArgument):
            chunks.get(domain, bad)
    with pytest.raises(InvalidArgument):
        chunks.backend.get("../../etc/passwd")


# ---- what lands on disk ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("compress", [True, False])
def test_plaintext_never_on_disk_when_encrypted(
    tmp_path: Path, keyring: Keyring, kind: str, compress: bool
) -> None:
    store = ChunkStore(LocalBackend(tmp_path / "chunks"), compress=compress)
    domain = make_domain(keyring, kind)
    data = os.urandom(30_000) + MARKER + os.urandom(30_000)
    store.put(domain, data)
    store.put(domain, MARKER * 1000)  # compressible too
    found = any(MARKER in p.read_bytes() for p in all_files(tmp_path))
    assert found == (kind == "none")


def test_compression_only_when_it_pays(chunks: ChunkStore, keyring: Keyring) -> None:
    domain = keyring.new_domain("AES256")[0]
    text = compressible(1 << 20)
    text_id, _ = chunks.put(domain, text)
    rand_id, _ = chunks.put(domain, os.urandom(1 << 20))
    assert chunks.read_header(text_id).codec == 1
    assert chunk_file(chunks, text_id).stat().st_size < (1 << 20) // 4
    assert chunks.read_header(rand_id).codec == 0
    # Stored raw: the data plus the frame's fixed cost (header, segment table, tags).
    assert chunk_file(chunks, rand_id).stat().st_size == (1 << 20) + frame_overhead(1 << 20)
    # Half already-compressed, half text (a tarball of photos and logs): still pays.
    mixed = os.urandom(1 << 19) + compressible(1 << 19)
    mixed_id, _ = chunks.put(domain, mixed)
    assert chunks.read_header(mixed_id).codec == 1
    assert chunk_file(chunks, mixed_id).stat().st_size < (1 << 20) * 0.6
    assert chunks.get(domain, mixed_id) == mixed
    raw = ChunkStore(chunks.backend, compress=False)
    other = keyring.new_domain("AES256")[0]
    assert raw.read_header(raw.put(other, text)[0]).codec == 0


def test_layout_and_modes(chunks: ChunkStore, keyring: Keyring) -> None:
    chunk_id, _ = chunks.put(keyring.new_domain("none")[0], b"data")
    name = chunk_id.hex()
    path = chunk_file(chunks, chunk_id)
    assert path.parent.name == name[0:2] and path.parent.parent == chunks.backend.root
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == [name]  # no temp file left


def test_temp_files_from_a_crash(chunks: ChunkStore, keyring: Keyring) -> None:
    chunk_id, _ = chunks.put(keyring.new_domain("none")[0], b"data")
    leaf = chunk_file(chunks, chunk_id).parent
    leftover = leaf / f"{TEMP_PREFIX}{chunk_id.hex()}.123.abcd"
    leftover.write_bytes(b"half a chu")
    (chunks.backend.root / "README").write_text("not a chunk")  # type: ignore[attr-defined]
    assert [i for i, _ in chunks.iter_ids()] == [chunk_id]
    assert chunks.cleanup_temp(3600) == 0 and leftover.exists()
    old = os.stat(leftover).st_mtime - 7200
    os.utime(leftover, (old, old))
    assert chunks.cleanup_temp(3600) == 1 and not leftover.exists()
    assert chunk_file(chunks, chunk_id).exists()


def test_sync_and_iter_ids(chunks: ChunkStore, keyring: Keyring) -> None:
    domain = keyring.new_domain("AES256")[0]
    ids = {chunks.put(domain, os.urandom(100))[0] for _ in range(50)}
    chunks.sync(ids)
    listed = dict(chunks.iter_ids())
    assert set(listed) == ids and all(m > 0 for m in listed.values())


def test_concurrent_puts_and_gets(chunks: ChunkStore, keyring: Keyring) -> None:
    domain = keyring.new_domain("AES256")[0]
    pieces = [compressible(50_000 + i) for i in range(20)] + [os.urandom(20_000)] * 4
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for data in pieces:
                chunk_id, _ = chunks.put(domain, data)
                assert chunks.get(domain, chunk_id) == data
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(list(chunks.iter_ids())) == 21


# ---- a full disk -------------------------------------------------------------------------


@contextlib.contextmanager
def tiny_tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    require_root("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        cannot_run(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_full_disk_is_store_full(tmp_path: Path, keyring: Keyring) -> None:
    domain = keyring.new_domain("AES256")[0]
    with tiny_tmpfs(tmp_path / "small", "2m") as root:
        store = ChunkStore(LocalBackend(root / "chunks"))
        written = []
        with pytest.raises(StoreFull) as err:
            for _ in range(40):
                data = os.urandom(256 * 1024)
                written.append((store.put(domain, data)[0], data))
        text = str(err.value)
        assert "no space left" in text and str(root) in text and "\n" not in text
        assert 2 <= len(written) < 8
        # Every chunk under a final name is whole; no temp file remains.
        assert not [p for p in root.rglob(f"{TEMP_PREFIX}*")]
        assert {i for i, _ in store.iter_ids()} == {i for i, _ in written}
        for chunk_id, data in written:
            assert store.get(domain, chunk_id) == data
        # Freeing space makes the store writable again.
        store.delete(written[0][0])
        store.put(domain, os.urandom(100_000))


def test_get_streaming_reads_what_get_reads_into_an_aligned_reused_buffer(tmp_path: Path):
    """The read-ahead's O_DIRECT read: same bytes as ``get`` for odd sizes
    (into a per-thread buffer in whole 2 MiB huge-page units, reused)."""
    from objfs.chunks.backend import _HUGE, _huge_buffer

    for n in (1, _HUGE - 1, _HUGE, _HUGE + 1):
        buf = _huge_buffer(n)
        assert len(buf) >= n and len(buf) % _HUGE == 0 and not buf.readonly
    backend = LocalBackend(tmp_path / "chunks")
    sizes = (0, 1, 4095, 4096, 1 << 20, (1 << 20) + 12345, (3 << 20) + 1)
    for size in sizes:
        data = os.urandom(size)
        name = f"{size:064x}"
        backend.put(name, data)
        assert bytes(backend.get_streaming(name)) == data == backend.get(name)


def _resident_pages(path: Path) -> list[bool]:
    """Which pages of a file are in the page cache (mincore of a read-only mapping)."""
    import ctypes
    import mmap

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long)  # fmt: skip
    libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    size = path.stat().st_size
    pages = -(-size // mmap.PAGESIZE)
    vec = (ctypes.c_ubyte * pages)()
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        assert addr not in (None, ctypes.c_void_p(-1).value)
        try:
            assert libc.mincore(addr, size, vec) == 0
        finally:
            libc.munmap(addr, size)
    finally:
        os.close(fd)
    return [bool(v & 1) for v in vec]


@pytest.mark.parametrize("size", [(64 << 10) - 600, 1 << 20, (1 << 20) + 4096 - 548, 3 << 20])
def test_chunk_files_are_written_past_the_page_cache(
    tmp_path: Path, keyring: Keyring, size: int
) -> None:
    """Large chunks are written with O_DIRECT from the aligned sealing buffer
    (no copy into the page cache); the last partial block goes through the
    page cache. The file holds exactly the frame and reads back whole."""
    domain = keyring.new_domain("AES256")[0]
    store = ChunkStore(LocalBackend(tmp_path / "chunks"))
    data = os.urandom(size)
    chunk_id, new = store.put(domain, data)
    assert new
    path = chunk_file(store, chunk_id)
    assert path.stat().st_size == size + frame_overhead(size)
    if size + frame_overhead(size) >= 64 << 10:
        resident = _resident_pages(path)
        aligned = path.stat().st_size // 4096
        assert not any(resident[:aligned])  # the aligned head never went through it
    assert store.get(domain, chunk_id) == data
    assert bytes(store.backend.get_streaming(chunk_id.hex())) == path.read_bytes()


def test_small_or_unaligned_puts_use_the_page_cache(tmp_path: Path) -> None:
    """What O_DIRECT cannot take (bytes, small or misaligned buffers) is
    written plainly, with the same result."""
    backend = LocalBackend(tmp_path / "chunks")
    big = bytearray(os.urandom((1 << 20) + 4097))
    for i, data in enumerate(
        [bytes(big), memoryview(big)[1:], memoryview(big)[: 60 << 10], [big[:5], big[5:]]]
    ):
        name = f"{i:064x}"
        backend.put(name, data)
        want = b"".join(bytes(p) for p in data) if isinstance(data, list) else bytes(data)
        assert backend.get(name) == want


def test_an_o_direct_write_the_file_system_refuses_goes_through_the_page_cache(
    tmp_path: Path,
) -> None:
    """EINVAL from an O_DIRECT write (an alignment the file system does not
    take; here a misaligned buffer) rewrites the file plainly: same bytes."""
    import mmap

    from objfs.chunks.backend import _write_direct

    data = os.urandom((1 << 20) + 700)
    area = mmap.mmap(-1, 3 << 20)
    area[1 : 1 + len(data)] = data
    path = tmp_path / "blob"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_DIRECT, 0o600)
    try:
        assert _write_direct(fd, memoryview(area)[1 : 1 + len(data)]) is False
    finally:
        os.close(fd)
    assert path.read_bytes() == data
    fd = os.open(tmp_path / "aligned", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_DIRECT, 0o600)
    try:
        area[: len(data)] = data
        assert _write_direct(fd, memoryview(area)[: len(data)]) is True
    finally:
        os.close(fd)
    assert (tmp_path / "aligned").read_bytes() == data
