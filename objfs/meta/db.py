"""SQLite access for the store: connections, transactions, the schema.

Owns ``meta.db``; ``objfs/meta/pg.py`` is its PostgreSQL twin (``PgDatabase``,
the same public interface, the schema made from ``SCHEMA`` by ``ddl.pg_ddl``).
The query modules take a ``Cursor`` (a Protocol both engines' cursors
satisfy) and branch on ``is_postgres`` where the two must differ; the
schema text and ``meta`` values go through ``run_ddl`` and
``meta_in``/``meta_out``. Invariants:
- WAL mode; one connection per thread (readers never block the writer);
- every mutation runs inside ``Database.write()``: ``BEGIN IMMEDIATE`` ...
  ``COMMIT``, so concurrent writers (threads or processes) serialise and a
  crash leaves either all or none of a change;
- ``write(durable=True)`` commits with ``synchronous=FULL`` (survives a power
  cut); ``durable=False`` with ``NORMAL`` (survives a crash of the process);
- WAL checkpoints run off the request path: SQLite's automatic checkpoint
  runs inside the COMMIT that crosses its threshold and fsyncs the WAL and
  ``meta.db`` there (measured on a mount's ``rm -rf`` of 5,000 small files:
  one delete in ~100 then waited 5-100 ms, three quarters of the delete
  path's time). Here every ``CHECKPOINT_EVERY`` commits of this process wake
  one background thread that runs a PASSIVE checkpoint (it never waits for
  readers or writers, nor they for it); SQLite's own automatic checkpoint
  stays as the backstop at ``AUTOCHECKPOINT_PAGES`` (off on a connection that
  writes in ``nowait()`` scopes: that is the mount's event loop). A PASSIVE
  checkpoint never rewinds a WAL that commits keep growing (measured: 4,000
  small commits, 33 MB of WAL, then one 47 ms in-commit checkpoint), so when
  the WAL holds ``RESTART_PAGES`` or more the thread follows up with a
  RESTART under the process's write lock (it waits at most
  ``RESTART_WAIT_MS`` for readers and other processes), and the next writer
  starts the WAL from its beginning. Checkpoints move pages that are
  already committed, so none of this changes what survives a crash;
- one process's writers queue on a lock of their own before SQLite's: no
  busy-handler sleeps between threads of one process (a ``nowait()`` write
  refuses when another thread holds it); then all processes' writers on a
  ``flock`` of ``meta.db-writer`` (never on ``meta.db`` itself: closing any
  descriptor of it would drop SQLite's POSIX locks), so writers of several
  processes (``objfs serve --workers``, a mount beside a server) wait in the
  kernel rather than in SQLite's busy-handler sleeps;
- ``peek()`` is one read statement outside a transaction of its own, on
  this thread's connection (inside a write it sees that write's rows);
- in a ``nowait()`` scope (the mount's event loop thread) a write refuses to
  wait rather than block its thread: ``WouldBlock`` instead of waiting for
  another writer's lock or for the fsync of a durable commit, raised only
  while nothing of the scope has committed yet (so the caller may simply ask
  again where waiting is fine); after a commit, the scope's writes wait as
  any other.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import msgpack

from objfs.errors import StoreFormatError, StoreFull, StoreNotFound
from objfs.meta.ddl import pg_ddl

log = logging.getLogger(__name__)


class Cursor(Protocol):
    """What every query function of objfs/meta takes: a cursor of
    ``Database.read()``, ``write()`` or ``peek()`` (callers type their ``cur``
    parameters with it): ``sqlite3.Cursor``, or ``pg.PgCursor`` on a
    PostgreSQL store. SQL text uses SQLite's ``?`` placeholders for both."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    @property
    def connection(self) -> Any: ...

    def close(self) -> None: ...


def is_postgres(cur: Cursor) -> bool:
    """Whether ``cur`` is a PostgreSQL store's (the queries' one branch point)."""
    return getattr(cur, "postgres", False) is True


def count_tables(cur: Cursor, names: tuple[str, ...]) -> int:
    """How many of the tables ``names`` the store's database holds."""
    marks = ", ".join("?" * len(names))
    if is_postgres(cur):
        sql = (
            "SELECT count(*) FROM information_schema.tables "
            f"WHERE table_schema = current_schema() AND table_name IN ({marks})"
        )
    else:
        sql = f"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({marks})"
    return int(cur.execute(sql, names).fetchone()[0])


def run_ddl(cur: Cursor, sql: str) -> None:
    """Run DDL text written for SQLite (``;``-separated statements); on
    PostgreSQL as ``pg.pg_ddl`` translates it (one schema text, two engines)."""
    if is_postgres(cur):
        statements = pg_ddl(sql)
    else:
        statements = [s for s in sql.split(";") if s.strip()]
    for statement in statements:
        cur.execute(statement)


def meta_in(cur: Cursor, value: object) -> object:
    """A ``meta.value`` as the engine stores it: SQLite's column takes any
    value; PostgreSQL's is BYTEA holding the value as msgpack."""
    return msgpack.packb(value) if is_postgres(cur) else value


def meta_out(cur: Cursor, value: Any) -> Any:
    """A ``meta.value`` as read (``meta_in``'s inverse)."""
    return msgpack.unpackb(value) if value is not None and is_postgres(cur) else value


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
# 4: a version's ``seq`` is the ``seq`` of the ``changes`` row its commit adds
# (explicit, not AUTOINCREMENT): one sequence, and no ``sqlite_sequence`` page
# written by every commit and delete. gc forgets old ``changes`` rows but
# never the newest, so seqs are never reused. And ``chunks.inline_row`` names
# the row of a chunk's inline frame: ``inline_chunks`` needs no index on chunk_id (one page less
# per small commit). objfs before format 4 would number versions itself
# (max + 1: a deleted seq again, or one a later change takes) and store
# frames no read finds, so it must refuse the store. Upgrading moves the
# change sequence past every version seq and links every frame from its
# chunk row (O(chunks), no frame is copied); an upgraded store keeps its
# AUTOINCREMENT and its index of inline_chunks (harmless, as before: only new
# stores are made without).
# 5: ``versions.headers``, ``uploads.headers`` (msgpack: S3's standard object
# headers such as Cache-Control, and the additional checksum) and
# ``parts.checksum``. objfs before format 5 would drop them silently on every
# copy, rename or completed upload, so it must refuse the store. Upgrading
# adds the (NULL = none) columns; nothing is rewritten.
# Format 6 adds the per-version tag set (``versions.tags``) and Object Lock
# state (``lock_mode``, ``lock_until``, ``legal_hold``). objfs before format 6
# would let anyone delete a locked version: it must refuse the store.
FORMAT_VERSION = 6

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
    seq INTEGER PRIMARY KEY,     -- format 4: the seq of the change row that made it
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
    base_seq INTEGER,            -- format 3: refs counted relative to this version
    headers BLOB,                -- format 5: msgpack, standard headers and checksum
    tags BLOB,                   -- format 6: msgpack {key: value}, the version's tag set
    lock_mode TEXT,              -- format 6: Object Lock retention, GOVERNANCE or COMPLIANCE
    lock_until INTEGER,          -- format 6: retain-until date, ns since epoch
    legal_hold INTEGER NOT NULL DEFAULT 0  -- format 6: Object Lock legal hold ON
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
    dead_since INTEGER,          -- ns, set when refs drops to 0
    inline_row INTEGER           -- format 4: rowid of its frame in inline_chunks, if any
) WITHOUT ROWID;
CREATE INDEX chunks_dead ON chunks(dead_since) WHERE refs = 0;
-- Small chunks live here instead of in a file of their own (store format 2),
-- found through chunks.inline_row (format 4: no index of their own to write).
CREATE TABLE inline_chunks (
    chunk_id BLOB NOT NULL,      -- counted in chunks like any chunk
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
    domain_id BLOB,
    headers BLOB                 -- format 5: as versions.headers
);
CREATE INDEX uploads_key ON uploads(bucket, key);
CREATE TABLE parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    created INTEGER NOT NULL,
    manifest BLOB NOT NULL,
    checksum TEXT,               -- format 5: the part's base64 checksum, if any
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
-- gc deletes all but the newest rows, never the newest (it keeps max(seq)):
-- versions take their seq here.
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY,
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

BUSY_TIMEOUT_S = 60  # how long a write waits for another writer's lock
CHECKPOINT_EVERY = 64  # commits of this process between background checkpoints
AUTOCHECKPOINT_PAGES = 8192  # SQLite's in-commit checkpoint: the backstop (32 MiB of WAL)
RESTART_PAGES = 2048  # WAL pages after a background PASSIVE that call for a RESTART
RESTART_WAIT_MS = 100  # how long that RESTART waits for writers before trying later

_LEASES_DDL = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS leases") :].split(";", 1)[0]
_BASE_INDEX_DDL = SCHEMA[SCHEMA.index("CREATE INDEX IF NOT EXISTS versions_base") :].split(";")[0]


def _add_base_seq(cur: Cursor) -> None:
    """Format 3: ``versions.base_seq`` (idempotent: a store may have it already)."""
    columns = {row[1] for row in cur.execute("PRAGMA table_info(versions)")}
    if "base_seq" not in columns:
        cur.execute("ALTER TABLE versions ADD COLUMN base_seq INTEGER")
    cur.execute(_BASE_INDEX_DDL)


def _one_sequence(cur: Cursor) -> None:
    """Format 4: the next change's seq exceeds every version seq made before
    (versions numbered themselves until format 3; idempotent)."""
    sequence: dict[str, int] = {}
    if cur.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
    ).fetchone():
        sequence = dict(cur.execute("SELECT name, seq FROM sqlite_sequence"))
    versions = max(
        cur.execute("SELECT COALESCE(MAX(seq), 0) FROM versions").fetchone()[0],
        sequence.get("versions", 0),
    )
    changes = max(
        cur.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0],
        sequence.get("changes", 0),
    )
    if changes >= versions:
        return
    if "changes" in sequence:  # AUTOINCREMENT (a store made before format 4)
        cur.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'changes'", (versions,))
    else:  # a store-wide change row ('' bucket) that holds the sequence there
        cur.execute("INSERT INTO changes(seq, bucket, key) VALUES (?, '', x'')", (versions,))


def _link_inline(cur: Cursor) -> None:
    """Format 4: ``chunks.inline_row`` of every chunk with an inline frame (idempotent)."""
    columns = {row[1] for row in cur.execute("PRAGMA table_info(chunks)")}
    if "inline_row" not in columns:
        cur.execute("ALTER TABLE chunks ADD COLUMN inline_row INTEGER")
    cur.execute(
        "UPDATE chunks SET inline_row = i.rowid FROM inline_chunks i "
        "WHERE i.chunk_id = chunks.chunk_id AND chunks.inline_row IS NULL"
    )


def _add_headers(cur: Cursor) -> None:
    """Format 5: ``versions.headers``, ``uploads.headers``, ``parts.checksum`` (idempotent)."""
    for table, column, kind in (
        ("versions", "headers", "BLOB"),
        ("uploads", "headers", "BLOB"),
        ("parts", "checksum", "TEXT"),
    ):
        columns = {row[1] for row in cur.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            cur.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _add_tags_and_lock(cur: Cursor) -> None:
    """Format 6: ``versions.tags``, ``lock_mode``, ``lock_until``, ``legal_hold`` (idempotent)."""
    columns = {row[1] for row in cur.execute("PRAGMA table_info(versions)")}
    for column, kind in (
        ("tags", "BLOB"),
        ("lock_mode", "TEXT"),
        ("lock_until", "INTEGER"),
        ("legal_hold", "INTEGER NOT NULL DEFAULT 0"),
    ):
        if column not in columns:
            cur.execute(f"ALTER TABLE versions ADD COLUMN {column} {kind}")


# Steps that bring a store from format N-1 to N (SQL statements, or functions
# of the cursor), run in one transaction; each is idempotent.
MIGRATIONS: dict[int, list[str | Callable[[Cursor], None]]] = {
    2: [
        """CREATE TABLE IF NOT EXISTS inline_chunks (
    chunk_id BLOB PRIMARY KEY,   -- counted in chunks like any chunk
    frame BLOB NOT NULL          -- the sealed frame a chunk file would hold
)""",
        _LEASES_DDL,
    ],
    3: [_add_base_seq],
    4: [_one_sequence, _link_inline],
    5: [_add_headers],
    6: [_add_tags_and_lock],
}


class WouldBlock(Exception):  # noqa: N818 - the name says what happened, as BlockingIOError's
    """A write in a ``Database.nowait()`` scope would have waited (for another
    writer, or for an fsync). Nothing of the scope was written: ask again
    where waiting is fine. Never reaches a user: not an ``ObjfsError``."""


class Database:
    """Per-thread SQLite connections to one ``meta.db``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._commits = 0  # since the last background checkpoint was asked for
        self._checkpoint_due = threading.Event()
        self._checkpointer: threading.Thread | None = None
        # This process's writers queue here (fair, no busy sleeps); another
        # process's still meet SQLite's lock and busy timeout.
        self._write_lock = threading.Lock()
        # Cleared while the checkpointer waits for that lock to RESTART: a
        # Lock is not fair, and a thread committing in a loop would take it
        # again before the waiting checkpointer wakes.
        self._writers_may_enter = threading.Event()
        self._writers_may_enter.set()
        self._writer_fd: int | None = None  # meta.db-writer, opened at the first write

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
            if _is_full(exc):  # e.g. no room for the WAL index (meta.db-shm)
                raise StoreFull(
                    f"cannot open {path}: {exc}: free space on the store's disk"
                ) from exc
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
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_S,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=OFF")
            conn.execute("PRAGMA cache_size=-32768")
            conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            self._local.conn = conn
            self._local.sync = "NORMAL"
            self._local.nowait = False
            self._local.autocheckpoint = True
            self._local.write_cur = None  # the write transaction in progress, if any
            self._local.busy = BUSY_TIMEOUT_S * 1000  # ms, as sqlite3.connect set it
            self._local.commits = 0  # of this connection (``version``)
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread, self._checkpointer = self._checkpointer, None
        self._checkpoint_due.set()
        if thread is not None and thread is not threading.current_thread():
            with contextlib.suppress(RuntimeError):  # a Ctrl-C inside Thread.start()
                thread.join(timeout=10)
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        with self._write_lock:
            fd, self._writer_fd = self._writer_fd, None
        if fd is not None and fd >= 0:
            os.close(fd)

    # -- transactions --------------------------------------------------------

    @contextlib.contextmanager
    def nowait(self) -> Iterator[None]:
        """This thread's writes in the scope refuse to wait (see the module docstring)."""
        self.conn()
        local = self._local
        outer = local.nowait
        local.nowait = True
        try:
            yield
        finally:
            local.nowait = outer

    def refusing(self) -> bool:
        """In a ``nowait()`` scope of this thread with nothing of it committed yet."""
        return bool(getattr(self._local, "nowait", False))

    @contextlib.contextmanager
    def write(self, *, durable: bool = False) -> Iterator[Cursor]:
        """One write transaction; commits on success, rolls back on error.

        Inside another ``write`` of this thread it joins that transaction (the
        store checks a request in the transaction that carries it out).
        """
        conn = self.conn()
        local = self._local
        joined = local.write_cur
        if joined is not None:
            if durable and local.sync != "FULL":
                raise RuntimeError("a durable write cannot join a transaction that is not")
            yield joined
            return
        nowait = local.nowait
        if nowait and durable:
            raise WouldBlock("a durable commit waits for its fsync")
        if nowait:
            if not self._writers_may_enter.is_set() or not self._write_lock.acquire(blocking=False):
                raise WouldBlock("another thread of this process is writing")
        elif not (
            self._writers_may_enter.wait(BUSY_TIMEOUT_S)
            and self._write_lock.acquire(timeout=BUSY_TIMEOUT_S)
        ):
            raise sqlite3.OperationalError("database is locked (by this process)")
        try:
            with (
                self._writers_of_all_processes(nowait),
                self._transaction(conn, local, durable=durable, nowait=nowait) as cur,
            ):
                yield cur
        finally:
            self._write_lock.release()
        if nowait:
            local.nowait = False  # committed: the rest of the scope waits as usual
        self._commits += 1  # racy across threads: a count, not a promise
        if self._commits >= CHECKPOINT_EVERY:
            self._commits = 0
            self._ask_checkpoint()

    @contextlib.contextmanager
    def _writers_of_all_processes(self, nowait: bool) -> Iterator[None]:
        """The writer lock of every process of this store (``flock`` on
        ``meta.db-writer``; the caller holds this process's): a writer waits
        for another process's in the kernel, woken when it commits, not in
        SQLite's busy handler, which sleeps up to 100 ms between tries
        (measured: two ``objfs serve`` workers taking 4 KiB PUTs did 35%
        fewer than one)."""
        fd = self._writer_fd
        if fd is None:
            try:
                fd = os.open(f"{self.path}-writer", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                fd = -1  # a read-only store: SQLite's own lock and error stand
            self._writer_fd = fd
        if fd < 0:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (fcntl.LOCK_NB if nowait else 0))
        except BlockingIOError:
            raise WouldBlock("another process is writing") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _transaction(
        self, conn: sqlite3.Connection, local: threading.local, *, durable: bool, nowait: bool
    ) -> Iterator[Cursor]:
        """BEGIN IMMEDIATE ... COMMIT on this thread's connection (the caller
        holds the process's write lock)."""
        want = "FULL" if durable else "NORMAL"
        if local.sync != want:
            conn.execute(f"PRAGMA synchronous={want}")
            local.sync = want
        if nowait and local.autocheckpoint:
            # Never a checkpoint inside a COMMIT on this thread: the
            # background thread keeps the WAL short (module docstring).
            conn.execute("PRAGMA wal_autocheckpoint=0")
            local.autocheckpoint = False
        # The busy timeout only matters to BEGIN IMMEDIATE (the write lock):
        # 0 for a nowait write, set back before a write that may wait. Kept
        # as it is between writes of one kind (the mount's event loop thread
        # writes nowait over and over: two statements less per commit).
        busy = 0 if nowait else BUSY_TIMEOUT_S * 1000
        if local.busy != busy:
            conn.execute(f"PRAGMA busy_timeout={busy}")
            local.busy = busy
        cur = conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if nowait and exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                raise WouldBlock("another writer holds the database") from exc
            raise _translate(exc) from exc
        local.write_cur = cur
        try:
            yield cur
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                cur.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and _is_full(exc):
                raise _translate(exc) from exc  # a statement spilled pages on a full disk
            raise
        finally:
            local.write_cur = None
        try:
            cur.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            with contextlib.suppress(sqlite3.Error):
                cur.execute("ROLLBACK")
            raise _translate(exc) from exc
        local.commits += 1

    # -- background checkpoints (see the module docstring) -------------------

    def _ask_checkpoint(self) -> None:
        if self._checkpointer is None or not self._checkpointer.is_alive():
            with self._lock:
                if self._closed:
                    return
                if self._checkpointer is None or not self._checkpointer.is_alive():
                    self._checkpointer = threading.Thread(
                        target=self._checkpoint_loop, name="objfs-checkpoint", daemon=True
                    )
                    self._checkpointer.start()
        self._checkpoint_due.set()

    def _checkpoint_loop(self) -> None:
        while True:
            self._checkpoint_due.wait()
            self._checkpoint_due.clear()
            if self._closed:
                return
            try:
                self._checkpoint()
            except (sqlite3.Error, RuntimeError) as exc:  # the next one retries
                if self._closed:
                    return
                log.debug("background WAL checkpoint: %s", exc)

    def _checkpoint(self) -> None:
        conn = self.conn()
        _busy, wal_pages, _done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if wal_pages < RESTART_PAGES:
            return
        # Holding the write lock, with new writers held at the gate: this
        # process's writers cannot slip in between the busy handler's sleeps
        # or take the lock back first, so a steady stream of commits does
        # not starve the RESTART.
        conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
        self._writers_may_enter.clear()
        try:
            with self._write_lock:
                conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        finally:
            self._writers_may_enter.set()
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")

    # -- reads shared within one transaction ---------------------------------

    def remembered(self, cur: Cursor, key: object) -> object:
        """What ``remember`` kept for ``key`` in ``cur``'s transaction, or None;
        None too once this connection has written anything since (a row read
        before a write may have changed). Lets two steps of one request (its
        access check, its method) read one row once."""
        slot = getattr(self._local, "memo", None)
        if slot is None or slot[0] is not cur or slot[1] != cur.connection.total_changes:
            return None
        return slot[2].get(key)

    def remember(self, cur: Cursor, key: object, value: object) -> None:
        """Keep ``value`` (read in ``cur``'s transaction) for ``remembered``.
        One transaction's values per thread; holding ``cur`` keeps its identity
        from being reused by a later cursor."""
        changes = cur.connection.total_changes
        slot = getattr(self._local, "memo", None)
        if slot is None or slot[0] is not cur or slot[1] != changes:
            values: dict[object, object] = {}
            slot = self._local.memo = (cur, changes, values)
        slot[2][key] = value

    @contextlib.contextmanager
    def read(self) -> Iterator[Cursor]:
        """A consistent read snapshot across several statements."""
        conn = self.conn()
        cur = conn.cursor()
        cur.execute("BEGIN")
        try:
            yield cur
        finally:
            with contextlib.suppress(sqlite3.Error):
                cur.execute("COMMIT")

    def version(self) -> tuple[int, int]:
        """A token of what this thread's connection sees, outside a transaction:
        equal tokens mean nothing was committed in between, by any connection
        of any process, so what was read before may be used again.

        SQLite's ``data_version`` (one statement, no table read) changes when
        another connection commits; this connection's own commits are counted
        here. Read it before the reads it vouches for."""
        row = self.conn().execute("PRAGMA data_version").fetchone()
        return int(row[0]), self._local.commits

    @contextlib.contextmanager
    def peek(self) -> Iterator[Cursor]:
        """A cursor for one read statement outside a transaction of its own:
        on this thread's connection, so inside a write it sees what that
        write did."""
        cur = self.conn().cursor()
        try:
            yield cur
        finally:
            cur.close()

    def checkpoint_truncate(self) -> None:
        """Fold the WAL into meta.db and truncate it: old page images (which
        may hold destroyed KMS material) leave the WAL file. Best effort when
        readers are active."""
        self.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    # SQLite has no push: a change feed reader polls (wait_for_change sleeps).
    pushes_changes = False

    def wait_for_change(self, timeout: float) -> bool:
        """Block ``timeout`` seconds; False: nothing tells SQLite's readers of a
        commit (PgDatabase's is woken by one)."""
        time.sleep(timeout)
        return False

    def get_meta(self, name: str) -> object:
        row = self.conn().execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]


def _is_full(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "disk" in text and ("full" in text or "I/O" in text)


def _translate(exc: sqlite3.OperationalError) -> Exception:
    if _is_full(exc):
        return StoreFull(f"metadata write failed: {exc}: free space on the store's disk")
    return exc
