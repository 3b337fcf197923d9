"""Encryption for the CLI's transfers: request flags, key refusals, client-side streams.

Owns turning ``--sse``, ``--sse-kms-key-id``, ``--sse-c-key-file``,
``--copy-source-sse-c-key-file`` and ``--cse-key-file`` into the store's
``SSERequest``s and a client key, and the client-side (CSE) data path of
``put``/``get``/``head``: plaintext is cut into ``block_size`` blocks, each
sealed into one frame on the store's chunk grid (``objfs/crypto/cse.py``),
and a plaintext range is served by fetching the whole frames it touches.

Invariants:
- a key file is read once per command and the key lives only in the
  ``Encryption`` record (never printed, never in a repr) and the store calls;
- a flag that cannot apply to the direction of a transfer is refused with
  one line, never silently ignored;
- an object that needs a key the command was not given, or was given the
  wrong key for, is refused with one line naming the flag to pass (wrong
  keys read "access denied"), before any output file is created;
- CSE streams hold at most a few frames in memory whatever the object size,
  and the envelope (user metadata ``objfs-cse``) is never lost by a copy.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from objfs.cli.args import CliError, S3Url
from objfs.crypto.cse import META_KEY, CSEObject, encrypt_stream, load_key_file
from objfs.errors import AccessDenied, IntegrityError, InvalidRequest
from objfs.store.types import ObjectVersion, SSERequest

CSE_FLAG = "--cse-key-file"
SSE_C_FLAG = "--sse-c-key-file"
COPY_SOURCE_FLAG = "--copy-source-sse-c-key-file"


@dataclass(slots=True, frozen=True)
class Encryption:
    """What one command's encryption flags ask for.

    ``write``: encryption of new data (None: the bucket default).
    ``read``: what reads of the object carry (its SSE-C key, if given).
    ``copy_source``: the SSE-C key of an ``s3://`` copy source.
    ``cse_key``: the client-side key (32 bytes), if given.
    """

    write: SSERequest | None = None
    read: SSERequest | None = None
    copy_source: SSERequest | None = None
    cse_key: bytes | None = field(default=None, repr=False)


NO_ENCRYPTION = Encryption()


def _key(args: argparse.Namespace, name: str) -> bytes | None:
    path = getattr(args, name, None)
    return None if path is None else load_key_file(path)


def _given(args: argparse.Namespace, *names: str) -> list[str]:
    flags = {
        "sse": "--sse",
        "sse_kms_key_id": "--sse-kms-key-id",
        "sse_c_key_file": SSE_C_FLAG,
        "copy_source_sse_c_key_file": COPY_SOURCE_FLAG,
        "cse_key_file": CSE_FLAG,
    }
    return [flags[n] for n in names if getattr(args, n, None) is not None]


def for_upload(args: argparse.Namespace) -> Encryption:
    """``put`` and ``cp`` local->s3: every write flag applies."""
    extra = _given(args, "copy_source_sse_c_key_file")
    if extra:
        raise CliError(f"{extra[0]} names the key of an s3:// copy source; an upload has none")
    return _writing(args, cse=True)


def for_copy(args: argparse.Namespace) -> Encryption:
    """``cp`` s3->s3: write flags for the destination, ``--copy-source-...`` for the source."""
    if getattr(args, "cse_key_file", None) is not None:
        raise CliError(
            f"{CSE_FLAG} applies to uploads and downloads: an s3:// to s3:// copy keeps the "
            "client-side encryption of its source as it is (no key needed)"
        )
    enc = _writing(args, cse=False)
    source = _key(args, "copy_source_sse_c_key_file")
    if source is None:
        return enc
    return Encryption(write=enc.write, copy_source=SSERequest(customer_key=source))


def for_download(args: argparse.Namespace) -> Encryption:
    """``get``, ``head`` and ``cp`` s3->local: keys to read with; no write flags."""
    wrong = _given(args, "sse", "sse_kms_key_id", "copy_source_sse_c_key_file")
    if wrong:
        hint = f" (the object's SSE-C key is {SSE_C_FLAG})" if COPY_SOURCE_FLAG in wrong else ""
        raise CliError(f"{wrong[0]} applies to writes to s3://, not to reading an object{hint}")
    customer = _key(args, "sse_c_key_file")
    return Encryption(
        read=None if customer is None else SSERequest(customer_key=customer),
        cse_key=_key(args, "cse_key_file"),
    )


def _writing(args: argparse.Namespace, *, cse: bool) -> Encryption:
    mode: str | None = getattr(args, "sse", None)
    kms_key_id: str | None = getattr(args, "sse_kms_key_id", None)
    if kms_key_id is not None:
        if mode not in (None, "aws:kms"):
            raise CliError(f"--sse-kms-key-id is SSE-KMS: it needs --sse aws:kms, not --sse {mode}")
        mode = "aws:kms"
    customer_path = getattr(args, "sse_c_key_file", None)
    if customer_path is not None:
        if mode is not None:
            other = "--sse-kms-key-id" if kms_key_id is not None else f"--sse {mode}"
            raise CliError(f"{SSE_C_FLAG} is SSE-C: do not combine it with {other}")
        if cse and getattr(args, "cse_key_file", None) is not None:
            raise CliError(
                f"{SSE_C_FLAG} and {CSE_FLAG} exclude each other (as the mount's options do): "
                "choose one"
            )
    customer = _key(args, "sse_c_key_file")
    if customer is not None:
        write: SSERequest | None = SSERequest(mode="SSE-C", customer_key=customer)
    elif mode is not None:
        write = SSERequest(mode=mode, kms_key_id=kms_key_id)
    else:
        write = None
    return Encryption(
        write=write,
        read=None if customer is None else SSERequest(customer_key=customer),
        cse_key=_key(args, "cse_key_file") if cse else None,
    )


def check_user_meta(meta: dict[str, str] | None) -> None:
    if meta and META_KEY in meta:
        raise CliError(f"--meta {META_KEY} is reserved for client-side encryption ({CSE_FLAG})")


# -- refusals ------------------------------------------------------------------


@contextlib.contextmanager
def sse_c_refusals(url: S3Url, *, flag: str = SSE_C_FLAG) -> Iterator[None]:
    """Around a store call that reads an object: SSE-C key refusals in CLI terms."""
    try:
        yield
    except InvalidRequest as err:
        if "SSE-C" not in str(err):
            raise
        raise CliError(f"{url} is SSE-C encrypted: pass its key with {flag}") from None
    except AccessDenied as err:
        if "SSE-C" not in str(err):
            raise
        raise CliError(
            f"access denied: {url}: the SSE-C key given with {flag} is not the key it was "
            "written with"
        ) from None


def is_cse(info: ObjectVersion) -> bool:
    return not info.is_delete_marker and META_KEY in info.user_meta


def open_cse(info: ObjectVersion, enc: Encryption, url: S3Url) -> CSEObject | None:
    """The open envelope of a CSE object (None for any other); refuses a missing/wrong key."""
    if not is_cse(info):
        return None
    if enc.cse_key is None:
        raise CliError(f"{url}: object is client-side encrypted: pass {CSE_FLAG}")
    try:
        return CSEObject.open(enc.cse_key, info.user_meta[META_KEY])
    except AccessDenied:
        raise CliError(
            f"access denied: {url}: the key given with {CSE_FLAG} is not the client-side "
            "encryption key of this object"
        ) from None


# -- upload --------------------------------------------------------------------


def new_cse(
    key: bytes, chunk_size: int, user_meta: dict[str, str] | None
) -> tuple[CSEObject, dict[str, str]]:
    """A fresh envelope for one upload and the user metadata that carries it."""
    obj, envelope = CSEObject.new(key, chunk_size)
    return obj, {**(user_meta or {}), META_KEY: envelope}


def cse_frames(obj: CSEObject, source: BinaryIO) -> Iterator[bytes]:
    """The stored frames of a plaintext file, read one block at a time."""
    blocks: Iterable[bytes] = iter(lambda: source.read(obj.block_size), b"")
    return encrypt_stream(obj, blocks)


class IterReader:
    """A read-only file over an iterator of bytes (frames cut into multipart parts)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buf = memoryview(b"")

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while n < 0 or len(out) < n:
            if not self._buf:
                piece = next(self._pieces, None)
                if piece is None:
                    break
                self._buf = memoryview(piece)
            take = len(self._buf) if n < 0 else min(n - len(out), len(self._buf))
            out += self._buf[:take]
            self._buf = self._buf[take:]
        return bytes(out)

    def readinto(self, target: bytearray | memoryview) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


def copy_meta(source: ObjectVersion, user_meta: dict[str, str] | None) -> dict[str, str] | None:
    """Metadata for a REPLACE copy: a CSE source keeps its envelope (else it is lost)."""
    if not is_cse(source):
        return user_meta
    return {**(user_meta or {}), META_KEY: source.user_meta[META_KEY]}


# -- download ------------------------------------------------------------------


class CSEDownload:
    """Plaintext bytes [first, last] of a CSE object, decrypted frame by frame.

    Fetches only the frames the range touches (frame *i* is stored at
    ``i * chunk_size``); iterate it once; ``length`` is the plaintext length.
    """

    def __init__(
        self,
        store: Any,
        ctx: Any,
        info: ObjectVersion,
        obj: CSEObject,
        wanted: tuple[int, int] | None,
        sse: SSERequest | None,
    ) -> None:
        # ``wanted`` is resolved already (``objfs.store.ranges.resolve_range``).
        first, last = (0, obj.plain_size(info.size) - 1) if wanted is None else wanted
        self.obj = obj
        self.length = max(0, last - first + 1)
        self._first_block = first // obj.block_size
        self._skip = first - self._first_block * obj.block_size
        self._reader = None
        if self.length:
            last_block = last // obj.block_size
            stored = (
                self._first_block * obj.chunk_size,
                min(info.size, (last_block + 1) * obj.chunk_size) - 1,
            )
            self._reader = store.get_object(
                ctx, info.bucket, info.key, version_id=info.version_id, range=stored, sse=sse
            )

    def __enter__(self) -> CSEDownload:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.close()

    def __iter__(self) -> Iterator[bytes]:
        if self._reader is None:
            return
        cs, index, skip, remaining = self.obj.chunk_size, self._first_block, self._skip, self.length
        buf = bytearray()
        pieces = iter(self._reader)
        done = False
        while remaining > 0:
            piece = next(pieces, None)
            if piece is None:
                if not buf:
                    raise IntegrityError("client-side encrypted object ended before its last frame")
                done = True
            else:
                buf += piece
            while buf and (len(buf) >= cs or done) and remaining > 0:
                frame = bytes(buf[:cs])
                del buf[:cs]
                plain = self.obj.decrypt_block(index, frame)
                index += 1
                if skip:
                    plain, skip = plain[skip:], 0
                plain = plain[:remaining]
                remaining -= len(plain)
                yield plain
