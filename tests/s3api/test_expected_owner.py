"""``x-amz-expected-bucket-owner``: a request naming a bucket owned by
another account than it expects is refused with 403 AccessDenied, as S3 does."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def test_expected_owner_mismatch_is_denied(alice, anon, bkt: str) -> None:  # type: ignore[no-untyped-def]
    owner = alice.list_buckets()["Owner"]["ID"]
    alice.put_bucket_acl(Bucket=bkt, ACL="public-read-write")
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    for client in (alice, anon):
        with pytest.raises(ClientError) as exc:
            client.list_objects(Bucket=bkt, ExpectedBucketOwner=owner + "foo")
        assert _error(exc) == ("AccessDenied", 403)
        with pytest.raises(ClientError) as exc:
            client.put_object(Bucket=bkt, Key="k2", Body=b"y", ExpectedBucketOwner="0" * 64)
        assert _error(exc) == ("AccessDenied", 403)
        listed = client.list_objects(Bucket=bkt, ExpectedBucketOwner=owner)
        assert [o["Key"] for o in listed["Contents"]] == ["k"]
    got = alice.get_object(Bucket=bkt, Key="k", ExpectedBucketOwner=owner)
    assert got["Body"].read() == b"x"


def test_copy_checks_the_source_owner(alice, bkt: str) -> None:  # type: ignore[no-untyped-def]
    owner = alice.list_buckets()["Owner"]["ID"]
    alice.put_object(Bucket=bkt, Key="src", Body=b"x")
    with pytest.raises(ClientError) as exc:
        alice.copy_object(
            Bucket=bkt, Key="dst", CopySource=f"{bkt}/src", ExpectedSourceBucketOwner="0" * 64
        )
    assert _error(exc) == ("AccessDenied", 403)
    alice.copy_object(
        Bucket=bkt,
        Key="dst",
        CopySource=f"{bkt}/src",
        ExpectedSourceBucketOwner=owner,
        ExpectedBucketOwner=owner,
    )
    assert alice.get_object(Bucket=bkt, Key="dst")["Body"].read() == b"x"
