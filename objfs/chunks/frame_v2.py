"""Chunk frame format 2: independently authenticated segments.

The format every new chunk is written in (store format 2)::

    header (36 bytes, big endian)
        magic       4s   b"OBJC"
        version     u8   2
        codec       u8   1 if any segment is zstd-compressed, else 0
        cipher      u8   0 none (plaintext domain), 1 AES-256-GCM
        seg_shift   u8   16: segments of 64 KiB of plaintext
        domain_id   16s  the encryption domain the chunk belongs to
        plain_len   u32  length of the chunk's data
        nsegs       u32  max(1, ceil(plain_len / 64 KiB))
        payload_len u32  bytes of all segments together
    table: nsegs x u32   stored length of each segment; bit 31 set = zstd body
    segments, back to back
        cipher 1: nonce (12, random) || AESGCM(enc_key).encrypt(nonce, body, aad)
        cipher 0: body || BLAKE3(mac_key, aad || body)[:16]
    aad = header || chunk_id || index u32 || final u8 || codec u8
    body = zstd(segment) if the chunk's sample says compression pays and it
           saves >= ~3% on this segment, else the segment's plaintext

Why it is safe to read one segment alone: its tag covers the whole header
(so the chunk's length, segment count, domain and cipher), the chunk id, its
index and whether it is the last. A flipped byte fails its own tag; two
segments swapped fail on the index; a segment moved from another chunk
fails on the chunk id; the last one dropped or the file truncated leaves a
segment short or missing (and the header's count no longer matches the file).
The table is not authenticated by itself and need not be: a wrong length
moves a segment's boundaries, and its tag fails.

Nonces: fresh random 96 bits per segment, so the NIST SP 800-38D bound of
2**32 random-nonce encryptions per key is 2**32 segments = 256 TiB of data
per domain key (v1: 2**32 chunks).
"""

from __future__ import annotations

import hmac
import os
import struct
from dataclasses import dataclass

import blake3
import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from objfs.chunks.frame_v1 import FrameHeader
from objfs.errors import IntegrityError

MAGIC = b"OBJC"
VERSION = 2
CIPHER_NONE = 0
CIPHER_AESGCM = 1
SEGMENT_SHIFT = 16
SEGMENT = 1 << SEGMENT_SHIFT
HEADER = struct.Struct(">4sBBBB16sIII")
HEADER_LEN = HEADER.size  # 36
ENTRY = struct.Struct(">I")
ZSTD_BIT = 1 << 31
NONCE_LEN = 12
TAG_LEN = 16
_AAD_TAIL = struct.Struct(">IBB")
# Keep compression only when it saves at least 1/32 (~3%) of a segment.
_MIN_SAVING_SHIFT = 5
_MIN_COMPRESS = 256
MAX_PLAIN = (1 << 32) - 1


@dataclass(slots=True, frozen=True)
class Keys:
    """What seals and opens segments of one domain (derived once per domain)."""

    id_key: bytes  # keyed BLAKE3 for chunk ids
    mac_key: bytes  # keyed BLAKE3 for plaintext segments' tags
    aead: AESGCM | None  # encrypted domains


def overhead(cipher: int) -> int:
    """Stored bytes a segment costs beyond its body."""
    return NONCE_LEN + TAG_LEN if cipher == CIPHER_AESGCM else TAG_LEN


def nsegs_for(plain_len: int) -> int:
    return max(1, -(-plain_len // SEGMENT))


def frame_overhead(plain_len: int, cipher: int = CIPHER_AESGCM) -> int:
    """Bytes a frame of ``plain_len`` incompressible bytes costs beyond them."""
    n = nsegs_for(plain_len)
    return HEADER_LEN + ENTRY.size * n + n * overhead(cipher)


@dataclass(slots=True, frozen=True)
class Layout:
    """A v2 frame's header and segment table, structurally checked."""

    header: bytes  # the 36 header bytes (authenticated by every segment)
    codec: int
    cipher: int
    domain_id: bytes
    plain_len: int
    entries: tuple[int, ...]  # raw table entries
    offsets: tuple[int, ...]  # file offset of each segment, then the end of the frame

    @property
    def nsegs(self) -> int:
        return len(self.entries)

    @property
    def frame_len(self) -> int:
        return self.offsets[-1]

    def segment_len(self, index: int) -> int:
        """Plaintext bytes of segment ``index``."""
        return min(SEGMENT, self.plain_len - index * SEGMENT) if self.plain_len else 0

    def frame_header(self) -> FrameHeader:
        return FrameHeader(
            VERSION, self.codec, self.cipher, 0, self.domain_id, b"", self.plain_len,
            self.frame_len - self.offsets[0],
        )  # fmt: skip


def table_len(raw: bytes | memoryview, hexid: str) -> int:
    """Bytes of header + table, from the first ``HEADER_LEN`` bytes of a frame."""
    if len(raw) < HEADER_LEN:
        raise IntegrityError(f"chunk {hexid} is damaged: truncated ({len(raw)} bytes)")
    nsegs = HEADER.unpack_from(raw)[7]
    if nsegs > nsegs_for(MAX_PLAIN):
        raise IntegrityError(f"chunk {hexid} is damaged: {nsegs} segments")
    return HEADER_LEN + ENTRY.size * nsegs


def parse(raw: bytes | memoryview, hexid: str) -> Layout:
    """Header and table from the start of a frame; every field checked."""
    need = table_len(raw, hexid)
    if len(raw) < need:
        raise IntegrityError(f"chunk {hexid} is damaged: truncated ({len(raw)} bytes)")
    magic, version, codec, cipher, shift, domain_id, plain_len, nsegs, payload_len = (
        HEADER.unpack_from(raw)
    )
    if magic != MAGIC:
        raise IntegrityError(f"chunk {hexid} is damaged: bad magic {bytes(magic)!r}")
    if version != VERSION:
        raise IntegrityError(f"chunk {hexid} is damaged or newer: frame version {version}")
    if cipher not in (CIPHER_NONE, CIPHER_AESGCM) or codec not in (0, 1):
        raise IntegrityError(f"chunk {hexid} is damaged: codec {codec}, cipher {cipher}")
    if shift != SEGMENT_SHIFT:
        raise IntegrityError(f"chunk {hexid} is damaged or newer: segment shift {shift}")
    if nsegs != nsegs_for(plain_len):
        raise IntegrityError(f"chunk {hexid} is damaged: {nsegs} segments for {plain_len} bytes")
    entries = struct.unpack_from(f">{nsegs}I", raw, HEADER_LEN)
    extra = overhead(cipher)
    offsets = [need]
    any_zstd = 0
    for i, entry in enumerate(entries):
        stored = entry & ~ZSTD_BIT
        body = stored - extra
        seg = min(SEGMENT, plain_len - i * SEGMENT) if plain_len else 0
        zstd = entry & ZSTD_BIT
        any_zstd |= bool(zstd)
        if body < 0 or (body != seg if not zstd else body >= seg):
            raise IntegrityError(f"chunk {hexid} is damaged: segment {i} of {stored} bytes")
        offsets.append(offsets[-1] + stored)
    if offsets[-1] - need != payload_len or any_zstd != codec:
        raise IntegrityError(f"chunk {hexid} is damaged: segment table does not add up")
    return Layout(
        bytes(raw[:HEADER_LEN]), codec, cipher, bytes(domain_id), plain_len, entries,
        tuple(offsets),
    )  # fmt: skip


def _aad(header: bytes, chunk_id: bytes, index: int, final: bool, codec: int) -> bytes:
    return header + chunk_id + _AAD_TAIL.pack(index, final, codec)


def _mac(keys: Keys, aad: bytes, body: bytes | memoryview) -> bytes:
    h = blake3.blake3(aad, key=keys.mac_key)
    h.update(body)
    return h.digest(length=TAG_LEN)


def max_frame_len(plain_len: int) -> int:
    """Bytes a frame of ``plain_len`` bytes takes at most (compression only shrinks it)."""
    return plain_len + frame_overhead(plain_len)


class Segments:
    """A chunk's data given as consecutive pieces, cut at segment boundaries.

    ``seal`` takes it instead of one buffer, so data that arrived in pieces
    (a block filled by writes off the block grid) is sealed without joining
    it first: only a segment that straddles two pieces is copied (64 KiB).
    """

    __slots__ = ("segs", "size")

    def __init__(self, parts: list[memoryview]) -> None:
        segs: list[bytes | memoryview] = []
        carry: list[memoryview] = []  # pieces of a segment that straddles parts
        carried = 0
        for part in parts:
            pos = 0
            if carry:
                take = min(SEGMENT - carried, len(part))
                carry.append(part[:take])
                carried += take
                pos = take
                if carried < SEGMENT:
                    continue
                segs.append(b"".join(carry))
                carry, carried = [], 0
            while len(part) - pos >= SEGMENT:
                segs.append(part[pos : pos + SEGMENT])
                pos += SEGMENT
            if pos < len(part):
                carry, carried = [part[pos:]], len(part) - pos
        if carry:
            segs.append(b"".join(carry))
        self.size = sum(len(p) for p in parts)
        self.segs = segs or [memoryview(b"")]

    def __len__(self) -> int:
        return self.size

    def sample(self, start: int, n: int) -> bytes:
        """``n`` bytes at ``start`` (within the data)."""
        out = []
        while n > 0:
            seg = self.segs[start // SEGMENT]
            piece = seg[start % SEGMENT : start % SEGMENT + n]
            out.append(piece)
            start += len(piece)
            n -= len(piece)
        return b"".join(out)


def seal(
    keys: Keys,
    domain_id: bytes,
    data: bytes | bytearray | memoryview | Segments,
    chunk_id: bytes,
    compressor: zstandard.ZstdCompressor | None,
    scratch: bytearray | memoryview | None = None,
) -> memoryview:
    """The frame for ``data``, built in one buffer: ``scratch`` if it is large
    enough (the caller must not use the frame after reusing it), else a new one.

    Written in place (AES-GCM ``encrypt_into``): no per-segment ciphertext
    objects, no joining; the frame is one buffer for one ``write``.
    """
    if isinstance(data, Segments):
        segs = data.segs
        plain_len = data.size
    else:
        view = memoryview(data)
        if view.format != "B":
            view = view.cast("B")
        plain_len = len(view)
        segs = [view[i * SEGMENT : (i + 1) * SEGMENT] for i in range(nsegs_for(plain_len))]
    cipher = CIPHER_AESGCM if keys.aead is not None else CIPHER_NONE
    n = len(segs)
    bodies: list[tuple[bytes | memoryview, int]] = []
    for seg in segs:
        if compressor is not None and len(seg) >= _MIN_COMPRESS:
            packed = compressor.compress(seg)
            if len(packed) <= len(seg) - (len(seg) >> _MIN_SAVING_SHIFT):
                bodies.append((packed, 1))
                continue
        bodies.append((seg, 0))
    extra = overhead(cipher)
    entries = [(len(b) + extra) | (ZSTD_BIT if c else 0) for b, c in bodies]
    codec = int(any(c for _, c in bodies))
    payload_len = sum(e & ~ZSTD_BIT for e in entries)
    header = HEADER.pack(
        MAGIC, VERSION, codec, cipher, SEGMENT_SHIFT, domain_id, plain_len, n, payload_len
    )
    head_len = HEADER_LEN + ENTRY.size * n
    total = head_len + payload_len
    buf = scratch if scratch is not None and len(scratch) >= total else bytearray(total)
    out = memoryview(buf)[:total]
    out[:HEADER_LEN] = header
    struct.pack_into(f">{n}I", out, HEADER_LEN, *entries)
    nonces = os.urandom(NONCE_LEN * n) if keys.aead is not None else b""
    pos = head_len
    for i, (body, c) in enumerate(bodies):
        aad = _aad(header, chunk_id, i, i == n - 1, c)
        blen = len(body)
        if keys.aead is not None:
            nonce = nonces[i * NONCE_LEN : (i + 1) * NONCE_LEN]
            out[pos : pos + NONCE_LEN] = nonce
            pos += NONCE_LEN
            keys.aead.encrypt_into(nonce, body, aad, out[pos : pos + blen + TAG_LEN])
        else:
            out[pos : pos + blen] = body
            out[pos + blen : pos + blen + TAG_LEN] = _mac(keys, aad, body)
        pos += blen + TAG_LEN
    assert pos == total
    return out


def open_segment(
    keys: Keys,
    layout: Layout,
    chunk_id: bytes,
    index: int,
    stored: bytes | memoryview,
    decompressor: zstandard.ZstdDecompressor,
) -> bytes:
    """Authenticate and unpack segment ``index`` (its stored bytes); never wrong bytes."""
    hexid = chunk_id.hex()
    entry = layout.entries[index]
    want = entry & ~ZSTD_BIT
    if len(stored) != want:
        raise IntegrityError(
            f"chunk {hexid} is damaged: segment {index} has {len(stored)} of {want} bytes "
            "(truncated)"
        )
    codec = 1 if entry & ZSTD_BIT else 0
    aad = _aad(layout.header, chunk_id, index, index == layout.nsegs - 1, codec)
    view = memoryview(stored)
    if layout.cipher == CIPHER_AESGCM:
        if keys.aead is None:
            raise IntegrityError(f"chunk {hexid}: the domain has no key")
        try:
            body: bytes | memoryview = keys.aead.decrypt(view[:NONCE_LEN], view[NONCE_LEN:], aad)
        except InvalidTag:
            raise IntegrityError(
                f"chunk {hexid} is damaged: authentication failed in segment {index} "
                "(modified, moved, truncated or from another store)"
            ) from None
    else:
        body = view[:-TAG_LEN]
        if not hmac.compare_digest(_mac(keys, aad, body), bytes(view[-TAG_LEN:])):
            raise IntegrityError(
                f"chunk {hexid} is damaged: segment {index} fails its check "
                "(modified, moved or truncated)"
            )
    size = layout.segment_len(index)
    if codec:
        try:
            if zstandard.frame_content_size(body) != size:
                raise IntegrityError(f"chunk {hexid} is damaged: compressed size mismatch")
            data = decompressor.decompress(body, max_output_size=size)
        except zstandard.ZstdError as exc:
            raise IntegrityError(f"chunk {hexid} is damaged: cannot decompress") from exc
    else:
        data = bytes(body)
    if len(data) != size:
        raise IntegrityError(f"chunk {hexid} is damaged: segment {index} has {len(data)} bytes")
    return data


def open_all_into(
    keys: Keys,
    layout: Layout,
    chunk_id: bytes,
    frame: bytes | memoryview,
    out: memoryview,
    decompressor: zstandard.ZstdDecompressor,
    base: int = 0,
) -> None:
    """Authenticate and unpack every segment of a whole ``frame`` into ``out``
    (``layout.plain_len`` writable bytes; segment i lands at i * SEGMENT).
    ``frame`` starts at byte ``base`` of the stored frame (``layout.offsets[0]``:
    the segments without the header and table).

    The same checks as ``open_segment`` for each segment, with the AES-GCM
    plaintext decrypted in place (``decrypt_into``): no per-segment objects,
    no joining. ``out`` holds garbage after an error (never use it then).
    """
    hexid = chunk_id.hex()
    view = memoryview(frame)
    if len(view) + base != layout.frame_len:
        raise IntegrityError(
            f"chunk {hexid} is damaged: {len(view) + base} bytes, its header says "
            f"{layout.frame_len}"
        )
    if len(out) != layout.plain_len:
        raise ValueError(f"open_all_into: {len(out)} bytes of room for {layout.plain_len}")
    aead = keys.aead
    if layout.cipher == CIPHER_AESGCM and aead is None:
        raise IntegrityError(f"chunk {hexid}: the domain has no key")
    prefix = layout.header + chunk_id
    tail = _AAD_TAIL.pack
    off = layout.offsets
    last = layout.nsegs - 1
    plain_len = layout.plain_len
    for i, entry in enumerate(layout.entries):
        codec = 1 if entry & ZSTD_BIT else 0
        aad = prefix + tail(i, i == last, codec)
        start = i * SEGMENT
        stop = min(start + SEGMENT, plain_len)
        a, b = off[i] - base, off[i + 1] - base
        if layout.cipher != CIPHER_AESGCM and not codec:
            # A plaintext domain: check the keyed tag, then one copy into place.
            body = view[a : b - TAG_LEN]
            if not hmac.compare_digest(_mac(keys, aad, body), bytes(view[b - TAG_LEN : b])):
                raise IntegrityError(
                    f"chunk {hexid} is damaged: segment {i} fails its check "
                    "(modified, moved or truncated)"
                )
            out[start:stop] = body
            continue
        if codec or aead is None or layout.cipher != CIPHER_AESGCM:
            # Compressed segments (rare on the read path): the one-segment
            # opener, copied into place.
            out[start:stop] = open_segment(keys, layout, chunk_id, i, view[a:b], decompressor)
            continue
        try:
            aead.decrypt_into(
                view[a : a + NONCE_LEN], view[a + NONCE_LEN : b], aad, out[start:stop]
            )
        except InvalidTag:
            raise IntegrityError(
                f"chunk {hexid} is damaged: authentication failed in segment {i} "
                "(modified, moved, truncated or from another store)"
            ) from None
