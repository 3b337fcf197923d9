"""The action table: unique names, levels, management flags, condition keys."""

from __future__ import annotations

import json

from objfs.auth import actions
from objfs.auth.actions import ACTIONS, CONDITION_KEYS, Level, is_known_condition_key, lookup
from objfs.auth.policy import parse_identity_policy


def test_names_are_unique_case_insensitively() -> None:
    names = [a.name.lower() for a in ACTIONS]
    assert len(names) == len(set(names))


def test_lookup_is_case_insensitive() -> None:
    info = lookup("S3:GETOBJECT")
    assert info is not None and info.name == "s3:GetObject" and info.level is Level.OBJECT
    assert lookup("s3:NoSuchThing") is None


def test_levels_of_familiar_actions() -> None:
    assert lookup("s3:ListAllMyBuckets").level is Level.SERVICE  # type: ignore[union-attr]
    for name in ("s3:ListBucket", "s3:CreateBucket", "s3:PutBucketPolicy", "s3:GetBucketAcl"):
        assert lookup(name).level is Level.BUCKET, name  # type: ignore[union-attr]
    for name in ("s3:PutObject", "s3:DeleteObjectVersion", "s3:GetObjectAcl"):
        assert lookup(name).level is Level.OBJECT, name  # type: ignore[union-attr]


def test_management_actions_are_configuration_policy_and_acl() -> None:
    management = {a.name for a in ACTIONS if a.management}
    for name in (
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:GetBucketPolicy",
        "s3:PutBucketAcl",
        "s3:PutObjectAcl",
        "s3:PutBucketVersioning",
        "s3:PutBucketLogging",
        "s3:PutEncryptionConfiguration",
    ):
        assert name in management
    for name in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"):
        assert name not in management
    assert all(a.name.startswith("s3:") for a in ACTIONS if a.management)


def test_owner_only_actions_are_objfs_ones() -> None:
    owner_only = {a.name for a in ACTIONS if a.owner_only}
    assert {
        "objfs:Fsck",
        "objfs:GarbageCollect",
        "objfs:Sync",
        "objfs:ReadChangeFeed",
    } <= owner_only
    assert all(n.startswith("objfs:") for n in owner_only)
    assert all(a.owner_only for a in ACTIONS if a.name.startswith("objfs:"))


def test_condition_keys_of_actions() -> None:
    assert {"s3:prefix", "s3:delimiter", "s3:max-keys"} <= lookup("s3:ListBucket").condition_keys  # type: ignore[union-attr]
    put = lookup("s3:PutObject").condition_keys  # type: ignore[union-attr]
    assert "s3:x-amz-server-side-encryption" in put
    assert "s3:x-amz-server-side-encryption-aws-kms-key-id" in put
    assert "s3:x-amz-acl" in put
    assert "s3:VersionId" in lookup("s3:DeleteObjectVersion").condition_keys  # type: ignore[union-attr]
    for key in ("aws:SecureTransport", "aws:SourceIp", "aws:CurrentTime", "aws:EpochTime",
                "aws:username", "aws:userid", "aws:MultiFactorAuthPresent",
                "aws:MultiFactorAuthAge"):  # fmt: skip
        assert key in CONDITION_KEYS


def test_known_condition_keys() -> None:
    assert is_known_condition_key("AWS:SECURETRANSPORT")
    assert is_known_condition_key("s3:ExistingObjectTag/project")
    assert not is_known_condition_key("s3:ExistingObjectTag/")
    assert not is_known_condition_key("aws:SecureTransprot")


def test_every_s3_action_can_be_named_in_a_policy() -> None:
    names = [a.name for a in actions.s3_actions()]
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": names, "Resource": "*"}],
    }
    assert len(parse_identity_policy(json.dumps(doc)).statements[0].actions) == len(names)
