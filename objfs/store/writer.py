"""Random-access writes on top of an immutable version (for the mount).

An ``ObjectWriter`` is a copy-on-write view of one version: the file is a
grid of ``chunk_size`` blocks; a written block lives in memory until it is
evicted (stored as a new chunk) or committed. ``commit`` builds the new
manifest: untouched blocks reuse the base's pieces; all-zero blocks become
holes, so truncating up costs nothing.

In-place edits (issue 10): a write of whole 4 KiB pages into a block that
the base holds entirely is kept as an *overlay* of pages, without reading
the block. At commit the block becomes slices of the base's chunks around
new small chunks holding only the runs of written pages, so a 4 KiB write
into a 1 GiB versioned file costs ~4 KiB of new data (inline in the
database), not a 1 MiB chunk; a block whose pieces would pass
``MAX_PIECES`` is stored whole again (bounded fragmentation). Reading a
block with an overlay reads the base block and lays the pages over it.

Sequential writes (issue 10): a write covering a whole block keeps the
caller's bytes object as the block (no copy; copied to a bytearray only if
edited later), blocks are stored through memoryviews, and ``write_nowait``
lets the mount buffer a write that needs no I/O in its event loop thread
(no thread hop per 1 MiB FUSE write). The kernel's writeback often sends
1 MiB writes that straddle two blocks (about half of a ``dd bs=1M``): a
block filled front to back by such writes is kept as ``_Parts``, views of
the callers' bytes objects, and sealed from them (``ChunkStore.put_parts``:
no join; no copy, no bytearray growth on the event loop). Blocks past ``max_dirty`` are sealed
on the chunk pool (two threads) while later blocks fill: the pipeline
across both cores, at most ``_IN_FLIGHT`` blocks queued there (a remote
backend's ``parallel_puts`` on a pool of its own, chunking.put_pipeline: a
PUT waits on the network, not a core). A full block
that a sequential stream has moved past is stored at once when the pool has
room (``_seal_behind``), so the pool starts with the first blocks and a
commit (an fsync) waits for one block, not ``max_dirty``.

Invariants: memory holds at most ``max_dirty`` blocks and ``MAX_OVERLAY``
overlay pages per writer (plus ``_IN_FLIGHT``, or the backend's
``parallel_puts``, blocks being stored); bytes past
``base_limit`` of the base never show through (truncate down then up reads
zeros); the writer never commits a chunk it did not write or the base did not
reference; from its creation to ``close`` it holds a write intent on the
store's writer lease, so gc spares what it stored and has not committed yet.
Thread-safe (one lock per writer).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from objfs.chunks.store import INLINE_MAX
from objfs.crypto.keyring import Domain
from objfs.errors import InvalidArgument
from objfs.store.chunking import is_zero, put_pipeline
from objfs.store.leases import WriteIntent
from objfs.store.reader import Extents, read_piece, read_slice
from objfs.store.types import ChunkRef, ObjectVersion, PutResult, RequestContext, SystemMeta

if TYPE_CHECKING:
    from objfs.chunks.store import ChunkStore
    from objfs.store.extents import ExtentsCache
    from objfs.store.seam import Seam

MAX_FILE_SIZE = 5 << 40  # S3's object size limit
PAGE = 4096  # granularity of in-place edits
MAX_OVERLAY = 4096  # overlay pages per writer (16 MiB); beyond, blocks are materialized
MAX_PIECES = 64  # pieces per block before it is stored whole again
# Blocks a writer has on the chunk pool at once (bounds memory). More than
# the pool's threads: with chunk files written by O_DIRECT a thread waits
# ~1-5 ms a MiB for the disk, and a queue keeps every thread busy while the
# event loop goes on buffering writes (with 3 it waited for the pool in ~40%
# of a dd bs=1M's writes).
_IN_FLIGHT = 6


class _Parts:
    """A block written front to back: views of immutable bytes objects, in order.

    Held instead of a bytearray so an append costs no copy; anything other
    than an append (an edit, a read, a truncate) materializes it first.
    """

    __slots__ = ("parts", "size")

    def __init__(self, part: memoryview) -> None:
        self.parts = [part]
        self.size = len(part)

    def __len__(self) -> int:
        return self.size

    def append(self, part: memoryview) -> None:
        self.parts.append(part)
        self.size += len(part)

    def tobytearray(self) -> bytearray:
        return bytearray(b"".join(self.parts))


@dataclass(slots=True, frozen=True)
class WriterDeps:
    """What a writer uses of the store, handed over when it is opened.

    ``commit_manifest``: the mount's commit of a manifest the writer stored
    (``MountOps._commit_manifest``, store/mountops.py, which opened the
    writer: it checks s3:PutObject and commits through the store's
    ``VersionCommitter``); ``make_durable``: fsync the chunks a
    durable commit names; ``extents``: the cache a commit hands its
    manifest to; ``seam``: where a commit's access-log record goes;
    ``require_room``: the free-space floor (store/space.py).
    """

    chunks: ChunkStore
    chunk_size: int
    require_room: Callable[[], None]
    make_durable: Callable[[Sequence[ChunkRef], dict[bytes, bytes] | None], None]
    commit_manifest: Callable[..., ObjectVersion]
    extents: ExtentsCache
    seam: Seam


class ObjectWriter:
    def __init__(
        self,
        deps: WriterDeps,
        bucket: str,
        key: str,
        domain: Domain,
        sse: str,
        kms_key_id: str | None,
        base_manifest: list[ChunkRef] | Extents,
        base_size: int,
        base_domain: Domain,
        *,
        max_dirty: int = 16,
        intent: WriteIntent | None = None,
        base_seq: int | None = None,
        if_latest: bool = True,
    ) -> None:
        self._deps = deps
        self._chunks = deps.chunks
        self.bucket = bucket
        self.key = key
        self.domain = domain
        self.sse = sse
        self.kms_key_id = kms_key_id
        self.block = deps.chunk_size
        self.max_dirty = max_dirty
        # Where blocks are stored and how many may be there at once (more
        # for a remote backend: chunking.put_pipeline).
        self._pool, self._max_in_flight = put_pipeline(deps.chunks, _IN_FLIGHT)
        self._lock = threading.RLock()
        # The writer lease covers chunks stored and not yet committed (leases.py).
        self._intent = intent
        # Commit only while the edited version is the key's latest (open_writer).
        self._if_latest = if_latest
        self._set_base(base_manifest, base_size, base_domain, base_seq)
        self.dirty = False
        self.version: ObjectVersion | None = None  # the last commit's record

    def _set_base(
        self,
        manifest: list[ChunkRef] | Extents,
        size: int,
        domain: Domain,
        seq: int | None = None,
    ) -> None:
        # Extents are never modified: one may be shared with the store's cache.
        self._base = manifest if isinstance(manifest, Extents) else Extents(manifest)
        # The version the base manifest is (None: none): a commit counts only
        # the references it adds to it (objfs/store/refcount.py).
        self._base_seq = seq
        self._base_domain = domain
        self._base_limit = size  # base bytes at or past this read as zeros
        self.size = size
        # In memory: a bytearray, or the caller's bytes when one write covered
        # the whole block (kept as is, no copy; made a bytearray if edited).
        # Or ``_Parts``: a block being filled by appends, without copies.
        self._blocks: OrderedDict[int, bytes | bytearray | _Parts] = OrderedDict()
        # Blocks written as new chunks (or being written), not yet committed.
        self._stored: dict[int, ChunkRef | Future[ChunkRef]] = {}
        self._in_flight: list[Future[ChunkRef]] = []
        # Small blocks sealed for the next commit to store inline (chunk id -> frame).
        self._inline: dict[bytes, bytes] = {}
        # In-place edits of blocks held whole by the base: block -> page -> bytes.
        self._overlay: dict[int, dict[int, bytes]] = {}
        self._overlay_pages = 0

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
                    data = read_slice(self._chunks, self._base_domain, ref, lo, hi)
                    out[pos : pos + hi - lo] = data
                pos += hi - lo
        return out

    def _base_refs(self, start: int, end: int) -> list[ChunkRef]:
        """The base's pieces covering [start, end), as slices where they are partial."""
        return self._base.slice(start, end)

    def _whole_in_base(self, index: int) -> bool:
        """Block ``index`` is entirely base data the writer may share."""
        end = (index + 1) * self.block
        return (
            end <= self._base_limit
            and end <= self._base.size
            and self._base_domain.domain_id == self.domain.domain_id
        )

    def _stored_ref(self, index: int) -> ChunkRef | None:
        pending = self._stored.get(index)
        if isinstance(pending, Future):
            pending = self._stored[index] = pending.result()
        return pending

    def _load(self, index: int) -> bytes | bytearray:
        """The block's current content (not cached; may be short: zeros follow)."""
        buf = self._blocks.get(index)
        if buf is not None:
            return buf.tobytearray() if isinstance(buf, _Parts) else buf
        ref = self._stored_ref(index)
        if ref is not None:
            if ref.chunk_id is None:
                return bytearray()
            return bytearray(read_piece(self._chunks, self.domain, ref))
        pages = self._overlay.get(index, {})
        if len(pages) == self.block // PAGE:  # every page written: no need for the base
            return bytearray(b"".join(pages[p] for p in range(len(pages))))
        buf = self._base_block(index)
        for page, data in pages.items():
            buf[page * PAGE : page * PAGE + len(data)] = data
        return buf

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
            if not isinstance(buf, bytearray):
                buf = bytearray(buf)
            self._stored.pop(index, None)
            self._overlay_pages -= len(self._overlay.pop(index, {}))
            self._blocks[index] = buf
            self._evict()
        else:
            if isinstance(buf, _Parts):  # an edit, not an append: copy it once
                buf = self._blocks[index] = buf.tobytearray()
            elif not isinstance(buf, bytearray):  # a whole block kept as written
                buf = self._blocks[index] = bytearray(buf)
            self._blocks.move_to_end(index)
        return buf

    def _put_block(self, index: int, data: bytes | _Parts) -> None:
        """Block ``index`` is ``data`` (a whole block, one write): kept, not copied."""
        self._blocks.pop(index, None)
        self._stored.pop(index, None)
        self._overlay_pages -= len(self._overlay.pop(index, {}))
        self._blocks[index] = data
        self._evict()

    def _evict(self) -> None:
        """Store the least recently written blocks beyond ``max_dirty``.

        Encoding runs on the chunk pool, so a sequential writer keeps
        receiving data while earlier blocks are hashed, encrypted and
        written; at most ``_max_in_flight`` blocks wait there.
        """
        while len(self._blocks) > self.max_dirty:
            index, buf = self._blocks.popitem(last=False)
            self._in_flight = [f for f in self._in_flight if not f.done()]
            if len(self._in_flight) >= self._max_in_flight:
                self._in_flight.pop(0).result()
            future = self._pool.submit(self._store_block, buf, self.block)
            self._in_flight.append(future)
            self._stored[index] = future

    def _seal_behind(self, index: int) -> None:
        """A write began block ``index``: a full block just before it is done
        with (a sequential stream moved on), so store it now if the chunk
        pool has room, rather than when ``max_dirty`` later blocks push it
        out. The pool works from the first blocks on, and a commit finds
        one block left to seal instead of ``max_dirty``."""
        buf = self._blocks.get(index - 1)
        if buf is None or len(buf) != self.block:
            return
        self._in_flight = [f for f in self._in_flight if not f.done()]
        if len(self._in_flight) >= self._max_in_flight:
            return  # busy: it waits among the dirty blocks as before
        del self._blocks[index - 1]
        future = self._pool.submit(self._store_block, buf, self.block)
        self._in_flight.append(future)
        self._stored[index - 1] = future

    def _store_block(self, buf: bytes | bytearray | _Parts, length: int) -> ChunkRef:
        """Store a block's first ``length`` bytes (zeros past ``buf``'s end).

        Reads ``buf`` in place (no copy) unless it is short or in parts; a
        block being stored is out of ``_blocks`` or under the writer's lock,
        so nothing edits it meanwhile.
        """
        if isinstance(buf, _Parts):
            if buf.size != length:  # short (zeros follow): join and pad below
                buf = buf.tobytearray()
            elif all(is_zero(p[:PAGE]) and is_zero(p) for p in buf.parts):
                return ChunkRef(None, length)
            else:
                chunk_id, _new = self._chunks.put_parts(self.domain, buf.parts)
                return ChunkRef(chunk_id, length)
        if len(buf) < length:
            buf = bytes(buf) + bytes(length - len(buf))
        if is_zero(buf, length):
            return ChunkRef(None, length)
        with memoryview(buf) as view:
            chunk_id, _new = self._chunks.put(
                self.domain, view[:length] if len(buf) > length else view
            )
        return ChunkRef(chunk_id, length)

    def _seal_inline(self, buf: bytes | bytearray | _Parts, length: int) -> ChunkRef:
        if isinstance(buf, _Parts):
            buf = buf.tobytearray()
        data = bytes(buf[:length])
        if len(data) < length:
            data += bytes(length - len(data))
        if is_zero(data):
            return ChunkRef(None, length)
        chunk_id, frame = self._chunks.seal_inline(self.domain, data)
        self._inline[chunk_id] = frame
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
                if take == self.block:  # a whole block: the common sequential write
                    if type(data) is bytes and take == len(data):
                        self._put_block(index, data)
                    else:
                        self._put_block(index, _Parts(self._part(data, view, pos, take)))
                    self._seal_behind(index)
                    pos += take
                    continue
                held = self._blocks.get(index)
                if isinstance(held, _Parts) and inner == held.size:
                    held.append(self._part(data, view, pos, take))  # appending: no copy
                    self._blocks.move_to_end(index)
                    pos += take
                    continue
                if inner == 0 and held is None and self._fresh(index):
                    self._blocks[index] = _Parts(self._part(data, view, pos, take))
                    self._evict()
                    self._seal_behind(index)
                    pos += take
                    continue
                if (
                    inner % PAGE == 0
                    and take % PAGE == 0
                    and index not in self._blocks
                    and index not in self._stored
                    and self._whole_in_base(index)
                ):
                    self._write_pages(index, inner, view[pos : pos + take])
                    pos += take
                    continue
                buf = self._block_for_write(index)
                if len(buf) < inner:
                    buf.extend(bytes(inner - len(buf)))
                buf[inner : inner + take] = view[pos : pos + take]
                pos += take
            self.size = max(self.size, offset + len(view))
            self.dirty = True
            return len(view)

    @staticmethod
    def _part(data: bytes | memoryview, view: memoryview, pos: int, take: int) -> memoryview:
        """``take`` bytes of the write at ``pos``: a view if ``data`` is immutable."""
        if type(data) is bytes:
            return view[pos : pos + take]
        return memoryview(bytes(view[pos : pos + take]))

    def _fresh(self, index: int) -> bool:
        """Block ``index`` has nothing to read: not stored, no overlay, past the base."""
        return (
            index not in self._stored
            and index not in self._overlay
            and index * self.block >= min(self._base_limit, self._base.size)
        )

    def write_nowait(self, offset: int, data: bytes) -> bool:
        """``write`` if that needs no I/O and no waiting; False: nothing written.

        For the mount's event loop thread: a sequential writer's 1 MiB FUSE
        writes then cost no thread hop each (a hop is two wake-ups and two
        context switches), and so do in-place edits of whole pages of base
        blocks (they go to the overlay, nothing is read: a random 4 KiB
        writer takes no hop either); the few writes that must read the base,
        wait for a stored block or for a free encoding slot return False, to be retried
        with ``write`` in a worker thread. Eviction only *submits* blocks to
        the chunk pool here, so memory stays bounded by ``max_dirty`` and
        ``_max_in_flight`` as with ``write``.
        """
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if not self._nowait_ok(offset, len(data)):
                return False
            self.write(offset, data)
            return True
        finally:
            self._lock.release()

    def pool_wait(self) -> Future[ChunkRef] | None:
        """What a refused ``write_nowait`` may wait for before trying again: the
        oldest block being stored when the chunk pool is full (None: no such
        block, or the writer is busy; then ``write`` in a worker thread).

        Lets the mount wait for the pool on its event loop (a callback when
        the block is stored) instead of a worker thread that blocks on it.
        """
        if not self._lock.acquire(blocking=False):
            return None
        try:
            busy = [f for f in self._in_flight if not f.done()]
            return busy[0] if len(busy) >= self._max_in_flight else None
        finally:
            self._lock.release()

    def _nowait_ok(self, offset: int, length: int) -> bool:
        if offset < 0 or length == 0 or offset + length > MAX_FILE_SIZE:
            return False  # ``write`` raises the error
        first, last = offset // self.block, (offset + length - 1) // self.block
        base_end = min(self._base_limit, self._base.size)
        new = pages = 0
        for index in range(first, last + 1):
            if index in self._blocks:
                continue
            start = index * self.block
            whole = offset <= start and start + self.block <= offset + length
            if not whole and (index in self._stored or index in self._overlay or start < base_end):
                lo, hi = max(offset, start), min(offset + length, start + self.block)
                if (
                    lo % PAGE == 0
                    and (hi - lo) % PAGE == 0
                    and index not in self._stored
                    and self._whole_in_base(index)
                ):
                    pages += (hi - lo) // PAGE  # whole pages into the overlay: nothing read
                    continue
                return False  # a partial write into stored or base data reads it first
            new += 1
        if pages and self._overlay_pages + pages > MAX_OVERLAY:
            return False  # the overlay would materialize a block (a read)
        evictions = len(self._blocks) + new - self.max_dirty
        if evictions > 0:
            busy = sum(1 for f in self._in_flight if not f.done())
            if busy + evictions > self._max_in_flight:
                return False  # would wait for the chunk pool
        return True

    def _write_pages(self, index: int, inner: int, data: memoryview) -> None:
        """Whole pages into the overlay of a block the base holds (nothing read)."""
        pages = self._overlay.setdefault(index, {})
        for at in range(0, len(data), PAGE):
            page = (inner + at) // PAGE
            if page not in pages:
                self._overlay_pages += 1
            pages[page] = bytes(data[at : at + PAGE])
        while self._overlay_pages > MAX_OVERLAY:
            self._block_for_write(next(iter(self._overlay)))  # oldest: materialize

    def _overlay_refs(self, index: int) -> list[ChunkRef] | None:
        """Block ``index`` as base slices around new chunks of its written pages
        (None: too many pieces, store the block whole)."""
        pages = self._overlay[index]
        start = index * self.block
        refs: list[ChunkRef] = []
        done = 0  # pages [0, done) are in refs
        ordered = sorted(pages)
        i = 0
        while i < len(ordered):
            first = last = ordered[i]
            while i + 1 < len(ordered) and ordered[i + 1] == last + 1:
                i += 1
                last = ordered[i]
            i += 1
            if first > done:
                refs.extend(self._base_refs(start + done * PAGE, start + first * PAGE))
            data = b"".join(pages[p] for p in range(first, last + 1))
            if len(data) <= INLINE_MAX:
                refs.append(self._seal_inline(bytearray(data), len(data)))
            else:
                refs.append(self._store_block(bytearray(data), len(data)))
            done = last + 1
        if done < self.block // PAGE:
            refs.extend(self._base_refs(start + done * PAGE, start + self.block))
        return refs if len(refs) <= MAX_PIECES else None

    def truncate(self, size: int) -> None:
        if size < 0 or size > MAX_FILE_SIZE:
            raise InvalidArgument(f"invalid file size {size}")
        with self._lock:
            if size < self.size:
                index, inner = divmod(size, self.block)
                for i in [i for i in self._overlay if i > index or (i == index and inner == 0)]:
                    self._overlay_pages -= len(self._overlay.pop(i))
                for table in (self._blocks, self._stored):
                    for i in [i for i in table if i > index or (i == index and inner == 0)]:
                        del table[i]
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
        nblocks = -(-self.size // self.block)
        self._inline = {}
        touched = self._blocks.keys() | self._stored.keys() | self._overlay.keys()
        shared_end = (
            min(self._base_limit, self._base.size)
            if self._base_domain.domain_id == self.domain.domain_id
            else 0
        )
        index = 0
        while index < nblocks:
            # A run of untouched blocks the base holds: its pieces in one go
            # (a commit of a few edits in a 1 GiB file walks refs, not blocks).
            run = index
            while (
                run < nblocks
                and run not in touched
                and min((run + 1) * self.block, self.size) <= shared_end
            ):
                run += 1
            if run > index:
                refs.extend(self._base_refs(index * self.block, min(run * self.block, self.size)))
                index = run
                continue
            start = index * self.block
            length = min(self.block, self.size - start)
            cur, index = index, index + 1
            if cur in self._overlay and cur not in self._blocks:
                pieces = self._overlay_refs(cur)
                if pieces is not None:
                    refs.extend(pieces)
                    continue
                refs.append(self._store_block(self._load(cur), length))
                continue
            if cur in self._blocks:
                if length <= INLINE_MAX:  # a small file or tail: into the database
                    refs.append(self._seal_inline(self._blocks[cur], length))
                    continue
                refs.append(self._pool.submit(self._store_block, self._blocks[cur], length))
                continue
            ref = self._stored_ref(cur)
            if ref is not None and ref.length == length:
                refs.append(ref)
                continue
            if ref is not None:
                refs.append(self._store_block(self._load(cur), length))
                continue
            if start >= self._base_limit:
                refs.append(ChunkRef(None, length))
                continue
            if (
                start + length <= min(self._base_limit, self._base.size)
                and self._base_domain.domain_id == self.domain.domain_id
            ):
                # Untouched: the base's pieces (whole chunks or slices) as they are.
                base_refs = self._base_refs(start, start + length)
                if len(base_refs) <= MAX_PIECES:
                    refs.extend(base_refs)
                    continue
            refs.append(self._store_block(self._base_block(cur), length))
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
        self._deps.require_room()  # new data stops at the free-space floor
        with self._lock:
            manifest = self._manifest()
            if ctx.durable:
                self._deps.make_durable(manifest, self._inline)
            # The commit is the mount's PUT: one server-access-log record.
            started_ns, started_mono = time.time_ns(), time.monotonic_ns()
            where = {"bucket": self.bucket, "key": self.key}
            seen: dict = {}  # the bucket row the commit's check read: the log needs no read
            try:
                version = self._deps.commit_manifest(
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
                    inline=self._inline,
                    seen=seen,
                    base=None if self._base_seq is None else (self._base_seq, self._base.refs),
                    if_latest=self._base_seq if self._if_latest else None,
                )
            except Exception as err:
                self._deps.seam.record(
                    ctx, "commit_manifest", (), where, seen, started_ns, started_mono, None, err
                )
                raise
            self._deps.seam.record(
                ctx, "commit_manifest", (), where, seen, started_ns, started_mono, version
            )
            self._set_base(manifest, self.size, self.domain, version.seq)
            self._deps.extents.remember(version.seq, self._base)  # the next open decodes nothing
            if self._intent is not None:
                self._intent.renew()  # all stored so far is referenced now
            self.dirty = False
            self.version = version
            return PutResult.of(version)

    def close(self) -> None:
        with self._lock:
            for future in self._in_flight:
                future.cancel()
            self._blocks.clear()
            self._stored.clear()
            self._overlay.clear()
            self._overlay_pages = 0
            if self._intent is not None:
                self._intent.end()


def _merge_holes(refs: list[ChunkRef]) -> list[ChunkRef]:
    """Fold runs of holes into one entry (a sparse terabyte stays a tiny manifest),
    and adjacent slices of one chunk into one slice."""
    out: list[ChunkRef] = []
    for ref in refs:
        last = out[-1] if out else None
        if last is not None and ref.chunk_id is None and last.chunk_id is None:
            out[-1] = ChunkRef(None, last.length + ref.length)
        elif (
            last is not None
            and ref.chunk_id is not None
            and ref.chunk_id == last.chunk_id
            and ref.offset is not None
            and last.offset is not None
            and last.offset + last.length == ref.offset
        ):
            out[-1] = ChunkRef(ref.chunk_id, last.length + ref.length, last.offset)
        else:
            out.append(ref)
    return out
