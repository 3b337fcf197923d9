"""Listings page by page with boto3's own paginators: every key and common
prefix comes exactly once and the pagination ends (ListObjects v1 with a
delimiter, ListObjectsV2, ListObjectVersions), also when the pages are
deleted while they are walked (how boto3 empties a bucket)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

KEYS = ["a", "b/1", "b/2", "c/x/1", "c/y", "d", "e/", "e/f", "g/h/", "z"]


def expected(prefix: str, delimiter: str | None) -> list[str]:
    """The model: keys under ``prefix`` folded at ``delimiter``, in order, once each."""
    out: list[str] = []
    for key in sorted(KEYS):
        if not key.startswith(prefix):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        entry = key[: cut + len(delimiter)] if delimiter and cut >= 0 else key
        if entry not in out:
            out.append(entry)
    return out


def walk(pages, contents: str, prefixes: str = "CommonPrefixes") -> list[str]:  # type: ignore[no-untyped-def]
    """Every entry the pages name (keys, then prefixes, per page), at most 100 pages."""
    out: list[str] = []
    for n, page in enumerate(pages):
        assert n < 100, f"pagination does not end: {out}"
        out += [o["Key"] for o in page.get(contents, [])]
        out += [p["Prefix"] for p in page.get(prefixes, [])]
    return sorted(out)


@pytest.mark.parametrize("size", [1, 2, 3, 1000])
@pytest.mark.parametrize("prefix", ["", "c/", "e/"])
@pytest.mark.parametrize("delimiter", ["/", None])
def test_paginators_name_every_entry_once(alice, bkt, size, prefix, delimiter):
    for key in KEYS:
        alice.put_object(Bucket=bkt, Key=key, Body=b"x")
    want = expected(prefix, delimiter)
    kw = {"Bucket": bkt, "Prefix": prefix, "PaginationConfig": {"PageSize": size}}
    if delimiter:
        kw["Delimiter"] = delimiter
    for op, contents in (
        ("list_objects", "Contents"),
        ("list_objects_v2", "Contents"),
        ("list_object_versions", "Versions"),
    ):
        got = walk(alice.get_paginator(op).paginate(**kw), contents)
        assert got == want, op


def test_versions_paged_past_deleted_markers(alice, vbkt):
    """The version a marker names may be gone by the next page (deleted by the
    caller, as boto3's object_versions.delete() does): the listing goes on."""
    for key in ("k1", "k2", "k3"):
        for _ in range(2):
            alice.put_object(Bucket=vbkt, Key=key, Body=b"x")
    first = alice.list_object_versions(Bucket=vbkt, MaxKeys=3)
    assert first["IsTruncated"]
    seen = [(v["Key"], v["VersionId"]) for v in first["Versions"]]
    alice.delete_objects(
        Bucket=vbkt, Delete={"Objects": [{"Key": k, "VersionId": v} for k, v in seen]}
    )
    rest = alice.list_object_versions(
        Bucket=vbkt,
        KeyMarker=first["NextKeyMarker"],
        VersionIdMarker=first["NextVersionIdMarker"],
    )
    left = [(v["Key"], v["VersionId"]) for v in rest["Versions"]]
    assert len(left) == 3 and not set(left) & set(seen)
    assert sorted(left) == sorted(
        (v["Key"], v["VersionId"]) for v in alice.list_object_versions(Bucket=vbkt)["Versions"]
    )


def test_emptying_1100_unversioned_keys_with_boto3(server, keys, alice, bkt):
    keys_ = [f"k/{i:05d}" for i in range(1100)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda k: alice.put_object(Bucket=bkt, Key=k, Body=b"x"), keys_))
    for op, contents in (
        ("list_objects", "Contents"),
        ("list_objects_v2", "Contents"),
        ("list_object_versions", "Versions"),
    ):
        assert walk(alice.get_paginator(op).paginate(Bucket=bkt), contents) == keys_, op
        got = walk(alice.get_paginator(op).paginate(Bucket=bkt, Delimiter="/"), contents)
        assert got == ["k/"], op
    # boto3's resource empties a bucket page by page: each page of 1,000
    # versions is deleted before the next is asked for, after version "null"
    # of a key that no longer exists.
    s3 = boto3.resource(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=keys["alice"].key_id,
        aws_secret_access_key=keys["alice"].secret,
    )
    s3.Bucket(bkt).object_versions.delete()
    assert alice.list_object_versions(Bucket=bkt).get("Versions", []) == []
    alice.delete_bucket(Bucket=bkt)


@pytest.mark.parametrize("prefix", ["\n", "a b", "%", "é/"])
def test_listing_answers_echo_the_prefix_exactly(alice, bkt, prefix):
    """boto3 asks for encoding-type=url and decodes what S3 encodes: ListObjects
    v1 encodes the keys and markers but not its Prefix (botocore leaves it)."""
    alice.put_object(Bucket=bkt, Key=prefix + "k", Body=b"x")
    for op in ("list_objects", "list_objects_v2", "list_object_versions"):
        out = getattr(alice, op)(Bucket=bkt, Prefix=prefix)
        assert out["Prefix"] == prefix, op
        keys = [o["Key"] for o in out.get("Contents", out.get("Versions", []))]
        assert keys == [prefix + "k"], op
