"""Chunk frame v2: segments read alone, and segment-level tampering always detected.

Flipped, swapped, moved, dropped or truncated segments are an
``IntegrityError`` naming the chunk, for a whole read and for a partial read
of the damaged segment; segments the damage does not touch still read (damage
is bounded to what it hits). A small read reads only the segments it covers.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from pathlib import Path

import pytest

from objfs.chunks import frame_v2
from objfs.chunks.backend import BlobReader, LocalBackend
from objfs.chunks.frame_v2 import HEADER, HEADER_LEN, SEGMENT, ZSTD_BIT
from objfs.chunks.store import ChunkStore
from objfs.crypto.keyring import Domain, Keyring
from objfs.errors import IntegrityError
from objfs.store import OWNER, Store

KINDS = ["none", "AES256", "SSE-C"]
NSEG = 5


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.create(tmp_path / "keys")


def make_domain(keyring: Keyring, kind: str) -> Domain:
    if kind == "SSE-C":
        return keyring.new_ssec_domain(os.urandom(32))[0]
    return keyring.new_domain(kind)[0]


def fresh(tmp_path: Path) -> ChunkStore:
    """A chunk store with nothing cached (what a new process would see)."""
    return ChunkStore(LocalBackend(tmp_path / "chunks"))


def put(tmp_path: Path, domain: Domain, data: bytes) -> tuple[bytes, Path, frame_v2.Layout]:
    store = fresh(tmp_path)
    chunk_id, _ = store.put(domain, data)
    path = Path(store.backend.path(chunk_id.hex()))  # type: ignore[attr-defined]
    return chunk_id, path, frame_v2.parse(path.read_bytes(), chunk_id.hex())


def data_for(content: str) -> bytes:
    if content == "random":
        return os.urandom(NSEG * SEGMENT - 1000)
    line = b"2026-11-30 11:00:00 INFO segment test line %d\n"
    return b"".join(line % i for i in range(NSEG * SEGMENT // 40))[: NSEG * SEGMENT - 1000]


def readable_segments(tmp_path: Path, domain: Domain, chunk_id: bytes, data: bytes) -> list[bool]:
    """For each segment: does a partial read of it succeed (and return the right bytes)?"""
    out = []
    for i in range(NSEG):
        lo, hi = i * SEGMENT + 10, min((i + 1) * SEGMENT, len(data)) - 10
        try:
            got = fresh(tmp_path).read(domain, chunk_id, lo, hi)
        except IntegrityError as err:
            assert chunk_id.hex() in str(err)
            out.append(False)
        else:
            assert got == data[lo:hi], f"segment {i} returned wrong bytes"
            out.append(True)
    return out


def assert_whole_read_fails(tmp_path: Path, domain: Domain, chunk_id: bytes) -> None:
    for cached in (True, False):
        with pytest.raises(IntegrityError) as err:
            fresh(tmp_path).get(domain, chunk_id, cached=cached)
        assert chunk_id.hex() in str(err.value)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("content", ["random", "compressible"])
def test_flipped_byte_in_a_segment(tmp_path: Path, keyring: Keyring, kind: str, content: str):
    domain = make_domain(keyring, kind)
    data = data_for(content)
    chunk_id, path, layout = put(tmp_path, domain, data)
    assert layout.nsegs == NSEG and layout.codec == (content == "compressible")
    good = path.read_bytes()
    for victim in range(NSEG):
        start, stop = layout.offsets[victim], layout.offsets[victim + 1]
        for at in (start, (start + stop) // 2, stop - 1):
            bad = bytearray(good)
            bad[at] ^= 0x40
            path.write_bytes(bad)
            assert_whole_read_fails(tmp_path, domain, chunk_id)
            ok = readable_segments(tmp_path, domain, chunk_id, data)
            assert ok == [i != victim for i in range(NSEG)], (victim, at)
    path.write_bytes(good)
    assert fresh(tmp_path).get(domain, chunk_id) == data


@pytest.mark.parametrize("kind", KINDS)
def test_flipped_header_or_table_fails_every_segment(tmp_path: Path, keyring: Keyring, kind: str):
    domain = make_domain(keyring, kind)
    data = data_for("random")
    chunk_id, path, layout = put(tmp_path, domain, data)
    good = path.read_bytes()
    for at in range(layout.offsets[0]):
        bad = bytearray(good)
        bad[at] ^= 0x01
        path.write_bytes(bad)
        assert_whole_read_fails(tmp_path, domain, chunk_id)
        ok = readable_segments(tmp_path, domain, chunk_id, data)
        # A table entry only places its own segment (and those after it).
        if at < HEADER_LEN:
            assert not any(ok), at
        else:
            assert not ok[(at - HEADER_LEN) // 4] and not any(ok[(at - HEADER_LEN) // 4 :]), at


@pytest.mark.parametrize("kind", KINDS)
def test_swapped_segments(tmp_path: Path, keyring: Keyring, kind: str):
    domain = make_domain(keyring, kind)
    data = data_for("random")
    chunk_id, path, layout = put(tmp_path, domain, data)
    good = path.read_bytes()
    off = layout.offsets
    assert off[2] - off[1] == off[3] - off[2]  # same size: a clean swap
    bad = good[: off[1]] + good[off[2] : off[3]] + good[off[1] : off[2]] + good[off[3] :]
    path.write_bytes(bad)
    assert_whole_read_fails(tmp_path, domain, chunk_id)
    assert readable_segments(tmp_path, domain, chunk_id, data) == [True, False, False, True, True]


@pytest.mark.parametrize("kind", ["none", "AES256"])
def test_segment_moved_from_another_chunk(tmp_path: Path, keyring: Keyring, kind: str):
    domain = make_domain(keyring, kind)
    data, other = data_for("random"), data_for("random")
    chunk_id, path, layout = put(tmp_path, domain, data)
    _, other_path, other_layout = put(tmp_path, domain, other)
    good, donor = path.read_bytes(), other_path.read_bytes()
    off = layout.offsets
    assert other_layout.offsets == off
    path.write_bytes(good[: off[2]] + donor[off[2] : off[3]] + good[off[3] :])
    assert_whole_read_fails(tmp_path, domain, chunk_id)
    assert readable_segments(tmp_path, domain, chunk_id, data) == [True, True, False, True, True]


def _drop_last(raw: bytes, layout: frame_v2.Layout) -> bytes:
    """The frame without its last segment, header and table rewritten to agree."""
    n = layout.nsegs - 1
    fields = list(HEADER.unpack_from(raw))
    entries = layout.entries[:n]
    fields[6] = n * SEGMENT  # plain_len
    fields[7] = n  # nsegs
    fields[8] = sum(e & ~ZSTD_BIT for e in entries)  # payload_len
    head = HEADER.pack(*fields) + struct.pack(f">{n}I", *entries)
    return head + raw[layout.offsets[0] : layout.offsets[n]]


@pytest.mark.parametrize("kind", KINDS)
def test_dropped_last_segment(tmp_path: Path, keyring: Keyring, kind: str):
    domain = make_domain(keyring, kind)
    data = os.urandom(NSEG * SEGMENT)  # full segments: dropping one leaves a valid-looking frame
    chunk_id, path, layout = put(tmp_path, domain, data)
    good = path.read_bytes()
    # Just cut off: the last segment is missing.
    path.write_bytes(good[: layout.offsets[NSEG - 1]])
    assert_whole_read_fails(tmp_path, domain, chunk_id)
    with pytest.raises(IntegrityError):
        fresh(tmp_path).read(domain, chunk_id, len(data) - 10, len(data))
    # Cut off and the header rewritten to a 4-segment chunk: no segment is the
    # final one any more and the header changed, so every segment fails.
    path.write_bytes(_drop_last(good, layout))
    assert_whole_read_fails(tmp_path, domain, chunk_id)
    for i in range(NSEG - 1):
        with pytest.raises(IntegrityError):
            fresh(tmp_path).read(domain, chunk_id, i * SEGMENT, (i + 1) * SEGMENT)


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_frame(tmp_path: Path, keyring: Keyring, kind: str):
    domain = make_domain(keyring, kind)
    data = data_for("random")
    chunk_id, path, layout = put(tmp_path, domain, data)
    good = path.read_bytes()
    off = layout.offsets
    for cut in (0, 10, HEADER_LEN, off[0] - 1, off[0] + 5, off[2], off[3] + 100, len(good) - 1):
        path.write_bytes(good[:cut])
        assert_whole_read_fails(tmp_path, domain, chunk_id)
        ok = readable_segments(tmp_path, domain, chunk_id, data)
        intact = [cut >= off[i + 1] and cut >= off[0] for i in range(NSEG)]
        assert ok == intact, cut
    path.write_bytes(good + b"\0")
    assert_whole_read_fails(tmp_path, domain, chunk_id)


class CountingBackend(LocalBackend):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.read_bytes = 0

    def open_blob(self, name: str) -> BlobReader:
        inner = super().open_blob(name)
        outer = self

        class Counting(BlobReader):
            def pread(self, offset: int, n: int) -> bytes:
                got = inner.pread(offset, n)
                outer.read_bytes += len(got)
                return got

            def close(self) -> None:
                inner.close()

        return Counting()

    def get(self, name: str) -> bytes:
        got = super().get(name)
        self.read_bytes += len(got)
        return got


def test_small_read_reads_only_its_segments(tmp_path: Path, keyring: Keyring):
    domain = keyring.new_domain("AES256")[0]
    backend = CountingBackend(tmp_path / "chunks")
    store = ChunkStore(backend)
    data = os.urandom(1 << 20)
    chunk_id, _ = store.put(domain, data)
    reader = ChunkStore(backend)
    backend.read_bytes = 0
    assert reader.read(domain, chunk_id, 300_000, 300_000 + 4096) == data[300_000:304_096]
    assert backend.read_bytes <= 4096 + SEGMENT + 64  # header read + one segment
    backend.read_bytes = 0
    assert reader.read(domain, chunk_id, 700_000, 704_096) == data[700_000:704_096]
    assert backend.read_bytes <= SEGMENT + 64  # the header is remembered
    backend.read_bytes = 0
    assert reader.read(domain, chunk_id, 700_100, 700_200) == data[700_100:700_200]
    assert backend.read_bytes == 0  # the segment is cached


def test_store_range_read_of_damaged_segment(tmp_path: Path):
    store = Store.init(tmp_path / "s")
    try:
        store.create_bucket(OWNER, "bkt")
        body = os.urandom(3 << 20)
        store.put_object(OWNER, "bkt", "k", body)
        files = sorted(p for p in (tmp_path / "s" / "chunks").rglob("*") if p.is_file())
        victim = next(
            p for p in files if store.chunks.read_header(bytes.fromhex(p.name)).plain_len == 1 << 20
        )
        raw = bytearray(victim.read_bytes())
        layout = frame_v2.parse(bytes(raw), victim.name)
        raw[layout.offsets[7] + 100] ^= 1
        victim.write_bytes(raw)
    finally:
        store.close()
    with Store.open(tmp_path / "s") as store:
        bad = 0
        for off in range(0, 3 << 20, SEGMENT):
            try:
                assert store.read_range(OWNER, "bkt", "k", off, 4096) == body[off : off + 4096]
            except IntegrityError:
                bad += 1
        assert bad == 1  # one segment of one chunk, nothing else
        assert not store.fsck(OWNER).ok


@pytest.mark.parametrize("kind", ["none", "AES256"])
def test_read_nowait_answers_from_memory_and_still_detects_damage(
    tmp_path: Path, keyring: Keyring, kind: str
):
    """The mount's event-loop read: no storage I/O, same bytes, same integrity."""
    domain = make_domain(keyring, kind)
    data = data_for("random")
    chunk_id, path, layout = put(tmp_path, domain, data)
    store = fresh(tmp_path)
    lo, hi = 2 * SEGMENT + 100, 2 * SEGMENT + 4196
    # The chunk's layout is not known yet: only the slow path may read it.
    assert store.read_nowait(domain, chunk_id, lo, hi) is None
    assert store.read(domain, chunk_id, 10, 20) == data[10:20]  # learns the layout
    path.read_bytes()  # in the page cache now
    assert store.read_nowait(domain, chunk_id, lo, hi) == data[lo:hi]
    assert store.peek(domain, chunk_id, lo, hi) == data[lo:hi]  # and decoded in the cache
    assert store.peek(domain, chunk_id, 3 * SEGMENT, 3 * SEGMENT + 10) is None
    # Across two segments, and to the end of the chunk.
    for a, b in ((SEGMENT - 10, SEGMENT + 10), (len(data) - 5000, len(data))):
        assert store.read_nowait(domain, chunk_id, a, b) == data[a:b]
    a, b = 2 * SEGMENT, 3 * SEGMENT + 1
    assert store.read_nowait(domain, chunk_id, a, b) == data[a:b]
    # A big read is decrypted off the caller's thread (the mount's event loop).
    store = fresh(tmp_path)
    assert store.read(domain, chunk_id, 10, 20) == data[10:20]
    assert store.read_nowait(domain, chunk_id, SEGMENT, 4 * SEGMENT) is None
    assert store.read(domain, chunk_id, SEGMENT, 4 * SEGMENT) == data[SEGMENT : 4 * SEGMENT]
    assert store.read_nowait(domain, chunk_id, SEGMENT, 4 * SEGMENT) == data[SEGMENT : 4 * SEGMENT]
    # A store that knows the layout but has decoded nothing beyond segment 0:
    store = fresh(tmp_path)
    assert store.read(domain, chunk_id, 10, 20) == data[10:20]
    # a wrong length (the manifest says otherwise) is left to the slow path to report;
    assert store.read_nowait(domain, chunk_id, 4 * SEGMENT, 4 * SEGMENT + 8, length=5) is None
    # a flipped byte in a segment: IntegrityError, never wrong bytes;
    raw = bytearray(path.read_bytes())
    raw[layout.offsets[4] + 50] ^= 0x40
    path.write_bytes(raw)
    with pytest.raises(IntegrityError) as err:
        store.read_nowait(domain, chunk_id, 4 * SEGMENT, 4 * SEGMENT + 8)
    assert chunk_id.hex() in str(err.value)
    # a missing file: None (the slow path reports it).
    path.unlink()
    assert store.read_nowait(domain, chunk_id, 3 * SEGMENT, 3 * SEGMENT + 8) is None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("content", ["random", "compressible"])
def test_whole_chunk_decoded_into_one_buffer(
    tmp_path: Path, keyring: Keyring, kind: str, content: str
):
    """Read-ahead and whole-chunk reads decode into one buffer: a read across
    segments is a view of it (same bytes), and damage anywhere in the chunk
    leaves nothing cached and is an IntegrityError, never wrong bytes."""
    domain = make_domain(keyring, kind)
    data = data_for(content)
    chunk_id, path, layout = put(tmp_path, domain, data)
    store = fresh(tmp_path)
    store.prefetch(domain, chunk_id, len(data))
    assert store.read(domain, chunk_id, 0, 1) == data[:1]  # waits for the read-ahead
    for a, b in ((0, len(data)), (SEGMENT - 10, 3 * SEGMENT + 10), (5, 6), (len(data) - 3, None)):
        b = len(data) if b is None else b
        view = store.peek(domain, chunk_id, a, b)
        assert view is not None and bytes(view) == data[a:b]
        got = store.read(domain, chunk_id, a, b)
        assert type(got) is bytes and got == data[a:b]
    view = store.peek(domain, chunk_id, 0, len(data))
    assert isinstance(view, memoryview) and view.readonly
    assert store.peek(domain, chunk_id, 0, len(data) + 1) is None
    whole = fresh(tmp_path).read(domain, chunk_id, 0, len(data))  # one worker read of all
    assert type(whole) is bytes and whole == data
    assert type(fresh(tmp_path).get(domain, chunk_id)) is bytes
    good = path.read_bytes()
    for victim in (0, 2, NSEG - 1):
        bad = bytearray(good)
        bad[(layout.offsets[victim] + layout.offsets[victim + 1]) // 2] ^= 0x01
        path.write_bytes(bad)
        store = fresh(tmp_path)
        store.prefetch(domain, chunk_id, len(data))
        with pytest.raises(IntegrityError):
            store.read(domain, chunk_id, 0, len(data))
        for i in range(NSEG):  # the read-ahead cached nothing of a damaged chunk
            assert store.peek(domain, chunk_id, i * SEGMENT, i * SEGMENT + 1) is None
        with pytest.raises(IntegrityError):
            fresh(tmp_path).read(domain, chunk_id, 0, len(data))
    path.write_bytes(good[:-1])  # truncated by one byte
    with pytest.raises(IntegrityError):
        fresh(tmp_path).read(domain, chunk_id, 0, len(data))
    with pytest.raises(IntegrityError):
        fresh(tmp_path).get(domain, chunk_id)


def test_positional_reader_reads_slices_holes_and_pieces(tmp_path: Path):
    """``ExtentReader`` (one per open file in the mount) over a version with slices."""
    with Store.init(tmp_path / "s") as store:
        store.create_bucket(OWNER, "bkt")
        store.set_bucket_encryption(OWNER, "bkt", "AES256")
        body = bytearray(os.urandom(3 * (1 << 20) + 5000))
        store.put_object(OWNER, "bkt", "k", bytes(body))
        # An in-place edit makes a version whose manifest holds slices.
        base = store.head_object(OWNER, "bkt", "k")
        w = store.open_writer(OWNER, "bkt", "k", base=base)
        try:
            w.write(1_500_000, b"x" * 4096)
            body[1_500_000 : 1_500_000 + 4096] = b"x" * 4096
            w.commit(OWNER)
        finally:
            w.close()
        with store.get_object(OWNER, "bkt", "k") as obj:
            reader = obj.positional()
        size = len(body)
        spots = [0, 4096, 1_499_000, 1_500_000, 1_503_000, (1 << 20) - 100, size - 4096, size - 1]
        for off in spots:
            for n in (1, 4096, 200_000):
                want = bytes(body[off : off + n])
                assert reader.read(off, off + n) == want, (off, n)
                got = reader.nowait(off, off + n)
                assert got is None or got == want, (off, n)
        assert reader.read(size, size + 10) == b""
        assert reader.nowait(size + 5, size + 10) == b""


class GatedBackend(LocalBackend):
    """A local backend whose read-ahead reads wait until the test opens the gate."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.gate = threading.Event()

    def get_streaming(self, name: str) -> bytes | memoryview:
        self.gate.wait(10)
        return super().get_streaming(name)


def test_read_ahead_in_flight_is_awaited_on_the_event_loop(tmp_path: Path, keyring: Keyring):
    """``loading`` hands out the read-ahead's future; the mount's event loop
    waits for it (``wait_done``, no worker thread) and then reads the decoded
    chunk without I/O; a damaged chunk is still reported by ``read``."""
    import trio

    from objfs.fs.runner import wait_done
    from objfs.store.reader import ExtentReader, Extents
    from objfs.store.types import ChunkRef

    domain = make_domain(keyring, "AES256")
    data = data_for("random")
    chunk_id, path, layout = put(tmp_path, domain, data)
    backend = GatedBackend(tmp_path / "chunks")
    store = ChunkStore(backend)
    reader = ExtentReader(store, domain, Extents([ChunkRef(chunk_id, len(data))]))
    assert reader.loading(0) is None
    reader.prefetch(0, 1)
    loading = reader.loading(10)
    assert loading is not None and loading is store.loading(domain, chunk_id)
    assert reader.loading(len(data)) is None  # past the end
    assert reader.nowait(0, len(data)) is None  # not decoded yet, and no I/O here

    async def main() -> bytes | memoryview | None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                trio.to_thread.run_sync, lambda: (time.sleep(0.2), backend.gate.set())
            )
            await wait_done(loading)
            assert loading.done()
            return reader.nowait(0, len(data))

    got = trio.run(main)
    assert got is not None and bytes(got) == data
    assert reader.loading(0) is None
    # Damaged: the read-ahead fails quietly, and the read says why.
    raw = bytearray(path.read_bytes())
    raw[layout.offsets[3] + 7] ^= 1
    path.write_bytes(raw)
    store = ChunkStore(backend)
    reader = ExtentReader(store, domain, Extents([ChunkRef(chunk_id, len(data))]))
    reader.prefetch(0, 1)
    loading = reader.loading(0)
    assert loading is not None
    trio.run(wait_done, loading)
    assert reader.nowait(0, len(data)) is None
    with pytest.raises(IntegrityError):
        reader.read(0, len(data))


def test_cache_frees_a_whole_decoded_chunk_at_once(tmp_path: Path, keyring: Keyring):
    """The segments of a chunk decoded into one buffer leave the cache together:
    a recently read segment cannot keep the whole buffer alive while the cache
    counts it as one segment (memory stays bounded by ``cache_bytes``)."""
    domain = make_domain(keyring, "AES256")
    datas = [os.urandom(NSEG * SEGMENT - 1000) for _ in range(6)]
    ids = [put(tmp_path, domain, d)[0] for d in datas]
    store = ChunkStore(LocalBackend(tmp_path / "chunks"), cache_bytes=3 * NSEG * SEGMENT)
    for i, chunk_id in enumerate(ids):
        assert store.get(domain, chunk_id) == datas[i]
        # Keep reading one segment of the first chunk: it stays most recent.
        assert store.peek(domain, ids[0], 10, 20) in (None, datas[0][10:20])
    for chunk_id in ids:
        cached = [
            store.peek(domain, chunk_id, i * SEGMENT, i * SEGMENT + 1) is not None
            for i in range(NSEG)
        ]
        assert all(cached) or not any(cached), cached
    assert store._cache_size <= 3 * NSEG * SEGMENT


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "cuts",
    [
        [12288],  # a block filled by two writes off the block grid
        [SEGMENT, 3 * SEGMENT],  # cuts on segment boundaries
        [1, 2, 4096, SEGMENT + 7, 5 * SEGMENT - 1],  # tiny and straddling pieces
    ],
)
def test_put_parts_seals_what_put_seals(tmp_path, keyring, kind, cuts):
    """put_parts (data in pieces, not joined) stores the chunk put would:
    same id, same plaintext back, same segment sizes and compression
    choices, and the frame is checked like any other (a flip is detected)."""
    domain = make_domain(keyring, kind)
    text = (b"compressible text, " * 4000)[: 3 * SEGMENT]
    data = text + os.urandom(NSEG * SEGMENT - len(text) - 100)
    bounds = [0, *cuts, len(data)]
    parts = [memoryview(data)[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    store = fresh(tmp_path / "parts")
    chunk_id, new = store.put_parts(domain, parts)
    assert new and chunk_id == store.chunk_id(domain, data)
    assert fresh(tmp_path / "parts").get(domain, chunk_id) == data
    assert store.put_parts(domain, parts) == (chunk_id, False)  # dedup, as put
    path = Path(store.backend.path(chunk_id.hex()))  # type: ignore[attr-defined]
    got = frame_v2.parse(path.read_bytes(), chunk_id.hex())
    _, _, want = put(tmp_path / "whole", domain, data)
    assert got.entries == want.entries and got.header == want.header
    raw = bytearray(path.read_bytes())
    raw[got.offsets[2] + 20] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError):
        fresh(tmp_path / "parts").get(domain, chunk_id)
