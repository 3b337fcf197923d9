"""A store as a pair of URLs: PostgreSQL metadata and chunks on an S3 server
(SeaweedFS), with two node directories, the second attached to the first's
store. Both engines are the real ones the session fixtures start."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from objfs.store import OWNER, Store
from tests.chunks.test_store_on_s3 import aws_env, url_of  # noqa: F401 - a fixture

BODY = os.urandom(700_000)  # chunks in the bucket, not inline


def test_two_nodes_share_a_store_of_postgresql_and_s3(
    tmp_path: Path,
    pg_url: str,
    seaweedfs: Any,
    s3_bucket: str,
    aws_env: None,  # noqa: F811
) -> None:
    chunks = url_of(seaweedfs, s3_bucket)
    a, b = tmp_path / "node-a", tmp_path / "node-b"
    with Store.init(a, meta_url=pg_url, chunks_url=chunks) as first:
        first.create_bucket(OWNER, "shared")
        first.put_object(OWNER, "shared", "big", BODY)
        recorded = first.chunks_url
    assert sorted(p.name for p in a.iterdir()) == ["chunk-cache", "keys", "meta.url"]
    b.mkdir()
    shutil.copytree(a / "keys", b / "keys")
    with Store.init(b, meta_url=pg_url, chunks_url=recorded) as second, Store.open(a) as first:
        assert second.attached
        with second.get_object(OWNER, "shared", "big") as reader:
            assert reader.read() == BODY
        second.put_object(OWNER, "shared", "from-b", b"written on node b")
        # read-after-write across nodes: the other node reads the database
        with first.get_object(OWNER, "shared", "from-b") as reader:
            assert reader.read() == b"written on node b"
        seq = first.change_seq(OWNER)
        assert seq == second.change_seq(OWNER)
        assert first.fsck(OWNER).ok
