"""Store calls added for the HTTP API: per-action bucket configuration getters
and UploadPartCopy (S3-SEMANTICS.md "Objects and multipart")."""

from __future__ import annotations

import pytest

from objfs.errors import InvalidRange, NoSuchEncryptionConfiguration, NoSuchKey
from objfs.store import SSERequest

from .support import MiB, get_body, rand_bytes


def test_bucket_configuration_getters(store, ctx, bucket):
    assert store.get_bucket_location(ctx, bucket) == "local"
    assert store.get_bucket_versioning(ctx, bucket).versioning.value in ("Unversioned", "Enabled")
    assert store.get_bucket_encryption(ctx, bucket).encryption == "AES256"
    store.set_bucket_encryption(ctx, bucket, "none")
    with pytest.raises(NoSuchEncryptionConfiguration) as exc:
        store.get_bucket_encryption(ctx, bucket)
    assert exc.value.status == 404
    assert exc.value.code == "ServerSideEncryptionConfigurationNotFoundError"


def test_upload_part_copy_whole_and_ranges(store, ctx, bucket):
    src = rand_bytes(6 * MiB + 17, 9)
    store.put_object(ctx, bucket, "src", src)
    uid = store.create_multipart_upload(ctx, bucket, "dst")
    p1 = store.upload_part_copy(ctx, bucket, "dst", uid, 1, bucket, "src")
    p2 = store.upload_part_copy(
        ctx, bucket, "dst", uid, 2, bucket, "src", src_range=(MiB, MiB + 99)
    )
    assert (p1.size, p2.size) == (len(src), 100)
    store.complete_multipart_upload(ctx, bucket, "dst", uid, [(1, p1.etag), (2, p2.etag)])
    assert get_body(store, ctx, bucket, "dst") == src + src[MiB : MiB + 100]


def test_upload_part_copy_refuses_bad_range_and_missing_source(store, ctx, bucket):
    store.put_object(ctx, bucket, "src", b"0123456789")
    uid = store.create_multipart_upload(ctx, bucket, "dst")
    with pytest.raises(InvalidRange):
        store.upload_part_copy(ctx, bucket, "dst", uid, 1, bucket, "src", src_range=(5, 10))
    with pytest.raises(NoSuchKey):
        store.upload_part_copy(ctx, bucket, "dst", uid, 1, bucket, "nope")
    assert store.list_parts(ctx, bucket, "dst", uid) == []


def test_upload_part_copy_from_sse_c_source(store, ctx, bucket):
    key = bytes(range(32))
    store.put_object(ctx, bucket, "secret", b"s" * 1000, sse=SSERequest(customer_key=key))
    uid = store.create_multipart_upload(ctx, bucket, "dst")
    part = store.upload_part_copy(
        ctx, bucket, "dst", uid, 1, bucket, "secret", src_sse=SSERequest(customer_key=key)
    )
    store.complete_multipart_upload(ctx, bucket, "dst", uid, [(1, part.etag)])
    assert get_body(store, ctx, bucket, "dst") == b"s" * 1000
