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

# Test modules about SQLite itself: their [postgresql] runs skip with the reason.
SQLITE_ONLY = {
    "test_listing_scale.py": "counts SQLite VM steps (the PostgreSQL skip-scan is an index "
    "scan per skip: EXPLAIN in test_pg_meta.py)",
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
        reason = SQLITE_ONLY.get(request.node.path.name)
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
