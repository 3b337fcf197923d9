"""Client-side encrypted files on the mount: plaintext offsets over stored frames.

A ``CSEWriter`` is the plaintext view of a store ``ObjectWriter`` that holds
CSE frames (``objfs/crypto/cse.py``): plaintext block *i* (``block_size =
chunk_size - OVERHEAD`` bytes) is the frame at stored bytes ``[i *
chunk_size, i * chunk_size + len(block) + OVERHEAD)``, so frames sit on the
store's chunk grid and an edit rewrites only the chunks it touches. It has
the writer interface ``OpenFile`` uses (``write``, ``read``, ``truncate``,
``size``, ``dirty``, ``version``, ``commit``, ``close``), in plaintext terms.

Writes are read-modify-write of whole blocks: a touched block is decrypted
(if it exists), patched in a small set of *pending* plaintext blocks, and
encrypted with a fresh nonce when it leaves that set (eviction, a read of the
stored frame, commit). Sequential writes thus encrypt each block once.

Invariants after every call:

* ``size`` is the plaintext size; every block below it is either pending
  (its plaintext, exactly the block's length at ``size``) or stored in the
  writer as a valid frame of exactly that length;
* after ``flush`` (and so after ``commit``) nothing is pending and the
  writer's size is ``stored_size(size)``;
* memory: at most ``max_pending`` plaintext blocks beside the writer's own;
* a hole is never implied: growing a file (truncate up, a write past the
  end) encrypts zero blocks, because an all-zero stored frame would not
  authenticate. Sparse files are therefore not sparse under CSE;
* ``commit`` records the envelope in the user metadata ``objfs-cse``.

``open_writer`` picks the writer of an open file as ``encryption`` rules: a
fresh one in the mount's mode (a new CSE envelope on a CSE mount), or one
that keeps the base's encryption for an in-place edit.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from objfs.crypto.cse import META_KEY, OVERHEAD, CSEObject
from objfs.errors import InternalError
from objfs.fs.encryption import MountEncryption, keyed
from objfs.store.types import ObjectVersion, PutResult, RequestContext, SystemMeta

MAX_PENDING = 4


class CSEWriter:
    """See the module docstring."""

    def __init__(
        self, writer: Any, obj: CSEObject, envelope: str, *, max_pending: int = MAX_PENDING
    ) -> None:
        self.writer = writer
        self.obj = obj
        self.envelope = envelope
        self.bs = obj.block_size
        self.cs = obj.chunk_size
        self.max_pending = max_pending
        self.size = obj.plain_size(int(writer.size))
        self._pending: OrderedDict[int, bytearray] = OrderedDict()
        self._touched = False  # a truncate that changed no block still makes a version

    # -- state -------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        return self._touched or bool(self._pending) or bool(self.writer.dirty)

    @property
    def version(self) -> ObjectVersion | None:
        return self.writer.version

    def _plen(self, index: int) -> int:
        """Plaintext length of block ``index`` at the current size."""
        return max(0, min(self.bs, self.size - index * self.bs))

    # -- blocks ------------------------------------------------------------------

    def _stored_block(self, index: int) -> bytes:
        length = self._plen(index)
        if length == 0:
            return b""
        frame = self.writer.read(index * self.cs, length + OVERHEAD)
        return self.obj.decrypt_block(index, frame)

    def _block(self, index: int) -> bytes | bytearray:
        pending = self._pending.get(index)
        return pending if pending is not None else self._stored_block(index)

    def _for_write(self, index: int) -> bytearray:
        buf = self._pending.get(index)
        if buf is None:
            buf = bytearray(self._stored_block(index))
            self._pending[index] = buf
            self._evict()
        else:
            self._pending.move_to_end(index)
        return buf

    def _store(self, index: int, buf: bytearray) -> None:
        self.writer.write(index * self.cs, self.obj.encrypt_block(index, buf))

    def _evict(self) -> None:
        while len(self._pending) > self.max_pending:
            index, buf = self._pending.popitem(last=False)
            self._store(index, buf)

    def flush(self) -> None:
        """Encrypt every pending block into the writer."""
        for index in sorted(self._pending):
            self._store(index, self._pending[index])
        self._pending.clear()
        stored = self.obj.stored_size(self.size)
        if self.writer.size > stored:
            self.writer.truncate(stored)
        elif self.writer.size < stored:
            raise InternalError("client-side encrypted file lost a block before commit")

    # -- the writer interface ----------------------------------------------------

    def read(self, offset: int, length: int) -> bytes:
        end = min(self.size, offset + length)
        pieces = []
        pos = offset
        while pos < end:
            index, inner = divmod(pos, self.bs)
            take = min(self.bs - inner, end - pos)
            pieces.append(bytes(self._block(index)[inner : inner + take]))
            pos += take
        return b"".join(pieces)

    def _extend(self, new_size: int) -> None:
        """Zero-fill [size, new_size): grows the last block, then whole zero blocks."""
        while self.size < new_size:
            index, inner = divmod(self.size, self.bs)
            take = min(self.bs - inner, new_size - self.size)
            buf = self._for_write(index)
            buf.extend(bytes(take))
            self.size += take

    def write(self, offset: int, data: bytes | memoryview) -> int:
        view = memoryview(data)
        if offset > self.size:
            self._extend(offset)
        pos = 0
        while pos < len(view):
            index, inner = divmod(offset + pos, self.bs)
            take = min(self.bs - inner, len(view) - pos)
            buf = self._for_write(index)
            if len(buf) < inner + take:
                buf.extend(bytes(inner + take - len(buf)))
            buf[inner : inner + take] = view[pos : pos + take]
            self.size = max(self.size, index * self.bs + len(buf))
            pos += take
        return len(view)

    def truncate(self, size: int) -> None:
        self._touched = True
        if size >= self.size:
            self._extend(size)
            return
        index, rest = divmod(size, self.bs)
        tail = bytes(self._block(index)[:rest]) if rest else b""
        for i in [i for i in self._pending if i >= index]:
            del self._pending[i]
        if self.writer.size > index * self.cs:
            self.writer.truncate(index * self.cs)
        self.size = size
        if rest:
            self._pending[index] = bytearray(tail)
            self._evict()

    def commit(
        self,
        ctx: RequestContext,
        *,
        sys_meta: SystemMeta | None = None,
        content_type: str | None = None,
        user_meta: dict[str, str] | None = None,
    ) -> PutResult:
        self.flush()
        meta = dict(user_meta or {})
        meta[META_KEY] = self.envelope
        result = self.writer.commit(
            ctx, sys_meta=sys_meta, content_type=content_type, user_meta=meta
        )
        self._touched = False
        return result

    def close(self) -> None:
        self._pending.clear()
        self.writer.close()


def open_writer(
    store: Any,
    ctx: RequestContext,
    enc: MountEncryption,
    bucket: str,
    key: str,
    base: ObjectVersion | None,
    *,
    fresh: bool,
    cse: CSEObject | None = None,
) -> Any:
    """The writer of an open file (runs in a worker thread).

    ``fresh``: the content starts empty (new file, rewrite from scratch) and
    gets the mount's encryption. Otherwise the writer edits ``base`` in place
    and keeps its encryption; ``cse`` is the base's open envelope, if any.
    """
    if fresh or base is None:
        writer = store.open_writer(
            ctx, bucket, key, base=base, truncate=True, sse=enc.write_request
        )
        if enc.cse_key is None:
            return writer
        obj, envelope = CSEObject.new(enc.cse_key, store.chunk_size)
        return CSEWriter(writer, obj, envelope)
    with keyed(base):
        writer = store.open_writer(ctx, bucket, key, base=base, sse=enc.keep_request(base))
    if cse is None:
        return writer
    if cse.chunk_size != store.chunk_size:
        writer.close()
        raise InternalError("client-side frames do not match the store's chunk size")
    return CSEWriter(writer, cse, base.user_meta[META_KEY])


__all__ = ["CSEWriter", "open_writer"]
