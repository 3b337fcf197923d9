"""Block Public Access on a bucket: Put/Get/DeletePublicAccessBlock and what each
setting does to ACLs and policies."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError


def status(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def blocks(**on: bool) -> dict[str, bool]:
    names = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    return {n: on.get(n, False) for n in names}


def public_read_policy(bkt: str) -> str:
    st = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bkt}/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


def test_configuration_round_trip(alice, bob, bkt) -> None:
    with pytest.raises(ClientError) as exc:
        alice.get_public_access_block(Bucket=bkt)
    assert status(exc) == ("NoSuchPublicAccessBlockConfiguration", 404)
    conf = blocks(BlockPublicAcls=True, BlockPublicPolicy=True)
    alice.put_public_access_block(Bucket=bkt, PublicAccessBlockConfiguration=conf)
    assert alice.get_public_access_block(Bucket=bkt)["PublicAccessBlockConfiguration"] == conf
    with pytest.raises(ClientError) as exc:
        bob.get_public_access_block(Bucket=bkt)
    assert status(exc) == ("AccessDenied", 403)
    alice.delete_public_access_block(Bucket=bkt)
    with pytest.raises(ClientError):
        alice.get_public_access_block(Bucket=bkt)


def test_block_public_acls_refuses_public_acls(alice, bkt) -> None:
    alice.put_public_access_block(
        Bucket=bkt, PublicAccessBlockConfiguration=blocks(BlockPublicAcls=True)
    )
    for canned in ("public-read", "public-read-write", "authenticated-read"):
        with pytest.raises(ClientError) as exc:
            alice.put_bucket_acl(Bucket=bkt, ACL=canned)
        assert status(exc) == ("AccessDenied", 403)
        with pytest.raises(ClientError) as exc:
            alice.put_object(Bucket=bkt, Key="k", Body=b"x", ACL=canned)
        assert status(exc) == ("AccessDenied", 403)
    alice.put_object(Bucket=bkt, Key="k", Body=b"x", ACL="private")
    with pytest.raises(ClientError) as exc:
        alice.put_object_acl(Bucket=bkt, Key="k", ACL="public-read")
    assert status(exc) == ("AccessDenied", 403)


def test_ignore_public_acls_makes_public_grants_count_for_nothing(alice, anon, bkt) -> None:
    alice.put_bucket_acl(Bucket=bkt, ACL="public-read")
    alice.put_object(Bucket=bkt, Key="k", Body=b"x", ACL="public-read")
    assert anon.get_object(Bucket=bkt, Key="k")["Body"].read() == b"x"
    alice.put_public_access_block(
        Bucket=bkt, PublicAccessBlockConfiguration=blocks(IgnorePublicAcls=True)
    )
    with pytest.raises(ClientError) as exc:
        anon.get_object(Bucket=bkt, Key="k")
    assert status(exc) == ("AccessDenied", 403)
    with pytest.raises(ClientError):
        anon.list_objects_v2(Bucket=bkt)


def test_public_policies_blocked_or_restricted(alice, anon, bkt) -> None:
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    alice.put_public_access_block(
        Bucket=bkt, PublicAccessBlockConfiguration=blocks(BlockPublicPolicy=True)
    )
    with pytest.raises(ClientError) as exc:
        alice.put_bucket_policy(Bucket=bkt, Policy=public_read_policy(bkt))
    assert status(exc) == ("AccessDenied", 403)
    alice.put_public_access_block(
        Bucket=bkt, PublicAccessBlockConfiguration=blocks(RestrictPublicBuckets=True)
    )
    alice.put_bucket_policy(Bucket=bkt, Policy=public_read_policy(bkt))
    with pytest.raises(ClientError) as exc:  # the public statement grants nobody else
        anon.get_object(Bucket=bkt, Key="k")
    assert status(exc) == ("AccessDenied", 403)
    alice.delete_public_access_block(Bucket=bkt)
    assert anon.get_object(Bucket=bkt, Key="k")["Body"].read() == b"x"


def test_restrict_public_buckets_blocks_every_grant_of_a_public_policy(alice, bob, bkt) -> None:
    """S3: with RestrictPublicBuckets, a public policy's cross-account grants are
    blocked too, also a statement naming one account; a policy that is not
    public keeps its named grants."""
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    to_bob = {
        "Effect": "Allow",
        "Principal": {"AWS": "bob"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bkt}/*",
    }
    everyone = {
        **to_bob,
        "Principal": "*",
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{bkt}",
    }
    alice.put_public_access_block(
        Bucket=bkt, PublicAccessBlockConfiguration=blocks(RestrictPublicBuckets=True)
    )
    alice.put_bucket_policy(
        Bucket=bkt, Policy=json.dumps({"Version": "2012-10-17", "Statement": [to_bob, everyone]})
    )
    assert alice.get_bucket_policy_status(Bucket=bkt)["PolicyStatus"]["IsPublic"] is True
    with pytest.raises(ClientError) as exc:
        bob.get_object(Bucket=bkt, Key="k")
    assert status(exc) == ("AccessDenied", 403)
    alice.put_bucket_policy(
        Bucket=bkt, Policy=json.dumps({"Version": "2012-10-17", "Statement": [to_bob]})
    )
    assert alice.get_bucket_policy_status(Bucket=bkt)["PolicyStatus"]["IsPublic"] is False
    assert bob.get_object(Bucket=bkt, Key="k")["Body"].read() == b"x"


def test_policy_status_follows_s3s_fixed_value_rule(alice, bkt) -> None:
    st = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bkt}/*",
    }

    def is_public(condition: dict) -> bool:
        doc = {"Version": "2012-10-17", "Statement": [{**st, "Condition": condition}]}
        alice.put_bucket_policy(Bucket=bkt, Policy=json.dumps(doc))
        return alice.get_bucket_policy_status(Bucket=bkt)["PolicyStatus"]["IsPublic"]

    assert is_public({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}) is False
    assert is_public({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}) is True
    assert is_public({"StringLike": {"aws:SourceAccount": "1111*"}}) is True
    assert is_public({"StringNotEquals": {"aws:SourceAccount": "111122223333"}}) is True
