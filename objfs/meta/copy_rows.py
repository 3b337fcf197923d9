"""Every row of a store's metadata: read in one snapshot, written in one transaction.

``objfs store copy`` (objfs/store/copy.py) copies a store at the row level;
this module is the SQL of it. Invariants:

- the tables are the database's own catalogue (``table_names``), never a
  list kept by hand: a table added to the schema is copied without a change
  here. Only ``NOT_COPIED`` is hand-kept, each entry with its reason, and
  ``tests/test_store_copy.py`` fails if a table is neither copied nor there;
- ``read_snapshot`` reads every table in the caller's read transaction (one
  snapshot: a live source gives a consistent copy), every column by name,
  values verbatim (ids, seqs, dates, etags, sealed records, inline frames);
- ``replace_all`` runs in the caller's ONE write transaction: it empties
  every table of the target and inserts the snapshot, so the target holds
  all of the source's rows or (rolled back) none; the ``meta`` rows that say
  where the target itself lives (``TARGET_META``) are the target's own;
- an SQLite rowid that other rows name (``inline_chunks``' rowid, which
  ``chunks.inline_row`` points at) is copied as a column ``rowid``; a
  PostgreSQL schema has that column explicitly, so ``SELECT *`` carries it.

Statements are portable: column lists, ``?`` parameters; only the catalogue
query, the rowid rule and the engine-dependent encodings (``_ENCODED``)
know which engine they talk to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from objfs.errors import StoreFormatError
from objfs.meta import auth_queries, gc_queries, kms_queries, log_queries
from objfs.meta.db import Cursor, is_postgres, meta_in, meta_out
from objfs.meta.ddl import ROWID_TABLES

# Tables whose rows are not the store's but a running process's: a writer
# lease names a process of the source machine (pid, host), which the target
# never had; a copied lease would only keep the target's gc from its work.
NOT_COPIED: dict[str, str] = {
    "leases": "writer leases name processes of the source machine, not data",
    "doomed_chunks": "chunks on their way out of the source's chunk store (store/chunkgc.py): "
    "the copy takes only the chunks live rows name, so the target never has them",
}

# ``meta`` rows that describe where a store lives, not what it holds: the
# target keeps its own.
TARGET_META = frozenset({"chunks_url", "store_id"})  # store_id: PostgreSQL's lock key

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BATCH = 500  # rows per executemany


@dataclass(slots=True, frozen=True)
class TableRows:
    """One table of a snapshot: its columns by name and every row, verbatim."""

    name: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass(slots=True, frozen=True)
class StoredChunk:
    """A chunk that lives in the chunk location (not inline in the database)."""

    chunk_id: bytes
    length: int
    refs: int


@dataclass(slots=True)
class Snapshot:
    """Every copied table of a store, as one read transaction saw it."""

    tables: dict[str, TableRows]

    def count(self, table: str) -> int:
        found = self.tables.get(table)
        return 0 if found is None else len(found.rows)

    def column(self, table: str, name: str) -> Iterator[Any]:
        found = self.tables.get(table)
        if found is None:
            return iter(())
        i = found.columns.index(name)
        return (row[i] for row in found.rows)

    def stored_chunks(self) -> list[StoredChunk]:
        """The chunks whose sealed frames live in the chunk location: every
        ``chunks`` row without an inline frame (inline ones are rows too)."""
        table = self.tables.get("chunks")
        if table is None:
            return []
        col = {name: i for i, name in enumerate(table.columns)}
        inline = col.get("inline_row")
        return [
            StoredChunk(bytes(row[col["chunk_id"]]), int(row[col["length"]]), int(row[col["refs"]]))
            for row in table.rows
            if inline is None or row[inline] is None
        ]

    def meta(self, name: str) -> Any:
        for row_name, value in self.tables["meta"].rows:
            if row_name == name:
                return value
        return None


def _is_sqlite(cur: Cursor) -> bool:
    return not is_postgres(cur)


def _ident(name: str) -> str:
    if not _IDENT.fullmatch(name):
        raise StoreFormatError(f"unexpected name {name!r} in the store's metadata catalogue")
    return name


def table_names(cur: Cursor) -> list[str]:
    """Every table of the store's schema, from the database's catalogue."""
    if _is_sqlite(cur):
        rows = cur.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        ).fetchall()
    else:
        rows = cur.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        ).fetchall()
    return sorted(_ident(str(row[0])) for row in rows)


def copied_tables(cur: Cursor) -> list[str]:
    """The tables ``read_snapshot`` copies: all but ``NOT_COPIED``."""
    return [name for name in table_names(cur) if name not in NOT_COPIED]


def _columns(cur: Cursor, table: str) -> tuple[str, ...]:
    """The table's columns, plus SQLite's hidden ``rowid`` of a table whose
    rowid the queries name (``ROWID_TABLES``: ``chunks.inline_row`` points at
    ``inline_chunks``' rows; PostgreSQL has it as a column)."""
    cur.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    names = tuple(_ident(str(d[0])) for d in cur.description or ())
    if not _is_sqlite(cur) or "rowid" in names or table not in ROWID_TABLES:
        return names  # a hidden rowid no query names is not the store's data
    sql = cur.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if sql is None or "WITHOUT ROWID" in str(sql[0]).upper():
        return names
    info = cur.execute(f"PRAGMA table_info({table})").fetchall()
    pk = [row for row in info if row[5]]
    if len(pk) == 1 and str(pk[0][2]).upper() == "INTEGER":
        return names  # the rowid is that column already
    return ("rowid", *names)


def read_snapshot(cur: Cursor) -> Snapshot:
    """Every copied table, in the caller's read transaction (one snapshot),
    its values as neither engine stores them (``_ENCODED``): a copy may go
    from SQLite to PostgreSQL and back."""
    tables: dict[str, TableRows] = {}
    for table in copied_tables(cur):
        columns = _columns(cur, table)
        rows = [tuple(row) for row in cur.execute(f"SELECT {', '.join(columns)} FROM {table}")]
        tables[table] = TableRows(table, columns, _coded(cur, table, columns, rows, out=True))
    return tables_snapshot(tables)


# Columns whose stored form depends on the engine, and the functions that
# turn a value into it (``in``) and back (``out``): a ``meta`` value is
# msgpack in PostgreSQL's BYTEA, an access-log target prefix has its NUL
# escaped in PostgreSQL's TEXT.
_ENCODED: dict[
    tuple[str, str], tuple[Callable[[Cursor, Any], Any], Callable[[Cursor, Any], Any]]
] = {
    ("meta", "value"): (meta_in, meta_out),
    ("access_log_pending", "target_prefix"): (log_queries.prefix_in, log_queries.prefix_out),
}


def _coded(
    cur: Cursor,
    table: str,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    *,
    out: bool,
) -> list[tuple[Any, ...]]:
    """``rows`` with the engine-dependent columns of ``table`` decoded (``out``)
    from or encoded for ``cur``'s engine."""
    coders = {
        i: _ENCODED[(table, name)][1 if out else 0]
        for i, name in enumerate(columns)
        if (table, name) in _ENCODED
    }
    if not coders:
        return rows
    return [
        tuple(coders[i](cur, v) if i in coders and v is not None else v for i, v in enumerate(row))
        for row in rows
    ]


def tables_snapshot(tables: dict[str, TableRows]) -> Snapshot:
    if "meta" not in tables:
        raise StoreFormatError("the store's metadata has no meta table: it is not an objfs store")
    return Snapshot(tables)


def ensure_schema(cur: Cursor) -> None:
    """Create the tables other modules make on first use (the access log's
    backlog, access control's, the KMS's), so a fresh target has every table
    a source that used them has."""
    auth_queries.ensure_schema(cur)
    gc_queries.ensure_schema(cur)
    kms_queries.ensure_schema(cur)
    log_queries.ensure_schema(cur)


def replace_all(cur: Cursor, snapshot: Snapshot) -> None:
    """Make the target's tables hold exactly the snapshot's rows (``TARGET_META``
    and ``NOT_COPIED`` excepted), in the caller's write transaction."""
    ensure_schema(cur)
    present = set(table_names(cur))
    missing = sorted(set(snapshot.tables) - present)
    if missing:
        raise StoreFormatError(
            f"the target's metadata has no table {', '.join(missing)}: "
            "copy with the objfs version that made the source"
        )
    for table in sorted(present - set(NOT_COPIED)):
        data = snapshot.tables.get(table)
        if data is not None and "rowid" in data.columns and "rowid" not in _columns(cur, table):
            # SQLite's hidden rowid of a table no query names it in: the
            # target (PostgreSQL) has no such column and needs none.
            data = _without(data, "rowid")
        if data is not None:
            extra = set(data.columns) - set(_columns(cur, table))
            if extra:
                raise StoreFormatError(
                    f"the target's table {table} has no column {', '.join(sorted(extra))}: "
                    "copy with the objfs version that made the source"
                )
        if table == "meta":
            keep = sorted(TARGET_META)
            marks = ", ".join("?" for _ in keep)
            cur.execute(f"DELETE FROM meta WHERE name NOT IN ({marks})", keep)
        else:
            cur.execute(f"DELETE FROM {table}")
        if data is None:
            continue
        rows = _coded(cur, table, data.columns, data.rows, out=False)
        if table == "meta":
            rows = [row for row in rows if row[data.columns.index("name")] not in TARGET_META]
        marks = ", ".join("?" for _ in data.columns)
        sql = f"INSERT INTO {table} ({', '.join(data.columns)}) VALUES ({marks})"
        for start in range(0, len(rows), _BATCH):
            cur.executemany(sql, rows[start : start + _BATCH])
        if not _is_sqlite(cur):
            _advance_identities(cur, table)


def _without(data: TableRows, column: str) -> TableRows:
    at = data.columns.index(column)
    columns = tuple(c for i, c in enumerate(data.columns) if i != at)
    rows = [tuple(v for i, v in enumerate(row) if i != at) for row in data.rows]
    return TableRows(data.name, columns, rows)


def _advance_identities(cur: Cursor, table: str) -> None:
    """PostgreSQL: an identity column's sequence past the rows just inserted
    with explicit values (SQLite's rowids and AUTOINCREMENT follow by themselves)."""
    for (column,) in cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = ? AND is_identity = 'YES'",
        (table,),
    ).fetchall():
        column = _ident(str(column))
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
            f"COALESCE(MAX({column}), 0) + 1, false) FROM {table}"
        )


def row_counts(cur: Cursor) -> dict[str, int]:
    """Rows per copied table (what a copy compares)."""
    counts = {}
    for table in copied_tables(cur):
        counts[table] = int(cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    return counts
