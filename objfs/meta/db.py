"""SQLite access for the store: connections, transactions, the schema.

Owns ``meta.db``. Invariants:
- WAL mode; one connection per thread (readers never block the writer);
- every mutation runs inside ``Database.write()``: ``BEGIN IMMEDIATE`` ...
  ``COMMIT``, so concurrent writers (threads or processes) serialise and a
  crash leaves either all or none of a change;
- ``write(durable=True)`` commits with ``synchronous=FULL`` (survives a power
  cut); ``durable=False`` with ``NORMAL`` (survives a crash of the process).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from objfs.errors import StoreFormatError, StoreFull, StoreNotFound

log = logging.getLogger(__name__)

# 1: chunk frames v1 only. 2: new chunks are frame v2 (segments, BLAKE3 ids)
# and small ones may live inline in the database, which objfs before
# format 2 cannot read; and the ``leases`` table (writer leases, see
# objfs/store/leases.py). Opening a format 1 store upgrades it in place in one
# transaction (v1 chunks stay as they are and readable), so an older objfs
# refuses the store with a clear message instead of calling v2 chunks damaged.
# 3: ``versions.base_seq``: a version made by editing another one counts only
# the chunk references it adds to that base (objfs/store/refcount.py); objfs
# before format 3 would drop references it never counted when deleting such a
# version, so it must refuse the store. Upgrading adds the (NULL = counts all
# its references, as before) column and its index; nothing is rewritten.
FORMAT_VERSION = 3

SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value) ;
CREATE TABLE domains (
    domain_id BLOB PRIMARY KEY,
    kind TEXT NOT NULL,
    record BLOB NOT NULL,
    lookup BLOB UNIQUE,          -- SSE-C: keyed tag of the customer key
    created INTEGER NOT NULL
);
CREATE TABLE buckets (
    name TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    owner TEXT NOT NULL,
    created INTEGER NOT NULL,
    versioning TEXT NOT NULL,
    mfa_delete INTEGER NOT NULL DEFAULT 0,
    encryption TEXT NOT NULL,
    kms_key_id TEXT,
    config BLOB                  -- msgpack: policy, ACL, CORS, logging (later)
);
-- One row per version or delete marker. seq orders creation store-wide.
CREATE TABLE versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,           -- UTF-8 bytes: BLOB order is S3's byte order
    version_id TEXT NOT NULL,
    delete_marker INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    created INTEGER NOT NULL,    -- ns since epoch (Last-Modified)
    content_type TEXT NOT NULL,
    user_meta BLOB,
    sys_meta BLOB,
    sse TEXT NOT NULL,
    kms_key_id TEXT,
    domain_id BLOB,
    manifest BLOB,               -- msgpack [[chunk_id|None, length], ...]
    base_seq INTEGER             -- format 3: refs counted relative to this version
);
CREATE UNIQUE INDEX versions_key ON versions(bucket, key, version_id);
CREATE INDEX versions_order ON versions(bucket, key, seq);
CREATE INDEX IF NOT EXISTS versions_base ON versions(base_seq) WHERE base_seq IS NOT NULL;
-- The latest version of every key (including a latest delete marker).
CREATE TABLE objects (
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    seq INTEGER NOT NULL,
    delete_marker INTEGER NOT NULL,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE INDEX objects_live ON objects(bucket, delete_marker, key);
CREATE TABLE chunks (
    chunk_id BLOB PRIMARY KEY,
    domain_id BLOB NOT NULL,
    refs INTEGER NOT NULL,
    length INTEGER NOT NULL,
    dead_since INTEGER           -- ns, set when refs drops to 0
) WITHOUT ROWID;
CREATE INDEX chunks_dead ON chunks(dead_since) WHERE refs = 0;
-- Small chunks live here instead of in a file of their own (store format 2).
CREATE TABLE inline_chunks (
    chunk_id BLOB PRIMARY KEY,   -- counted in chunks like any chunk
    frame BLOB NOT NULL          -- the sealed frame a chunk file would hold
);
CREATE TABLE uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    created INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    user_meta BLOB,
    sys_meta BLOB,
    sse TEXT NOT NULL,
    kms_key_id TEXT,
    domain_id BLOB
);
CREATE INDEX uploads_key ON uploads(bucket, key);
CREATE TABLE parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    created INTEGER NOT NULL,
    manifest BLOB NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,        -- '' for a store-wide change (the KMS)
    key BLOB NOT NULL            -- b'' for a bucket-level change
);
-- Writer leases (format 2): one row per process that may hold chunks it
-- has written or touched but not committed yet (objfs/store/leases.py).
CREATE TABLE IF NOT EXISTS leases (
    lease_id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,        -- for people: pid, host, program
    since INTEGER NOT NULL,      -- ns: uncommitted chunks are no older than this
    expires INTEGER NOT NULL     -- ns: renewed while the holder lives
);
-- SSE-KMS: the local KMS (SQL in objfs/meta/kms_queries.py, which also adds
-- these tables to stores created before them, hence IF NOT EXISTS).
CREATE TABLE IF NOT EXISTS kms_keys (
    key_id TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,         -- Enabled, Disabled, PendingDeletion, Deleted
    created INTEGER NOT NULL,    -- ns
    deletion INTEGER,            -- ns: end of the waiting period, or when deleted
    current_version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS kms_keys_pending ON kms_keys(deletion) WHERE state = 'PendingDeletion';
CREATE TABLE IF NOT EXISTS kms_materials (
    key_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    created INTEGER NOT NULL,
    seal_id BLOB NOT NULL,
    record BLOB NOT NULL,        -- the material sealed by the master key, never clear
    PRIMARY KEY (key_id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kms_aliases (
    alias TEXT PRIMARY KEY,      -- alias/NAME
    key_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kms_aliases_key ON kms_aliases(key_id);
-- The encryption domain new data under (key, material version) goes to.
CREATE TABLE IF NOT EXISTS kms_domains (
    key_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    domain_id BLOB NOT NULL,
    PRIMARY KEY (key_id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kms_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,       -- ns
    principal TEXT NOT NULL,
    interface TEXT NOT NULL,
    operation TEXT NOT NULL,
    key_id TEXT,
    bucket TEXT,
    key BLOB,
    version INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS kms_audit_time ON kms_audit(time);
CREATE INDEX IF NOT EXISTS kms_audit_key ON kms_audit(key_id, seq);
"""

_LEASES_DDL = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS leases") :].split(";", 1)[0]
_BASE_INDEX_DDL = SCHEMA[SCHEMA.index("CREATE INDEX IF NOT EXISTS versions_base") :].split(";")[0]


def _add_base_seq(cur: sqlite3.Cursor) -> None:
    """Format 3: ``versions.base_seq`` (idempotent: a store may have it already)."""
    columns = {row[1] for row in cur.execute("PRAGMA table_info(versions)")}
    if "base_seq" not in columns:
        cur.execute("ALTER TABLE versions ADD COLUMN base_seq INTEGER")
    cur.execute(_BASE_INDEX_DDL)


# Steps that bring a store from format N-1 to N (SQL statements, or functions
# of the cursor), run in one transaction; each is idempotent.
MIGRATIONS: dict[int, list[str | Callable[[sqlite3.Cursor], None]]] = {
    2: [
        """CREATE TABLE IF NOT EXISTS inline_chunks (
    chunk_id BLOB PRIMARY KEY,   -- counted in chunks like any chunk
    frame BLOB NOT NULL          -- the sealed frame a chunk file would hold
)""",
        _LEASES_DDL,
    ],
    3: [_add_base_seq],
}


class Database:
    """Per-thread SQLite connections to one ``meta.db``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def create(cls, path: Path, meta: dict[str, object]) -> Database:
        # Metadata names keys and sizes: only the store's owner reads it.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = cls(path)
        with db.write(durable=True) as cur:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    cur.execute(statement)
            values = {"format_version": FORMAT_VERSION, **meta}
            cur.executemany("INSERT INTO meta(name, value) VALUES (?, ?)", values.items())
        return db

    @classmethod
    def open(cls, path: Path) -> Database:
        if not path.exists():
            raise StoreNotFound(
                f"no objfs store at {path.parent}: run `objfs init` or pass --store"
            )
        db = cls(path)
        try:
            version = (
                db.conn().execute("SELECT value FROM meta WHERE name = 'format_version'").fetchone()
            )
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StoreFormatError(f"{path} is not an objfs metadata database ({exc})") from exc
        if version is None:
            db.close()
            raise StoreFormatError(f"{path} has no format version")
        if int(version[0]) > FORMAT_VERSION:
            db.close()
            raise StoreFormatError(
                f"store format {version[0]} is newer than this objfs understands "
                f"({FORMAT_VERSION}): upgrade objfs"
            )
        if int(version[0]) < FORMAT_VERSION:
            try:
                db._upgrade()
            except BaseException:
                db.close()
                raise
        return db

    def _upgrade(self) -> None:
        """Bring an older store to ``FORMAT_VERSION`` (idempotent, one transaction)."""
        with self.write(durable=True) as cur:
            row = cur.execute("SELECT value FROM meta WHERE name = 'format_version'").fetchone()
            old = int(row[0])
            for version in range(old + 1, FORMAT_VERSION + 1):
                for step in MIGRATIONS[version]:
                    if callable(step):
                        step(cur)
                    else:
                        cur.execute(step)
            if old < FORMAT_VERSION:
                cur.execute(
                    "UPDATE meta SET value = ? WHERE name = 'format_version'", (FORMAT_VERSION,)
                )
                log.info("store %s upgraded from format %d to %d", self.path, old, FORMAT_VERSION)

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError("database is closed")
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=60
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=OFF")
            conn.execute("PRAGMA cache_size=-32768")
            self._local.conn = conn
            self._local.sync = "NORMAL"
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- transactions --------------------------------------------------------

    @contextlib.contextmanager
    def write(self, *, durable: bool = False) -> Iterator[sqlite3.Cursor]:
        """One write transaction; commits on success, rolls back on error."""
        conn = self.conn()
        want = "FULL" if durable else "NORMAL"
        if self._local.sync != want:
            conn.execute(f"PRAGMA synchronous={want}")
            self._local.sync = want
        cur = conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _translate(exc) from exc
        try:
            yield cur
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                cur.execute("ROLLBACK")
            raise
        try:
            cur.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            with contextlib.suppress(sqlite3.Error):
                cur.execute("ROLLBACK")
            raise _translate(exc) from exc

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Cursor]:
        """A consistent read snapshot across several statements."""
        conn = self.conn()
        cur = conn.cursor()
        cur.execute("BEGIN")
        try:
            yield cur
        finally:
            with contextlib.suppress(sqlite3.Error):
                cur.execute("COMMIT")

    def get_meta(self, name: str) -> object:
        row = self.conn().execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]


def _translate(exc: sqlite3.OperationalError) -> Exception:
    text = str(exc)
    if "disk" in text and ("full" in text or "I/O" in text):
        return StoreFull(f"metadata write failed: {text}: free space on the store's disk")
    return exc
