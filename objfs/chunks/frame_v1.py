"""Chunk frame format 1 (read only): one AEAD over the whole chunk.

Written by objfs up to store format 1; read forever, never written again
(``objfs.chunks.store`` writes format 2, see ``frame_v2``)::

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
    body = zstd(data) if that saved >= ~3%, else data

``chunk_id = HMAC-SHA256(domain.id_key, data)``. A v1 chunk is decoded whole:
a read of 4 KiB of it still costs the whole chunk.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hmac import HMAC

from objfs.crypto.keyring import KIND_NONE, Domain, hmac_sha256
from objfs.errors import IntegrityError

MAGIC = b"OBJC"
VERSION = 1
CODEC_RAW = 0
CODEC_ZSTD = 1
CIPHER_NONE = 0
CIPHER_AESGCM = 1
HEADER = struct.Struct(">4sBBBB16s12sII")
HEADER_LEN = HEADER.size  # 44
NONCE_LEN = 12
_ZERO_NONCE = bytes(NONCE_LEN)
_CHECK_AT = 24  # offset of the nonce/check field in the header


@dataclass(slots=True, frozen=True)
class FrameHeader:
    """A chunk frame's header, as read from disk (not yet authenticated)."""

    version: int
    codec: int  # v2: 1 if any segment is compressed
    cipher: int
    flags: int
    domain_id: bytes
    nonce: bytes  # v2: empty (every segment has its own)
    plain_len: int
    payload_len: int


def parse_header(raw: bytes | memoryview, chunk_id: bytes) -> FrameHeader:
    """Decode and structurally check a v1 frame header."""
    hexid = chunk_id.hex()
    if len(raw) < HEADER_LEN:
        raise IntegrityError(f"chunk {hexid} is damaged: truncated ({len(raw)} bytes)")
    magic, version, codec, cipher, flags, domain_id, nonce, plain_len, payload_len = (
        HEADER.unpack_from(raw)
    )
    if magic != MAGIC:
        raise IntegrityError(f"chunk {hexid} is damaged: bad magic {bytes(magic)!r}")
    if version != VERSION:
        raise IntegrityError(f"chunk {hexid} is damaged or newer: frame version {version}")
    if codec not in (CODEC_RAW, CODEC_ZSTD) or cipher not in (CIPHER_NONE, CIPHER_AESGCM):
        raise IntegrityError(f"chunk {hexid} is damaged: codec {codec}, cipher {cipher}")
    if flags != 0:
        raise IntegrityError(f"chunk {hexid} is damaged: unknown flags {flags:#x}")
    return FrameHeader(version, codec, cipher, flags, domain_id, nonce, plain_len, payload_len)


def check_domain(h: FrameHeader, domain: Domain, hexid: str) -> None:
    """The frame must belong to ``domain`` and carry its kind's cipher (no downgrade)."""
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


def _frame_check(
    id_key: bytes, header: bytes | memoryview, chunk_id: bytes, payload: bytes | memoryview
) -> bytes:
    """Check value of a compressed plaintext frame (its header's check field zeroed)."""
    mac = HMAC(id_key, hashes.SHA256())
    mac.update(header[:_CHECK_AT])
    mac.update(_ZERO_NONCE)
    mac.update(header[_CHECK_AT + NONCE_LEN : HEADER_LEN])
    mac.update(chunk_id)
    mac.update(payload)
    return mac.finalize()[:NONCE_LEN]


def decode(
    domain: Domain, chunk_id: bytes, raw: bytes, decompressor: zstandard.ZstdDecompressor
) -> bytes:
    """Authenticate and unpack one v1 frame; never returns wrong bytes."""
    hexid = chunk_id.hex()
    h = parse_header(raw, chunk_id)
    check_domain(h, domain, hexid)
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
            data = decompressor.decompress(body, max_output_size=h.plain_len)
        except zstandard.ZstdError as exc:
            raise IntegrityError(f"chunk {hexid} is damaged: cannot decompress") from exc
    else:
        data = bytes(body) if isinstance(body, memoryview) else body
    if len(data) != h.plain_len:
        raise IntegrityError(
            f"chunk {hexid} is damaged: {len(data)} bytes, header says {h.plain_len}"
        )
    if h.cipher == CIPHER_NONE and not hmac.compare_digest(
        hmac_sha256(domain.id_key, data), chunk_id
    ):
        raise IntegrityError(f"chunk {hexid} is damaged: content does not match its id")
    return data
