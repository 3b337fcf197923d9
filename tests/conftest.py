"""Shared fixtures for the whole suite: a fresh store and a way to make buckets.

Invariants: every store a fixture opens is closed at teardown, and every
store lives under pytest's ``tmp_path`` (nothing is written elsewhere).
Mount fixtures live in ``tests/fs/conftest.py``; keep this file small.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from objfs.store import OWNER, RequestContext, Store

# Every store keeps a preallocated reserve for deletes on a full disk
# (objfs/store/space.py); a suite of thousands of stores need not allocate
# 8 MiB each. tests/fs/test_full_disk.py sets the real size.
os.environ.setdefault("OBJFS_RESERVE", "64K")
# A request method called inside another request fails (objfs/store/access.py):
# in the suite's stores and in every daemon it starts.
os.environ.setdefault("OBJFS_STRICT_REQUESTS", "1")


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
