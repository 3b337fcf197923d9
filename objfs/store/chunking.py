"""Cutting an incoming stream into chunks and storing them.

Memory stays bounded: at most a few chunk-sized buffers exist at once,
whatever the size of the stream. Chunk encoding (keyed hash, compression,
AES-GCM) runs on a small thread pool so a single large put uses both cores;
those primitives release the GIL. A remote backend (``parallel_puts``, S3)
gets a pool of its own with that many chunks of a stream in flight
(``put_pipeline``): its PUTs wait on the network, not on a core.
"""

from __future__ import annotations

import functools
import hashlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from objfs.chunks.store import INLINE_MAX, ChunkStore
from objfs.crypto.keyring import Domain
from objfs.errors import EntityTooLarge, InvalidArgument
from objfs.store.types import ChunkRef

# Four threads on two cores: a chunk's CPU work (hash, AES-GCM) releases the
# GIL, and so does its O_DIRECT write (``LocalBackend.put``), which waits for
# the disk ~1-5 ms a MiB here: two threads sealing while two wait on writes.
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="objfs-chunk")
_MD5 = ThreadPoolExecutor(max_workers=1, thread_name_prefix="objfs-md5")  # one: keeps order
_IN_FLIGHT = 3  # chunks encoded ahead of the reader: bounds memory
# A remote backend (``parallel_puts`` > 0, e.g. S3): a PUT waits ~10-50 ms on
# the network and the server, not on a core, so more of them must be in
# flight to keep the server busy; their own threads, so local-disk stores
# keep ``_POOL`` as it was. Threads start on demand.
_REMOTE_THREADS = 16
_REMOTE_POOL = ThreadPoolExecutor(max_workers=_REMOTE_THREADS, thread_name_prefix="objfs-put")


def put_pipeline(chunks: ChunkStore, in_flight: int) -> tuple[ThreadPoolExecutor, int]:
    """(pool, chunks one stream may have there at once) for storing chunks in
    ``chunks``: ``_POOL`` and ``in_flight`` (the caller's local-disk tuning),
    or, for a backend with ``parallel_puts`` > 0, ``_REMOTE_POOL`` and that
    many. Either way a stream holds at most that many chunks in memory."""
    remote = int(getattr(chunks.backend, "parallel_puts", 0) or 0)
    if remote > 0:
        return _REMOTE_POOL, min(remote, _REMOTE_THREADS)
    return _POOL, in_flight


class Readable(Protocol):
    """A blocking file a body is read from (``ChunkedBody``): ``read(n)`` gives
    up to ``n`` bytes, ``b""`` at the end. A file opened ``"rb"`` is one; so is
    the HTTP adapter's ``ThreadFile`` (objfs/s3api/body.py)."""

    def read(self, n: int = -1, /) -> bytes: ...


class ChunkedBody:
    """Reads ``chunk_size`` pieces from bytes, a file object or an iterable of bytes."""

    def __init__(self, body: Any, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        if isinstance(body, (bytes, bytearray, memoryview)):
            view = memoryview(body)
            self._pieces: Iterator[bytes] = (
                bytes(view[i : i + chunk_size]) for i in range(0, len(view), chunk_size)
            )
        elif hasattr(body, "read"):
            self._pieces = self._from_file(body)
        elif hasattr(body, "__iter__"):
            self._pieces = self._regroup(iter(body))
        else:
            raise InvalidArgument("object body must be bytes, a readable file or an iterable")

    def __iter__(self) -> Iterator[bytes]:
        return self._pieces

    def _from_file(self, fileobj: Any) -> Iterator[bytes]:
        size = self.chunk_size
        while True:
            buf = bytearray(size)
            view = memoryview(buf)
            filled = 0
            while filled < size:
                if hasattr(fileobj, "readinto"):
                    n = fileobj.readinto(view[filled:])
                else:
                    data = fileobj.read(size - filled)
                    n = len(data) if data else 0
                    view[filled : filled + n] = data or b""
                if not n:
                    break
                filled += n
            if filled:
                yield bytes(view[:filled]) if filled < size else bytes(buf)
            if filled < size:
                return

    def _regroup(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        buf = bytearray()
        for piece in pieces:
            buf += piece
            while len(buf) >= self.chunk_size:
                yield bytes(buf[: self.chunk_size])
                del buf[: self.chunk_size]
        if buf:
            yield bytes(buf)


@dataclass(slots=True)
class StoredStream:
    manifest: list[ChunkRef] = field(default_factory=list)
    size: int = 0
    md5: Any = field(default_factory=hashlib.md5)
    # Sealed frames of small chunks to store inline in the commit's transaction.
    inline: dict[bytes, bytes] = field(default_factory=dict)


@functools.lru_cache(maxsize=4)
def zeros(length: int) -> bytes:
    return bytes(length)


def is_zero(data: bytes | bytearray | memoryview, length: int | None = None) -> bool:
    """Whether the first ``length`` bytes of ``data`` (default: all) are zeros.

    Compares in place (bytes/bytearray); a memoryview compares through a copy
    (memoryview comparison goes item by item, ~200x slower).
    """
    n = len(data) if length is None else min(length, len(data))
    if n == 0:
        return True
    if data[0] != 0 or data[n - 1] != 0:
        return False
    if isinstance(data, memoryview):
        data = data[:n].tobytes()
    return data.startswith(zeros(n))


def _store_one(
    chunks: ChunkStore, domain: Domain, data: bytes, inline: bool
) -> tuple[bytes | None, bytes | None]:
    """(chunk id or None for a hole, sealed frame if it is to live inline)."""
    if is_zero(data):
        return None, None  # all zeros: a hole, no chunk
    if inline and len(data) <= INLINE_MAX:
        return chunks.seal_inline(domain, data)
    return chunks.put(domain, data)[0], None


def store_stream(
    chunks: ChunkStore,
    domain: Domain,
    body: ChunkedBody,
    *,
    limit: int | None = None,
    inline: bool = False,
) -> StoredStream:
    """Store every chunk of ``body``; returns the manifest, size and MD5.

    Chunks are written but not fsynced (the caller syncs the manifest's chunks
    before a durable commit). All-zero chunks become holes. ``inline``: chunks
    of at most ``INLINE_MAX`` bytes are sealed but not written; their frames
    are in ``inline`` for the caller's commit to store in the database. The MD5 (S3's ETag) runs on its own
    thread, in order, beside the chunk encoders: it is the slowest hash here.
    """
    out = StoredStream()
    pool, in_flight = put_pipeline(chunks, _IN_FLIGHT)
    pending: deque[tuple[Future[tuple[bytes | None, bytes | None]], Future[None], int]] = deque()

    def drain(keep: int) -> None:
        while len(pending) > keep:
            future, hashed, length = pending.popleft()
            chunk_id, frame = future.result()
            hashed.result()
            if frame is not None:
                assert chunk_id is not None
                out.inline[chunk_id] = frame
            out.manifest.append(ChunkRef(chunk_id, length))

    try:
        for piece in body:
            out.size += len(piece)
            if limit is not None and out.size > limit:
                raise EntityTooLarge(
                    f"a single upload is limited to {limit} bytes: use multipart upload"
                )
            pending.append(
                (
                    pool.submit(_store_one, chunks, domain, piece, inline),
                    _MD5.submit(out.md5.update, piece),
                    len(piece),
                )
            )
            drain(in_flight)
        drain(0)
    finally:
        for future, hashed, _ in pending:
            future.cancel()
            hashed.cancel()
        for future, hashed, _ in pending:
            for f in (future, hashed):
                if not f.cancelled():
                    try:
                        f.result()
                    except Exception:  # noqa: BLE001 - already failing; first error wins
                        pass
    return out
