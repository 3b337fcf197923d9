"""Fixtures for the chunk backend tests: one SeaweedFS S3 server per pytest run.

Invariants: ``seaweedfs`` is started once per session under a session tmp
dir and stopped at the end of the run whatever happened; it never skips: if
weed cannot start, every test that asks for it errors with weed's reason.
Each ``s3_bucket`` is a fresh, empty bucket on it (never reused, never
cleaned: the whole server is thrown away).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.seaweed import SeaweedFS


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
