"""Streaming reads of one object version.

An ``ObjectReader`` holds the version's manifest (taken in a read snapshot)
and fetches only the chunks a byte range needs, one at a time, and of each
only the segments the range covers: memory stays at about one chunk however
large the object.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from itertools import accumulate

from objfs.chunks.store import INLINE_MAX, ChunkStore
from objfs.crypto.keyring import Domain
from objfs.errors import IntegrityError
from objfs.store.ranges import RangeSpec, resolve_range
from objfs.store.types import ChunkRef, ObjectVersion


class Extents:
    """A manifest with the offset of every piece, for range lookups."""

    def __init__(self, manifest: Sequence[ChunkRef]) -> None:
        self.refs = list(manifest)
        self.starts = [0, *accumulate(r.length for r in self.refs)]
        self.size = self.starts[-1]

    def pieces(self, offset: int, end: int) -> Iterator[tuple[ChunkRef, int, int]]:
        """(ref, start inside the piece, stop inside the piece) covering [offset, end)."""
        i = bisect.bisect_right(self.starts, offset) - 1
        while offset < end and i < len(self.refs):
            ref, base = self.refs[i], self.starts[i]
            lo, hi = offset - base, min(ref.length, end - base)
            if hi > lo:
                yield ref, lo, hi
            offset = base + ref.length
            i += 1

    def slice(self, offset: int, end: int) -> list[ChunkRef]:
        """The manifest of bytes [offset, end): whole pieces where covered,
        slices (``offset`` set) of the chunks at the edges, holes as holes.
        Reads nothing: the result names the same chunks."""
        out = []
        for ref, lo, hi in self.pieces(offset, end):
            if ref.chunk_id is None:
                out.append(ChunkRef(None, hi - lo))
            elif (lo, hi) == (0, ref.length):
                out.append(ref)
            else:
                out.append(ChunkRef(ref.chunk_id, hi - lo, (ref.offset or 0) + lo))
        return out


def read_piece(chunks: ChunkStore, domain: Domain, ref: ChunkRef) -> bytes:
    if ref.chunk_id is None:
        return bytes(ref.length)
    if ref.offset is not None:
        return read_slice(chunks, domain, ref, 0, ref.length)
    data = chunks.get(domain, ref.chunk_id, length=ref.length)
    if len(data) != ref.length:
        raise IntegrityError(
            f"chunk {ref.chunk_id.hex()} holds {len(data)} bytes, the manifest says {ref.length}"
        )
    return data


def read_slice(chunks: ChunkStore, domain: Domain, ref: ChunkRef, lo: int, hi: int) -> bytes:
    """Bytes [lo, hi) of a piece, reading only the segments they cover."""
    assert ref.chunk_id is not None
    if ref.offset is None:
        return chunks.read(domain, ref.chunk_id, lo, hi, length=ref.length)
    data = chunks.read(domain, ref.chunk_id, ref.offset + lo, ref.offset + hi)
    if len(data) != hi - lo:
        raise IntegrityError(
            f"chunk {ref.chunk_id.hex()} is shorter than the manifest's slice of it "
            f"({ref.offset}+{ref.length})"
        )
    return data


class ExtentReader:
    """Positional reads of one resolved version (its domain and manifest).

    Stateless per call and thread-safe: one per open file serves every read
    without resolving the version again (no SQLite query, manifest unpack or
    domain lookup per read). ``nowait`` answers without storage I/O (callable
    on an event loop thread; possibly a read-only view of a decoded chunk,
    no copy), ``loading`` gives the read-ahead future to wait for when it
    cannot yet; ``read`` reads and decrypts only the segments a range covers
    (bytes). Chunks are immutable, so none can return bytes of another
    version.
    """

    __slots__ = ("chunks", "domain", "extents", "size")

    def __init__(self, chunks: ChunkStore, domain: Domain, extents: Extents) -> None:
        self.chunks = chunks
        self.domain = domain
        self.extents = extents
        self.size = extents.size

    def nowait(self, offset: int, end: int) -> bytes | memoryview | None:
        """Bytes [offset, end) if they can be had without storage I/O, else None.

        From the segment cache, or decrypted from the OS page cache
        (``ChunkStore.read_nowait``): for the mount's event loop thread.
        """
        end = min(end, self.size)
        if end <= offset:
            return b""
        ext = self.extents
        i = bisect.bisect_right(ext.starts, offset) - 1
        ref = ext.refs[i]
        base = ext.starts[i]
        if end - base > ref.length:
            return None  # spans pieces: the common small read does not
        if ref.chunk_id is None:
            return bytes(end - offset)
        lo, hi = offset - base, end - base
        if ref.offset is not None:
            return self.chunks.read_nowait(
                self.domain, ref.chunk_id, lo + ref.offset, hi + ref.offset
            )
        return self.chunks.read_nowait(self.domain, ref.chunk_id, lo, hi, length=ref.length)

    def prefetch(self, offset: int, chunks: int) -> None:
        """Have the ``chunks`` chunks from ``offset`` on decoded in the background."""
        ext = self.extents
        if offset >= self.size or chunks <= 0:
            return
        i = bisect.bisect_right(ext.starts, offset) - 1
        for ref in ext.refs[i : i + chunks]:
            if ref.chunk_id is not None and ref.offset is None and ref.length > INLINE_MAX:
                self.chunks.prefetch(self.domain, ref.chunk_id, ref.length)

    def loading(self, offset: int) -> Future[None] | None:
        """The read-ahead decoding the chunk at ``offset`` now, if any: when it
        is done, ``nowait`` answers from what it decoded (or, if it failed,
        ``read`` reports the damage)."""
        ext = self.extents
        if not 0 <= offset < self.size:
            return None
        ref = ext.refs[bisect.bisect_right(ext.starts, offset) - 1]
        if ref.chunk_id is None:
            return None
        return self.chunks.loading(self.domain, ref.chunk_id)

    def read(self, offset: int, end: int) -> bytes:
        """Bytes [offset, end) (clipped to the version's size); damage is IntegrityError."""
        end = min(end, self.size)
        pieces = []
        for ref, lo, hi in self.extents.pieces(offset, end):
            if ref.chunk_id is None:
                pieces.append(bytes(hi - lo))
            else:
                pieces.append(read_slice(self.chunks, self.domain, ref, lo, hi))
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


class ObjectReader:
    """Context manager streaming the bytes of one version (or a range of it).

    ``byte_range`` is resolved against this version's size (``resolve_range``):
    an open or suffix range always means the bytes of the version read.
    """

    def __init__(
        self,
        chunks: ChunkStore,
        domain: Domain,
        info: ObjectVersion,
        manifest: Sequence[ChunkRef] | Extents,
        byte_range: RangeSpec | None,
    ) -> None:
        self.info = info
        self._chunks = chunks
        self._domain = domain
        self._extents = manifest if isinstance(manifest, Extents) else Extents(manifest)
        if self._extents.size != info.size:
            raise IntegrityError(
                f"s3://{info.bucket}/{info.key}: manifest covers {self._extents.size} bytes, "
                f"the object is {info.size}"
            )
        if byte_range is None:
            self.start, end = 0, info.size
        else:
            first, last = resolve_range(byte_range, info.size)
            self.start, end = first, last + 1
        self.length = max(0, end - self.start)
        self._pos = self.start
        self._end = end
        self._buf = memoryview(b"")

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._buf = memoryview(b"")
        self._pos = self._end

    def __iter__(self) -> Iterator[bytes]:
        while True:
            piece = self._next_piece()
            if piece is None:
                return
            yield piece

    def _next_piece(self) -> bytes | None:
        if self._buf:
            piece, self._buf = bytes(self._buf), memoryview(b"")
            return piece
        if self._pos >= self._end:
            return None
        ref, lo, hi = next(self._extents.pieces(self._pos, self._end))
        if ref.chunk_id is None:
            hi = min(hi, lo + (1 << 20))  # a hole may be huge: hand it out in pieces
            self._pos += hi - lo
            return bytes(hi - lo)
        # Only the segments [lo, hi) covers are read and decrypted.
        data = read_slice(self._chunks, self._domain, ref, lo, hi)
        self._pos += hi - lo
        return data

    def positional(self) -> ExtentReader:
        """Thread-safe positional reads of the same version (see ``ExtentReader``)."""
        return ExtentReader(self._chunks, self._domain, self._extents)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            return b"".join(self)
        out = bytearray()
        while len(out) < n:
            if not self._buf:
                piece = self._next_piece()
                if piece is None:
                    break
                self._buf = memoryview(piece)
            take = min(n - len(out), len(self._buf))
            out += self._buf[:take]
            self._buf = self._buf[take:]
        return bytes(out)

    def readinto(self, target: bytearray | memoryview) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)
