"""The shared state of one open file (one per inode, whatever the handle count).

Owns the copy-on-write writer of an open object and the rule of when a new
version is committed. Invariants:

* all handles of an inode share one ``OpenFile``; writes, truncates, reads
  through the writer and commits are serialized by its lock (the writer is
  not assumed thread-safe);
* before a writer exists, small writes (up to ``PENDING_MAX`` bytes in all)
  wait in memory and go to the writer, in order, when it opens: at the
  commit, a larger write, a truncate or a read of them. A small file then
  costs one worker-thread hop at close, not one per write as well;
* data is only ever written into a writer opened on ``base`` (the version
  current at open or after our last commit); nothing reaches the key until
  ``commit``;
* ``commit`` makes at most one new version, only when something changed
  (data, or a new file that was never committed); a change of attributes
  alone on a committed file amends the version in place (no new version);
* after the file is unlinked or renamed away (``key`` None), commit discards
  the data instead of recreating the key;
* encryption follows ``encryption``: every read carries the mount's key, a
  writer keeps the base's encryption for in-place edits and takes the
  mount's for a new file or a rewrite from scratch (truncate to 0, or an
  empty base); sizes and offsets here are plaintext (``cseio`` maps them for
  client-side encrypted files);
* reads of unmodified data resolve ``base`` once per reader identity (one
  authorized, access-logged GET) into an ``ExtentReader`` keyed by the
  base's (version id, seq), dropped when the key changes outside; a small
  random read is answered on the trio thread when it needs no disk I/O
  (segment cache, or page cache via RWF_NOWAIT), else in one worker call;
  sequential readers get whole blocks with chunks read ahead, a block the
  read-ahead already decoded joined on the trio thread (no worker hop);
* given a ``PushTarget`` (the caller decides when the kernel's page cache of
  the inode may take it, see ``pagecache``), a random read decrypts its
  whole 64 KiB window and pushes the pages around the request, a sequential
  read pushes chunks the read-ahead decoded; never data of written state.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import trio

from objfs.auth.identity import Identity
from objfs.crypto.cse import META_KEY, CSEObject
from objfs.errors import IntegrityError
from objfs.fs import cseio
from objfs.fs.encryption import (
    MountEncryption,
    keyed,
    open_envelope,
    read_cse_block,
    shown_size,
    verify_readable,
    without_envelope,
)
from objfs.fs.pagecache import PushTarget, page_ceil, page_floor
from objfs.fs.runner import CALLER, QuickLock, StoreRunner, caller, ctx_with, wait_done
from objfs.fs.times import kernel_now_ns
from objfs.store import WouldBlock
from objfs.store.mountops import SMALL_COMMIT_MAX
from objfs.store.reader import ExtentReader
from objfs.store.types import ObjectVersion, RequestContext, SystemMeta

log = logging.getLogger("objfs.fs")

# Sequential readers: chunks read and decoded ahead of the one being served
# (by the chunk store's read-ahead threads), so the disk always has work.
READAHEAD_CHUNKS = 4
CACHED_BLOCKS = 4  # per open file, for reads of unmodified data (4 chunks of memory)
# A read that starts within this distance of where the previous one ended
# continues a sequential stream (the kernel's read-ahead requests of one
# stream arrive slightly out of order, up to its read-ahead window apart).
SEQUENTIAL_SLACK = 512 << 10
PENDING_MAX = 64 << 10  # bytes of small writes kept before a writer is opened
_POOL_WAITS = 4  # waits for the chunk pool per write before a worker thread takes it
# A random read decrypts (and pushes to the kernel page cache) the aligned
# window around it: one chunk segment when chunks start on the 64 KiB grid.
PUSH_WINDOW = 64 << 10
# Sequential readers: decoded chunks past the read pushed to the page cache
# (no more than the read-ahead decodes, so no read waits for them).
PUSH_AHEAD_CHUNKS = READAHEAD_CHUNKS


class OpenFile:
    """See the module docstring."""

    def __init__(
        self,
        run: StoreRunner,
        bucket: str,
        key: str,
        base: ObjectVersion | None,
        sys_meta: SystemMeta,
        new: bool = False,
        encryption: MountEncryption | None = None,
    ) -> None:
        self.run = run
        self.enc = encryption or MountEncryption()
        self.rewrite = False  # the next writer starts empty (truncated to 0)
        self._cse: tuple[str, CSEObject] | None = None  # the base's open envelope
        self._verified: tuple[str, int] | None = None  # base whose keys were checked
        self.bucket = bucket
        self.key: str | None = key
        self.base = base
        self.writer: Any = None
        self._pending: list[tuple[int, bytes]] = []  # writes made before the writer opened
        self._pending_bytes = 0
        self._pending_end = 0  # where the furthest pending write ends
        self.sys_meta = sys_meta
        self.meta_dirty = False
        self.must_commit = new
        # Truncated to 0 (open with O_TRUNC, ftruncate) and nothing written
        # since: a flush does not commit that yet (FileOps.flush says why).
        self.emptied = False
        self.needs_sync = False
        self.refused = False  # the store refused to commit this edit (said once)
        self.lock = QuickLock()
        self.mtime_ns: int | None = None
        self.ctime_ns: int | None = None
        self.unlinked_key: str | None = None  # the key before unlink (the writer needs one)
        self.meta_gen = 0  # bumped by set_meta, which does not wait for the lock
        # (sys_meta, (mtime, ctime), what current_meta made of them)
        self._current: tuple[SystemMeta, tuple[int | None, int | None], SystemMeta] | None = None
        self._blocks: OrderedDict[tuple[str, int, int], bytes | memoryview] = OrderedDict()
        self._loading: dict[tuple[str, int, int], trio.Event] = {}
        self._read_end = 0  # where the last read ended: tells sequential from random
        self._streak = False  # the last read was near the one before (``_sequential``)
        self._pushed: set[tuple[str, int, int]] = set()  # blocks pushed to the page cache
        # The access log counts an open file's reads as one GET per reader: the
        # first store read is the request, later ones continue it (log=False).
        self._logged_readers: set[Identity] = set()
        # Random reads: the base resolved once per reader identity (its domain
        # and manifest), keyed by the base it was resolved for. Dropped when
        # the key changes outside (``forget_readers``), so the next read
        # resolves the version again.
        self._readers: dict[Identity, tuple[tuple[str, int], ExtentReader]] = {}

    def _sequential(self, offset: int, end: int) -> bool:
        """Whether a read of [offset, end) continues a sequential stream (and note it).

        A stream starts at offset 0, or with two reads in a row each near
        where the one before ended: a random read that happens to land near
        the previous one (1 in 1,000 in a 1 GiB file) is not taken for a
        stream, whose whole-chunk reads and read-ahead decode 5 MiB.
        """
        last, self._read_end = self._read_end, max(end, self._read_end)
        near = last - SEQUENTIAL_SLACK <= offset <= last + SEQUENTIAL_SLACK
        if offset == 0 or (near and self._streak):
            self._streak = True
            return True
        self._streak = near
        if not near:
            self._read_end = end
        return False

    @property
    def size(self) -> int:
        if self.writer is not None:
            return int(self.writer.size)
        stored = shown_size(self.base, self.run.store.chunk_size) if self.base is not None else 0
        return max(stored, self._pending_end) if self._pending else stored

    @property
    def has_writes(self) -> bool:
        """Whether data was written (a writer exists, or writes wait for one)."""
        return self.writer is not None or bool(self._pending)

    @property
    def dirty(self) -> bool:
        return self.data_dirty or self.meta_dirty

    @property
    def data_dirty(self) -> bool:
        if self.must_commit or self._pending:
            return True
        return self.writer is not None and bool(self.writer.dirty)

    def current_meta(self) -> SystemMeta:
        mtime, ctime = self.mtime_ns, self.ctime_ns
        if mtime is None and ctime is None:
            return self.sys_meta
        # Asked by every getattr and the commit: made once per change.
        made = self._current
        if made is not None and made[0] is self.sys_meta and made[1] == (mtime, ctime):
            return made[2]
        changes = {}
        if mtime is not None:
            changes["mtime_ns"] = mtime
        if ctime is not None:
            changes["ctime_ns"] = ctime
        meta = self.sys_meta.replace(**changes)
        self._current = (self.sys_meta, (mtime, ctime), meta)
        return meta

    def _data_changed(self) -> None:
        """A truncate: mtime and ctime are now (POSIX), as the kernel stamps
        them (``times.kernel_now_ns``); the setattr that truncates carries the
        kernel's own times, which then win. A write takes the kernel's times
        from its setattr only (``write`` says why)."""
        self.mtime_ns = self.ctime_ns = kernel_now_ns()

    def _envelope(self, base: ObjectVersion | None) -> CSEObject | None:
        """The open CSE envelope of ``base`` (None if it is not client-side encrypted)."""
        envelope = base.user_meta.get(META_KEY) if base is not None else None
        if base is None or envelope is None:
            return None
        if self._cse is None or self._cse[0] != envelope:
            obj = open_envelope(self.enc, base)
            assert obj is not None
            if obj.chunk_size != self.run.store.chunk_size:
                raise IntegrityError(
                    f"s3://{base.bucket}/{base.key}: CSE frames off the chunk grid"
                )
            self._cse = (envelope, obj)
        return self._cse[1]

    async def check_keys(self) -> None:
        """Refuse (EACCES) unless the mount holds the keys to read ``base``."""
        base = self.base
        if base is None or self._verified == (base.version_id, base.seq):
            return
        if base.sse == "SSE-C" or META_KEY in base.user_meta:
            obj = await self.run(verify_readable, self.run.store, caller(), self.enc, base)
            if obj is not None:
                self._cse = (base.user_meta[META_KEY], obj)
        self._verified = (base.version_id, base.seq)

    def _writer_now(self) -> Any:
        """The writer, opened if needed (runs in a worker thread, under the lock)."""
        if self.writer is None:
            key = self.key or self.unlinked_key
            assert key is not None
            base = self.base
            fresh = self.rewrite or base is None or base.size == 0
            self.writer = cseio.open_writer(
                self.run.store,
                caller(),
                self.enc,
                self.bucket,
                key,
                base,
                fresh=fresh,
                cse=None if fresh else self._envelope(base),
            )
            self.rewrite = False
            pending, self._pending = self._pending, []
            self._pending_bytes = self._pending_end = 0
            for offset, data in pending:
                self.writer.write(offset, data)
        return self.writer

    def _restart(self) -> None:
        """Truncate to 0: a fresh writer in the mount's encryption (worker thread)."""
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close()
        self.rewrite = True
        self._writer_now().truncate(0)

    async def write(self, offset: int, data: bytes) -> int:
        async with self.lock:  # a QuickLock: no scheduler round trip when free
            if self.writer is None and self._pending_bytes + len(data) <= PENDING_MAX:
                # No thread hop: the writer takes it when it opens (module docstring).
                self._pending.append((offset, bytes(data)))
                self._pending_bytes += len(data)
                self._pending_end = max(self._pending_end, offset + len(data))
            elif not await self._write_nowait(offset, data):
                # Buffering a write that needs no I/O happened right above (no
                # thread hop: sequential writes); otherwise one hop for open +
                # write: small files are latency bound.
                await self.run(lambda: self._writer_now().write(offset, data))
            # No mtime/ctime stamp here: under writeback caching the kernel
            # stamped them at the write(2) and sends them in a setattr when
            # they changed; this data may come a tick or two later, before
            # or after that setattr (``times.kernel_now_ns``).
            self.emptied = False
        return len(data)

    async def _write_nowait(self, offset: int, data: bytes) -> bool:
        """Buffer a write on the event loop if it needs no I/O (False: not written).

        A sequential writer outrunning the chunk pool waits here for the
        oldest block being stored (a done-callback wakes the event loop),
        not in a worker thread that blocks on it: one wake-up instead of a
        thread hop and two.
        """
        nowait = getattr(self.writer, "write_nowait", None)
        if nowait is None:
            return False
        for _ in range(_POOL_WAITS):
            if nowait(offset, data):
                return True
            pending = self.writer.pool_wait() if hasattr(self.writer, "pool_wait") else None
            if pending is None:
                return False
            await wait_done(pending)
        return bool(nowait(offset, data))

    async def truncate(self, size: int) -> None:
        async with self.lock:
            self.emptied = size == 0
            if self.writer is None and size == self.size:
                self._data_changed()
                self.meta_dirty = True
                self.rewrite = self.rewrite or size == 0
                return
            if size == 0:
                await self.run(self._restart)
            else:
                await self.run(lambda: self._writer_now().truncate(size))
            self._data_changed()

    async def read(
        self, offset: int, size: int, push: PushTarget | None = None
    ) -> bytes | memoryview:
        """Bytes [offset, offset+size); ``push`` takes what was decrypted beyond them."""
        if not self.has_writes:
            end = min(offset + size, self.size)
            base = self.base
            if end <= offset or base is None:
                return b""
            cse = self._envelope(base)
            sequential = self._sequential(offset, end)
            if cse is None and not sequential:
                if push is not None:
                    return await self._read_around(base, offset, end, push)
                # A random read asks for its own range only; no read-ahead.
                # Answered on this thread when no storage I/O is needed (the
                # segment cache, or the page cache: a hop to a worker thread
                # and back costs more than decrypting 64 KiB); else one worker
                # call reads and decrypts only the segments it covers.
                reader = self._reader(base)
                if reader is not None:
                    data = reader.nowait(offset, end)
                    if data is not None:
                        return data
                return await self._read_range(base, reader, offset, end)
            # Sequential: whole blocks through a small cache (the kernel asks
            # for 128 KiB at a time), and the store decodes the next chunk
            # ahead. CSE frames are authenticated whole, so always whole blocks.
            bs = cse.block_size if cse is not None else self.run.store.chunk_size
            pieces = []
            pos = offset
            while pos < end:
                index, inner = divmod(pos, bs)
                block = await self._block(base, index, bs, cse)
                take = min(bs - inner, end - pos)
                pieces.append(block[inner : inner + take])
                pos += take
            if push is not None and cse is None:
                self._push_ahead(base, push, end, bs)
            # A read inside one block goes out as the block's slice (it may be
            # a view of the decoded chunk: no copy on the way to the kernel).
            return pieces[0] if len(pieces) == 1 else b"".join(pieces)
        async with self.lock:
            length = min(size, self.size - offset)
            if length <= 0:
                return b""
            return await self.run(lambda: self._writer_now().read(offset, length))

    async def _read_around(
        self, base: ObjectVersion, offset: int, end: int, push: PushTarget
    ) -> bytes | memoryview:
        """A random read: decrypt its whole segment(s), push the rest to the page cache.

        Decrypting a 64 KiB segment costs the same for 4 KiB of it or all of
        it; the pages around the request then answer later reads in the
        kernel. The requested pages are not pushed: the kernel holds them
        locked until this reply.
        """
        lo = offset - offset % PUSH_WINDOW
        hi = min(-(-end // PUSH_WINDOW) * PUSH_WINDOW, base.size)
        reader = self._reader(base)
        data = reader.nowait(lo, hi) if reader is not None else None
        if data is not None:
            _push_around(push.push, data, lo, offset, end)
        elif reader is not None:
            data = await self.run.solo(_read_push, reader.read, push, lo, hi, offset, end)
        else:
            identity = CALLER.get().identity
            data = await self.run.nowait(
                lambda ctx: _read_push(
                    lambda lo, hi: self._first_read(ctx, base, identity, lo, hi),
                    push,
                    lo,
                    hi,
                    offset,
                    end,
                ),
                self._read_ctx(),
                solo=True,
            )
        return data[offset - lo : end - lo]

    def _push_ahead(self, base: ObjectVersion, push: PushTarget, end: int, bs: int) -> None:
        """A sequential read ended at ``end``: push chunks decoded well after it.

        Chunks from the second after the one ``end`` falls in, that the
        read-ahead decoded already (no I/O here, each pushed once): the
        kernel then reads them from its page cache. Nearer ones are left to
        the kernel's own read-ahead, whose READs hold their pages locked (a
        store would wait for them, then be overwritten). Measured on 512 MiB
        cold: ~60% of the data pushed, stores ~1 ms/MiB, daemon CPU 1.1-1.6 s
        vs 1.35-1.45 s without pushes (noisy machine).
        """
        reader = self._reader(base)
        index = end // bs
        for i in range(index + 2, index + 1 + PUSH_AHEAD_CHUNKS):
            start, stop = i * bs, min((i + 1) * bs, base.size)
            key = (base.version_id, base.seq, i)
            if start >= stop or key in self._pushed:
                continue
            block = self._blocks.get(key)
            if block is None and reader is not None:
                block = reader.nowait(start, stop)
                if block is not None:
                    reader.prefetch(stop, READAHEAD_CHUNKS)
            if block is None:
                return
            if push.push(start, memoryview(block)):
                if len(self._pushed) >= 64:
                    self._pushed.clear()
                self._pushed.add(key)

    async def _block(
        self, base: ObjectVersion, index: int, bs: int, cse: CSEObject | None
    ) -> bytes | memoryview:
        key = (base.version_id, base.seq, index)
        while True:
            block: bytes | memoryview | None = self._blocks.get(key)
            if block is not None:
                self._blocks.move_to_end(key)
                return block
            loading = self._loading.get(key)
            if loading is None:
                break
            # Another request fetches it: take it from the cache, or (if that
            # failed) fetch it ourselves unless yet another request already does.
            await loading.wait()
        done = self._loading[key] = trio.Event()
        try:
            block = None
            if cse is not None:
                block = await self.run(
                    read_cse_block, self.run.store, self._read_ctx(), self.enc, base, cse, index
                )
            else:
                reader = self._reader(base)
                start, stop = index * bs, min((index + 1) * bs, base.size)
                if reader is not None:
                    # Keep the chunks after this one being read and decoded
                    # by the chunk store's read-ahead threads meanwhile.
                    reader.prefetch(stop, READAHEAD_CHUNKS)
                    # Read ahead already: joined from the decoded segments
                    # here (about 0.1 ms a MiB) rather than by a worker,
                    # whose hop and GIL hand-offs cost more.
                    block = reader.nowait(start, stop)
                    ahead = reader.loading(start) if block is None else None
                    if ahead is not None:
                        # Being read ahead: wait for it here, not in a worker.
                        await wait_done(ahead)
                        block = reader.nowait(start, stop)
                if block is None:
                    block = await self._read_range(base, reader, start, stop)
            self._blocks[key] = block
            while len(self._blocks) > CACHED_BLOCKS:
                self._blocks.popitem(last=False)
        finally:
            if self._loading.get(key) is done:
                del self._loading[key]
            done.set()
        return block

    def _read_ctx(self) -> RequestContext:
        """The caller's context; ``log=False`` once its first read is logged."""
        ctx = caller()
        if ctx.identity in self._logged_readers:
            return ctx_with(ctx, log=False)
        self._logged_readers.add(ctx.identity)
        return ctx

    def _reader(self, base: ObjectVersion) -> ExtentReader | None:
        """The resolved ``base`` of the calling reader, if it was resolved already."""
        held = self._readers.get(CALLER.get().identity)
        if held is not None and held[0] == (base.version_id, base.seq):
            return held[1]
        return None

    async def _read_range(
        self, base: ObjectVersion, reader: ExtentReader | None, offset: int, end: int
    ) -> bytes:
        if reader is not None:
            return await self.run.solo(reader.read, offset, end)
        identity = CALLER.get().identity
        return await self.run.nowait(
            self._first_read, self._read_ctx(), base, identity, offset, end, solo=True
        )

    def _first_read(
        self, ctx: RequestContext, base: ObjectVersion, identity: Identity, offset: int, end: int
    ) -> bytes:
        """Resolve ``base`` for this reader (a logged, authorized GET as ``ctx``,
        from ``_read_ctx``), then read."""
        with keyed(base):
            with self.run.store.get_object(
                ctx,
                self.bucket,
                base.key,
                version_id=base.version_id,
                sse=self.enc.read_for(base),
            ) as obj:
                reader = obj.positional()
        if len(self._readers) >= 64:
            self._readers.clear()
        self._readers[identity] = ((base.version_id, base.seq), reader)
        return reader.read(offset, end)

    def forget_readers(self) -> None:
        """The key changed outside: resolve the version again on the next read."""
        self._readers.clear()

    def set_meta(
        self, sys_meta: SystemMeta, mtime_ns: int | None = None, ctime_ns: int | None = None
    ) -> None:
        """Attributes to record at the next commit (chmod/utimens while dirty)."""
        self.sys_meta = sys_meta
        if mtime_ns is not None:
            self.mtime_ns = mtime_ns
        if ctime_ns is not None:
            self.ctime_ns = ctime_ns
        self.meta_dirty = True
        self.meta_gen += 1

    def _small_content(self) -> bytes | None:
        """The whole content to commit when it is small, in memory and starts
        empty (no writer, nothing of the base kept, not client-side
        encrypted): what ``Store.commit_small`` takes. Else None."""
        if self.writer is not None or self.enc.cse_key is not None:
            return None
        base = self.base
        if not (self.rewrite or base is None or base.size == 0):
            return None
        size = self.size
        if size > SMALL_COMMIT_MAX:
            return None
        pending = self._pending
        if len(pending) == 1 and pending[0][0] == 0 and len(pending[0][1]) == size:
            return pending[0][1]  # one write from 0: the usual small file
        content = bytearray(size)
        for offset, data in pending:
            content[offset : offset + len(data)] = data
        return bytes(content)

    def _small_committed(self) -> None:
        """``commit_small`` committed the pending writes: the file now is its version."""
        self._pending = []
        self._pending_bytes = self._pending_end = 0
        self.rewrite = False

    async def commit(
        self, durable: bool, own: tuple[Callable[[str], None], Callable[[str], None]] | None = None
    ) -> ObjectVersion | None:
        """Commit pending changes; returns the new current version or None if none.

        ``own``: (note, drop) called with the key right before the store makes
        the change visible (under the lock: the key cannot move meanwhile),
        and after it if it failed; a change poller that sees the commit before
        this call returns then knows it for the caller's own.

        A small content that starts empty (``_small_content``) is committed by
        one ``Store.commit_small`` on this thread, no worker-thread hop (it
        does not wait: see there), unless the commit is durable; if it cannot
        be done now, in a worker thread; failing that, through a writer.
        """
        async with self.lock:
            if self.key is None:
                return None
            ctx = caller(durable=durable)
            if not self.dirty:
                if durable and self.needs_sync:
                    # The last commit was not durable: make it so now.
                    await self.run(self.run.store.sync, ctx)
                    self.needs_sync = False
                return None
            store = self.run.store
            meta = self.current_meta()
            gen = self.meta_gen
            key = self.key
            if own is not None:
                own[0](key)
            try:
                if not self.data_dirty and self.base is not None:
                    version = await self.run(
                        store.update_sys_meta,
                        ctx,
                        self.bucket,
                        key,
                        meta,
                        version_id=self.base.version_id,
                    )
                else:
                    kwargs: dict[str, Any] = {"sys_meta": meta}
                    if self.base is not None:
                        kwargs["content_type"] = self.base.content_type
                        # The envelope belongs to the writer: a CSE writer adds its own.
                        kwargs["user_meta"] = without_envelope(self.base.user_meta)
                    small = self._small_content()
                    sse = self.enc.write_request
                    done = None
                    if small is not None and not durable:
                        try:
                            done = store.commit_small(
                                ctx_with(ctx, nowait=True),
                                self.bucket,
                                key,
                                small,
                                sse=sse,
                                **kwargs,
                            )
                        except WouldBlock:
                            done = None  # then in a worker thread, where waiting is fine

                    def commit() -> ObjectVersion:
                        if small is not None:
                            version = store.commit_small(
                                ctx, self.bucket, key, small, sse=sse, **kwargs
                            )
                            if version is not None:
                                self._small_committed()
                                return version
                        writer = self._writer_now()
                        writer.commit(ctx, **kwargs)
                        return writer.version

                    if done is not None:
                        self._small_committed()
                        version = done
                    else:
                        version = await self.run(commit)
            except BaseException:
                if own is not None:
                    own[1](key)
                raise
            self.base = version
            self.must_commit = False
            self.emptied = False
            self.needs_sync = not durable
            if gen == self.meta_gen:
                self.sys_meta = version.sys_meta
                self.meta_dirty = False
                self.mtime_ns = self.ctime_ns = None
            # else: chmod/utimens arrived during the commit; it stays pending.
            return version

    async def _discard_locked(self) -> None:
        self._pending = []
        self._pending_bytes = self._pending_end = 0
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close()  # drops buffers only: no I/O
        self.must_commit = False
        self.meta_dirty = False

    async def close(self) -> None:
        """Drop the writer (after a commit, or discarding uncommitted work)."""
        async with self.lock:
            await self._discard_locked()

    async def hold_base(self) -> None:
        """Keep the base's data readable after its version goes (before unlink/replace)."""
        async with self.lock:
            await self._hold_base_locked()

    async def _hold_base_locked(self) -> None:
        if self.key is not None and self.writer is None and self.base is not None:
            await self.run(self._writer_now)

    async def detach(self, new_key: str | None, new_base: ObjectVersion | None) -> bool:
        """The key moved (rename, after a commit) or vanished (unlink).

        Unlinked: open handles keep reading and writing their data, but
        nothing will be committed: a writer is opened on the base first (it
        holds the base's chunk list, so reads no longer need the version,
        which an unversioned bucket drops now); its chunks become garbage
        when it closes. Renamed: rebind to the new key and version.
        Returns whether a version had been committed (waiting for a commit in
        flight), i.e. whether the key exists in the store.
        """
        async with self.lock:
            committed = self.base is not None
            if new_key is None:
                await self._hold_base_locked()
                self.unlinked_key = self.key or self.unlinked_key
                self.key = None
                self.must_commit = False
                self.meta_dirty = False
                return committed
            await self._discard_locked()
            self.key = new_key
            self.base = new_base
            return committed


def _push_around(store: Any, data: bytes | memoryview, lo: int, offset: int, end: int) -> None:
    """Hand ``store`` the pages of ``data`` (at ``lo``) around [offset, end)."""
    hi = lo + len(data)
    view = memoryview(data)
    first, last = page_floor(offset), page_ceil(end)
    if first > lo:
        store(lo, view[: first - lo])
    if last < hi:
        store(last, view[last - lo :])


def _read_push(read: Any, push: PushTarget, lo: int, hi: int, offset: int, end: int) -> bytes:
    """Worker thread: read [lo, hi), queue the pages around [offset, end) for the pusher.

    Never stored here, before this READ's reply: the pages around it may be
    held locked by another READ of the same segment whose worker would in
    turn store this READ's page, and each store waits for the other's reply
    (two cold READs of one segment at once deadlocked the mount)."""
    data = read(lo, hi)
    _push_around(push.push, data, lo, offset, end)
    return data
