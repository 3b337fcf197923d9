"""The SQL of gc by database rows (objfs/store/chunkgc.py): the ``doomed_chunks`` table.

A row of ``doomed_chunks`` is a chunk object gc means to delete, or has
deleted, from a chunk store that gc runs by rows (an S3 bucket). Its
``state`` moves one way: ``doomed`` (its ``chunks`` row is gone, or it never
had one; a commit naming it removes this row and so rescues it) ->
``deleting`` (claimed by the gc holding lease ``claimed_by``: its DELETE may
be on the wire) -> ``deleted`` (the DELETE returned; a tombstone kept until
no writer that began before ``changed_at`` is alive). ``changed_at`` is when
the row took its state (ns).

The DDL is ``CREATE ... IF NOT EXISTS`` text (``ensure_schema`` runs it when
a store whose gc works by rows is opened). Portable SQL only: BLOB, INTEGER
and TEXT columns, plain ``?`` parameters, ``ON CONFLICT`` with a target,
``RETURNING``; every state change is a conditional statement (the state it
moves from is in its WHERE), so two gcs on two nodes, or a gc and a commit,
never both take one row.

Invariants: a chunk id has at most one row; a row in ``deleting`` or
``deleted`` has no live ``chunks`` row beside it once the commit that would
add one has run ``rescue``'s checks (chunkgc.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from objfs.meta.db import Cursor, run_ddl

DOOMED = "doomed"
DELETING = "deleting"
DELETED = "deleted"

# Made at open on a store whose gc runs by rows (chunkgc.ensure_schema), by
# a store copy on its target, and at create on PostgreSQL (pg.all_ddl). Not in
# db.py's SCHEMA: a store on local disk never needs it.
GC_SCHEMA = """
CREATE TABLE IF NOT EXISTS doomed_chunks (
    chunk_id BLOB PRIMARY KEY,
    size INTEGER NOT NULL,       -- bytes the object takes (listed), or its data length
    doomed_at INTEGER NOT NULL,  -- ns: when its chunks row went (or it was found orphaned)
    state TEXT NOT NULL,         -- 'doomed', 'deleting' or 'deleted'
    claimed_by TEXT,             -- the lease id of the gc deleting it
    changed_at INTEGER NOT NULL  -- ns: when it took its state
);
CREATE INDEX IF NOT EXISTS doomed_chunks_by_state ON doomed_chunks(state, changed_at)
"""

_BATCH = 500


def ensure_schema(cur: Cursor) -> None:
    """Create the gc tables if the store predates them (idempotent)."""
    run_ddl(cur, GC_SCHEMA)


# -- a writer's dedup -----------------------------------------------------------


def dedup_hit(cur: Cursor, chunk_id: bytes) -> bool:
    """Whether a write may skip storing ``chunk_id``: it has a chunk row whose
    frame is not inline (an inline one has no object to share)."""
    row = cur.execute(
        "SELECT 1 FROM chunks WHERE chunk_id = ? AND inline_row IS NULL", (chunk_id,)
    ).fetchone()
    return row is not None


# -- dooming ----------------------------------------------------------------


def dead_candidates(cur: Cursor, cutoff_ns: int) -> list[bytes]:
    """Chunk rows whose count fell to 0 at or before ``cutoff_ns``."""
    return [
        row[0]
        for row in cur.execute(
            "SELECT chunk_id FROM chunks WHERE refs = 0 AND dead_since <= ?", (cutoff_ns,)
        ).fetchall()
    ]


def take_dead_row(cur: Cursor, chunk_id: bytes, cutoff_ns: int) -> tuple[int, int | None] | None:
    """Delete the chunk row if it is still dead since ``cutoff_ns``; returns its
    (length, inline frame row) or None when a commit took it up meanwhile."""
    row = cur.execute(
        "DELETE FROM chunks WHERE chunk_id = ? AND refs = 0 AND dead_since <= ? "
        "RETURNING length, inline_row",
        (chunk_id, cutoff_ns),
    ).fetchall()
    return None if not row else (int(row[0][0]), row[0][1])


def doom(cur: Cursor, chunk_id: bytes, size: int, now_ns: int) -> bool:
    """Record the chunk's object as doomed unless it has a chunk row or a doomed
    row already; True if it now is (by this call)."""
    row = cur.execute(
        "INSERT INTO doomed_chunks(chunk_id, size, doomed_at, state, claimed_by, changed_at) "
        "SELECT ?, ?, ?, ?, NULL, ? WHERE NOT EXISTS "
        "(SELECT 1 FROM chunks WHERE chunk_id = ?) "
        "ON CONFLICT(chunk_id) DO NOTHING RETURNING chunk_id",
        (chunk_id, size, now_ns, DOOMED, now_ns, chunk_id),
    ).fetchall()
    return bool(row)


def doomed_ids(cur: Cursor) -> set[bytes]:
    return {row[0] for row in cur.execute("SELECT chunk_id FROM doomed_chunks").fetchall()}


def count_doomed_after(cur: Cursor, after_ns: int) -> int:
    """Doomed rows still inside the second grace (doomed after ``after_ns``)."""
    row = cur.execute(
        "SELECT count(*) FROM doomed_chunks WHERE state = ? AND doomed_at > ?",
        (DOOMED, after_ns),
    ).fetchone()
    return int(row[0])


# -- deleting ---------------------------------------------------------------


def claim(
    cur: Cursor, lease_id: str, doomed_before_ns: int, now_ns: int
) -> list[tuple[bytes, int]]:
    """Move doomed rows older than ``doomed_before_ns`` that no chunk row names
    to ``deleting`` under ``lease_id``; returns their (chunk id, size)."""
    rows = cur.execute(
        "UPDATE doomed_chunks SET state = ?, claimed_by = ?, changed_at = ? "
        "WHERE state = ? AND doomed_at <= ? AND NOT EXISTS "
        "(SELECT 1 FROM chunks c WHERE c.chunk_id = doomed_chunks.chunk_id) "
        "RETURNING chunk_id, size",
        (DELETING, lease_id, now_ns, DOOMED, doomed_before_ns),
    ).fetchall()
    return [(row[0], int(row[1])) for row in rows]


_CLAIMER_GONE = (
    "NOT EXISTS (SELECT 1 FROM leases l WHERE l.lease_id = doomed_chunks.claimed_by "
    "AND l.expires > ?)"
)


def take_over(cur: Cursor, lease_id: str, now_ns: int) -> list[tuple[bytes, int]]:
    """Rows in ``deleting`` whose gc holds no live lease any more (killed
    mid-delete), or that ``lease_id`` holds already (an earlier pass of this
    process that failed midway): claimed under ``lease_id``; returns (chunk id, size)."""
    rows = cur.execute(
        "UPDATE doomed_chunks SET claimed_by = ?, changed_at = ? "
        f"WHERE state = ? AND (claimed_by = ? OR {_CLAIMER_GONE}) RETURNING chunk_id, size",
        (lease_id, now_ns, DELETING, lease_id, now_ns),
    ).fetchall()
    return [(row[0], int(row[1])) for row in rows]


def forget_revived(cur: Cursor) -> int:
    """Doomed rows (not yet claimed) of chunks that have a row again (a repair)."""
    return int(
        cur.execute(
            "DELETE FROM doomed_chunks WHERE state = ? AND EXISTS "
            "(SELECT 1 FROM chunks c WHERE c.chunk_id = doomed_chunks.chunk_id)",
            (DOOMED,),
        ).rowcount
    )


def mark_deleted(cur: Cursor, chunk_ids: Iterable[bytes], lease_id: str, now_ns: int) -> int:
    """The DELETEs of ``chunk_ids`` returned: their rows become tombstones
    (only rows this lease still holds); returns how many did."""
    done = 0
    for chunk_id in chunk_ids:
        done += cur.execute(
            "UPDATE doomed_chunks SET state = ?, changed_at = ? "
            "WHERE chunk_id = ? AND state = ? AND claimed_by = ?",
            (DELETED, now_ns, chunk_id, DELETING, lease_id),
        ).rowcount
    return done


def drop_tombstones(cur: Cursor, before_ns: int) -> int:
    """Forget tombstones of DELETEs that returned before ``before_ns``."""
    return int(
        cur.execute(
            "DELETE FROM doomed_chunks WHERE state = ? AND changed_at < ?", (DELETED, before_ns)
        ).rowcount
    )


# -- a commit's rescue ---------------------------------------------------------


def states(cur: Cursor, chunk_ids: Sequence[bytes]) -> dict[bytes, str]:
    """chunk id -> state, of those of ``chunk_ids`` that have a doomed row."""
    out: dict[bytes, str] = {}
    for i in range(0, len(chunk_ids), _BATCH):
        batch = list(chunk_ids[i : i + _BATCH])
        marks = ",".join(["?"] * len(batch))
        for chunk_id, state in cur.execute(
            f"SELECT chunk_id, state FROM doomed_chunks WHERE chunk_id IN ({marks})", batch
        ).fetchall():
            out[chunk_id] = state
    return out


def rescue(cur: Cursor, chunk_id: bytes, state: str) -> bool:
    """Remove the chunk's doomed row if it is still in ``state``; True if it was."""
    return (
        cur.execute(
            "DELETE FROM doomed_chunks WHERE chunk_id = ? AND state = ?", (chunk_id, state)
        ).rowcount
        > 0
    )


def rescue_abandoned(cur: Cursor, chunk_id: bytes, now_ns: int) -> bool:
    """Remove the chunk's row if it is in ``deleting`` under a gc that holds no
    live lease any more (it sends no DELETE again); True if it was."""
    return (
        cur.execute(
            f"DELETE FROM doomed_chunks WHERE chunk_id = ? AND state = ? AND {_CLAIMER_GONE}",
            (chunk_id, DELETING, now_ns),
        ).rowcount
        > 0
    )


def state_counts(cur: Cursor) -> dict[str, int]:
    return {
        row[0]: int(row[1])
        for row in cur.execute(
            "SELECT state, count(*) FROM doomed_chunks GROUP BY state"
        ).fetchall()
    }
