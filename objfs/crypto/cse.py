"""Client-side encryption (CSE): the client encrypts, the store sees ciphertext.

Used by the CLI (``--cse-key-file``) and the mount (``-o cse_key_file=``)
*before* they call the store, so the store holds only ciphertext and an
envelope it cannot open (the client's key never reaches it).

Layout of a CSE object as the store sees it:
- plaintext is cut into blocks of ``block_size = chunk_size - OVERHEAD``
  bytes; block *i* is stored as one frame ``nonce(12) || AES-256-GCM(ct+tag)``
  of at most ``chunk_size`` bytes at stored offset ``i * chunk_size``. Frames
  line up with the store's chunk grid, so a random write through the mount
  re-encrypts and rewrites exactly the chunks it touches;
- each frame is authenticated with AAD = envelope id || block index, so
  frames cannot be reordered, swapped between objects or replayed at another
  position;
- the envelope (user metadata ``objfs-cse``) holds the object's data key
  wrapped by the client key (AES-256-GCM, fresh nonce) and an id; the
  plaintext size is derived from the stored size (``plain_size``, needs no
  key; ``stored_size`` the other way): the one size rule every adapter uses.
  A last frame of ``OVERHEAD`` bytes or fewer holds no plaintext and is never
  written: a stored size that ends in one is a truncated object
  (``IntegrityError``).

A wrong key is refused when the envelope is opened (``AccessDenied``); a
missing key on an object that has an envelope is ``InvalidRequest``.
Nonces: random 96-bit per frame written; a data key is per object.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from objfs.errors import AccessDenied, IntegrityError, InvalidArgument, InvalidRequest

META_KEY = "objfs-cse"
NONCE = 12
TAG = 16
OVERHEAD = NONCE + TAG
_WRAP_AAD = b"objfs-cse-wrap-v1"


def load_key_file(path: str | os.PathLike[str]) -> bytes:
    """A client key file: 32 raw bytes or 64 hex characters (+ newline)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"cannot read key file {p}: {exc.strerror}") from None
    text = data.strip()
    if len(data) == 32:
        return data
    if len(text) == 64:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    raise InvalidArgument(
        f"key file {p} must hold 32 raw bytes or 64 hex characters "
        "(make one with: head -c 32 /dev/urandom > FILE; chmod 600 FILE)"
    )


@dataclass(slots=True, frozen=True)
class CSEObject:
    """The open envelope of one client-side encrypted object."""

    object_id: bytes
    data_key: bytes = field(repr=False)
    chunk_size: int

    @property
    def block_size(self) -> int:
        return self.chunk_size - OVERHEAD

    # -- envelope ------------------------------------------------------------

    @classmethod
    def new(cls, client_key: bytes, chunk_size: int) -> tuple[CSEObject, str]:
        """A fresh object: (open envelope, metadata value to store with it)."""
        _check_key(client_key)
        obj = cls(os.urandom(16), os.urandom(32), chunk_size)
        nonce = os.urandom(NONCE)
        wrapped = AESGCM(client_key).encrypt(nonce, obj.data_key, _WRAP_AAD + obj.object_id)
        blob = msgpack.packb(
            {"v": 1, "id": obj.object_id, "n": nonce, "k": wrapped, "cs": chunk_size},
            use_bin_type=True,
        )
        return obj, base64.b64encode(blob).decode("ascii")

    @classmethod
    def open(cls, client_key: bytes | None, envelope: str) -> CSEObject:
        if client_key is None:
            raise InvalidRequest(
                "object is client-side encrypted: supply its key (--cse-key-file / cse_key_file=)"
            )
        _check_key(client_key)
        try:
            rec = msgpack.unpackb(base64.b64decode(envelope), raw=False)
            object_id, nonce, wrapped, chunk_size = rec["id"], rec["n"], rec["k"], rec["cs"]
            if rec.get("v") != 1:
                raise ValueError("version")
        except Exception as exc:  # noqa: BLE001 - any malformed envelope
            raise IntegrityError("the client-side encryption envelope is damaged") from exc
        try:
            data_key = AESGCM(client_key).decrypt(nonce, wrapped, _WRAP_AAD + object_id)
        except InvalidTag:
            raise AccessDenied(
                "the client-side encryption key does not match this object"
            ) from None
        return cls(object_id, data_key, int(chunk_size))

    # -- frames ----------------------------------------------------------------

    def encrypt_block(self, index: int, plaintext: bytes | bytearray | memoryview) -> bytes:
        if len(plaintext) > self.block_size:
            raise InvalidArgument("block larger than the CSE block size")
        nonce = os.urandom(NONCE)
        return nonce + AESGCM(self.data_key).encrypt(nonce, bytes(plaintext), self._aad(index))

    def decrypt_block(self, index: int, frame: bytes | memoryview) -> bytes:
        frame = bytes(frame)
        if len(frame) < OVERHEAD:
            raise IntegrityError(f"client-side encrypted block {index} is truncated")
        try:
            return AESGCM(self.data_key).decrypt(frame[:NONCE], frame[NONCE:], self._aad(index))
        except InvalidTag:
            raise IntegrityError(
                f"client-side encrypted block {index} is damaged or out of place"
            ) from None

    def _aad(self, index: int) -> bytes:
        return self.object_id + index.to_bytes(8, "big")

    # -- sizes -------------------------------------------------------------------

    def stored_size(self, plain: int) -> int:
        return stored_size(plain, self.chunk_size)

    def plain_size(self, stored: int) -> int:
        return plain_size(stored, self.chunk_size)


def stored_size(plain: int, chunk_size: int) -> int:
    """Stored (ciphertext) size of a CSE object of ``plain`` bytes."""
    full, rest = divmod(plain, chunk_size - OVERHEAD)
    return full * chunk_size + (rest + OVERHEAD if rest else 0)


def plain_size(stored: int, chunk_size: int) -> int:
    """Plaintext size of a CSE object of ``stored`` bytes (needs no key).

    ``IntegrityError`` when the last frame is too short to hold a byte: the
    object was truncated (no writer makes such a frame)."""
    full, rest = divmod(stored, chunk_size)
    if rest and rest <= OVERHEAD:
        raise IntegrityError("client-side encrypted object has a truncated last block")
    return full * (chunk_size - OVERHEAD) + (rest - OVERHEAD if rest else 0)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != 32:
        raise InvalidArgument("a client-side encryption key is 32 bytes (256 bits)")


def _regroup(pieces: Iterable[bytes], size: int) -> Iterator[tuple[int, bytes]]:
    """(index, piece) of ``size`` bytes each (the last may be shorter)."""
    buf = bytearray()
    index = 0
    for piece in pieces:
        buf += piece
        while len(buf) >= size:
            yield index, bytes(buf[:size])
            del buf[:size]
            index += 1
    if buf:
        yield index, bytes(buf)


def encrypt_stream(obj: CSEObject, pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Yield frames for a plaintext stream (an iterable of bytes of any sizes)."""
    for index, block in _regroup(pieces, obj.block_size):
        yield obj.encrypt_block(index, block)


def decrypt_stream(obj: CSEObject, pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Yield plaintext for a stream of stored bytes (any piece sizes)."""
    for index, frame in _regroup(pieces, obj.chunk_size):
        yield obj.decrypt_block(index, frame)
