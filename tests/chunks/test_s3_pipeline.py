"""Storing a stream's chunks on S3 with several PUTs in flight (issue 23).

An S3 backend's ``parallel_puts`` chunks of one stream are stored at once on
a pool of their own (objfs/store/chunking.py ``put_pipeline``); a local-disk
store keeps the shared pool and its own depth. Whatever the depth, a commit
names only chunks whose PUT returned: after a multi-chunk put and a
sequential write through a writer (the mount's path), every chunk the
versions name is in the bucket, the data round-trips and fsck is clean.
Real SeaweedFS (fixtures of tests/chunks/conftest.py).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from objfs.chunks.store import INLINE_MAX
from objfs.store import OWNER, Store, chunking
from objfs.store.chunking import put_pipeline

MIB = 1 << 20


@pytest.fixture
def s3_store(
    tmp_path: Path, seaweedfs: Any, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> Store:
    monkeypatch.setenv("OBJFS_CHUNKS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("OBJFS_CHUNKS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    url = f"s3://{s3_bucket}/p?endpoint={seaweedfs.endpoint}&region={seaweedfs.region}"
    store = Store.init(tmp_path / "s", chunks_url=url)
    store.create_bucket(OWNER, "data")
    return store


def _read(store: Store, key: str) -> bytes:
    with store.get_object(OWNER, "data", key) as reader:
        return reader.read()


def test_pipeline_depth_is_the_backends(s3_store: Store, tmp_path: Path) -> None:
    with s3_store:
        assert s3_store.chunks.backend.parallel_puts == 8
        assert put_pipeline(s3_store.chunks, 3) == (chunking._REMOTE_POOL, 8)
        s3_store.chunks.backend.parallel_puts = 2
        assert put_pipeline(s3_store.chunks, 3) == (chunking._REMOTE_POOL, 2)
    with Store.init(tmp_path / "local") as local:
        assert put_pipeline(local.chunks, 3) == (chunking._POOL, 3)
        assert put_pipeline(local.chunks, 6) == (chunking._POOL, 6)


def test_put_and_sequential_write_on_s3_commit_only_stored_chunks(s3_store: Store) -> None:
    with s3_store as store:
        size = 12 * store.chunk_size + INLINE_MAX + 1  # a tail past the inline limit
        body = os.urandom(size)
        store.put_object(OWNER, "data", "put", io.BytesIO(body))
        writer = store.open_writer(OWNER, "data", "written", base=None)
        try:
            data = os.urandom(size)
            for offset in range(0, size, MIB):  # dd bs=1M: writes straddle blocks
                writer.write(offset, data[offset : offset + MIB])
            writer.commit(OWNER)
        finally:
            writer.close()
        blobs = {name for name, _ in store.chunks.backend.iterate()}
        assert len(blobs) == 2 * 13  # every chunk of both versions, each acknowledged
        assert _read(store, "put") == body
        assert _read(store, "written") == data
        assert store.fsck(OWNER).ok
