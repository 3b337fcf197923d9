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
