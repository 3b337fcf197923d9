"""Sealing in worker *processes*: a measurement for ``seqprobe.py --proc-store``,
not a design (a profiling aid, not a benchmark).

Imported by the daemon that ``seqprobe.py --proc-store N`` starts, before
objfs's CLI: it replaces ``ObjectWriter._store_block`` for whole blocks with a
hand-off to one of N spawned processes, each with its own ``ChunkStore`` on
the same chunk directory and a shared-memory slot. The daemon's thread copies
the block into the slot and waits on a pipe (the GIL is free meanwhile); the
process hashes, seals and writes the chunk exactly as ``ChunkStore.put``
does. So the mount's GIL no longer carries hashing, AES-GCM or the chunk
write, and the phase shows whether sequential writes are bound by that lock
or by the machine's CPU. Blocks in parts, short blocks and all-zero blocks
take the usual path.

Not durable (a fan-out directory made by a process is not fsynced by the
daemon's ``sync``), no recovery if a process dies: never for real data.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from multiprocessing import shared_memory
from multiprocessing.connection import Connection
from typing import Any

from objfs.store import writer
from objfs.store.types import ChunkRef

SLOT = (1 << 20) + 4096


def _serve(conn: Connection, root: str, compress: bool, name: str) -> None:
    from objfs.chunks.backend import LocalBackend
    from objfs.chunks.store import ChunkStore

    slot = shared_memory.SharedMemory(name=name)
    chunks = ChunkStore(LocalBackend(root), compress=compress)
    while (msg := conn.recv()) is not None:
        domain, length = msg
        try:
            conn.send(chunks.put(domain, slot.buf[:length]))
        except Exception as exc:  # noqa: BLE001 - handed back to the daemon as is
            conn.send(exc)


_free: queue.Queue[tuple[Connection, shared_memory.SharedMemory]] | None = None
_procs: list[Any] = []


def _pool(chunks: Any) -> queue.Queue[tuple[Connection, shared_memory.SharedMemory]]:
    global _free
    if _free is None:
        spawn = multiprocessing.get_context("spawn")  # the daemon runs threads: no fork
        free: queue.Queue[tuple[Connection, shared_memory.SharedMemory]] = queue.Queue()
        for _ in range(int(os.environ.get("OBJFS_PROBE_SEALERS", "2"))):
            slot = shared_memory.SharedMemory(create=True, size=SLOT)
            ours, theirs = spawn.Pipe()
            args = (theirs, str(chunks.backend.root), chunks.compress, slot.name)
            proc = spawn.Process(target=_serve, args=args, daemon=True)
            proc.start()
            _procs.append(proc)
            free.put((ours, slot))
        _free = free
    return _free


_store_block = writer.ObjectWriter._store_block


def _store_block_elsewhere(self: Any, buf: Any, length: int) -> ChunkRef:
    if not (isinstance(buf, (bytes, bytearray)) and len(buf) == length == self.block):
        return _store_block(self, buf, length)
    free = _pool(self.store.chunks)
    conn, slot = free.get()
    try:
        slot.buf[:length] = buf
        conn.send((self.domain, length))
        got = conn.recv()
    finally:
        free.put((conn, slot))
    if isinstance(got, Exception):
        raise got
    return ChunkRef(got[0], length)


writer.ObjectWriter._store_block = _store_block_elsewhere  # type: ignore[method-assign]
