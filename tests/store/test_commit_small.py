"""``commit_small``: the mount's one-transaction commit of a small file.

What it must keep: it commits exactly what a fresh writer's commit would
(content, size, ETag, content type, encryption, metadata carried over, the
access check with the data's encryption, one access-log record); it does
nothing and says so where a writer is needed (SSE-C, SSE-KMS: None) or,
with ``ctx.nowait``, where it would wait (another writer, a durable commit,
an access log to write: ``WouldBlock``).
"""

from __future__ import annotations

import json
import os
import time

import pytest

from objfs.errors import AccessDenied, InvalidArgument
from objfs.store import OWNER, RequestContext, Store, SystemMeta, WouldBlock
from objfs.store.logformat import parse_lines
from objfs.store.mountops import SMALL_COMMIT_MAX
from objfs.store.types import SSERequest

from .support import chunk_files, get_body
from .test_nowait import write_lock_held

FAST = OWNER.with_options(durable=False)
NOWAIT = FAST.with_options(nowait=True)
META = SystemMeta(mode=0o100644, uid=1000, gid=1000, mtime_ns=5)


def by_writer(store: Store, ctx: RequestContext, bucket: str, key: str, data: bytes, **kw):
    writer = store.open_writer(ctx, bucket, key, base=None, truncate=True)
    try:
        if data:
            writer.write(0, data)
        writer.commit(ctx, **kw)
        return writer.version
    finally:
        writer.close()


@pytest.mark.parametrize("versioned", [False, True])
@pytest.mark.parametrize(
    "data", [b"", bytes(4096), os.urandom(4096), b"hello\n", os.urandom(SMALL_COMMIT_MAX)]
)
def test_commits_what_a_fresh_writer_would(store, make_bucket, data, versioned):
    bucket = make_bucket("small-b", versioning=versioned)
    files_before = set(chunk_files(store.path))
    small = store.commit_small(NOWAIT, bucket, "d/a.txt", data, sys_meta=META)
    other = by_writer(store, FAST, bucket, "d/b.txt", data, sys_meta=META)
    assert small is not None
    assert set(chunk_files(store.path)) == files_before  # inline: no chunk file
    for version, key in ((small, "d/a.txt"), (other, "d/b.txt")):
        head = store.head_object(FAST, bucket, key)
        assert head.version_id == version.version_id and head.seq == version.seq
        assert get_body(store, FAST, bucket, key) == data
    assert small.size == other.size == len(data)
    assert small.etag == other.etag  # same chunk ids, same multipart-shaped ETag
    assert small.content_type == other.content_type == "text/plain"
    assert small.sse == other.sse == "AES256"
    assert small.sys_meta == other.sys_meta == META
    assert (small.version_id == "null") is (not versioned)
    assert store.head_object(FAST, bucket, "d/a.txt") == small


def test_metadata_carries_over_and_replaces_the_null_version(store, bucket):
    store.put_object(FAST, bucket, "f", b"old" * 1000, content_type="x/old", user_meta={"a": "1"})
    version = store.commit_small(NOWAIT, bucket, "f", b"new", sys_meta=META)
    assert version is not None
    assert version.content_type == "x/old" and version.user_meta == {"a": "1"}
    assert [v.version_id for v in store.key_versions(FAST, bucket, "f")] == ["null"]
    assert get_body(store, FAST, bucket, "f") == b"new"
    given = store.commit_small(
        FAST, bucket, "f", b"x", sys_meta=META, content_type="y/new", user_meta={}
    )
    assert given.content_type == "y/new" and given.user_meta == {}


def test_bucket_default_encryption_is_read_in_the_commit(store, bucket):
    store.set_bucket_encryption(OWNER, bucket, "none")
    plain = store.commit_small(NOWAIT, bucket, "p", b"plain", sys_meta=META)
    assert plain.sse == "none"
    sse = store.commit_small(
        FAST, bucket, "s", b"sealed", sys_meta=META, sse=SSERequest(mode="AES256")
    )
    assert sse.sse == "AES256"
    assert get_body(store, FAST, bucket, "s") == b"sealed"


def test_keys_to_fetch_need_a_writer(store, bucket):
    """SSE-C and SSE-KMS: None, nothing committed, nothing in the change feed."""
    seq = store.change_seq(OWNER)
    customer = SSERequest(mode="SSE-C", customer_key=os.urandom(32))
    assert store.commit_small(FAST, bucket, "c", b"x", sys_meta=META, sse=customer) is None
    kms = SSERequest(mode="aws:kms")
    assert store.commit_small(FAST, bucket, "k", b"x", sys_meta=META, sse=kms) is None
    key = store.kms_create_key(OWNER).key_id
    store.set_bucket_encryption(OWNER, bucket, "aws:kms", key)
    seq = store.change_seq(OWNER)
    for ctx in (FAST, NOWAIT):
        assert store.commit_small(ctx, bucket, "d", b"x", sys_meta=META) is None
    assert store.change_seq(OWNER) == seq
    assert store.list_objects(FAST, bucket).contents == []


def test_too_big_is_refused(store, bucket):
    with pytest.raises(InvalidArgument):
        store.commit_small(FAST, bucket, "big", bytes(SMALL_COMMIT_MAX + 1), sys_meta=META)


def test_nowait_does_not_wait(store_path, store, bucket):
    """Another writer holds the database, or the commit is durable: WouldBlock at once."""
    with write_lock_held(store_path):
        started = time.monotonic()
        with pytest.raises(WouldBlock):
            store.commit_small(NOWAIT, bucket, "f", b"x", sys_meta=META)
        assert time.monotonic() - started < 1
    durable = OWNER.with_options(durable=True)
    with pytest.raises(WouldBlock):
        store.commit_small(durable.with_options(nowait=True), bucket, "f", b"x", sys_meta=META)
    assert store.list_objects(FAST, bucket).contents == []
    # and the same thread still waits for writers outside nowait
    assert store.commit_small(durable, bucket, "f", b"x", sys_meta=META) is not None


def test_access_is_checked_as_a_writer_commit_checks_it(store, bucket):
    store.create_user(OWNER, "writer")
    key = store.create_access_key(OWNER, "writer")
    writer = RequestContext(store.authenticate(key.info.key_id, key.secret), "mount", durable=False)
    with pytest.raises(AccessDenied):
        store.commit_small(writer.with_options(nowait=True), bucket, "f", b"x", sys_meta=META)
    # A policy on the encryption: the commit names the data's (the bucket
    # default here), as a writer's commit does.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "s3:PutObject",
                "Resource": "*",
                "Condition": {"StringEquals": {"s3:x-amz-server-side-encryption": "AES256"}},
            },
        ],
    }
    store.put_user_policy(OWNER, "writer", "put", json.dumps(policy))
    for encryption, allowed in (("AES256", False), ("none", True)):
        store.set_bucket_encryption(OWNER, bucket, encryption)
        for commit in (store.commit_small, lambda *a, **kw: by_writer(store, *a, **kw)):
            if allowed:
                assert commit(writer, bucket, "f", b"x", sys_meta=META) is not None
            else:
                with pytest.raises(AccessDenied):
                    commit(writer, bucket, "f", b"x", sys_meta=META)


def test_one_access_log_record_and_never_written_by_a_nowait_call(store):
    store.create_bucket(OWNER, "src")
    store.create_bucket(OWNER, "logs")
    store.put_bucket_logging(OWNER, "src", "logs", "logs/")
    seq = store.change_seq(OWNER)
    with pytest.raises(WouldBlock):
        store.commit_small(NOWAIT, "src", "f", b"x", sys_meta=META)
    assert store.change_seq(OWNER) == seq  # rolled back: its record would be a write here
    assert store.commit_small(FAST, "src", "f", b"x", sys_meta=META) is not None
    store.flush_access_logs(OWNER)
    records = []
    quiet = FAST.with_options(log=False)
    for listed in store.list_objects(quiet, "logs").contents:
        with store.get_object(quiet, "logs", listed.key) as reader:
            records += parse_lines(reader.read().decode())
    assert [(r.operation, r.key, r.http_status) for r in records] == [("REST.PUT.OBJECT", "f", 200)]
