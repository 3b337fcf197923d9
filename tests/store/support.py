"""Helpers for the store tests: streamed bodies, reading back, chunk-dir stats.

Nothing here touches store internals: bodies go in through the public API,
and the only on-disk knowledge is that chunk files live under ``chunks/``
of the store directory (DESIGN.md, "Data model").
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from objfs.store import OWNER, RequestContext, Store

MiB = 1 << 20
KiB = 1 << 10
EMPTY_MD5 = hashlib.md5(b"").hexdigest()


class GenStream(io.RawIOBase):
    """A read-only file object fed by an iterator of byte pieces.

    ``readinto`` returns at most one piece per call, so callers also meet
    short reads (as from a pipe or a socket); nothing is held beyond one piece.
    """

    def __init__(self, pieces: Iterable[bytes]) -> None:
        super().__init__()
        self._pieces: Iterator[bytes] = iter(pieces)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        while not self._pending:
            try:
                self._pending = memoryview(next(self._pieces))
            except StopIteration:
                return 0
        n = min(len(buf), len(self._pending))
        buf[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def base_block(seed: int) -> bytes:
    """1 MiB of seeded random (incompressible) bytes."""
    return random.Random(seed).randbytes(MiB)


def pattern_pieces(
    size: int,
    seed: int = 0,
    *,
    piece: int = 192 * KiB + 7,
    patches: dict[int, bytes] | None = None,
) -> Iterator[bytes]:
    """Deterministic, incompressible data of ``size`` bytes, in uneven pieces.

    Each MiB is a seeded random block stamped with its index, so no two MiB
    are equal (nothing dedups by accident). ``patches`` maps an offset to
    bytes written over the data there (must not cross a MiB boundary).
    """
    base = base_block(seed)
    patches = patches or {}
    offset = 0
    block_no = 0
    while offset < size:
        block = bytearray(base)
        block[:16] = block_no.to_bytes(8, "big") + seed.to_bytes(8, "big")
        for at, data in patches.items():
            if block_no * MiB <= at < (block_no + 1) * MiB:
                rel = at - block_no * MiB
                block[rel : rel + len(data)] = data
        view = memoryview(block)[: min(MiB, size - offset)]
        for i in range(0, len(view), piece):
            yield bytes(view[i : i + piece])
        offset += len(view)
        block_no += 1


def pattern_stream(size: int, seed: int = 0, **kw: object) -> GenStream:
    return GenStream(pattern_pieces(size, seed, **kw))  # type: ignore[arg-type]


def pattern_md5(size: int, seed: int = 0, **kw: object) -> str:
    digest = hashlib.md5()
    for piece in pattern_pieces(size, seed, **kw):  # type: ignore[arg-type]
        digest.update(piece)
    return digest.hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def rand_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def get_body(store: Store, ctx: RequestContext, bucket: str, key: str, **kw: object) -> bytes:
    """The whole body (or range) of an object, read through ``get_object``."""
    with store.get_object(ctx, bucket, key, **kw) as reader:  # type: ignore[arg-type]
        return reader.read()


def get_digest(
    store: Store, ctx: RequestContext, bucket: str, key: str, **kw: object
) -> tuple[str, int]:
    """(md5 hex, size) of an object streamed piece by piece, never held whole."""
    digest = hashlib.md5()
    size = 0
    with store.get_object(ctx, bucket, key, **kw) as reader:  # type: ignore[arg-type]
        for piece in reader:
            digest.update(piece)
            size += len(piece)
    return digest.hexdigest(), size


def chunk_files(store_path: Path) -> dict[str, int]:
    """Every file under the store's ``chunks/`` directory: relative path -> size."""
    root = Path(store_path) / "chunks"
    out: dict[str, int] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            try:
                out[os.path.relpath(full, root)] = os.path.getsize(full)
            except FileNotFoundError:  # removed while we walked
                continue
    return out


def chunk_dir_bytes(store_path: Path) -> int:
    return sum(chunk_files(store_path).values())


def wait_leases_expired(store: Store, timeout: float = 30.0) -> None:
    """Wait until no other process's writer lease is live (a killed writer's expires)."""
    deadline = time.monotonic() + timeout
    while any(
        lease.live and lease.lease_id != store.leases.lease_id
        for lease in store.writer_leases(OWNER)
    ):
        assert time.monotonic() < deadline, store.writer_leases(OWNER)
        time.sleep(0.1)
