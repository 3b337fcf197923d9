"""Small objects live inline in the metadata database, sealed like chunk files.

Same ids, dedup, reference counts and integrity checks as chunk files; no
chunk file is created for them; fsck verifies and counts them; gc removes
them once nothing references them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from objfs.chunks.store import INLINE_MAX
from objfs.errors import IntegrityError
from objfs.store import OWNER, SSERequest
from tests.meta.sql import meta_sql

from .support import chunk_files

MARKER = b"--objfs-inline-plaintext-marker-51c2--"


def inline_rows(store_path: Path) -> dict[bytes, bytes]:
    db = meta_sql(store_path)
    try:
        return dict(db.execute("SELECT chunk_id, frame FROM inline_chunks"))
    finally:
        db.close()


def test_small_objects_make_no_chunk_file(store, ctx, bucket):
    before = set(chunk_files(store.path))
    bodies = {f"k{i}": os.urandom(100 + i * 1000) for i in range(10)}
    bodies["edge"] = os.urandom(INLINE_MAX)
    for key, body in bodies.items():
        store.put_object(ctx, bucket, key, body)
    assert set(chunk_files(store.path)) == before
    assert len(inline_rows(store.path)) == len(bodies)
    for key, body in bodies.items():
        assert store.get_object(ctx, bucket, key).read() == body
        assert store.read_range(ctx, bucket, key, 7, 50) == body[7:57]
    # One byte more is a chunk file, as before.
    store.put_object(ctx, bucket, "big", os.urandom(INLINE_MAX + 1))
    assert len(set(chunk_files(store.path)) - before) == 1
    report = store.fsck(OWNER)
    assert report.ok, report.problems
    assert report.inline_chunks == len(bodies)


def test_tail_of_a_large_object_is_inline(store, ctx, bucket):
    body = os.urandom(store.chunk_size * 2 + 5000)
    store.put_object(ctx, bucket, "large", body)
    assert len(inline_rows(store.path)) == 1
    assert store.get_object(ctx, bucket, "large").read() == body
    tail = len(body) - 6000
    assert store.read_range(ctx, bucket, "large", tail, 6000) == body[tail:]


def test_dedup_refcount_and_gc(store, ctx, vbucket, make_bucket):
    data = b"same small body\n" * 100
    store.put_object(ctx, vbucket, "a", data)
    store.put_object(ctx, vbucket, "b", data)
    assert len(inline_rows(store.path)) == 1  # deduplicated in its domain
    other = make_bucket("other-domain")
    store.set_bucket_encryption(ctx, other, "none")
    store.put_object(ctx, other, "a", data)
    assert len(inline_rows(store.path)) == 2  # another domain, another id
    for key in ("a", "b"):
        for v in store.key_versions(ctx, vbucket, key):
            store.delete_object(ctx, vbucket, key, version_id=v.version_id)
    assert len(inline_rows(store.path)) == 2  # gc's grace period
    store.gc(OWNER, grace_seconds=0)
    assert len(inline_rows(store.path)) == 1
    assert store.get_object(ctx, other, "a").read() == data
    assert store.fsck(OWNER).ok


@pytest.mark.parametrize("mode", ["AES256", "SSE-C"])
def test_no_plaintext_in_the_database_when_encrypted(store, ctx, bucket, mode):
    sse = SSERequest(customer_key=os.urandom(32)) if mode == "SSE-C" else None
    store.put_object(ctx, bucket, "secret", MARKER * 10, sse=sse)
    store.put_object(ctx, bucket, "secret2", os.urandom(300) + MARKER, sse=sse)
    store.close()
    for path in store.path.rglob("*"):
        if path.is_file():
            assert MARKER not in path.read_bytes(), path


def test_damaged_inline_frame_is_detected(store, ctx, bucket):
    body = os.urandom(3000)
    store.put_object(ctx, bucket, "k", body)
    ((chunk_id, frame),) = inline_rows(store.path).items()
    for at in (0, 40, len(frame) // 2, len(frame) - 1):
        bad = bytearray(frame)
        bad[at] ^= 1
        db = meta_sql(store.path)
        with db:
            db.execute(
                "UPDATE inline_chunks SET frame = ? WHERE chunk_id = ?", (bytes(bad), chunk_id)
            )
        db.close()
        store.chunks._cache.clear()  # what another process would see
        with pytest.raises(IntegrityError):
            store.get_object(ctx, bucket, "k").read()
        report = store.fsck(OWNER)
        assert not report.ok and report.damaged_objects
