"""Chunk framing: ids, compression, encryption and integrity of chunk data.

A chunk is stored as one *frame* in a backend, named by the hex of its id::

    header (44 bytes, big endian)
        magic       4s   b"OBJC"
        version     u8   1
        codec       u8   0 raw, 1 zstd
        cipher      u8   0 none, 1 AES-256-GCM
        flags       u8   0 (reserved; anything else is refused)
        domain_id   16s  the encryption domain the chunk belongs to
        nonce       12s  cipher 1: random AES-256-GCM nonce; cipher 0: "check",
                         all zero for a raw body, and for a zstd body the first
                         12 bytes of HMAC-SHA256(id_key, header with zero check
                         || chunk_id || payload)
        plain_len   u32  length of the chunk's data
        payload_len u32  bytes after the header
    payload
        cipher 1: AESGCM(domain.enc_key).encrypt(nonce, body, aad=header || chunk_id)
        cipher 0: body
    body = zstd(data) if that saves >= ~3%, else data

Invariants:
- ``chunk_id = HMAC-SHA256(domain.id_key, data)``: content-addressed but keyed,
  so equal data dedups inside one domain and ids reveal nothing across domains;
- ``get`` never returns bytes other than the ones ``put`` was given for that
  id: the AEAD tag covers header and id (encrypted domains), and for
  plaintext domains every header field is checked, the HMAC of the data
  recomputed, and a zstd body checked too (so even a flip in a bit zstd
  ignores is reported: fsck sees bit rot before it matters).
  Any mismatch is ``IntegrityError("chunk <hex> is damaged: ...")``;
- a frame's cipher must match its domain's kind: a plaintext frame is never
  accepted for an encrypted domain (no downgrade by rewriting a file);
- each encryption uses a fresh random 96-bit nonce. Random nonces are safe up
  to ~2**32 frames per domain key (NIST SP 800-38D), i.e. ~4 PiB of 1 MiB
  chunks in one domain.
"""

from __future__ import annotations

import hmac
import logging
import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hmac import HMAC

from objfs.chunks.backend import ChunkBackend
from objfs.crypto.keyring import KIND_NONE, Domain, hmac_sha256
from objfs.errors import IntegrityError, InvalidArgument

log = logging.getLogger(__name__)

MAGIC = b"OBJC"
FORMAT_VERSION = 1
CODEC_RAW = 0
CODEC_ZSTD = 1
CIPHER_NONE = 0
CIPHER_AESGCM = 1
HEADER = struct.Struct(">4sBBBB16s12sII")
HEADER_LEN = HEADER.size  # 44
TAG_LEN = 16
ID_LEN = 32
NONCE_LEN = 12
_ZERO_NONCE = bytes(NONCE_LEN)
_CHECK_AT = 24  # offset of the nonce/check field in the header
MAX_CHUNK = (1 << 32) - 1 - TAG_LEN
# Keep compression only when it saves at least 1/32 (~3%) of the chunk.
_MIN_SAVING_SHIFT = 5
_MIN_COMPRESS = 256
ZSTD_LEVEL = 1
_PROBE_PIECE = 8 << 10
_PROBE_PIECES = 4
_PROBE_MIN = 128 << 10  # below this, just try the whole chunk


@dataclass(slots=True, frozen=True)
class FrameHeader:
    """A chunk frame's header, as read from disk (not yet authenticated)."""

    version: int
    codec: int
    cipher: int
    flags: int
    domain_id: bytes
    nonce: bytes
    plain_len: int
    payload_len: int


def parse_header(raw: bytes | memoryview, chunk_id: bytes) -> FrameHeader:
    """Decode and structurally check a frame header."""
    hexid = chunk_id.hex()
    if len(raw) < HEADER_LEN:
        raise IntegrityError(f"chunk {hexid} is damaged: truncated ({len(raw)} bytes)")
    magic, version, codec, cipher, flags, domain_id, nonce, plain_len, payload_len = (
        HEADER.unpack_from(raw)
    )
    if magic != MAGIC:
        raise IntegrityError(f"chunk {hexid} is damaged: bad magic {bytes(magic)!r}")
    if version != FORMAT_VERSION:
        raise IntegrityError(f"chunk {hexid} is damaged or newer: frame version {version}")
    if codec not in (CODEC_RAW, CODEC_ZSTD) or cipher not in (CIPHER_NONE, CIPHER_AESGCM):
        raise IntegrityError(f"chunk {hexid} is damaged: codec {codec}, cipher {cipher}")
    if flags != 0:
        raise IntegrityError(f"chunk {hexid} is damaged: unknown flags {flags:#x}")
    return FrameHeader(version, codec, cipher, flags, domain_id, nonce, plain_len, payload_len)


def _frame_check(
    id_key: bytes, header: bytes | memoryview, chunk_id: bytes, payload: object
) -> bytes:
    """Check value of a compressed plaintext frame (its header's check field zeroed)."""
    mac = HMAC(id_key, hashes.SHA256())
    mac.update(header[:_CHECK_AT])
    mac.update(_ZERO_NONCE)
    mac.update(header[_CHECK_AT + NONCE_LEN : HEADER_LEN])
    mac.update(chunk_id)
    mac.update(payload)  # type: ignore[arg-type]
    return mac.finalize()[:NONCE_LEN]


def _check_id(chunk_id: bytes) -> str:
    if not isinstance(chunk_id, bytes) or len(chunk_id) != ID_LEN:
        raise InvalidArgument(f"a chunk id is {ID_LEN} bytes, got {chunk_id!r:.80}")
    return chunk_id.hex()


_PREFETCH = ThreadPoolExecutor(max_workers=1, thread_name_prefix="objfs-prefetch")


class ChunkStore:
    """Puts and gets chunk data by keyed id over a ``ChunkBackend``. Thread-safe."""

    def __init__(
        self, backend: ChunkBackend, *, compress: bool = True, cache_chunks: int = 16
    ) -> None:
        self.backend = backend
        self.compress = compress
        # Decoded chunks recently read. Chunks are immutable and named by a
        # keyed hash of their content, so an entry can never go stale; it
        # saves decoding a 1 MiB chunk again for each 128 KiB kernel read.
        self._cache: OrderedDict[tuple[bytes, bytes], bytes] = OrderedDict()
        self._cache_max = cache_chunks
        self._cache_lock = threading.Lock()
        self._prefetching: set[tuple[bytes, bytes]] = set()
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

    def _worth_compressing(self, data: bytes | memoryview) -> bool:
        """Cheap probe: compress a few samples before paying for the whole chunk.

        Already-compressed data (media, archives) is the bulk of large files;
        probing ~32 KiB costs ~3% of compressing 1 MiB. Mixed chunks still get
        compressed when any sample compresses.
        """
        n = len(data)
        if n < _PROBE_MIN:
            return True
        view = memoryview(data)
        step = (n - _PROBE_PIECE) // (_PROBE_PIECES - 1)
        sample = b"".join(view[i * step : i * step + _PROBE_PIECE] for i in range(_PROBE_PIECES))
        packed = self._compressor().compress(sample)
        return len(packed) <= len(sample) - (len(sample) >> _MIN_SAVING_SHIFT)

    # ---- ids -------------------------------------------------------------------------

    @staticmethod
    def chunk_id(domain: Domain, data: bytes | memoryview) -> bytes:
        """HMAC-SHA256(domain.id_key, data): the chunk's 32-byte id."""
        return hmac_sha256(domain.id_key, data)

    # ---- write -----------------------------------------------------------------------

    def encode(
        self, domain: Domain, data: bytes | memoryview, chunk_id: bytes
    ) -> tuple[bytes, bytes | memoryview]:
        """The frame for ``data`` as (header, payload), ready to be written back to back."""
        plain_len = len(data)
        if plain_len > MAX_CHUNK:
            raise InvalidArgument(f"a chunk holds at most {MAX_CHUNK} bytes, got {plain_len}")
        body: bytes | memoryview = data
        codec = CODEC_RAW
        if self.compress and plain_len >= _MIN_COMPRESS and self._worth_compressing(data):
            packed = self._compressor().compress(data)
            if len(packed) <= plain_len - (plain_len >> _MIN_SAVING_SHIFT):
                body, codec = packed, CODEC_ZSTD
        if domain.kind == KIND_NONE:
            header = HEADER.pack(
                MAGIC, FORMAT_VERSION, codec, CIPHER_NONE, 0, domain.domain_id,
                _ZERO_NONCE, plain_len, len(body),
            )  # fmt: skip
            if codec == CODEC_ZSTD:
                check = _frame_check(domain.id_key, header, chunk_id, body)
                header = header[:_CHECK_AT] + check + header[_CHECK_AT + NONCE_LEN :]
            return header, body
        if domain.enc_key is None:
            raise InvalidArgument(
                f"domain {domain.domain_id.hex()} of kind {domain.kind} has no key"
            )
        nonce = os.urandom(NONCE_LEN)
        header = HEADER.pack(
            MAGIC, FORMAT_VERSION, codec, CIPHER_AESGCM, 0, domain.domain_id,
            nonce, plain_len, len(body) + TAG_LEN,
        )  # fmt: skip
        payload = AESGCM(domain.enc_key).encrypt(nonce, body, header + chunk_id)
        return header, payload

    def put(
        self, domain: Domain, data: bytes | memoryview, chunk_id: bytes | None = None
    ) -> tuple[bytes, bool]:
        """Store ``data`` unless its chunk exists; returns (id, written_new).

        ``chunk_id``, if given, must be ``chunk_id(domain, data)`` (saves hashing
        twice). The new file is not durable until ``sync``. A dedup hit refreshes
        the existing chunk's mtime, so GC's grace period spares it until the
        caller's metadata commit references it.
        """
        if chunk_id is None:
            chunk_id = self.chunk_id(domain, data)
        name = _check_id(chunk_id)
        if self.backend.touch(name):
            return chunk_id, False
        header, payload = self.encode(domain, data, chunk_id)
        self.backend.put(name, (header, payload))
        return chunk_id, True

    # ---- read ------------------------------------------------------------------------

    def decode(self, domain: Domain, chunk_id: bytes, raw: bytes) -> bytes:
        """Authenticate and unpack one frame; never returns wrong bytes."""
        hexid = chunk_id.hex()
        h = parse_header(raw, chunk_id)
        if h.domain_id != domain.domain_id:
            raise IntegrityError(
                f"chunk {hexid} is damaged: it belongs to domain {h.domain_id.hex()}, "
                f"not {domain.domain_id.hex()}"
            )
        want_cipher = CIPHER_NONE if domain.kind == KIND_NONE else CIPHER_AESGCM
        if h.cipher != want_cipher:
            raise IntegrityError(
                f"chunk {hexid} is damaged: cipher {h.cipher} does not match a {domain.kind} domain"
            )
        if len(raw) != HEADER_LEN + h.payload_len:
            raise IntegrityError(
                f"chunk {hexid} is damaged: {len(raw) - HEADER_LEN} payload bytes, "
                f"header says {h.payload_len}"
            )
        payload = memoryview(raw)[HEADER_LEN:]
        if h.cipher == CIPHER_AESGCM:
            if domain.enc_key is None:
                raise IntegrityError(f"chunk {hexid}: domain {domain.kind} has no key")
            try:
                body: bytes | memoryview = AESGCM(domain.enc_key).decrypt(
                    h.nonce, payload, raw[:HEADER_LEN] + chunk_id
                )
            except InvalidTag:
                raise IntegrityError(
                    f"chunk {hexid} is damaged: authentication failed "
                    "(modified, truncated or from another store)"
                ) from None
        else:
            if h.codec == CODEC_ZSTD:
                check = _frame_check(domain.id_key, raw, chunk_id, payload)
                if not hmac.compare_digest(check, h.nonce):
                    raise IntegrityError(f"chunk {hexid} is damaged: frame check failed")
            elif h.nonce != _ZERO_NONCE:
                raise IntegrityError(f"chunk {hexid} is damaged: check set on a raw frame")
            body = payload
        if h.codec == CODEC_ZSTD:
            try:
                # Check the frame's own size first: a damaged plaintext frame
                # must not make us allocate whatever size it claims.
                if zstandard.frame_content_size(body) != h.plain_len:
                    raise IntegrityError(f"chunk {hexid} is damaged: compressed size mismatch")
                data = self._decompressor().decompress(body, max_output_size=h.plain_len)
            except zstandard.ZstdError as exc:
                raise IntegrityError(f"chunk {hexid} is damaged: cannot decompress") from exc
        else:
            data = bytes(body) if isinstance(body, memoryview) else body
        if len(data) != h.plain_len:
            raise IntegrityError(
                f"chunk {hexid} is damaged: {len(data)} bytes, header says {h.plain_len}"
            )
        if h.cipher == CIPHER_NONE and not hmac.compare_digest(
            self.chunk_id(domain, data), chunk_id
        ):
            raise IntegrityError(f"chunk {hexid} is damaged: content does not match its id")
        return data

    def prefetch(self, domain: Domain, chunk_id: bytes) -> None:
        """Decode a chunk into the cache in the background (errors surface on get)."""
        key = (domain.domain_id, chunk_id)
        with self._cache_lock:
            if key in self._cache or key in self._prefetching or not self._cache_max:
                return
            self._prefetching.add(key)

        def load() -> None:
            try:
                self.get(domain, chunk_id)
            except Exception:  # noqa: BLE001 - a later get reports it
                pass
            finally:
                with self._cache_lock:
                    self._prefetching.discard(key)

        _PREFETCH.submit(load)

    def get(self, domain: Domain, chunk_id: bytes, *, cached: bool = True) -> bytes:
        """The data of chunk ``chunk_id``; any damage is ``IntegrityError``.

        ``cached=False`` always reads and authenticates the stored frame (fsck).
        """
        key = (domain.domain_id, chunk_id)
        if cached:
            with self._cache_lock:
                data = self._cache.get(key)
                if data is not None:
                    self._cache.move_to_end(key)
                    return data
        raw = self.backend.get(_check_id(chunk_id))
        data = self.decode(domain, chunk_id, raw)
        if cached and self._cache_max:
            with self._cache_lock:
                self._cache[key] = data
                while len(self._cache) > self._cache_max:
                    self._cache.popitem(last=False)
        return data

    def read_header(self, chunk_id: bytes) -> FrameHeader:
        """The (unauthenticated) header of a stored chunk, for fsck and stats."""
        raw = self.backend.get_prefix(_check_id(chunk_id), HEADER_LEN)
        return parse_header(raw, chunk_id)

    def read_domain_id(self, chunk_id: bytes) -> bytes:
        """The domain a stored chunk claims to belong to (fsck: which key opens it)."""
        return self.read_header(chunk_id).domain_id

    # ---- housekeeping ----------------------------------------------------------------

    def exists(self, chunk_id: bytes) -> bool:
        return self.backend.exists(_check_id(chunk_id))

    def stat(self, chunk_id: bytes) -> tuple[float, int] | None:
        """(mtime, stored bytes) of the chunk's frame, None if absent."""
        return self.backend.stat(_check_id(chunk_id))

    def delete(self, chunk_id: bytes) -> None:
        self.backend.delete(_check_id(chunk_id))

    def discard_unless_touched(self, chunk_id: bytes, cutoff: float) -> int | None:
        """gc's delete: remove the chunk unless written or touched after ``cutoff``
        (seconds since the epoch); returns the bytes freed, None if it stays."""
        return self.backend.discard_unless_touched(_check_id(chunk_id), cutoff)

    def sync_all(self) -> None:
        """Make every chunk written so far durable."""
        self.backend.sync_all()

    def sync(self, ids: Iterable[bytes]) -> None:
        """Make the given chunks durable: call before a durable metadata commit."""
        self.backend.sync([_check_id(i) for i in ids])

    def iter_ids(self) -> Iterator[tuple[bytes, float]]:
        """Every stored chunk as (id, mtime); files with foreign names are skipped."""
        for name, mtime in self.backend.iterate():
            if len(name) == 2 * ID_LEN:
                yield bytes.fromhex(name), mtime
            else:
                log.warning("ignoring unexpected file %r in the chunk store", name)

    def cleanup_temp(self, older_than_s: float) -> int:
        return self.backend.cleanup_temp(older_than_s)
