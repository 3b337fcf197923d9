"""Mount fixtures: a real objfs daemon in a subprocess on a real FUSE mount.

Invariants: every mount a fixture makes is unmounted at teardown
(``fusermount3 -u``, then ``-uz``, then the daemon is killed); a traceback or
an ERROR line in the daemon's log fails the test that caused it. Without a
usable /dev/fuse the tests are skipped, or fail when OBJFS_REQUIRE_FUSE=1.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from objfs.store import OWNER, Store

from .support import Mount


def _fuse_problem() -> str | None:
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing"
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "/dev/fuse is not accessible"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is not installed"
    return None


@pytest.fixture(scope="session")
def fuse_ok() -> None:
    problem = _fuse_problem()
    if problem:
        if os.environ.get("OBJFS_REQUIRE_FUSE") == "1":
            pytest.fail(f"FUSE required but unusable: {problem}")
        pytest.skip(f"cannot mount: {problem}")


@pytest.fixture
def fs_store(store_path: Path) -> Path:
    """A store with an unversioned bucket ``plain`` and a versioned bucket ``vers``."""
    store = Store.open(store_path)
    try:
        store.create_bucket(OWNER, "plain")
        store.create_bucket(OWNER, "vers", versioning=True)
    finally:
        store.close()
    return store_path


@pytest.fixture
def mounter(fuse_ok: None, fs_store: Path, tmp_path: Path) -> Iterator[Callable[..., Mount]]:
    """``mounter(bucket="vers", options="", name="mnt") -> Mount`` (started)."""
    mounts: list[Mount] = []

    def mount(bucket: str = "vers", options: str = "", name: str = "mnt") -> Mount:
        path = tmp_path / name
        path.mkdir(exist_ok=True)
        m = Mount(fs_store, bucket, path, tmp_path / f"{name}.log", options)
        mounts.append(m)
        return m.start()

    yield mount
    problems: list[str] = []
    for m in mounts:
        m.stop()
        problems += m.problems()
    if problems:
        text = "\n".join(problems[:20])
        pytest.fail(f"daemon log has errors:\n{text}\n--- full log: {mounts[0].log}")


@pytest.fixture
def mnt(mounter: Callable[..., Mount]) -> Mount:
    """The versioned bucket mounted."""
    return mounter()
