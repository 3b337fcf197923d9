"""PostgreSQL access for the store: the same transactions as ``db.Database``, across nodes.

A store whose metadata is ``postgresql://...`` (a libpq URL; its schema, set
by ``search_path`` in the URL's ``options``, holds one store) opens a
``PgDatabase``: the public interface of ``Database`` (read, write, nowait,
refusing, peek, remembered/remember, get_meta, close, create/open), on
psycopg 3 with a bounded ``psycopg_pool.ConnectionPool``. The query
functions of objfs/meta take its ``PgCursor``, which speaks SQLite's ``?``
placeholders (``?N`` too), so one set of SQL text serves both engines;
where the two must differ, the query branches on ``is_postgres(cur)``.

Invariants:
- the schema is SQLite's DDL text put through ``pg_ddl`` (one truth); a
  PostgreSQL store is made at ``FORMAT_VERSION`` (no migrations) and
  ``open`` refuses a newer format as SQLite does;
- a transaction holds one pooled connection for its whole life; a
  ``write()`` nested in a ``write()`` of the same thread joins it;
- every write transaction first takes ``pg_advisory_xact_lock(K)``, K the
  store's 63-bit id (meta ``store_id``, random at create: two stores in one
  database never serialise each other), then runs in READ COMMITTED: with
  every writer of the store serialised by that lock, each statement sees
  every commit before it, as SQLite's one writer does. What SQLite
  serialises with its write lock (a key's latest pointer, version order,
  reference counts, the change sequence, leases) is serialised across
  nodes by the lock. The change sequence is ``MAX(seq) + 1`` handed out
  under it, so seq order is commit order: a change-feed reader (a
  snapshot) sees a prefix of the sequence and never skips a change that
  commits after a higher seq was handed out;
- one process's writers queue on a lock of their own before taking a
  connection (at most one of its connections waits for the advisory lock);
  in a ``nowait()`` scope a write that would wait raises ``WouldBlock``
  (the process lock, a pooled connection, the advisory lock via
  ``pg_try_advisory_xact_lock``, or a durable commit), only while nothing of
  the scope has committed yet;
- ``durable=False`` commits with ``synchronous_commit = off`` (a crash of
  the server may lose the last commits, never corrupt them); durable ones
  wait for the WAL flush;
- reads are ``REPEATABLE READ READ ONLY`` transactions: one snapshot;
- a lost or unreachable server is ``BackendUnavailable`` (503 SlowDown over
  HTTP, EIO on the mount, a message in the CLI), never a psycopg traceback;
- the master key never reaches the database (only sealed records do).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgpack
import psycopg
from psycopg import ClientCursor
from psycopg.adapt import Dumper
from psycopg_pool import ConnectionPool, PoolTimeout

from objfs.errors import BackendUnavailable, InvalidArgument, StoreFormatError, StoreNotFound
from objfs.meta.db import FORMAT_VERSION, SCHEMA, Cursor, Database, WouldBlock
from objfs.meta.ddl import pg_ddl

log = logging.getLogger(__name__)

POOL_SIZE_ENV = "OBJFS_PG_POOL"  # connections per process (default POOL_SIZE)
POOL_SIZE = 16
CONNECT_TIMEOUT_S = 10  # how long opening the store waits for the server
LOCK_TIMEOUT_S = 60  # how long a write waits for another node's writer (as SQLite's busy timeout)
SCAN_FETCH = (16, 512)  # rows a lazy scan fetches first, and at most, per round trip

# PostgreSQL has no instr(); the listing's skip-scan asks for one (queries.first_folded_key).
_FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION instr(bytea, bytea) RETURNS integer "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS 'SELECT position($2 in $1)'"
)
# Another node's mounts learn of a change at once (objfs/fs/freshness.py):
# every statement that adds change rows notifies the store's channel (one
# per schema; PostgreSQL folds a transaction's repeats into one). Polling
# stays the fallback.
_CHANNEL = "'objfs_' || left(md5(current_schema()), 16)"
_NOTIFY = (
    "CREATE OR REPLACE FUNCTION objfs_notify_change() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$BEGIN PERFORM pg_notify({_CHANNEL}, ''); RETURN NULL; END$$",
    "CREATE TRIGGER changes_notify AFTER INSERT ON changes "
    "FOR EACH STATEMENT EXECUTE FUNCTION objfs_notify_change()",
)
_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


# -- the schema ------------------------------------------------------------------


def all_ddl() -> list[str]:
    """The schema a PostgreSQL store is made with: the store's tables (the
    KMS's too), access control's (so no statement ever meets a missing table:
    that would abort its transaction), gc's by rows, the functions the
    queries need and the change feed's notification trigger. The access
    log's table comes with the first record, as on SQLite."""
    from objfs.meta import auth_queries, gc_queries  # they import db, not pg

    return [
        *pg_ddl(SCHEMA),
        *pg_ddl(auth_queries.SCHEMA),
        *pg_ddl(gc_queries.GC_SCHEMA),
        _FUNCTIONS,
        *_NOTIFY,
    ]


# -- the URL -------------------------------------------------------------------------


def check_url(url: str) -> str:
    """``url`` if it is a libpq URL objfs accepts: ``postgresql://`` (or
    ``postgres://``), no password in it (it would be written to the store
    descriptor and shown by ``objfs info``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise InvalidArgument(f"{url!r} is not a postgresql:// URL")
    if parts.password is not None or "password" in parse_qs(parts.query):
        raise InvalidArgument(
            "the metadata URL holds a password: give it with PGPASSWORD, ~/.pgpass or "
            "passfile=FILE in the URL, never in the URL itself"
        )
    return url


def describe_url(url: str) -> str:
    """The URL for messages (it never holds a password: ``check_url``)."""
    return url


# -- the cursor --------------------------------------------------------------------

_translations: dict[str, tuple[str, tuple[int, ...] | None]] = {}


def translate(sql: str) -> tuple[str, tuple[int, ...] | None]:
    """SQLite's placeholders as psycopg's: ``?`` and ``?N`` become ``%s``
    (``%`` is escaped); for ``?N`` also the parameter index of each
    placeholder, in order. String literals are left alone. Cached."""
    done = _translations.get(sql)
    if done is not None:
        return done
    out: list[str] = []
    order: list[int] = []
    numbered = False
    i = 0
    n = len(sql)
    plain = 0
    while i < n:
        ch = sql[i]
        if ch == "'":
            end = i + 1
            while end < n:
                if sql[end] == "'":
                    if end + 1 < n and sql[end + 1] == "'":
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
            continue
        if ch == "?":
            j = i + 1
            while j < n and sql[j].isdigit():
                j += 1
            if j > i + 1:
                numbered = True
                order.append(int(sql[i + 1 : j]) - 1)
            else:
                order.append(plain)
                plain += 1
            out.append("%s")
            i = j
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    done = ("".join(out), tuple(order) if numbered else None)
    if len(_translations) < 4096:
        _translations[sql] = done
    return done


class _BoolAsInt(Dumper):
    """Python ``bool`` goes in as an integer (SQLite stores it so; the schema's
    flags are BIGINT columns)."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"

    def quote(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


def _args(params: Any, order: tuple[int, ...] | None) -> Any:
    if order is None or params is None:
        return params
    return [params[k] for k in order]


class PgCursor:
    """A ``Cursor`` (objfs/meta/db.py) on one psycopg connection: SQLite's
    placeholders, ``execute`` returns the cursor, a count of the statements
    that may have written (``writes``, for ``remembered``)."""

    postgres = True

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._cur: ClientCursor[Any] = ClientCursor(conn)
        self.writes = 0
        self.row_factory: Callable[[Any, tuple[Any, ...]], Any] | None = None

    def execute(self, sql: str, parameters: Any = (), /) -> PgCursor:
        text, order = translate(sql)
        if not sql.lstrip()[:6].upper() == "SELECT":
            self.writes += 1
        try:
            self._cur.execute(text, _args(parameters, order) if parameters else None)
        except psycopg.OperationalError as exc:
            raise _converted(self._conn, exc) from exc
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> PgCursor:
        text, order = translate(sql)
        self.writes += 1
        rows = [_args(p, order) for p in seq_of_parameters]
        if rows:
            try:
                self._cur.executemany(text, rows)
            except psycopg.OperationalError as exc:
                raise _converted(self._conn, exc) from exc
        return self

    def _row(self, row: Any) -> Any:
        return row if self.row_factory is None else self.row_factory(self, row)

    def fetchone(self) -> Any:
        if self._cur.description is None:
            return None
        row = self._cur.fetchone()
        return None if row is None else self._row(row)

    def fetchall(self) -> list[Any]:
        if self._cur.description is None:
            return []
        rows = self._cur.fetchall()
        return rows if self.row_factory is None else [self._row(r) for r in rows]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def __next__(self) -> Any:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def description(self) -> Any:
        """The last statement's columns (DB-API: a sequence whose items start with the name)."""
        return self._cur.description

    @property
    def connection(self) -> _PgConnection:
        return _PgConnection(self._conn)

    def close(self) -> None:
        self._cur.close()


class _PgConnection:
    """What the queries ask of ``cur.connection``: cursors of their own in
    the same transaction (lazy scans: ``queries.scan_latest``)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def cursor(self) -> PgScanCursor:
        return PgScanCursor(self._conn)

    def execute(self, sql: str, parameters: Any = (), /) -> PgScanCursor:
        return PgScanCursor(self._conn).execute(sql, parameters)


_scan_names = itertools.count(1)


class PgScanCursor(PgCursor):
    """A cursor that reads its rows lazily (a server-side cursor in the
    transaction, fetched in growing batches): a scan stopped early costs
    the rows it read, not the range's."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        super().__init__(conn)
        self._name: str | None = None
        self._rows: list[Any] = []
        self._fetch = SCAN_FETCH[0]
        self._done = False

    def execute(self, sql: str, parameters: Any = (), /) -> PgScanCursor:
        text, order = translate(sql)
        name = f"objfs_scan_{next(_scan_names)}"
        query = self._cur.mogrify(text, _args(parameters, order) if parameters else None)
        try:
            self._cur.execute(f"DECLARE {name} NO SCROLL CURSOR FOR {query}".replace("%", "%%"))
        except psycopg.OperationalError as exc:
            raise _converted(self._conn, exc) from exc
        self._name = name
        return self

    def _more(self) -> bool:
        if self._done or self._name is None:
            return False
        try:
            self._cur.execute(f"FETCH FORWARD {self._fetch} FROM {self._name}")
        except psycopg.OperationalError as exc:
            raise _converted(self._conn, exc) from exc
        rows = self._cur.fetchall()
        if len(rows) < self._fetch:
            self._done = True
        self._fetch = min(self._fetch * 4, SCAN_FETCH[1])
        self._rows = rows[::-1]
        return bool(rows)

    def fetchone(self) -> Any:
        if not self._rows and not self._more():
            return None
        return self._row(self._rows.pop())

    def fetchall(self) -> list[Any]:
        rows: list[Any] = []
        while True:
            row = self.fetchone()
            if row is None:
                return rows
            rows.append(row)

    def __iter__(self) -> Iterator[Any]:
        return self

    def close(self) -> None:
        name, self._name = self._name, None
        if name is not None and not self._done:
            with contextlib.suppress(psycopg.Error):
                if self._conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
                    self._cur.execute(f"CLOSE {name}")
        self._cur.close()


def _converted(conn: psycopg.Connection[Any], exc: psycopg.OperationalError) -> Exception:
    """What a failed statement raises: ``BackendUnavailable`` when the server
    is gone (the connection broke, or it is shutting down), else the error."""
    state = exc.sqlstate or ""
    if conn.broken or not state or state.startswith(("08", "57P")):
        return _unavailable(exc)
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return BackendUnavailable(
            f"another node held the store's write lock for {LOCK_TIMEOUT_S} s: retry"
        )
    return exc


def _words(exc: BaseException) -> str:
    """An error's text on one line (libpq's span several)."""
    return " ".join(str(exc).split())


def _unavailable(exc: Exception) -> BackendUnavailable:
    return BackendUnavailable(
        f"the metadata database is unreachable ({_words(exc) or type(exc).__name__}): "
        "check that PostgreSQL is running and reachable, then retry"
    )


# -- the database ----------------------------------------------------------------


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_dumper(bool, _BoolAsInt)


def _pool_size() -> int:
    raw = os.environ.get(POOL_SIZE_ENV, "")
    try:
        return max(2, int(raw)) if raw else POOL_SIZE
    except ValueError:
        raise InvalidArgument(f"{POOL_SIZE_ENV}={raw!r} is not a number of connections") from None


class PgDatabase(Database):
    """Pooled psycopg connections to one store's schema (see the module docstring).

    A ``Database`` for the store's collaborators: every public method is
    its own; nothing of SQLite's is used."""

    pushes_changes = True  # wait_for_change: LISTEN/NOTIFY

    def __init__(self, url: str) -> None:  # noqa: D107 - not Database's
        self.url = check_url(url)
        self._listener: psycopg.Connection[Any] | None = None
        self._listen_lock = threading.Lock()
        self._local = threading.local()
        self._closed = False
        self._write_lock = threading.Lock()
        self.store_id = 0
        try:
            # One connection first: a server that refuses or a bad password
            # fails at once with libpq's own words (the pool would retry).
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
            self._pool: ConnectionPool[Any] = ConnectionPool(
                url,
                min_size=1,
                max_size=_pool_size(),
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
                configure=_configure,
                open=False,
                name="objfs-meta",
            )
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except (PoolTimeout, psycopg.Error) as exc:
            with contextlib.suppress(Exception):
                self._pool.close()
            raise BackendUnavailable(
                f"cannot reach the metadata database {describe_url(url)}: {_words(exc)}: "
                "check that "
                "PostgreSQL is running and the URL, user and password (PGPASSWORD, "
                "~/.pgpass or passfile=) are right"
            ) from exc

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def create_or_attach(cls, url: str, meta: dict[str, object]) -> tuple[PgDatabase, bool]:
        """The store of the URL's schema: made with ``meta`` if the schema holds
        none (True), else opened as it is (False). Two nodes doing this at
        once make one store: the check and the making hold a lock on the
        schema's name."""
        db = cls(url)
        try:
            with db._connection() as conn:
                cur = PgCursor(conn)
                cur.execute("BEGIN")
                try:
                    cur.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
                    schema = cur.execute("SELECT current_schema()").fetchone()[0]
                    if schema is None:
                        raise InvalidArgument(
                            f"{describe_url(url)} names no schema objfs may use: create one "
                            "and name it with ?options=-csearch_path%3DNAME"
                        )
                    exists = cur.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]
                    if not exists:
                        for statement in all_ddl():
                            cur.execute(statement)
                        store_id = secrets.randbits(63)
                        values = {"format_version": FORMAT_VERSION, "store_id": store_id, **meta}
                        cur.executemany(
                            "INSERT INTO meta(name, value) VALUES (?, ?)",
                            [(k, msgpack.packb(v)) for k, v in values.items()],
                        )
                    cur.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(psycopg.Error):
                        cur.execute("ROLLBACK")
                    raise
            db._check_format()
        except BaseException:
            db.close()
            raise
        return db, not exists

    @classmethod
    def open_url(cls, url: str) -> PgDatabase:
        """The store of the URL's schema (``StoreNotFound`` if it holds none)."""
        db = cls(url)
        try:
            db._check_format()
        except BaseException:
            db.close()
            raise
        return db

    def _check_format(self) -> None:
        with self._connection() as conn:
            cur = PgCursor(conn)
            if not cur.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]:
                raise StoreNotFound(
                    f"no objfs store in {describe_url(self.url)}: run `objfs init --meta URL`"
                )
            rows = dict(
                cur.execute(
                    "SELECT name, value FROM meta WHERE name IN ('format_version', 'store_id')"
                ).fetchall()
            )
        if "format_version" not in rows:
            raise StoreFormatError(f"{describe_url(self.url)} has no format version")
        version = int(msgpack.unpackb(rows["format_version"]))
        if version > FORMAT_VERSION:
            raise StoreFormatError(
                f"store format {version} is newer than this objfs understands "
                f"({FORMAT_VERSION}): upgrade objfs"
            )
        if version < FORMAT_VERSION:  # never made so: PostgreSQL stores start at FORMAT_VERSION
            raise StoreFormatError(
                f"store format {version} in {describe_url(self.url)}: PostgreSQL stores are "
                f"made at format {FORMAT_VERSION} and are not upgraded"
            )
        self.store_id = int(msgpack.unpackb(rows["store_id"]))

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            self._pool.close(timeout=5)
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                listener.close()

    def wait_for_change(self, timeout: float) -> bool:
        """Until a transaction of any node adds change rows (LISTEN/NOTIFY on a
        connection of its own) or ``timeout`` seconds pass: True if notified.
        A lost server costs ``timeout`` and is asked again at the next call
        (the caller polls the feed either way)."""
        with self._listen_lock:
            try:
                listener = self._listener
                if listener is None or listener.closed:
                    listener = psycopg.connect(
                        self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
                    )
                    channel = listener.execute(f"SELECT {_CHANNEL}").fetchone()
                    assert channel is not None
                    listener.execute(f'LISTEN "{channel[0]}"')
                    self._listener = listener
                for _note in listener.notifies(timeout=timeout, stop_after=1):
                    return True
                return False
            except psycopg.Error as exc:
                log.debug("waiting for change notifications: %s", exc)
                if self._listener is not None:
                    with contextlib.suppress(Exception):
                        self._listener.close()
                    self._listener = None
                time.sleep(timeout)
                return False

    def conn(self) -> Any:
        raise RuntimeError("a PostgreSQL store has no SQLite connection: use peek()")

    @contextlib.contextmanager
    def _connection(self, *, nowait: bool = False) -> Iterator[psycopg.Connection[Any]]:
        if self._closed:
            raise RuntimeError("database is closed")
        try:
            # Waits for a connection other threads hold, or for the server:
            # at most CONNECT_TIMEOUT_S (a server that is down fails fast).
            conn = self._pool.getconn(timeout=0.05 if nowait else CONNECT_TIMEOUT_S)
        except PoolTimeout as exc:
            if nowait:
                raise WouldBlock("every pooled connection is in use") from exc
            raise _unavailable(exc) from exc
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from exc
        try:
            yield conn
        finally:
            self._pool.putconn(conn)

    @contextlib.contextmanager
    def _begun(
        self, begin: Callable[[PgCursor], object], *, nowait: bool = False
    ) -> Iterator[PgCursor]:
        """A pooled connection with ``begin`` run on it: once more on a fresh
        connection if the first was found broken (a pooled connection outlives
        a server restart; nothing of the transaction had run)."""
        for attempt in (1, 2):
            with self._connection(nowait=nowait) as conn:
                cur = PgCursor(conn)
                try:
                    begin(cur)
                except BackendUnavailable:
                    if attempt == 2 or not conn.broken:
                        raise
                else:
                    yield cur
                    return
            # The others idle in the pool likely broke too: replace them.
            with contextlib.suppress(Exception):
                self._pool.check()

    # -- transactions --------------------------------------------------------

    @contextlib.contextmanager
    def nowait(self) -> Iterator[None]:
        local = self._local
        outer = getattr(local, "nowait", False)
        local.nowait = True
        try:
            yield
        finally:
            local.nowait = outer

    def refusing(self) -> bool:
        return bool(getattr(self._local, "nowait", False))

    @contextlib.contextmanager
    def write(self, *, durable: bool = False) -> Iterator[Cursor]:
        local = self._local
        joined: PgCursor | None = getattr(local, "write_cur", None)
        if joined is not None:
            if durable and not local.durable:
                raise RuntimeError("a durable write cannot join a transaction that is not")
            yield joined
            return
        nowait = bool(getattr(local, "nowait", False))
        if nowait and durable:
            raise WouldBlock("a durable commit waits for its flush")
        if nowait:
            if not self._write_lock.acquire(blocking=False):
                raise WouldBlock("another thread of this process is writing")
        elif not self._write_lock.acquire(timeout=LOCK_TIMEOUT_S):
            raise BackendUnavailable("the metadata database stayed locked by this process")
        try:
            with self._begun(
                lambda cur: self._begin_write(cur, durable=durable, nowait=nowait), nowait=nowait
            ) as cur:
                local.write_cur = cur
                local.durable = durable
                outer_cur = getattr(local, "cur", None)
                local.cur = cur
                try:
                    yield cur
                except BaseException:
                    _rollback(cur)
                    raise
                finally:
                    local.write_cur = None
                    local.cur = outer_cur
                try:
                    cur.execute("COMMIT")
                except BaseException:
                    _rollback(cur)
                    raise
        finally:
            self._write_lock.release()
        if nowait:
            local.nowait = False  # committed: the rest of the scope waits as usual

    def _begin_write(self, cur: PgCursor, *, durable: bool, nowait: bool) -> None:
        sync = "on" if durable else "off"
        lock = "pg_try_advisory_xact_lock" if nowait else "pg_advisory_xact_lock"
        try:
            cur.execute(
                "BEGIN ISOLATION LEVEL READ COMMITTED; "
                f"SET LOCAL synchronous_commit = {sync}; "
                f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_S}s'; "
                f"SELECT {lock}({self.store_id})"
            )
            while cur._cur.description is None and cur._cur.nextset():
                pass
            got = cur._cur.fetchone()
        except BaseException:
            _rollback(cur)
            raise
        if nowait and not (got and got[0]):
            _rollback(cur)
            raise WouldBlock("another node is writing")
        cur.writes = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[Cursor]:
        local = self._local
        with self._begun(lambda cur: cur.execute(_BEGIN_READ)) as cur:
            outer_cur = getattr(local, "cur", None)
            local.cur = cur
            try:
                yield cur
            finally:
                local.cur = outer_cur
                _rollback(cur)

    @contextlib.contextmanager
    def peek(self) -> Iterator[Cursor]:
        """A cursor for one read statement: in this thread's transaction if it
        has one (a write sees what it wrote), else on a pooled connection
        outside any transaction."""
        current: PgCursor | None = getattr(self._local, "cur", None)
        if current is not None:
            yield PgCursor(current._conn)
            return
        with self._connection() as conn:
            yield PgCursor(conn)

    # -- reads shared within one transaction ---------------------------------

    def remembered(self, cur: Cursor, key: object) -> object:
        slot = getattr(self._local, "memo", None)
        if slot is None or slot[0] is not cur or slot[1] != _writes(cur):
            return None
        return slot[2].get(key)

    def remember(self, cur: Cursor, key: object, value: object) -> None:
        slot = getattr(self._local, "memo", None)
        if slot is None or slot[0] is not cur or slot[1] != _writes(cur):
            values: dict[object, object] = {}
            slot = self._local.memo = (cur, _writes(cur), values)
        slot[2][key] = value

    def get_meta(self, name: str) -> object:
        with self.peek() as cur:
            row = cur.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None or row[0] is None else msgpack.unpackb(row[0])

    def version(self) -> tuple[int, int]:
        """``Database.version``'s token on PostgreSQL: the server's WAL insert
        position, which every commit (of any node, any database of the
        server) moves on. Equal tokens: nothing committed in between (a
        checkpoint or vacuum may move it too: then only a needless reload)."""
        with self.peek() as cur:
            lsn = str(cur.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0])
        high, low = lsn.split("/")
        return (int(high, 16) << 32) | int(low, 16), 0

    def checkpoint_truncate(self) -> None:
        """Nothing to fold: PostgreSQL's WAL and VACUUM are the server's business."""


def _writes(cur: Cursor) -> int:
    return int(getattr(cur, "writes", 0))


def _rollback(cur: PgCursor) -> None:
    with contextlib.suppress(psycopg.Error):
        if cur._conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            cur._cur.execute("ROLLBACK")
