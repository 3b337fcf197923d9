"""Random-access writes on top of an immutable version (for the mount).

An ``ObjectWriter`` is a copy-on-write view of one version: the file is a
grid of ``chunk_size`` blocks; a written block lives in memory until it is
evicted (stored as a new chunk) or committed. ``commit`` builds the new
manifest: untouched aligned blocks reuse the base's chunks, so editing 4 KiB
of a 1 GiB file costs one chunk; all-zero blocks become holes, so truncating
up costs nothing.

Invariants: memory holds at most ``max_dirty`` blocks per writer; bytes past
``base_limit`` of the base never show through (truncate down then up reads
zeros); the writer never commits a chunk it did not write or the base did not
reference; from its creation to ``close`` it holds a write intent on the
store's writer lease, so gc spares what it stored and has not committed yet.
Thread-safe (one lock per writer).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import TYPE_CHECKING

from objfs.crypto.keyring import Domain
from objfs.errors import InvalidArgument
from objfs.store.chunking import _IN_FLIGHT, _POOL, is_zero
from objfs.store.leases import WriteIntent
from objfs.store.reader import Extents, read_piece
from objfs.store.types import ChunkRef, ObjectVersion, PutResult, RequestContext, SystemMeta

if TYPE_CHECKING:
    from objfs.store.core import Store

MAX_FILE_SIZE = 5 << 40  # S3's object size limit


class ObjectWriter:
    def __init__(
        self,
        store: Store,
        bucket: str,
        key: str,
        domain: Domain,
        sse: str,
        kms_key_id: str | None,
        base_manifest: list[ChunkRef],
        base_size: int,
        base_domain: Domain,
        *,
        max_dirty: int = 16,
        intent: WriteIntent | None = None,
    ) -> None:
        self.store = store
        self.bucket = bucket
        self.key = key
        self.domain = domain
        self.sse = sse
        self.kms_key_id = kms_key_id
        self.block = store.chunk_size
        self.max_dirty = max_dirty
        self._lock = threading.RLock()
        # The writer lease covers chunks stored and not yet committed (leases.py).
        self._intent = intent
        self._set_base(base_manifest, base_size, base_domain)
        self.dirty = False
        self.version: ObjectVersion | None = None  # the last commit's record

    def _set_base(self, manifest: list[ChunkRef], size: int, domain: Domain) -> None:
        self._base = Extents(manifest)
        self._base_domain = domain
        self._base_limit = size  # base bytes at or past this read as zeros
        self.size = size
        self._blocks: OrderedDict[int, bytearray] = OrderedDict()  # in memory
        # Blocks written as new chunks (or being written), not yet committed.
        self._stored: dict[int, ChunkRef | Future[ChunkRef]] = {}
        self._in_flight: list[Future[ChunkRef]] = []

    # -- reading -------------------------------------------------------------

    # Block buffers hold a block's bytes up to the last one written; the
    # rest of the block reads as zeros. A 4 KiB file costs 4 KiB, not a
    # chunk-sized buffer.

    def _base_block(self, index: int) -> bytearray:
        start = index * self.block
        end = min(start + self.block, self._base_limit, self._base.size)
        out = bytearray(max(0, end - start))
        if end > start:
            pos = 0
            for ref, lo, hi in self._base.pieces(start, end):
                if ref.chunk_id is not None:
                    data = read_piece(self.store.chunks, self._base_domain, ref)
                    out[pos : pos + hi - lo] = data[lo:hi]
                pos += hi - lo
        return out

    def _stored_ref(self, index: int) -> ChunkRef | None:
        pending = self._stored.get(index)
        if isinstance(pending, Future):
            pending = self._stored[index] = pending.result()
        return pending

    def _load(self, index: int) -> bytearray:
        """The block's current content (not cached; may be short: zeros follow)."""
        buf = self._blocks.get(index)
        if buf is not None:
            return buf
        ref = self._stored_ref(index)
        if ref is not None:
            if ref.chunk_id is None:
                return bytearray()
            return bytearray(read_piece(self.store.chunks, self.domain, ref))
        return self._base_block(index)

    def read(self, offset: int, length: int) -> bytes:
        with self._lock:
            end = min(self.size, offset + length)
            if offset >= end:
                return b""
            out = bytearray()
            pos = offset
            while pos < end:
                index, inner = divmod(pos, self.block)
                take = min(self.block - inner, end - pos)
                piece = self._load(index)[inner : inner + take]
                out += piece
                if len(piece) < take:
                    out += bytes(take - len(piece))
                pos += take
            return bytes(out)

    # -- writing -------------------------------------------------------------

    def _block_for_write(self, index: int) -> bytearray:
        buf = self._blocks.get(index)
        if buf is None:
            buf = self._load(index)
            self._stored.pop(index, None)
            self._blocks[index] = buf
            self._evict()
        else:
            self._blocks.move_to_end(index)
        return buf

    def _evict(self) -> None:
        """Store the least recently written blocks beyond ``max_dirty``.

        Encoding runs on the chunk pool, so a sequential writer keeps
        receiving data while earlier blocks are hashed, encrypted and
        written; at most ``_IN_FLIGHT`` blocks wait there.
        """
        while len(self._blocks) > self.max_dirty:
            index, buf = self._blocks.popitem(last=False)
            self._in_flight = [f for f in self._in_flight if not f.done()]
            if len(self._in_flight) >= _IN_FLIGHT:
                self._in_flight.pop(0).result()
            future = _POOL.submit(self._store_block, buf, self.block)
            self._in_flight.append(future)
            self._stored[index] = future

    def _store_block(self, buf: bytearray, length: int) -> ChunkRef:
        data = bytes(buf[:length])
        if len(data) < length:
            data += bytes(length - len(data))
        if is_zero(data):
            return ChunkRef(None, length)
        chunk_id, _new = self.store.chunks.put(self.domain, data)
        return ChunkRef(chunk_id, length)

    def write(self, offset: int, data: bytes | memoryview) -> int:
        if offset < 0:
            raise InvalidArgument("negative write offset")
        if offset + len(data) > MAX_FILE_SIZE:
            raise InvalidArgument("file would exceed the 5 TiB object size limit")
        view = memoryview(data)
        with self._lock:
            pos = 0
            while pos < len(view):
                index, inner = divmod(offset + pos, self.block)
                take = min(self.block - inner, len(view) - pos)
                buf = self._block_for_write(index)
                if len(buf) < inner:
                    buf.extend(bytes(inner - len(buf)))
                buf[inner : inner + take] = view[pos : pos + take]
                pos += take
            self.size = max(self.size, offset + len(view))
            self.dirty = True
            return len(view)

    def truncate(self, size: int) -> None:
        if size < 0 or size > MAX_FILE_SIZE:
            raise InvalidArgument(f"invalid file size {size}")
        with self._lock:
            if size < self.size:
                index, inner = divmod(size, self.block)
                for table in (self._blocks, self._stored):
                    for i in [i for i in table if i > index or (i == index and inner == 0)]:
                        del table[i]  # type: ignore[attr-defined]
                if inner:
                    buf = self._block_for_write(index)
                    del buf[inner:]
                self._base_limit = min(self._base_limit, size)
            self.size = size
            self.dirty = True

    # -- committing ----------------------------------------------------------

    def _manifest(self) -> list[ChunkRef]:
        """The new manifest; stores every in-memory block (on the chunk pool)."""
        refs: list[ChunkRef | Future[ChunkRef]] = []
        base_index = {
            start: ref for start, ref in zip(self._base.starts, self._base.refs, strict=False)
        }
        nblocks = -(-self.size // self.block)
        for index in range(nblocks):
            start = index * self.block
            length = min(self.block, self.size - start)
            if index in self._blocks:
                refs.append(_POOL.submit(self._store_block, self._blocks[index], length))
                continue
            ref = self._stored_ref(index)
            if ref is not None and ref.length == length:
                refs.append(ref)
                continue
            if ref is not None:
                refs.append(self._store_block(self._load(index), length))
                continue
            if start >= self._base_limit:
                refs.append(ChunkRef(None, length))
                continue
            base_ref = base_index.get(start)
            if (
                base_ref is not None
                and base_ref.length == length
                and start + length <= self._base_limit
                and self._base_domain.domain_id == self.domain.domain_id
            ):
                refs.append(base_ref)
                continue
            refs.append(self._store_block(self._base_block(index), length))
        return _merge_holes([r.result() if isinstance(r, Future) else r for r in refs])

    def commit(
        self,
        ctx: RequestContext,
        *,
        sys_meta: SystemMeta | None = None,
        content_type: str | None = None,
        user_meta: dict[str, str] | None = None,
    ) -> PutResult:
        """Commit the current content as a new version of the key."""
        with self._lock:
            manifest = self._manifest()
            if ctx.durable:
                self.store._make_durable(manifest)
            version = self.store.commit_manifest(
                ctx,
                self.bucket,
                self.key,
                manifest,
                self.size,
                domain=self.domain,
                sse=self.sse,
                kms_key_id=self.kms_key_id,
                sys_meta=sys_meta,
                content_type=content_type,
                user_meta=user_meta,
            )
            self._set_base(manifest, self.size, self.domain)
            if self._intent is not None:
                self._intent.renew()  # all stored so far is referenced now
            self.dirty = False
            self.version = version
            return PutResult(
                version.version_id,
                version.etag,
                version.size,
                seq=version.seq,
                last_modified_ns=version.last_modified_ns,
            )

    def close(self) -> None:
        with self._lock:
            for future in self._in_flight:
                future.cancel()
            self._blocks.clear()
            self._stored.clear()
            if self._intent is not None:
                self._intent.end()


def _merge_holes(refs: list[ChunkRef]) -> list[ChunkRef]:
    """Fold runs of holes into one entry: a sparse terabyte stays a tiny manifest."""
    out: list[ChunkRef] = []
    for ref in refs:
        if ref.chunk_id is None and out and out[-1].chunk_id is None:
            out[-1] = ChunkRef(None, out[-1].length + ref.length)
        else:
            out.append(ref)
    return out
