"""Request bodies, streamed: raw or aws-chunked, verified as they pass.

The store reads a body on a worker thread through ``RequestBody.file()``, a
blocking file object whose ``read`` fetches the next pieces from the ASGI
``receive`` on the event loop (``trio.from_thread.run``): at most one piece
(tens of KiB) is held here, whatever the object size.

Integrity: the declared digests (``Content-MD5``, a signed
``x-amz-content-sha256``, ``x-amz-checksum-*`` in a header or an
aws-chunked trailer, aws-chunked chunk signatures, the decoded length) are
checked as data flows and settled at the end of the stream, *before* the
reader sees end-of-file: a mismatch raises from ``read`` inside the store
call, which then commits nothing (the chunks it wrote are orphans that gc
removes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import crc32c
import trio
from awscrt import checksums as crt_checksums

from objfs.auth import sigv4
from objfs.errors import (
    BadDigest,
    IncompleteBody,
    InvalidArgument,
    InvalidDigest,
    InvalidRequest,
    XAmzContentSHA256Mismatch,
)

Receive = Callable[[], Awaitable[dict[str, Any]]]
READ_TARGET = 256 << 10  # gather this much per thread hop (fewer loop round trips)
MAX_CHUNK_LINE = 4096


class _Crc:
    def __init__(self, fn: Callable[[bytes, int], int], size: int = 4) -> None:
        self._fn = fn
        self._value = 0
        self._size = size

    def update(self, data: bytes) -> None:
        self._value = self._fn(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")


CHECKSUMS: dict[str, Callable[[], Any]] = {
    "crc32": lambda: _Crc(zlib.crc32),
    "crc32c": lambda: _Crc(crc32c.crc32c),
    "crc64nvme": lambda: _Crc(crt_checksums.crc64nvme, 8),
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}


async def _disconnected() -> dict[str, Any]:
    return {"type": "http.disconnect"}


class _Wire:
    """The raw body from ASGI ``receive``, with one piece of push-back."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._done = False
        self._back = b""
        self.received = 0
        self.started = False  # receive() called: hypercorn has sent 100 Continue

    async def piece(self) -> bytes:
        if self._back:
            data, self._back = self._back, b""
            return data
        while not self._done:
            self.started = True
            message = await self._receive()
            if message["type"] == "http.disconnect":
                # The server sends it once: a later receive() would wait forever.
                self._receive = _disconnected
                raise IncompleteBody("the client closed the connection before the body ended")
            self._done = not message.get("more_body", False)
            data = message.get("body", b"")
            if data:
                self.received += len(data)
                return data
        return b""

    async def drain(self, limit: int) -> bool:
        """Read and drop what is left of the body, up to ``limit`` bytes;
        True when the whole body has been received."""
        dropped = 0
        try:
            while dropped <= limit:
                data = await self.piece()
                if not data:
                    return True
                dropped += len(data)
        except IncompleteBody:
            pass
        return False

    def unread(self, data: bytes) -> None:
        self._back = data + self._back

    async def line(self) -> bytes:
        """One CRLF-terminated line (without CRLF); IncompleteBody at end of stream."""
        buf = b""
        while True:
            data = await self.piece()
            if not data:
                raise IncompleteBody("the aws-chunked body ended inside a chunk header")
            buf += data
            end = buf.find(b"\r\n")
            if end >= 0:
                self.unread(buf[end + 2 :])
                return buf[:end]
            if len(buf) > MAX_CHUNK_LINE:
                raise InvalidRequest("aws-chunked: a chunk header line is too long")


_CHUNK_HEADER = re.compile(rb"([0-9a-fA-F]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?")


class ChunkSigner:
    """Chained chunk signatures of STREAMING-AWS4-HMAC-SHA256-PAYLOAD."""

    def __init__(self, key: bytes, amz_date: str, scope: str, seed: str) -> None:
        self.key, self.amz_date, self.scope, self.previous = key, amz_date, scope, seed

    def check(self, given: bytes | None, chunk_sha256: str) -> None:
        want = sigv4.chunk_signature(
            self.key, self.amz_date, self.scope, self.previous, chunk_sha256
        )
        if given is None or not sigv4.signatures_equal(want, given.decode()):
            raise sigv4.SignatureDoesNotMatch(
                "an aws-chunked chunk signature does not match (the body was altered?)"
            )
        self.previous = want


class _AwsChunked:
    """Decodes ``Content-Encoding: aws-chunked``: ``HEX[;chunk-signature=S]\\r\\n
    DATA\\r\\n`` ... ``0...\\r\\n`` then trailer lines and an empty line."""

    def __init__(self, wire: _Wire, signer: ChunkSigner | None) -> None:
        self._wire = wire
        self._signer = signer
        self._left = 0
        self._sig: bytes | None = None
        self._hash: Any = None
        self.finished = False
        self.trailers: dict[str, str] = {}

    async def piece(self) -> bytes:
        if self._left == 0:
            if self.finished:
                return b""
            await self._next_header()
            if self.finished:
                return b""
        data = await self._wire.piece()
        if not data:
            raise IncompleteBody("the aws-chunked body ended inside a chunk")
        if len(data) > self._left:
            self._wire.unread(data[self._left :])
            data = data[: self._left]
        self._left -= len(data)
        if self._hash is not None:
            self._hash.update(data)
        if self._left == 0:
            if await self._wire.line() != b"":
                raise IncompleteBody("aws-chunked: a chunk is longer than its header said")
            if self._signer is not None:
                self._signer.check(self._sig, self._hash.hexdigest())
        return data

    async def _next_header(self) -> None:
        line = await self._wire.line()
        m = _CHUNK_HEADER.fullmatch(line)
        if m is None:
            raise IncompleteBody(f"aws-chunked: cannot read the chunk header {line[:80]!r}")
        size, self._sig = int(m.group(1), 16), m.group(2)
        if self._signer is not None and self._sig is None:
            raise sigv4.SignatureDoesNotMatch("aws-chunked: a chunk has no signature")
        self._hash = hashlib.sha256() if self._signer is not None else None
        if size:
            self._left = size
            return
        if self._signer is not None:
            self._signer.check(self._sig, sigv4.EMPTY_SHA256)
        while True:  # trailers up to an empty line (or the end of the stream)
            try:
                line = await self._wire.line()
            except IncompleteBody:
                break
            if not line:
                break
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon:
                raise IncompleteBody("aws-chunked: cannot read a trailer line")
            self.trailers[name.strip().lower()] = value.strip()
        self.finished = True


class RequestBody:
    """The body of one request, decoded and verified; see the module docstring."""

    def __init__(
        self,
        receive: Receive,
        headers: dict[str, str],
        *,
        payload: str,
        signer: ChunkSigner | None = None,
    ) -> None:
        self._wire = self.wire = _Wire(receive)
        # Content-Encoding: aws-chunked alone does not make a body aws-chunked
        # (S3 takes the header as the object's, minus that word): only with
        # the decoded length the framing needs, or a STREAMING- payload.
        chunked = payload.startswith("STREAMING-") or (
            "aws-chunked" in headers.get("content-encoding", "")
            and "x-amz-decoded-content-length" in headers
        )
        self._chunks = _AwsChunked(self._wire, signer) if chunked else None
        self._source = self._chunks.piece if self._chunks else self._wire.piece
        self._size = 0
        self._ended = False
        self._checks: list[tuple[str, Any, str | None]] = []  # (name, hasher, expected)
        expected_len = headers.get("x-amz-decoded-content-length" if chunked else "content-length")
        self._length = _int_header(expected_len, "content length")
        if payload not in (sigv4.UNSIGNED_PAYLOAD, "") and not payload.startswith("STREAMING-"):
            if not re.fullmatch(r"[0-9a-f]{64}", payload):
                raise InvalidArgument(f"x-amz-content-sha256 {payload[:80]!r} is not valid")
            self._checks.append(("sha256-payload", hashlib.sha256(), payload))
        md5 = headers.get("content-md5")
        if md5 is not None:
            if len(decode_base64(md5, "Content-MD5", InvalidDigest)) != 16:
                raise InvalidDigest("Content-MD5 is not the base64 of 16 bytes")
            self._checks.append(("md5", hashlib.md5(), md5))
        trailer = headers.get("x-amz-trailer", "").strip().lower()
        for algorithm in CHECKSUMS:
            name = f"x-amz-checksum-{algorithm}"
            if name in headers:
                self._checks.append((name, CHECKSUMS[algorithm](), headers[name].strip()))
            elif trailer == name:
                self._checks.append((name, CHECKSUMS[algorithm](), None))
        if trailer.startswith("x-amz-checksum-") and trailer[15:] not in CHECKSUMS:
            raise InvalidRequest(f"checksum algorithm {trailer[15:]!r} is not supported")
        for name in headers:
            if name.startswith("x-amz-checksum-") and name[15:] not in CHECKSUMS:
                if name[15:] not in ("algorithm", "mode", "type"):
                    raise InvalidRequest(f"checksum algorithm {name[15:]!r} is not supported")

    @property
    def checksums(self) -> list[tuple[str, str]]:
        """``x-amz-checksum-*`` headers to answer with (verified values)."""
        out = []
        for name, hasher, expected in self._checks:
            if name.startswith("x-amz-checksum-") and self._ended:
                out.append((name, expected or base64.b64encode(hasher.digest()).decode()))
        return out

    async def piece(self) -> bytes:
        if self._ended:
            return b""
        data = await self._source()
        if data:
            self._size += len(data)
            if self._length is not None and self._size > self._length:
                raise IncompleteBody("the body is longer than its declared length")
            for _, hasher, _ in self._checks:
                hasher.update(data)
            return data
        self._finish()
        return b""

    def _finish(self) -> None:
        if self._length is not None and self._size != self._length:
            raise IncompleteBody(
                f"the body has {self._size} bytes, its declared length is {self._length}"
            )
        for i, (name, hasher, expected) in enumerate(self._checks):
            if expected is None:  # announced in x-amz-trailer
                expected = self._chunks.trailers.get(name) if self._chunks else None
                if expected is None:
                    raise IncompleteBody(f"the body ended without its {name} trailer")
                self._checks[i] = (name, hasher, expected)
            if name == "sha256-payload":
                if hasher.hexdigest() != expected:
                    raise XAmzContentSHA256Mismatch(
                        "The provided 'x-amz-content-sha256' header does not match what was computed."
                    )
            elif not _digest_equal(hasher.digest(), expected, name):
                what = "Content-MD5" if name == "md5" else name[15:].upper()
                raise BadDigest(f"The {what} you specified did not match what we received.")
        self._ended = True

    async def read(self, n: int) -> bytes:
        """About ``n`` bytes (whole pieces: may be a little more); b"" at the end."""
        want = READ_TARGET if n is None or n < 0 else min(n, READ_TARGET)
        out = bytearray()
        while len(out) < want:
            data = await self.piece()
            if not data:
                break
            out += data
        return bytes(out)

    async def read_all(self, limit: int) -> bytes:
        out = bytearray()
        while True:
            data = await self.piece()
            if not data:
                return bytes(out)
            out += data
            if len(out) > limit:
                raise InvalidRequest(f"the request body is over {limit} bytes")

    def file(self) -> ThreadFile:
        return ThreadFile(self)


class ThreadFile:
    """A blocking file object over a ``RequestBody``, for the store's worker thread."""

    def __init__(self, body: RequestBody) -> None:
        self._body = body
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        if not self._buf:
            self._buf = trio.from_thread.run(self._body.read, READ_TARGET)
        if n is None or n < 0:
            n = len(self._buf)
        data, self._buf = self._buf[:n], self._buf[n:]
        return data


def wire(receive: Receive) -> _Wire:
    """The raw body (to drain it when no ``RequestBody`` was made)."""
    return _Wire(receive)


def decode_base64(text: str, what: str, error: type[Exception] = InvalidArgument) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise error(f"{what} is not valid base64") from None


def _digest_equal(actual: bytes, expected: str, name: str) -> bool:
    if name == "md5":
        return actual == decode_base64(expected, name, InvalidDigest)
    # S3 answers BadDigest to an x-amz-checksum-* that is not base64: it cannot match
    try:
        return actual == base64.b64decode(expected, validate=True)
    except (binascii.Error, ValueError):
        return False


def _int_header(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        raise InvalidArgument(f"the {what} {text[:40]!r} is not a number")
    return int(text)


def chunk_signer(key: bytes, amz_date: str, scope: str, seed: str) -> ChunkSigner:
    return ChunkSigner(key, amz_date, scope, seed)
