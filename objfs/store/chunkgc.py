"""gc of a chunk store that cannot touch (S3): decided from database rows and leases only.

LocalBackend's gc deletes a file only if its mtime is still old, after moving
it aside (``discard_unless_touched``): a writer that deduplicated onto it
touched it. An S3 store has neither a touch nor a delete conditional on the
time of last write, and its mtimes are the server's clock. So for a backend
whose ``gc_by_rows`` is true, gc decides from the ``chunks`` rows, the
``doomed_chunks`` rows (objfs/meta/gc_queries.py), the writer leases
(store/leases.py) and the time, and never from what the backend says of an
object's age.

The rules
---------
W1. A writer deduplicates only against the database: a ``chunks`` row for
    the id that is not inline (``ChunkStore.known``, ``gq.dedup_hit``),
    never against the object's existence.
    Without a row it PUTs the frame (again): an object with no row (an
    orphan, or one gc is deleting) is never relied on.
W2. Every write runs under its process's lease, published before it stores
    anything; the lease row's ``since`` is at most the start of every write
    in progress of that process (leases.py).
W3. A commit whose transaction adds a reference to a chunk that had no live
    row (``revived``) calls ``rescue`` in that transaction, which looks the
    chunk up in ``doomed_chunks``:
    - ``doomed``: the row is removed (rescued): gc has not begun deleting,
      and no gc may begin now (G3 takes only rows in ``doomed``);
    - ``deleting``: gc may be deleting the object right now, and the writer
      cannot tell whether its PUT (or the object it deduplicated onto) came
      before or after the DELETE: the commit fails with ``ChunkInCollection``
      (503 SlowDown, EAGAIN: retry), never commits a hole. But if the gc
      that claimed it holds no live lease any more (it died), no DELETE of
      it comes any more: a HEAD decides as for ``deleted`` (exists: the row
      goes, conditionally on the claimer still being gone), so a killed gc
      does not block writes of that data until the next gc;
    - ``deleted``: the DELETE has returned, so the object exists only if it
      was PUT after it: a HEAD decides (exists: the tombstone goes and the
      commit proceeds; else ``ChunkInCollection``);
    - no row: nothing of gc's touched it since this writer began (G5); the
      commit still checks that a revived chunk exists, as ever.
G1. gc lists the bucket first (time ``t_list``), then in one write
    transaction drops expired leases and computes the **cutoff**:
    ``min(now - grace, oldest live since - LEASE_MARGIN_S)`` (this process's
    own writes from memory). It moves each chunk row dead since before the
    cutoff (refs 0) into ``doomed_chunks`` (state ``doomed``, ``doomed_at``
    now), deleting the row with a statement conditional on it still being
    dead (a commit that revived it meanwhile wins). An inline chunk has no
    object: it goes with its row.
G2. In the same transaction, each listed object with neither a ``chunks``
    nor a ``doomed_chunks`` row (a killed writer's upload, a crash before a
    commit) is doomed too, but only when every live lease began after
    ``t_list`` (``since - LEASE_MARGIN_S > t_list``): every writer that could
    have PUT it before the listing has then ended its write (committed: it
    has a row; abandoned or dead: nobody will name it) or lost its lease.
    Otherwise it is counted as held.
G3. In a later transaction, gc **claims** doomed rows past the second
    cutoff (``doomed_at <= min(now - grace, oldest live since - margin)``,
    so every writer that might have deduplicated onto the dead row has
    finished) that still have no ``chunks`` row: ``doomed`` -> ``deleting``
    under its own lease id. Rows left in ``deleting`` by a gc whose lease is
    gone (killed mid-delete) are claimed again the same way; rows of this
    process's lease too (a pass that failed midway; gc runs one pass at a
    time per process, a lock). Doomed rows of chunks that have a row again
    (a repair wrote one) are forgotten.
G4. gc DELETEs the claimed objects (outside any transaction; before each,
    it checks its own lease is still good for ``LEASE_MARGIN_S`` and has not
    lapsed since the pass began, so a gc that slept past its lease stops
    rather than race the gc that took over),
    then marks them ``deleted`` (``changed_at`` = after the DELETEs
    returned).
G5. A ``deleted`` tombstone is dropped once every live lease began after
    it was stamped (``changed_at < oldest since - margin``): every write in
    progress then began after the DELETE returned.

Why no committed version names a deleted object
-----------------------------------------------
Take a commit C naming chunk X, and a DELETE of X by gc D. D deleted X only
after claiming it (G3), so X had a doomed row, in ``deleting`` from the claim
until the tombstone is dropped (G5), and no ``chunks`` row at the claim.
Transactions are serialised (SQLite's one writer; the PostgreSQL engine
must give gc's and commits' transactions the same order).

- C before the claim: C added a reference to X. If X's row was live, it
  was never doomed (G1 takes only dead rows, conditionally). If it was
  dead or absent, C is a revival and ran W3: a ``doomed`` row was removed
  (G3 then finds none); so C after the doom but before the claim is safe,
  and C before the doom left a live row (G1 skips it; G2 skips it).
- C after the claim, tombstone present: C's chunk had no live row (G3
  claims only rows without one, and W3 makes C see the state): in
  ``deleting`` C fails; in ``deleted`` C commits only if the object exists
  after the DELETE returned, and no other DELETE of X can follow (a single
  claim; a take-over, or W3's rescue of an abandoned claim, only once the
  claimer's lease is dead).
- C after the tombstone was dropped: C's write began before its commit;
  if it began before D's DELETE returned, its lease ``since`` is at most
  that start, so G5 keeps the tombstone while C's lease lives: impossible.
  So C's write began after the DELETE returned, and its PUT of X (W1: no
  row means it PUTs) came after the DELETE.

A writer whose lease expired (its process froze longer than the lease) is
treated as dead, as everywhere in objfs: the commit still checks that a
revived chunk exists, which catches the rest. Clocks of nodes must agree
within ``LEASE_MARGIN_S`` (NTP), as for the cutoff of LocalBackend's gc.

Costs: a writer's dedup is one indexed SELECT (no HEAD, no server-side
copies, as the old touch made); a commit reviving chunks makes one SELECT on
``doomed_chunks`` per 500 of them. A dead chunk's object goes after two
graces; a crashed writer's objects after its lease expired and one grace.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from objfs.errors import ChunkInCollection
from objfs.meta import gc_queries as gq
from objfs.meta import queries as q
from objfs.meta.db import Cursor, Database

if TYPE_CHECKING:
    from objfs.chunks.store import ChunkStore
    from objfs.store.leases import Leases

log = logging.getLogger(__name__)

# Clocks of nodes, and of a lease's start against its chunks: the slack allowed.
LEASE_MARGIN_S = 1.0
_MARGIN_NS = int(LEASE_MARGIN_S * 1e9)

# The oldest ``since`` among the live writer leases (this process's own writes
# from memory) and, for people, whose it is: Maintenance._oldest_hold.
OldestHold = Callable[[Cursor, int], tuple[int | None, str | None]]


def ensure_schema(db: Database) -> None:
    """Create ``doomed_chunks`` if this store predates it (store open)."""
    with db.write() as cur:
        gq.ensure_schema(cur)


def rescue(cur: Cursor, chunks: ChunkStore, revived: Iterable[bytes]) -> None:
    """W3: in the transaction of a commit that takes up ``revived`` chunks (no
    live row before it), take them back from gc, or fail the commit
    (``ChunkInCollection``) when gc may be deleting them."""
    if not chunks.backend.gc_by_rows:
        return
    ids = list(revived)
    if not ids:
        return
    for chunk_id, state in gq.states(cur, ids).items():
        if state == gq.DOOMED and gq.rescue(cur, chunk_id, gq.DOOMED):
            continue
        if state == gq.DOOMED:  # a gc moved it on meanwhile: look again
            state = gq.states(cur, [chunk_id]).get(chunk_id, "")
            if not state:
                continue
        if state == gq.DELETED and chunks.exists(chunk_id):
            gq.rescue(cur, chunk_id, gq.DELETED)  # PUT again after gc's DELETE
            continue
        if (
            state == gq.DELETING
            and chunks.exists(chunk_id)
            and gq.rescue_abandoned(cur, chunk_id, time.time_ns())
        ):
            continue  # its gc died: no DELETE comes any more, and the object is there
        raise ChunkInCollection(
            f"chunk {chunk_id.hex()} is being deleted by gc (it had become unreferenced): "
            "the write was not committed; retry it"
        )


@dataclass(slots=True)
class RowGcResult:
    """What one pass did (maintenance's ``GcReport`` takes it over)."""

    chunks_removed: int = 0  # objects deleted, and inline chunks dropped with their rows
    bytes_freed: int = 0
    leases_expired: int = 0
    cutoff_ns: int = 0
    held: int = 0  # past the grace, kept for a live writer lease
    held_by: str | None = None
    doomed: int = 0  # doomed, waiting for the second grace
    temp_files_removed: int = 0


class RowGC:
    """gc's work on a store whose chunk backend cannot touch (G1-G5 above).

    Built by ``Maintenance`` with the database, the chunk store, this
    process's lease and how to find the oldest live lease."""

    def __init__(
        self, *, db: Database, chunks: ChunkStore, leases: Leases, oldest_hold: OldestHold
    ) -> None:
        self.db = db
        self.chunks = chunks
        self.leases = leases
        self.oldest_hold = oldest_hold
        self._running = threading.Lock()  # one gc at a time in this process (G3)
        # Tests: called with the name of each step as gc reaches it.
        self.hook: Callable[[str], None] | None = None

    def _step(self, name: str) -> None:
        if self.hook is not None:
            self.hook(name)

    def _cutoff(self, cur: Cursor, now: int, grace_ns: int) -> tuple[int, str | None]:
        """``min(now - grace, oldest live since - margin)`` and whose lease bounds it."""
        since, why = self.oldest_hold(cur, now)
        graced = now - grace_ns
        if since is None or since - _MARGIN_NS >= graced:
            return graced, None
        return since - _MARGIN_NS, why

    def run(self, grace_seconds: float) -> RowGcResult:
        """One gc pass (G1-G5)."""
        with self._running:
            return self._run(int(grace_seconds * 1e9))

    def _run(self, grace_ns: int) -> RowGcResult:
        out = RowGcResult()
        lease_id = self.leases.keep_published()  # G3's claims are made under it
        lapses = self.leases.lapses
        t_list = time.time_ns()
        listed = list(self.chunks.inventory())
        self._step("listed")
        with self.db.write(durable=True) as cur:  # G1, G2
            now = time.time_ns()
            out.leases_expired = q.drop_expired_leases(cur, now)
            cutoff, why = self._cutoff(cur, now, grace_ns)
            out.cutoff_ns = cutoff
            sizes = dict(listed)
            for chunk_id in gq.dead_candidates(cur, cutoff):
                took = gq.take_dead_row(cur, chunk_id, cutoff)
                if took is None:
                    continue
                length, inline_row = took
                if inline_row is not None:  # in this database only: gone with its row
                    q.drop_inline_row(cur, inline_row)
                    out.chunks_removed += 1
                    continue
                gq.doom(cur, chunk_id, sizes.get(chunk_id, length), now)
            graced = now - grace_ns
            if cutoff < graced:  # dead rows past the grace that a lease still covers
                out.held += len(gq.dead_candidates(cur, graced))
            since, holder = self.oldest_hold(cur, now)
            orphans_free = since is None or since - _MARGIN_NS > t_list
            doomed = gq.doomed_ids(cur)
            for chunk_id, size in listed:
                if chunk_id in doomed or q.chunk_known(cur, chunk_id):
                    continue
                if orphans_free:
                    gq.doom(cur, chunk_id, size, now)
                else:
                    out.held += 1
                    why = why or holder
        self._step("doomed")
        with self.db.write(durable=True) as cur:  # G3
            now = time.time_ns()
            second, why2 = self._cutoff(cur, now, grace_ns)
            gq.forget_revived(cur)
            claimed = gq.take_over(cur, lease_id, now) + gq.claim(cur, lease_id, second, now)
            out.doomed = gq.count_doomed_after(cur, second)
            held = out.doomed - gq.count_doomed_after(cur, now - grace_ns)
            if held:
                out.held += held
                why = why or why2
        self._step("claimed")
        deleted: list[bytes] = []
        try:
            for chunk_id, size in claimed:  # G4
                if not self.leases.valid_for(LEASE_MARGIN_S, lapses):
                    log.warning("gc stopped deleting: its writer lease is about to expire")
                    break
                self.chunks.delete(chunk_id)
                deleted.append(chunk_id)
                out.bytes_freed += size
                self._step("deleted-one")
        finally:
            if deleted:
                with self.db.write(durable=True) as cur:
                    gq.mark_deleted(cur, deleted, lease_id, time.time_ns())
        out.chunks_removed += len(deleted)
        self._step("marked")
        with self.db.write() as cur:  # G5
            now = time.time_ns()
            since, _ = self.oldest_hold(cur, now)
            # No lease at all: any write begins (and publishes) after this.
            gq.drop_tombstones(cur, now if since is None else min(now, since - _MARGIN_NS))
        out.held_by = why if out.held else None
        out.temp_files_removed = self.chunks.cleanup_temp(max(0.0, (now - cutoff) / 1e9))
        return out
