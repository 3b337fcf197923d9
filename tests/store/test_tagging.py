"""Object and bucket tags through the store API (objfs/store/tagging.py).

A version's tags change in place (no new version, same ETag); every way a
version is made (PUT, copy, multipart, the mount's rename) gives it the tag
set S3 would; the limits and alphabet are S3's; the policy condition keys
``s3:ExistingObjectTag/<key>``, ``s3:RequestObjectTag/<key>`` and
``s3:RequestObjectTagKeys`` decide as in S3.
"""

from __future__ import annotations

import json

import pytest

from objfs.errors import (
    AccessDenied,
    BadRequest,
    InvalidArgument,
    InvalidTag,
    MethodNotAllowed,
    NoSuchKey,
    NoSuchTagSet,
)
from objfs.store import OWNER, RequestContext, Store
from objfs.store.tagging import check_tags, tag_pairs


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def alice(store: Store) -> RequestContext:
    store.create_user(OWNER, "alice")
    key = store.create_access_key(OWNER, "alice")
    return RequestContext(store.authenticate(key.info.key_id, key.secret), "cli")


def test_limits_and_alphabet():
    check_tags({str(i): str(i) for i in range(10)})
    check_tags({"k" * 128: "v" * 256, "caf\u00e9 + x.y:z/w=@-_": ""})
    with pytest.raises(InvalidTag, match="greater than 10"):
        check_tags({str(i): "" for i in range(11)})
    with pytest.raises(InvalidTag, match="TagKey .* too long"):
        check_tags({"k" * 129: "v"})
    with pytest.raises(InvalidTag, match="TagValue .* too long"):
        check_tags({"k": "v" * 257})
    for bad in ({"": "v"}, {"a*b": "v"}, {"k": "semi;colon"}, {"aws:x": "v"}):
        with pytest.raises(InvalidTag):
            check_tags(bad)
    with pytest.raises(InvalidTag, match="same key"):
        tag_pairs([("a", "1"), ("a", "2")])
    check_tags({str(i): "" for i in range(50)}, bucket=True)
    with pytest.raises(BadRequest):
        check_tags({str(i): "" for i in range(51)}, bucket=True)


def test_object_tags_change_in_place(store: Store, ctx: RequestContext, vbucket: str):
    put = store.put_object(ctx, vbucket, "k", b"data", tags={"a": "1"})
    assert store.get_object_tagging(ctx, vbucket, "k").tags == {"a": "1"}
    assert store.head_object(ctx, vbucket, "k").tags == {"a": "1"}
    changed = store.put_object_tagging(ctx, vbucket, "k", {"b": "2", "c": ""})
    assert changed.version_id == put.version_id and changed.etag == put.etag
    assert len(store.list_object_versions(ctx, vbucket).versions) == 1  # no new version
    assert store.get_object_tagging(ctx, vbucket, "k").tags == {"b": "2", "c": ""}
    # A refused set leaves the tags as they were.
    with pytest.raises(InvalidTag):
        store.put_object_tagging(ctx, vbucket, "k", {str(i): "" for i in range(11)})
    assert store.get_object_tagging(ctx, vbucket, "k").tags == {"b": "2", "c": ""}
    store.delete_object_tagging(ctx, vbucket, "k")
    assert store.get_object_tagging(ctx, vbucket, "k").tags == {}


def test_version_id_and_delete_markers(store: Store, ctx: RequestContext, vbucket: str):
    v1 = store.put_object(ctx, vbucket, "k", b"1", tags={"gen": "1"}).version_id
    store.put_object(ctx, vbucket, "k", b"2")  # a new version has only its own tags
    assert store.get_object_tagging(ctx, vbucket, "k").tags == {}
    store.put_object_tagging(ctx, vbucket, "k", {"old": "yes"}, version_id=v1)
    assert store.get_object_tagging(ctx, vbucket, "k", version_id=v1).tags == {"old": "yes"}
    marker = store.delete_object(ctx, vbucket, "k").version_id
    with pytest.raises(NoSuchKey):
        store.get_object_tagging(ctx, vbucket, "k")
    with pytest.raises(NoSuchKey):
        store.put_object_tagging(ctx, vbucket, "k", {"a": "b"})
    with pytest.raises(MethodNotAllowed):
        store.get_object_tagging(ctx, vbucket, "k", version_id=marker)


def test_copy_directive_and_multipart(store: Store, ctx: RequestContext, bucket: str):
    store.put_object(ctx, bucket, "src", b"data", tags={"a": "1"})
    store.copy_object(ctx, bucket, "src", bucket, "copied")
    assert store.get_object_tagging(ctx, bucket, "copied").tags == {"a": "1"}
    store.copy_object(
        ctx, bucket, "src", bucket, "replaced", tagging_directive="REPLACE", tags={"b": "2"}
    )
    assert store.get_object_tagging(ctx, bucket, "replaced").tags == {"b": "2"}
    store.copy_object(ctx, bucket, "src", bucket, "bare", tagging_directive="REPLACE")
    assert store.get_object_tagging(ctx, bucket, "bare").tags == {}
    with pytest.raises(InvalidArgument):
        store.copy_object(ctx, bucket, "src", bucket, "x", tagging_directive="MOVE")
    upload = store.create_multipart_upload(ctx, bucket, "mp", tags={"m": "p"})
    part = store.upload_part(ctx, bucket, "mp", upload, 1, b"x")
    store.complete_multipart_upload(ctx, bucket, "mp", upload, [(1, part.etag)])
    assert store.get_object_tagging(ctx, bucket, "mp").tags == {"m": "p"}


def test_rename_keeps_tags(store: Store, ctx: RequestContext, bucket: str):
    store.put_object(ctx, bucket, "a", b"data", tags={"keep": "me"})
    store.rename(ctx, bucket, "a", "b")
    assert store.get_object_tagging(ctx, bucket, "b").tags == {"keep": "me"}


def test_bucket_tags(store: Store, ctx: RequestContext, bucket: str):
    with pytest.raises(NoSuchTagSet) as caught:
        store.get_bucket_tagging(ctx, bucket)
    assert caught.value.status == 404
    store.put_bucket_tagging(ctx, bucket, {"team": "ops", "cost": "42"})
    assert store.get_bucket_tagging(ctx, bucket) == {"team": "ops", "cost": "42"}
    with pytest.raises(InvalidTag):
        store.put_bucket_tagging(ctx, bucket, {"aws:x": "y"})
    store.delete_bucket_tagging(ctx, bucket)
    with pytest.raises(NoSuchTagSet):
        store.get_bucket_tagging(ctx, bucket)


def test_existing_object_tag_condition(store: Store, alice: RequestContext, bucket: str):
    store.put_bucket_policy(
        OWNER,
        bucket,
        policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "alice"},
                "Action": ["s3:GetObject", "s3:PutObjectTagging"],
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"StringEquals": {"s3:ExistingObjectTag/security": "public"}},
            }
        ),
    )
    store.put_object(OWNER, bucket, "public", b"p", tags={"security": "public"})
    store.put_object(OWNER, bucket, "private", b"q", tags={"security": "private"})
    with store.get_object(alice, bucket, "public") as reader:
        assert reader.read() == b"p"
    with pytest.raises(AccessDenied):
        store.get_object(alice, bucket, "private")
    # Allowed while the version is public; after alice makes it private, no more.
    store.put_object_tagging(alice, bucket, "public", {"security": "private"})
    with pytest.raises(AccessDenied):
        store.put_object_tagging(alice, bucket, "public", {"security": "public"})
    with pytest.raises(AccessDenied):
        store.get_object(alice, bucket, "public")


def test_request_tag_conditions_and_put_needs_tagging_permission(
    store: Store, alice: RequestContext, bucket: str
):
    arn = f"arn:aws:s3:::{bucket}/*"
    store.put_bucket_policy(
        OWNER,
        bucket,
        policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "alice"},
                "Action": ["s3:PutObject", "s3:PutObjectTagging"],
                "Resource": arn,
                "Condition": {"StringEquals": {"s3:RequestObjectTag/security": "public"}},
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": "alice"},
                "Action": "s3:PutObjectTagging",
                "Resource": arn,
                "Condition": {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["secret"]}},
            },
        ),
    )
    with pytest.raises(AccessDenied):
        store.put_object(alice, bucket, "k", b"x")  # no tag: the condition fails
    with pytest.raises(AccessDenied):
        store.put_object(alice, bucket, "k", b"x", tags={"security": "private"})
    store.put_object(alice, bucket, "k", b"x", tags={"security": "public"})
    with pytest.raises(AccessDenied):
        store.put_object(alice, bucket, "k", b"x", tags={"security": "public", "secret": "1"})
    assert store.get_object_tagging(OWNER, bucket, "k").tags == {"security": "public"}


def test_copying_tags_needs_get_object_tagging(store: Store, alice: RequestContext, bucket: str):
    arn = f"arn:aws:s3:::{bucket}/*"
    grant = {"Effect": "Allow", "Principal": {"AWS": "alice"}, "Resource": arn}
    store.put_bucket_policy(
        OWNER, bucket, policy({**grant, "Action": ["s3:GetObject", "s3:PutObject"]})
    )
    store.put_object(OWNER, bucket, "plain", b"p")
    store.put_object(OWNER, bucket, "tagged", b"t", tags={"a": "1"})
    store.copy_object(alice, bucket, "plain", bucket, "c1")
    store.copy_object(alice, bucket, "tagged", bucket, "c2", tagging_directive="REPLACE")
    with pytest.raises(AccessDenied):
        store.copy_object(alice, bucket, "tagged", bucket, "c3")
    store.put_bucket_policy(
        OWNER,
        bucket,
        policy({**grant, "Action": ["s3:GetObject", "s3:PutObject", "s3:GetObjectTagging"]}),
    )
    store.copy_object(alice, bucket, "tagged", bucket, "c3")
    assert store.get_object_tagging(OWNER, bucket, "c3").tags == {"a": "1"}
