"""Every SQL statement of server access logging, as small functions over a cursor.

Table (created by ``ensure_schema`` the first time a record is kept, so
``IF NOT EXISTS``):

- ``access_log_pending``: records captured but not yet delivered, in
  capture order (``id``), each with the target bucket and prefix its source
  bucket's logging configuration named when it was captured, and the line
  ready to write. Delivery removes the rows it wrote in the same
  transaction that commits the log object.

A bucket's logging configuration itself lives in the ``buckets.config``
msgpack map (``objfs/meta/auth_queries.py``). What to capture and when to
deliver is ``objfs/store/accesslog.py``'s business.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from objfs.meta.db import Cursor, count_tables, is_postgres, run_ddl
from objfs.meta.rows import BacklogRow, PendingRow

SCHEMA = """
CREATE TABLE IF NOT EXISTS access_log_pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target_bucket TEXT NOT NULL,
    target_prefix TEXT NOT NULL,
    source_bucket TEXT NOT NULL,
    created INTEGER NOT NULL,    -- ns since epoch: when the request started
    line TEXT NOT NULL           -- S3 server-access-log line, no newline
);
CREATE INDEX IF NOT EXISTS access_log_pending_target
    ON access_log_pending(target_bucket, target_prefix, id)
"""


_ESCAPED = re.compile(r"\\(.)")


def prefix_in(cur: Cursor, prefix: str) -> str:
    """A target prefix as stored: PostgreSQL's TEXT holds no NUL, which a
    pending record's prefix may (logformat's date placeholder): escaped there."""
    if not is_postgres(cur):
        return prefix
    return prefix.replace("\\", "\\\\").replace("\x00", "\\0")


def prefix_out(cur: Cursor, prefix: str) -> str:
    if not is_postgres(cur):
        return prefix
    return _ESCAPED.sub(lambda m: "\x00" if m.group(1) == "0" else m.group(1), prefix)


def has_schema(cur: Cursor) -> bool:
    return count_tables(cur, ("access_log_pending",)) == 1


def ensure_schema(cur: Cursor) -> None:
    run_ddl(cur, SCHEMA)


def insert_pending(cur: Cursor, rows: Sequence[tuple[str, str, str, int, str]]) -> None:
    """``rows``: (target bucket, target prefix, source bucket, created ns, line)."""
    cur.executemany(
        "INSERT INTO access_log_pending "
        "(target_bucket, target_prefix, source_bucket, created, line) VALUES (?, ?, ?, ?, ?)",
        [(t, prefix_in(cur, p), *rest) for t, p, *rest in rows],
    )


def target_backlog(cur: Cursor, bucket: str, prefix: str) -> tuple[int, int | None]:
    """``(records pending, oldest created ns)`` for one target."""
    row = cur.execute(
        "SELECT count(*), min(created) FROM access_log_pending "
        "WHERE target_bucket = ? AND target_prefix = ?",
        (bucket, prefix_in(cur, prefix)),
    ).fetchone()
    return row[0], row[1]


def backlogs(cur: Cursor) -> list[BacklogRow]:
    """``(target bucket, target prefix, records, oldest created ns)`` of every target."""
    rows = cur.execute(
        "SELECT target_bucket, target_prefix, count(*), min(created) FROM access_log_pending "
        "GROUP BY target_bucket, target_prefix ORDER BY target_bucket, target_prefix"
    ).fetchall()
    return [BacklogRow(b, prefix_out(cur, p), n, t) for b, p, n, t in rows]


def pending_batch(cur: Cursor, bucket: str, prefix: str, limit: int) -> list[PendingRow]:
    """``(id, line)`` of the oldest ``limit`` records for one target, in capture order."""
    rows = cur.execute(
        "SELECT id, line FROM access_log_pending WHERE target_bucket = ? AND target_prefix = ? "
        "ORDER BY id LIMIT ?",
        (bucket, prefix_in(cur, prefix), limit),
    ).fetchall()
    return list(map(PendingRow._make, rows))


def delete_pending(cur: Cursor, ids: Sequence[int]) -> int:
    """Remove delivered (or dropped) records; returns how many were still there."""
    removed = 0
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ", ".join("?" * len(part))
        removed += cur.execute(
            f"DELETE FROM access_log_pending WHERE id IN ({marks})", tuple(part)
        ).rowcount
    return removed


def delete_target(cur: Cursor, bucket: str, prefix: str) -> int:
    return cur.execute(
        "DELETE FROM access_log_pending WHERE target_bucket = ? AND target_prefix = ?",
        (bucket, prefix_in(cur, prefix)),
    ).rowcount


def count_pending(cur: Cursor) -> int:
    return cur.execute("SELECT count(*) FROM access_log_pending").fetchone()[0]
