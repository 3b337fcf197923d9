"""Buckets: S3 naming rules, uniqueness, regions, listing, deleting (S3-SEMANTICS.md "Buckets")."""

from __future__ import annotations

import pytest

from objfs.errors import (
    BucketAlreadyExists,
    BucketNotEmpty,
    InvalidBucketName,
    NoSuchBucket,
    NoSuchKey,
    ObjfsError,
)
from objfs.store import RequestContext, Versioning

# (name, words of which at least one must appear in the message: the rule it broke)
BAD_NAMES = {
    "too-short": ("ab", ("3", "63", "short", "length", "long")),
    "empty": ("", ("3", "63", "short", "length", "long", "empty")),
    "too-long": ("a" * 64, ("3", "63", "short", "length", "long")),
    "uppercase": ("MyBucket", ("lowercase", "character", "letters", "a-z")),
    "underscore": ("my_bucket", ("lowercase", "character", "letters", "a-z")),
    "space": ("my bucket", ("lowercase", "character", "letters", "a-z")),
    "non-ascii": ("bücket", ("lowercase", "character", "letters", "a-z")),
    "starts-with-hyphen": ("-bucket", ("start", "begin")),
    "ends-with-hyphen": ("bucket-", ("end",)),
    "starts-with-dot": (".bucket", ("start", "begin")),
    "ends-with-dot": ("bucket.", ("end",)),
    "adjacent-dots": ("my..bucket", ("adjacent", "consecutive", "..", "two periods")),
    "dash-dot": ("my-.bucket", ("dash", "hyphen")),
    "dot-dash": ("my.-bucket", ("dash", "hyphen")),
    "ipv4": ("192.168.5.4", ("ip",)),
    "xn-prefix": ("xn--bucket", ("xn--",)),
    "sthree-prefix": ("sthree-bucket", ("sthree-",)),
    "s3alias-suffix": ("bucket-s3alias", ("-s3alias",)),
    "ol-s3-suffix": ("bucket--ol-s3", ("--ol-s3",)),
}


@pytest.mark.parametrize("rule", sorted(BAD_NAMES))
def test_bad_bucket_name_is_refused_naming_the_rule(store, ctx, rule):
    name, words = BAD_NAMES[rule]
    with pytest.raises(InvalidBucketName) as exc:
        store.create_bucket(ctx, name)
    message = str(exc.value)
    assert "\n" not in message
    assert any(word.lower() in message.lower() for word in words), (rule, message)
    assert exc.value.code == "InvalidBucketName" and exc.value.status == 400
    assert name not in [b.name for b in store.list_buckets(ctx)]


def test_each_broken_rule_gets_its_own_message(store, ctx):
    # One representative per rule: the messages must tell them apart.
    reps = [
        "ab",
        "MyBucket",
        "-bucket",
        "my..bucket",
        "my-.bucket",
        "192.168.5.4",
        "xn--bucket",
        "sthree-bucket",
        "bucket-s3alias",
        "bucket--ol-s3",
    ]
    messages = set()
    for name in reps:
        with pytest.raises(InvalidBucketName) as exc:
            store.create_bucket(ctx, name)
        # The variable part (the name itself) must not be what tells them apart.
        messages.add(str(exc.value).replace(name, "NAME"))
    assert len(messages) == len(reps), messages


@pytest.mark.parametrize(
    "name",
    [
        "abc",  # shortest
        "a" * 63,  # longest
        "0" * 63,
        "123",  # digits only
        "my.bucket.name",  # dots
        "a-b.c-d",
        "1.2.3",  # three numbers with dots is not an IPv4 address
        "192.168.5.4a",
        "my-xn--bucket",  # rule is about the start only
        "s3alias-bucket",  # rule is about the end only
        "x" * 30 + "-" + "9" * 32,
    ],
)
def test_valid_bucket_names_are_accepted(store, ctx, name):
    info = store.create_bucket(ctx, name)
    assert info.name == name
    assert store.head_bucket(ctx, name).name == name
    assert name in [b.name for b in store.list_buckets(ctx)]


def test_recreating_your_own_bucket_in_us_east_1_is_a_no_op(store, ctx):
    """S3's legacy rule for us-east-1 only: CreateBucket on a bucket you own there
    succeeds and changes nothing; elsewhere, or for someone else, it is refused."""
    first = store.create_bucket(ctx, "east-bucket", region="us-east-1")
    store.set_bucket_versioning(ctx, "east-bucket", Versioning.ENABLED)
    again = store.create_bucket(ctx, "east-bucket", region="us-east-1")
    assert (again.name, again.created_ns, again.owner) == (
        "east-bucket",
        first.created_ns,
        first.owner,
    )
    assert store.head_bucket(ctx, "east-bucket").versioning is Versioning.ENABLED
    with pytest.raises(BucketAlreadyExists):
        store.create_bucket(ctx, "east-bucket", region="eu-west-1")
    store.create_user(ctx, "carol")
    carol = RequestContext(store.user_identity("carol"), "cli")
    with pytest.raises(BucketAlreadyExists):
        store.create_bucket(carol, "east-bucket", region="us-east-1")
    store.create_bucket(ctx, "west-bucket", region="eu-west-1")
    with pytest.raises(BucketAlreadyExists):
        store.create_bucket(ctx, "west-bucket", region="eu-west-1")


def test_duplicate_bucket_is_refused(store, ctx):
    store.create_bucket(ctx, "dup-bucket")
    with pytest.raises(BucketAlreadyExists) as exc:
        store.create_bucket(ctx, "dup-bucket")
    assert exc.value.status == 409
    with pytest.raises(BucketAlreadyExists):
        store.create_bucket(ctx, "dup-bucket", region="eu-west-1")
    assert [b.name for b in store.list_buckets(ctx)].count("dup-bucket") == 1


def test_region_owner_and_defaults(store, ctx):
    plain = store.create_bucket(ctx, "plain-bucket")
    assert plain.region == "local"
    assert plain.owner == "owner"
    assert plain.versioning == Versioning.UNVERSIONED
    assert plain.created_ns > 0
    eu = store.create_bucket(ctx, "eu-bucket", region="eu-west-1")
    assert eu.region == "eu-west-1"
    assert store.head_bucket(ctx, "eu-bucket").region == "eu-west-1"
    versioned = store.create_bucket(ctx, "ver-bucket", versioning=True)
    assert versioned.versioning == Versioning.ENABLED
    assert store.head_bucket(ctx, "ver-bucket").versioning == Versioning.ENABLED


def test_list_buckets_sorted_by_name(store, ctx):
    assert store.list_buckets(ctx) == []
    names = ["zeta", "alpha", "m.id", "0-first", "beta-2", "beta"]
    for name in names:
        store.create_bucket(ctx, name)
    assert [b.name for b in store.list_buckets(ctx)] == sorted(names)


def test_head_and_delete_missing_bucket(store, ctx):
    with pytest.raises(NoSuchBucket) as exc:
        store.head_bucket(ctx, "no-such-bucket")
    assert exc.value.status == 404
    with pytest.raises(NoSuchBucket):
        store.delete_bucket(ctx, "no-such-bucket")


def test_object_calls_on_missing_bucket_are_no_such_bucket(store, ctx):
    with pytest.raises(NoSuchBucket):
        store.put_object(ctx, "no-such-bucket", "k", b"x")
    with pytest.raises(NoSuchBucket):
        store.get_object(ctx, "no-such-bucket", "k")
    with pytest.raises(NoSuchBucket):
        store.head_object(ctx, "no-such-bucket", "k")
    with pytest.raises(NoSuchBucket):
        store.list_objects(ctx, "no-such-bucket")
    with pytest.raises(NoSuchBucket):
        store.list_object_versions(ctx, "no-such-bucket")
    with pytest.raises(NoSuchBucket):
        store.delete_object(ctx, "no-such-bucket", "k")


def test_delete_empty_bucket(store, ctx):
    store.create_bucket(ctx, "empty-bucket")
    store.delete_bucket(ctx, "empty-bucket")
    with pytest.raises(NoSuchBucket):
        store.head_bucket(ctx, "empty-bucket")
    assert store.list_buckets(ctx) == []
    # The name is free again, with a clean state.
    store.create_bucket(ctx, "empty-bucket")
    assert store.list_objects(ctx, "empty-bucket").contents == []


def test_delete_bucket_with_object_is_refused(store, ctx):
    store.create_bucket(ctx, "full-bucket")
    store.put_object(ctx, "full-bucket", "k", b"data")
    with pytest.raises(BucketNotEmpty) as exc:
        store.delete_bucket(ctx, "full-bucket")
    assert exc.value.status == 409
    assert store.head_object(ctx, "full-bucket", "k").size == 4
    store.delete_object(ctx, "full-bucket", "k")
    store.delete_bucket(ctx, "full-bucket")


def test_delete_bucket_with_only_noncurrent_version_is_refused(store, ctx):
    store.create_bucket(ctx, "ver-bucket", versioning=True)
    put = store.put_object(ctx, "ver-bucket", "k", b"data")
    store.delete_object(ctx, "ver-bucket", "k")  # marker on top, version below
    assert store.list_objects(ctx, "ver-bucket").contents == []
    with pytest.raises(BucketNotEmpty):
        store.delete_bucket(ctx, "ver-bucket")
    versions = store.key_versions(ctx, "ver-bucket", "k")
    assert [v.version_id for v in versions][1] == put.version_id


def test_delete_bucket_with_only_delete_marker_is_refused(store, ctx):
    store.create_bucket(ctx, "ver-bucket", versioning=True)
    put = store.put_object(ctx, "ver-bucket", "k", b"data")
    store.delete_object(ctx, "ver-bucket", "k")
    store.delete_object(ctx, "ver-bucket", "k", version_id=put.version_id)
    versions = store.key_versions(ctx, "ver-bucket", "k")
    assert len(versions) == 1 and versions[0].is_delete_marker
    with pytest.raises(BucketNotEmpty):
        store.delete_bucket(ctx, "ver-bucket")
    store.delete_object(ctx, "ver-bucket", "k", version_id=versions[0].version_id)
    store.delete_bucket(ctx, "ver-bucket")
    with pytest.raises(NoSuchBucket):
        store.head_bucket(ctx, "ver-bucket")


def test_deleted_bucket_objects_do_not_come_back(store, ctx):
    store.create_bucket(ctx, "reborn")
    store.put_object(ctx, "reborn", "k", b"old")
    store.delete_object(ctx, "reborn", "k")
    store.delete_bucket(ctx, "reborn")
    store.create_bucket(ctx, "reborn")
    with pytest.raises(NoSuchKey):
        store.head_object(ctx, "reborn", "k")
    assert store.list_object_versions(ctx, "reborn").versions == []


def test_bucket_errors_are_objfs_errors_with_one_line(store, ctx):
    for call in (
        lambda: store.create_bucket(ctx, "UPPER"),
        lambda: store.head_bucket(ctx, "nope-bucket"),
    ):
        with pytest.raises(ObjfsError) as exc:
            call()
        assert str(exc.value) and "\n" not in str(exc.value)
