"""Raw SQL on a test store's metadata, whichever the engine: what a test uses
to look at rows or to damage them as a bug or a bad disk would.

``meta_sql(store_path)`` opens a connection of its own (as another process
would) to ``meta.db``, or to the PostgreSQL schema the store's ``meta.url``
names. SQL text uses SQLite's ``?`` placeholders on both (``objfs.meta.pg``
translates them). ``with db:`` commits on success and rolls back on error,
as ``sqlite3``'s connections do; ``close()`` ends it. ``value(v)`` is a
``meta.value`` as the engine stores it (``objfs.meta.db.meta_in``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Any

import msgpack
import psycopg
from psycopg import ClientCursor

from objfs.meta.pg import PgCursor, _configure


class MetaSQL:
    """One connection to a store's metadata database (see the module docstring)."""

    def __init__(self, store_path: Path) -> None:
        url_file = Path(store_path) / "meta.url"
        self.postgres = url_file.exists()
        self._pg: psycopg.Connection[Any] | None = None
        self._lite: sqlite3.Connection | None = None
        if self.postgres:
            self._pg = psycopg.connect(url_file.read_text().strip(), cursor_factory=ClientCursor)
            _configure(self._pg)
        else:
            self._lite = sqlite3.connect(Path(store_path) / "meta.db")

    def execute(self, sql: str, params: Any = ()) -> Any:
        if self._pg is not None:
            return PgCursor(self._pg).execute(sql, params)
        assert self._lite is not None
        return self._lite.execute(sql, params)

    def value(self, value: object) -> object:
        return msgpack.packb(value) if self.postgres else value

    def _conn(self) -> Any:
        return self._pg if self._pg is not None else self._lite

    def commit(self) -> None:
        self._conn().commit()

    def rollback(self) -> None:
        self._conn().rollback()

    def close(self) -> None:
        self._conn().close()

    def __enter__(self) -> MetaSQL:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


def meta_sql(store_path: Path) -> MetaSQL:
    return MetaSQL(store_path)
