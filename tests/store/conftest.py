"""The store tests as a contract suite: every test that uses ``store_path`` (so
``store``, ``bucket``...) runs on both metadata engines, ids ``[sqlite]`` and
``[postgresql]`` (issue 23: one set of store tests for both).

A PostgreSQL store gets a fresh schema of the session's throwaway cluster
(``pg_url``, tests/conftest.py) and keeps its chunks in its own directory
(``file:``), as the SQLite one does. A test about SQLite itself (its file,
WAL, format upgrades) asks for ``sqlite_store_path`` or marks itself with
``pytest.mark.sqlite_only(reason)``: its ``[postgresql]`` run is skipped with
that reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from objfs.store import Store

ENGINES = ("sqlite", "postgresql")

# Tests about SQLite itself (a module, or module::test): their [postgresql]
# runs skip with the reason. Everything else in tests/store runs on both.
_UPGRADE = "upgrades a SQLite store of an older format (PostgreSQL stores start at the current one)"
SQLITE_ONLY = {
    "test_listing_scale.py": "counts SQLite VM steps (the PostgreSQL skip-scan is an index "
    "scan per skip: EXPLAIN in test_pg_meta.py)",
    "test_checkpoints.py": "SQLite's WAL checkpoints",
    "test_format4.py": "format 4 of a SQLite store: sqlite_sequence, rowids, upgrades",
    "test_v1_store.py": _UPGRADE,
    "test_v2_store.py": _UPGRADE,
    "test_maintenance.py::test_a_format_1_store_is_upgraded_on_open": _UPGRADE,
    "test_object_headers.py::test_a_format_4_store_is_upgraded_in_place": _UPGRADE,
    "test_mfa.py::test_secret_is_sealed_in_the_database": "greps the bytes of meta.db",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): a store test about SQLite itself (not the contract)"
    )


@pytest.fixture(params=ENGINES)
def meta_engine(request: pytest.FixtureRequest) -> str:
    """The metadata engine of this run of the test."""
    engine = str(request.param)
    if engine == "postgresql":
        marker = request.node.get_closest_marker("sqlite_only")
        if marker is not None:
            pytest.skip(f"SQLite only: {marker.args[0] if marker.args else 'about SQLite'}")
        name = request.node.path.name
        reason = SQLITE_ONLY.get(name) or SQLITE_ONLY.get(f"{name}::{request.node.originalname}")
        if reason is not None:
            pytest.skip(f"SQLite only: {reason}")
    return engine


@pytest.fixture
def meta_url(meta_engine: str, request: pytest.FixtureRequest) -> str | None:
    """``Store.init``'s ``meta_url`` for this run (None: SQLite, the default)."""
    if meta_engine == "sqlite":
        return None
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store_path(tmp_path: Path, meta_url: str | None) -> Path:
    """A freshly initialised (and closed) store directory, on either engine."""
    path = tmp_path / "store"
    Store.init(path, meta_url=meta_url).close()
    return path
