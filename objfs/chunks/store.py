"""Chunk framing: ids, compression, encryption and integrity of chunk data.

A chunk is stored as one *frame* in a backend, named by the hex of its id.
New chunks are written in frame format 2 (``frame_v2``: independently
authenticated 64 KiB segments); format 1 frames (``frame_v1``: one AEAD over
the whole chunk) written by older objfs stay readable. The version byte of a
frame says which reader applies; ``read_header`` reports it (fsck counts them).

Invariants:
- ``chunk_id = BLAKE3(key=HKDF(domain.id_key, "objfs chunk id v2"), data)``
  (v1 chunks: HMAC-SHA256(domain.id_key, data)): content-addressed but keyed,
  so equal data dedups inside one domain and ids reveal nothing across
  domains. A v1 chunk and a v2 chunk of the same data have different ids:
  data rewritten after the upgrade does not dedup onto v1 chunks (versions
  that *reference* v1 chunks keep sharing them);
- ``get``/``read`` never return bytes other than the ones ``put`` was given
  for that id: every segment's tag (AES-256-GCM for encrypted domains, keyed
  BLAKE3 for plaintext ones) covers the frame header, the chunk id, its index
  and whether it is the last; a full read of a plaintext chunk recomputes the
  id too. Any mismatch is ``IntegrityError("chunk <hex> is damaged: ...")``;
- a frame's cipher must match its domain's kind: a plaintext frame is never
  accepted for an encrypted domain (no downgrade by rewriting a file);
- ``read(lo, hi)`` reads (``pread``) and authenticates only the segments
  covering [lo, hi) of a v2 chunk: a 4 KiB read costs one 64 KiB segment,
  not the whole chunk (a v1 chunk is still read whole);
- decoded segments are kept in one bounded LRU (``cache_bytes``, counted in
  the daemon's memory budget); chunks are immutable and named by a keyed
  hash of their content, so an entry never goes stale;
- a chunk decoded whole (read-ahead, ``get``, a read of all of it) is
  decrypted segment by segment into ONE buffer (``decrypt_into``) that is
  never shown before every segment authenticated; its cached segments are
  read-only ``memoryview`` slices of it (a ``memoryview`` entry always is:
  segment i at i * 64 KiB of ``seg.obj``), so ``peek``/``read_nowait`` answer
  a range across segments with one slice, no copy. ``read`` and ``get``
  still return ``bytes``.

Design notes (issue 10):
- Cold sequential reads (dd bs=1M of 1 GiB through the mount, SSE-S3): the
  kernel sends 1 MiB reads (read_ahead_kb raised to the chunk size; a 4 MiB
  window was tried: more switches and CPU, no gain). Decoding whole chunks
  into one buffer, handing the kernel a view of it, awaiting a read-ahead in
  flight on the event loop and reading chunk files into huge pages cut the
  daemon's CPU from ~1.9-2.0 s to ~1.35-1.5 s a GiB (measured on a busy
  2-core machine; the rest is mostly the kernel copying replies into its
  page cache, AES-GCM itself, and pyfuse3/trio per request).
- Segments of 64 KiB: a random 4 KiB read decrypts 16x less than a 1 MiB
  chunk, while per-segment costs (a 12-byte nonce, a 16-byte tag, a table
  entry: 32 bytes per 64 KiB, 0.05%) and per-call overhead of AES-GCM stay
  small (AES-GCM here: 0.19 ms/MiB in 64 KiB calls, 0.26 ms/MiB in one
  1 MiB call, 0.47 ms/MiB in 4 KiB calls). 16 KiB segments were tried and
  did not help cold random 4 KiB reads through the mount (0.28x of the
  passthrough against 0.31-0.37x with 64 KiB, 1 GiB file): per-request
  overhead, not bytes read, dominates there.
- Compression is decided once per chunk by compressing a ~32 KiB sample;
  when it pays, each segment is compressed on its own and kept only if it
  saves >= ~3%, so a chunk mixing media and text compresses only its text
  and a segment stays independently readable.
- Chunk ids use keyed BLAKE3: ~0.15-0.19 ms per MiB here against ~0.6-1.9 ms
  for HMAC-SHA256, which was 12% of a sequential write's profile.
- Small chunks (<= ``INLINE_MAX``, a sealed frame of at most 16 KiB) may
  live in the metadata database instead of a file: the same sealed frame,
  stored by the store in the transaction that first references it
  (``seal_inline``; ``inline_source`` reads it back). Small objects and the
  tails of large ones then cost no file create, rename or fsync, and are
  exactly as durable as their commit. Reads of a small chunk look in the
  database first, then for a file (stores from before format 2).
- In-place edits (the overwrite workload): a manifest entry may be a slice
  of a chunk, so a 4 KiB edit of a 1 GiB versioned file stores the edited
  pages as a new small chunk and keeps the rest of the old chunk by
  reference (``objfs.store.writer``). Chosen over smaller chunks for files
  written at random: the chunk size stays what sequential I/O wants (1 MiB
  files, 64 KiB segments), and an edit costs the edit: 1,000 random 4 KiB
  writes into 1 GiB added 5.3 MiB (was ~0.9 MiB per write). Slices read
  with the partial segment reads above; fragmentation is bounded by the
  writer (a block of too many pieces is stored whole again).
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeAlias

import blake3
import zstandard
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from objfs.chunks import frame_v1, frame_v2
from objfs.chunks.backend import BlobReader, ChunkBackend, _huge_buffer
from objfs.chunks.frame_v1 import FrameHeader, check_domain
from objfs.chunks.frame_v2 import SEGMENT, Keys, Layout
from objfs.crypto.keyring import KIND_NONE, Domain, hkdf
from objfs.errors import ChunkInCollection, IntegrityError, InvalidArgument

log = logging.getLogger(__name__)

FORMAT_VERSION = frame_v2.VERSION  # what new chunks are written in
HEADER_LEN = frame_v2.HEADER_LEN
TAG_LEN = frame_v2.TAG_LEN
ID_LEN = 32
MAX_CHUNK = frame_v2.MAX_PLAIN
ZSTD_LEVEL = 1
# Keep compression only when a sample saves at least 1/32 (~3%).
_MIN_SAVING_SHIFT = 5
_MIN_COMPRESS = 256
_PROBE_PIECE = 8 << 10
_PROBE_PIECES = 4
_PROBE_MIN = 128 << 10  # below this, just try every segment
_FIRST_READ = 4096  # header + table of chunks up to 16 MiB, in one pread
_LAYOUTS = 4096  # parsed headers kept (a few hundred bytes each)
# read_nowait decodes at most this many segments (~15-50 us each on the
# caller's thread, the mount's event loop): small reads only.
_NOWAIT_SEGMENTS = 2
frame_overhead = frame_v2.frame_overhead
# Chunks of at most this many bytes may live inline in the metadata database
# (sealed frame <= 16 KiB): see ``seal_inline``.
INLINE_MAX = (16 << 10) - frame_v2.frame_overhead(16 << 10)


def _uninitialized(n: int) -> bytearray:
    """A bytearray of ``n`` bytes that are not zeroed first (every byte is
    about to be overwritten: zeroing 1 MiB and faulting its pages in twice
    was a visible share of a cold sequential read)."""
    return _new_bytearray(None, n)


try:
    _new_bytearray = ctypes.pythonapi.PyByteArray_FromStringAndSize
    _new_bytearray.restype = ctypes.py_object
    _new_bytearray.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
except AttributeError:  # not CPython: zeroed, as bytearray(n) does

    def _uninitialized(n: int) -> bytearray:
        return bytearray(n)


def _check_id(chunk_id: bytes) -> str:
    if not isinstance(chunk_id, bytes) or len(chunk_id) != ID_LEN:
        raise InvalidArgument(f"a chunk id is {ID_LEN} bytes, got {chunk_id!r:.80}")
    return chunk_id.hex()


# A decoded segment: bytes, or a slice of the buffer a whole chunk was decoded into.
Segment: TypeAlias = bytes | memoryview


def _segments_of(whole: memoryview) -> list[Segment]:
    """The segments of a chunk decoded whole, as slices of its buffer.

    A cached segment that is a ``memoryview`` is always such a slice: segment
    i sits at i * SEGMENT of ``seg.obj``, which holds the whole chunk.
    """
    return [whole[i : i + SEGMENT] for i in range(0, max(len(whole), 1), SEGMENT)]


# Read-ahead: a few threads, so the disk has several chunk reads to work on.
_PREFETCH = ThreadPoolExecutor(max_workers=3, thread_name_prefix="objfs-prefetch")


class ChunkStore:
    """Puts and gets chunk data by keyed id over a ``ChunkBackend``. Thread-safe."""

    def __init__(
        self, backend: ChunkBackend, *, compress: bool = True, cache_bytes: int = 32 << 20
    ) -> None:
        self.backend = backend
        self.compress = compress
        # Decoded segments recently read, by (domain id, chunk id, index).
        self._cache: OrderedDict[tuple[bytes, bytes, int], Segment] = OrderedDict()
        self._cache_size = 0
        self._cache_max = cache_bytes
        self._cache_lock = threading.Lock()
        self._layouts: OrderedDict[bytes, Layout | None] = OrderedDict()  # None: a v1 frame
        self._prefetching: dict[tuple[bytes, bytes], Future[None]] = {}
        self._keys: dict[tuple[bytes, bytes, bytes | None], Keys] = {}
        # The second home of small chunks: ``inline_source(chunk_id)`` returns
        # the sealed frame the store keeps in its database, or None.
        self.inline_source: Callable[[bytes], bytes | None] | None = None
        # For a backend that gc runs by rows (``backend.gc_by_rows``, S3):
        # ``known(chunk_id)`` says whether the database has a (not inline)
        # row for the chunk, the only thing a write may dedup against
        # (store/chunkgc.py).
        self.known: Callable[[bytes], bool] | None = None
        # Called with a new frame's size before it is written: the store's
        # free-space floor (objfs/store/space.py) raises there to refuse it.
        self.before_write: Callable[[int], None] | None = None
        # zstd contexts are not thread-safe; one per thread, reused across calls.
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"ChunkStore({self.backend!r}, compress={self.compress})"

    def _compressor(self) -> zstandard.ZstdCompressor:
        c = getattr(self._local, "c", None)
        if c is None:
            c = self._local.c = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True)
        return c

    def _decompressor(self) -> zstandard.ZstdDecompressor:
        d = getattr(self._local, "d", None)
        if d is None:
            d = self._local.d = zstandard.ZstdDecompressor()
        return d

    def _domain_keys(self, domain: Domain) -> Keys:
        """The v2 keys of a domain, derived once (HKDF is ~20 us)."""
        cache_key = (domain.domain_id, domain.id_key, domain.enc_key)
        keys = self._keys.get(cache_key)
        if keys is None:
            keys = Keys(
                id_key=hkdf(domain.id_key, b"objfs chunk id v2"),
                mac_key=hkdf(domain.id_key, b"objfs segment mac v2"),
                aead=AESGCM(domain.enc_key)
                if domain.kind != KIND_NONE and domain.enc_key
                else None,
            )
            with self._cache_lock:
                if len(self._keys) > 256:
                    self._keys.clear()
                self._keys[cache_key] = keys
        return keys

    def _worth_compressing(self, data: bytes | bytearray | memoryview | frame_v2.Segments) -> bool:
        """Cheap probe: compress a few samples before paying for the whole chunk.

        Already-compressed data (media, archives) is the bulk of large files;
        probing ~32 KiB costs ~3% of compressing 1 MiB. Mixed chunks still get
        compressed (segment by segment) when any sample compresses.
        """
        n = len(data)
        if n < _MIN_COMPRESS:
            return False
        if n < _PROBE_MIN:
            return True
        step = (n - _PROBE_PIECE) // (_PROBE_PIECES - 1)
        if isinstance(data, frame_v2.Segments):
            sample = b"".join(data.sample(i * step, _PROBE_PIECE) for i in range(_PROBE_PIECES))
        else:
            view = memoryview(data)
            sample = b"".join(
                view[i * step : i * step + _PROBE_PIECE] for i in range(_PROBE_PIECES)
            )
        packed = self._compressor().compress(sample)
        return len(packed) <= len(sample) - (len(sample) >> _MIN_SAVING_SHIFT)

    # ---- ids -------------------------------------------------------------------------

    def chunk_id(self, domain: Domain, data: bytes | bytearray | memoryview) -> bytes:
        """Keyed BLAKE3 of ``data`` in ``domain``: the chunk's 32-byte id."""
        return blake3.blake3(data, key=self._domain_keys(domain).id_key).digest()

    # ---- write -----------------------------------------------------------------------

    def _seal(
        self,
        domain: Domain,
        data: bytes | bytearray | memoryview | frame_v2.Segments,
        chunk_id: bytes,
        scratch: bytearray | memoryview | None = None,
    ) -> memoryview:
        plain_len = len(data)
        if plain_len > MAX_CHUNK:
            raise InvalidArgument(f"a chunk holds at most {MAX_CHUNK} bytes, got {plain_len}")
        if domain.kind != KIND_NONE and domain.enc_key is None:
            raise InvalidArgument(
                f"domain {domain.domain_id.hex()} of kind {domain.kind} has no key"
            )
        compressor = self._compressor() if self.compress and self._worth_compressing(data) else None
        return frame_v2.seal(
            self._domain_keys(domain), domain.domain_id, data, chunk_id, compressor, scratch
        )

    def _scratch(self, plain_len: int) -> memoryview:
        """This thread's frame buffer for ``put`` (reused: no allocation, no page
        faults per chunk; one per thread that writes chunks, chunk-sized).
        Page aligned (a transparent huge page where the kernel allows), so
        the backend may write the frame with O_DIRECT."""
        need = frame_v2.max_frame_len(plain_len)
        buf: memoryview | None = getattr(self._local, "scratch", None)
        if buf is None or len(buf) < need:
            buf = self._local.scratch = _huge_buffer(need)
        return buf

    def encode(
        self, domain: Domain, data: bytes | memoryview, chunk_id: bytes
    ) -> tuple[bytes, bytes]:
        """The frame for ``data`` as (header and segment table, segments)."""
        frame = self._seal(domain, data, chunk_id)
        head = frame_v2.table_len(frame, chunk_id.hex())
        return bytes(frame[:head]), bytes(frame[head:])

    def put(
        self,
        domain: Domain,
        data: bytes | bytearray | memoryview,
        chunk_id: bytes | None = None,
    ) -> tuple[bytes, bool]:
        """Store ``data`` unless its chunk exists; returns (id, written_new).

        ``chunk_id``, if given, must be ``chunk_id(domain, data)`` (saves hashing
        twice). The new file is not durable until ``sync``. A dedup hit refreshes
        the existing chunk's mtime, so GC's grace period spares it until the
        caller's metadata commit references it (a backend gc runs by rows:
        a dedup hit is a chunk row, and the commit rescues it from gc,
        store/chunkgc.py). ``data`` is only read during
        the call (the frame is built in this thread's scratch buffer and
        written before returning).
        """
        if chunk_id is None:
            chunk_id = self.chunk_id(domain, data)
        return chunk_id, self._store_new(domain, data, chunk_id)

    def put_parts(self, domain: Domain, parts: list[memoryview]) -> tuple[bytes, bool]:
        """``put`` of the data ``parts`` hold back to back, without joining them:
        the id hashes them in turn and the frame is sealed from their
        segments (only a segment that straddles two parts is copied)."""
        if len(parts) == 1:
            return self.put(domain, parts[0])
        h = blake3.blake3(key=self._domain_keys(domain).id_key)
        for part in parts:
            h.update(part)
        chunk_id = h.digest()
        return chunk_id, self._store_new(domain, frame_v2.Segments(parts), chunk_id)

    def _store_new(
        self,
        domain: Domain,
        data: bytes | bytearray | memoryview | frame_v2.Segments,
        chunk_id: bytes,
    ) -> bool:
        """Seal and write ``data`` as chunk ``chunk_id`` unless it exists (dedup:
        its mtime is refreshed instead; a backend gc runs by rows dedups
        against the database's chunk rows only); True when it was written."""
        name = _check_id(chunk_id)
        if self.backend.gc_by_rows and self.known is not None:
            if self.known(chunk_id):
                return False
        elif self.backend.touch(name):  # no database to ask: no gc to race either
            return False
        frame = self._seal(domain, data, chunk_id, self._scratch(len(data)))
        try:
            if self.before_write is not None:
                self.before_write(len(frame))
            self.backend.put(name, frame)
        finally:
            frame.release()
        return True

    def seal_inline(self, domain: Domain, data: bytes | memoryview) -> tuple[bytes, bytes]:
        """(id, sealed frame) of a small chunk that will live in the database.

        The frame is exactly what a chunk file would hold (same ids, dedup and
        checks); the caller stores it in the transaction that references it,
        so a small object costs no file create, rename or fsync.
        """
        if len(data) > INLINE_MAX:
            raise InvalidArgument(f"an inline chunk holds at most {INLINE_MAX} bytes")
        chunk_id = self.chunk_id(domain, data)
        return chunk_id, bytes(self._seal(domain, data, chunk_id))

    def _inline_frame(self, chunk_id: bytes, length: int | None) -> bytes | None:
        if self.inline_source is None or (length is not None and length > INLINE_MAX):
            return None
        return self.inline_source(chunk_id)

    def _raw_frame(self, chunk_id: bytes, length: int | None = None) -> bytes:
        """The whole stored frame, from the database or the chunk's file."""
        frame = self._inline_frame(chunk_id, length)
        if frame is not None:
            return frame
        return self.backend.get(_check_id(chunk_id))

    def home(self, chunk_id: bytes) -> str | None:
        """Where a chunk lives: "inline" (the database), "file", or None (nowhere)."""
        if self._inline_frame(chunk_id, None) is not None:
            return "inline"
        return "file" if self.backend.exists(_check_id(chunk_id)) else None

    # ---- read ------------------------------------------------------------------------

    def _open_layout(self, raw: bytes | memoryview, chunk_id: bytes) -> Layout | None:
        """The v2 layout at the start of a frame (None: a v1 frame)."""
        hexid = chunk_id.hex()
        if len(raw) >= 5 and raw[:4] == frame_v2.MAGIC and raw[4] == frame_v1.VERSION:
            return None
        return frame_v2.parse(raw, hexid)

    def _check(self, layout: Layout, domain: Domain, chunk_id: bytes) -> Keys:
        check_domain(layout.frame_header(), domain, chunk_id.hex())
        return self._domain_keys(domain)

    def decode(self, domain: Domain, chunk_id: bytes, raw: bytes) -> bytes:
        """Authenticate and unpack one whole frame (v1 or v2); never returns wrong bytes."""
        return b"".join(self._decode_segments(domain, chunk_id, raw, verify_id=True))

    def _decode_segments(
        self, domain: Domain, chunk_id: bytes, raw: bytes | memoryview, *, verify_id: bool
    ) -> list[Segment]:
        hexid = chunk_id.hex()
        layout = self._open_layout(raw, chunk_id)
        if layout is None:
            data = frame_v1.decode(domain, chunk_id, bytes(raw), self._decompressor())
            return [data[i : i + SEGMENT] for i in range(0, max(len(data), 1), SEGMENT)]
        keys = self._check(layout, domain, chunk_id)
        whole = self._open_whole(keys, layout, chunk_id, raw)
        if verify_id and layout.cipher == frame_v2.CIPHER_NONE:
            if blake3.blake3(whole, key=keys.id_key).digest() != chunk_id:
                raise IntegrityError(f"chunk {hexid} is damaged: content does not match its id")
        return _segments_of(whole)

    def _open_whole(
        self, keys: Keys, layout: Layout, chunk_id: bytes, frame: bytes | memoryview, base: int = 0
    ) -> memoryview:
        """The whole chunk decoded into one new buffer (a read-only view of it).

        Its segments are cached as slices of it (``_segments_of``): a read
        spanning several of them is then one slice (``peek``), not a join.
        """
        buf = _uninitialized(layout.plain_len)
        frame_v2.open_all_into(
            keys, layout, chunk_id, frame, memoryview(buf), self._decompressor(), base
        )
        return memoryview(buf).toreadonly()

    def _remember(self, domain_id: bytes, chunk_id: bytes, segments: Mapping[int, Segment]) -> None:
        if not self._cache_max:
            return
        cache = self._cache
        with self._cache_lock:
            for index, seg in segments.items():
                key = (domain_id, chunk_id, index)
                old = cache.pop(key, None)
                if old is not None:
                    self._cache_size -= len(old)
                cache[key] = seg
                self._cache_size += len(seg)
            while self._cache_size > self._cache_max and cache:
                (did, cid, _), seg = cache.popitem(last=False)
                self._cache_size -= len(seg)
                if type(seg) is memoryview:
                    # A slice of a whole decoded chunk: its siblings go too,
                    # so the buffer they share is freed, not kept alive by a
                    # recently used segment while counted as 64 KiB.
                    whole: Any = seg.obj  # the buffer the chunk was decoded into
                    for index in range(max(1, -(-len(whole) // SEGMENT))):
                        sib = cache.get((did, cid, index))
                        if type(sib) is memoryview and sib.obj is whole:
                            del cache[(did, cid, index)]
                            self._cache_size -= len(sib)

    def _cached(
        self, domain_id: bytes, chunk_id: bytes, first: int, last: int
    ) -> dict[int, Segment]:
        out = {}
        with self._cache_lock:
            for index in range(first, last + 1):
                seg = self._cache.get((domain_id, chunk_id, index))
                if seg is not None:
                    self._cache.move_to_end((domain_id, chunk_id, index))
                    out[index] = seg
        return out

    def peek(self, domain: Domain, chunk_id: bytes, lo: int, hi: int) -> bytes | memoryview | None:
        """Bytes [lo, hi) of a chunk if every segment they cover is cached, else None.

        No I/O and no decoding: cheap enough for the mount's event loop thread
        to answer a small read without a hop to a worker thread. The answer
        may be a read-only ``memoryview`` of the decoded chunk (no copy: the
        mount hands it to the kernel as it is).
        """
        if hi <= lo:
            return b""
        first, last = lo // SEGMENT, (hi - 1) // SEGMENT
        cache = self._cache
        did = domain.domain_id
        with self._cache_lock:
            if first == last:
                key = (did, chunk_id, first)
                seg = cache.get(key)
                if seg is None:
                    return None
                cache.move_to_end(key)
                segs = [seg]
            else:
                segs = []
                for index in range(first, last + 1):
                    key = (did, chunk_id, index)
                    seg = cache.get(key)
                    if seg is None:
                        return None
                    cache.move_to_end(key)
                    segs.append(seg)
        s0 = segs[0]
        if type(s0) is memoryview:
            # A slice of the whole decoded chunk (``_segments_of``): the range
            # is one slice of its buffer, whichever decode cached the others
            # (a chunk's bytes are the same in every authenticated decode).
            whole: Any = s0.obj
            if hi > len(whole):
                return None  # short: let ``read`` report the damage
            return memoryview(whole).toreadonly()[lo:hi]
        base = first * SEGMENT
        out = s0 if len(segs) == 1 else b"".join(segs)
        a, b = lo - base, hi - base
        if b > len(out):
            return None  # short: let ``read`` report the damage
        return out if (a, b) == (0, len(out)) else out[a:b]

    def read_nowait(
        self, domain: Domain, chunk_id: bytes, lo: int, hi: int, *, length: int | None = None
    ) -> bytes | memoryview | None:
        """``read`` if it needs no storage I/O (else None: call ``read``); like
        ``peek``, the answer may be a read-only ``memoryview``.

        Answers from the segment cache, or from the OS page cache for a chunk
        file whose layout is known (``pread`` with ``RWF_NOWAIT``), decrypting
        the covered segments here. Any damage found is ``IntegrityError``,
        exactly as ``read`` reports it; anything else unusual is None.
        """
        data = self.peek(domain, chunk_id, lo, hi)
        if data is not None or hi <= lo:
            return data
        with self._cache_lock:
            layout = self._layouts.get(chunk_id)
        if layout is None:  # not seen yet, or v1: the slow path
            return None
        if length is not None and layout.plain_len != length:
            return None
        first, last = lo // SEGMENT, min((hi - 1) // SEGMENT, layout.nsegs - 1)
        if (
            last - first >= _NOWAIT_SEGMENTS  # big reads: decrypt them off the event loop
            or hi > layout.plain_len
            or (domain.domain_id, chunk_id) in self._prefetching
            or layout.domain_id != domain.domain_id
        ):
            return None
        blob = self.backend.open_blob_nowait(_check_id(chunk_id))
        if blob is None:
            return None
        off = layout.offsets
        start, stop = off[first], off[last + 1]
        with blob:
            raw = blob.pread_nowait(start, stop - start)
        if raw is None:
            return None
        keys = self._check(layout, domain, chunk_id)
        view = memoryview(raw)
        dec = self._decompressor()
        got = {
            i: frame_v2.open_segment(
                keys, layout, chunk_id, i, view[off[i] - start : off[i + 1] - start], dec
            )
            for i in range(first, last + 1)
        }
        self._remember(domain.domain_id, chunk_id, got)
        segs = [got[i] for i in range(first, last + 1)]
        out = segs[0] if len(segs) == 1 else b"".join(segs)
        a, b = lo - first * SEGMENT, hi - first * SEGMENT
        return out if (a, b) == (0, len(out)) else out[a:b]

    def _layout(self, chunk_id: bytes, blob: BlobReader) -> Layout | None:
        with self._cache_lock:
            if chunk_id in self._layouts:
                self._layouts.move_to_end(chunk_id)
                return self._layouts[chunk_id]
        raw = blob.pread(0, _FIRST_READ)
        layout = self._open_layout(raw, chunk_id)
        if layout is not None and layout.offsets[0] > len(raw):
            raw += blob.pread(len(raw), layout.offsets[0] - len(raw))
            layout = self._open_layout(raw, chunk_id)
        with self._cache_lock:
            self._layouts[chunk_id] = layout
            while len(self._layouts) > _LAYOUTS:
                self._layouts.popitem(last=False)
        return layout

    def read(
        self, domain: Domain, chunk_id: bytes, lo: int, hi: int, *, length: int | None = None
    ) -> bytes:
        """Bytes [lo, hi) of chunk ``chunk_id``, reading only the segments they cover.

        ``length``: the chunk's length as the caller's manifest says (checked).
        """
        name = _check_id(chunk_id)
        if hi <= lo:
            return b""
        first, last = lo // SEGMENT, (hi - 1) // SEGMENT
        got = self._cached(domain.domain_id, chunk_id, first, last)
        if len(got) <= last - first:
            with self._cache_lock:
                loading = self._prefetching.get((domain.domain_id, chunk_id))
            if loading is not None:
                # Read-ahead is decoding this chunk: wait rather than decode it twice.
                loading.result()
                got = self._cached(domain.domain_id, chunk_id, first, last)
        if len(got) <= last - first and length is not None and length <= INLINE_MAX:
            frame = self._inline_frame(chunk_id, length)
            if frame is not None:
                segments = self._decode_segments(domain, chunk_id, frame, verify_id=False)
                got = dict(enumerate(segments))
                inline_len = sum(len(seg) for seg in segments)
                if inline_len != length:
                    raise IntegrityError(
                        f"chunk {chunk_id.hex()} holds {inline_len} bytes, the manifest says "
                        f"{length}"
                    )
                self._remember(domain.domain_id, chunk_id, got)
        if len(got) <= last - first and length is None and self.inline_source is not None:
            # A slice of a chunk of unknown length: inline only if there is no file.
            if not self.backend.exists(name):
                frame = self._inline_frame(chunk_id, None)
                if frame is not None:
                    got = dict(
                        enumerate(self._decode_segments(domain, chunk_id, frame, verify_id=False))
                    )
                    self._remember(domain.domain_id, chunk_id, got)
        if len(got) <= last - first:
            with self.backend.open_blob(name) as blob:
                # A small read (a random reader) advises before the header
                # read too: else its read-ahead pulls in 128 KiB per chunk.
                small = last - first < _NOWAIT_SEGMENTS
                if small:
                    blob.advise_random()
                layout = self._layout(chunk_id, blob)
                if layout is None:  # v1: the whole chunk it is
                    segments = self._decode_segments(
                        domain, chunk_id, self.backend.get(name), verify_id=True
                    )
                    got = dict(enumerate(segments))
                    plain_len = sum(len(s) for s in segments)
                else:
                    keys = self._check(layout, domain, chunk_id)
                    plain_len = layout.plain_len
                    last = min(last, layout.nsegs - 1)
                    missing = [i for i in range(first, last + 1) if i not in got]
                    if len(missing) < layout.nsegs and not small:
                        # A part of the chunk (a random reader): the kernel's
                        # read-ahead would read segments nobody asked for.
                        blob.advise_random()
                    if missing:
                        off = layout.offsets
                        start, stop = off[missing[0]], off[missing[-1] + 1]
                        raw = memoryview(blob.pread(start, stop - start))
                        dec = self._decompressor()
                        if len(missing) == layout.nsegs:  # all of it: one buffer
                            whole = self._open_whole(keys, layout, chunk_id, raw, start)
                            got = dict(enumerate(_segments_of(whole)))
                            missing = []
                        for i in missing:
                            got[i] = frame_v2.open_segment(
                                keys, layout, chunk_id, i,
                                raw[off[i] - start : off[i + 1] - start], dec,
                            )  # fmt: skip
                if length is not None and plain_len != length:
                    raise IntegrityError(
                        f"chunk {chunk_id.hex()} holds {plain_len} bytes, the manifest says "
                        f"{length}"
                    )
            self._remember(domain.domain_id, chunk_id, got)
        pieces = []
        for index in range(first, last + 1):
            seg = got.get(index)
            if seg is None:
                break
            base = index * SEGMENT
            a, b = max(lo - base, 0), min(hi - base, len(seg))
            pieces.append(seg if (a, b) == (0, len(seg)) else seg[a:b])
        # bytes (a lone bytes piece is returned as it is; views are copied).
        return b"".join(pieces)

    def loading(self, domain: Domain, chunk_id: bytes) -> Future[None] | None:
        """The read-ahead decoding this chunk now, if any (done: ``peek`` it).

        Lets a caller on an event loop wait for it without a worker thread.
        """
        return self._prefetching.get((domain.domain_id, chunk_id))

    def prefetch(self, domain: Domain, chunk_id: bytes, length: int | None = None) -> None:
        """Decode a chunk into the cache in the background (errors surface on get).

        ``length``, if known, spares a look for an inline copy of a big chunk.
        """
        key = (domain.domain_id, chunk_id)
        with self._cache_lock:
            if (domain.domain_id, chunk_id, 0) in self._cache or key in self._prefetching:
                return
            if not self._cache_max:
                return
            started = threading.Event()

            def load() -> None:
                started.wait()
                try:
                    raw: bytes | memoryview | None = self._inline_frame(chunk_id, length)
                    if raw is None:
                        # Decoded at once in this thread, and nothing keeps it.
                        raw = self.backend.get_streaming(_check_id(chunk_id))
                    segments = self._decode_segments(domain, chunk_id, raw, verify_id=False)
                    self._remember(domain.domain_id, chunk_id, dict(enumerate(segments)))
                except Exception:  # noqa: BLE001 - a later read reports it
                    pass
                finally:
                    with self._cache_lock:
                        self._prefetching.pop(key, None)

            self._prefetching[key] = _PREFETCH.submit(load)
        started.set()

    def get(
        self, domain: Domain, chunk_id: bytes, *, cached: bool = True, length: int | None = None
    ) -> bytes:
        """The whole data of chunk ``chunk_id``; any damage is ``IntegrityError``.

        ``cached=False`` always reads and authenticates the whole stored frame
        and checks the id of plaintext chunks (fsck). ``length``, if known,
        tells whether the chunk may be inline (saves a lookup for big ones).
        """
        _check_id(chunk_id)
        if not cached:
            return self.decode(domain, chunk_id, self._raw_frame(chunk_id, length))
        raw = self._raw_frame(chunk_id, length)
        segments = self._decode_segments(domain, chunk_id, raw, verify_id=False)
        self._remember(domain.domain_id, chunk_id, dict(enumerate(segments)))
        if type(segments[0]) is memoryview:
            return bytes(segments[0].obj)
        return segments[0] if len(segments) == 1 else b"".join(segments)

    def read_header(self, chunk_id: bytes) -> FrameHeader:
        """The (unauthenticated) header of a stored chunk, for fsck and stats."""
        inline = self._inline_frame(chunk_id, None)
        if inline is not None:
            raw = inline
        else:
            raw = self.backend.get_prefix(_check_id(chunk_id), frame_v1.HEADER_LEN)
        if len(raw) >= 5 and raw[4] == frame_v1.VERSION:
            return frame_v1.parse_header(raw, chunk_id)
        hexid = chunk_id.hex()
        need = frame_v2.table_len(raw, hexid)
        if need > len(raw) and inline is None:
            raw = self.backend.get_prefix(_check_id(chunk_id), need)
        layout = frame_v2.parse(raw, hexid)
        return layout.frame_header()

    def read_domain_id(self, chunk_id: bytes) -> bytes:
        """The domain a stored chunk claims to belong to (fsck: which key opens it)."""
        return self.read_header(chunk_id).domain_id

    # ---- housekeeping ----------------------------------------------------------------

    def exists(self, chunk_id: bytes) -> bool:
        """Whether the chunk is stored, in a file or inline."""
        return self.home(chunk_id) is not None

    def stat(self, chunk_id: bytes) -> tuple[float, int] | None:
        """(mtime, stored bytes) of the chunk's frame, None if absent."""
        return self.backend.stat(_check_id(chunk_id))

    def delete(self, chunk_id: bytes) -> None:
        with self._cache_lock:
            self._layouts.pop(chunk_id, None)
        self.backend.delete(_check_id(chunk_id))

    def discard_unless_touched(self, chunk_id: bytes, cutoff: float) -> int | None:
        """gc's delete: remove the chunk unless written or touched after ``cutoff``
        (seconds since the epoch); returns the bytes freed, None if it stays."""
        return self.backend.discard_unless_touched(_check_id(chunk_id), cutoff)

    def sync_all(self) -> None:
        """Make every chunk written so far durable."""
        self.backend.sync_all()

    def sync(self, ids: Iterable[bytes]) -> None:
        """Make the given chunks durable: call before a durable metadata commit.

        Inline chunks are skipped: they are as durable as the database commit.
        """
        names = []
        for chunk_id in ids:
            name = _check_id(chunk_id)
            if self.inline_source is not None and not self.backend.exists(name):
                if self._inline_frame(chunk_id, None) is not None:
                    continue
            names.append(name)
        try:
            self.backend.sync(names)
        except IntegrityError as exc:
            if not self.backend.gc_by_rows:
                raise
            # Only gc deletes an object (store/chunkgc.py): it did, while the
            # write ran, and the write must not commit; a retry PUTs it again.
            raise ChunkInCollection(
                f"{exc} (gc deleted it while the write ran): the write was not committed; retry it"
            ) from None

    def iter_ids(self) -> Iterator[tuple[bytes, float]]:
        """Every stored chunk as (id, mtime); files with foreign names are skipped."""
        for name, mtime in self.backend.iterate():
            if len(name) == 2 * ID_LEN:
                yield bytes.fromhex(name), mtime
            else:
                log.warning("ignoring unexpected file %r in the chunk store", name)

    def inventory(self) -> Iterator[tuple[bytes, int]]:
        """Every stored chunk as (id, stored size), from a listing (gc by rows)."""
        for name, size in self.backend.inventory():
            if len(name) == 2 * ID_LEN:
                yield bytes.fromhex(name), size

    def cleanup_temp(self, older_than_s: float) -> int:
        return self.backend.cleanup_temp(older_than_s)
