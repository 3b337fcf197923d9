"""objfs.auth.public: when S3 calls a bucket public (GetBucketPolicyStatus)."""

from __future__ import annotations

import json

import pytest

from objfs.auth.acl import canned_acl
from objfs.auth.policy import parse_bucket_policy
from objfs.auth.public import acl_is_public, policy_is_public

OWNER = "b" * 64


def doc(**st: object) -> str:
    base = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [{**base, **st}]})


@pytest.mark.parametrize(
    ("text", "public"),
    [
        (doc(Principal="*"), True),
        (doc(Principal={"AWS": "*"}), True),
        (doc(Principal={"AWS": "*"}, Condition={"StringLike": {"s3:prefix": "p/*"}}), True),
        (
            doc(Principal={"AWS": "*"}, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.1/32"}}),
            False,
        ),
        (doc(Principal={"AWS": "alice"}), False),
        (doc(Principal={"Service": "logging.s3.amazonaws.com"}), False),
        (doc(Principal="*", Effect="Deny"), False),
        # "Fixed" values only: no wildcard, no policy variable, a condition that must hold.
        (
            doc(Principal="*", Condition={"StringEquals": {"aws:SourceAccount": "111122223333"}}),
            False,
        ),
        (doc(Principal="*", Condition={"StringLike": {"aws:SourceAccount": "1111*"}}), True),
        (doc(Principal="*", Condition={"StringNotEquals": {"aws:SourceAccount": "1"}}), True),
        (doc(Principal="*", Condition={"StringEqualsIfExists": {"aws:SourceAccount": "1"}}), True),
        (doc(Principal="*", Condition={"StringEquals": {"aws:userid": "${aws:username}"}}), True),
        (doc(Principal="*", Condition={"StringEquals": {"aws:userid": "AROLEID:*"}}), True),
        (doc(Principal="*", Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), True),
        (doc(Principal="*", Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}), True),
        (
            doc(
                Principal="*",
                Condition={
                    "StringEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "k1"}
                },
            ),
            False,
        ),
    ],
)
def test_policy_is_public(text: str, public: bool) -> None:
    assert policy_is_public(parse_bucket_policy(text)) is public


@pytest.mark.parametrize(
    ("name", "public"),
    [
        ("private", False),
        ("public-read", True),
        ("public-read-write", True),
        ("authenticated-read", True),
        ("log-delivery-write", False),
    ],
)
def test_acl_is_public(name: str, public: bool) -> None:
    assert acl_is_public(canned_acl(name, OWNER)) is public
