"""Shared fixtures for the whole suite: a fresh store and a way to make buckets.

Invariants: every store a fixture opens is closed at teardown, and every
store lives under pytest's ``tmp_path`` (nothing is written elsewhere).
Mount fixtures live in ``tests/fs/conftest.py``; keep this file small.
The real engines of a cluster store, one each per pytest run, started only
when a test asks: ``seaweedfs`` (tests/seaweed.py, an S3 server) and
``postgres`` (tests/postgres.py, a PostgreSQL cluster). They never skip: if
one cannot start, every test that asks for it errors with the reason.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from objfs.store import OWNER, RequestContext, Store
from tests.postgres import PostgresServer
from tests.seaweed import SeaweedFS

# Every store keeps a preallocated reserve for deletes on a full disk
# (objfs/store/space.py); a suite of thousands of stores need not allocate
# 8 MiB each. tests/fs/test_full_disk.py sets the real size.
os.environ.setdefault("OBJFS_RESERVE", "64K")
# A request method called inside another request fails (objfs/store/access.py):
# in the suite's stores and in every daemon it starts.
os.environ.setdefault("OBJFS_STRICT_REQUESTS", "1")


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A running ``weed server -s3`` on loopback (see tests/seaweed.py)."""
    server = SeaweedFS.start(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(seaweedfs: SeaweedFS) -> str:
    """The name of a fresh, empty bucket on ``seaweedfs``."""
    return seaweedfs.new_bucket()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A running throwaway PostgreSQL cluster on loopback (see tests/postgres.py)."""
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    """The libpq URL of a fresh, empty schema on ``postgres`` (one store's metadata)."""
    return postgres.new_schema()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A freshly initialised (and closed) store directory."""
    path = tmp_path / "store"
    Store.init(path).close()
    return path


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    """An open store on ``store_path``, closed at teardown."""
    opened = Store.open(store_path)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def ctx() -> RequestContext:
    """The store owner through the CLI, durable writes (like ``objfs put``)."""
    return OWNER


@pytest.fixture
def make_bucket(store: Store, ctx: RequestContext) -> Callable[..., str]:
    """``make_bucket(name=None, *, versioning=False, region="local") -> name``.

    Without a name it picks a fresh valid one (``bucket-1``, ``bucket-2``...).
    """
    counter = itertools.count(1)

    def make(name: str | None = None, *, versioning: bool = False, region: str = "local") -> str:
        name = name or f"bucket-{next(counter)}"
        store.create_bucket(ctx, name, region=region, versioning=versioning)
        return name

    return make


@pytest.fixture
def bucket(make_bucket: Callable[..., str]) -> str:
    """One unversioned bucket in ``store``."""
    return make_bucket("test-bucket")


@pytest.fixture
def vbucket(make_bucket: Callable[..., str]) -> str:
    """One bucket with versioning Enabled in ``store``."""
    return make_bucket("versioned-bucket", versioning=True)
