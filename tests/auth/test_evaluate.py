"""Evaluation, table by table: deny beats allow, owners, wildcards, Not*, variables."""

from __future__ import annotations

import errno
from datetime import UTC, datetime
from typing import Any

import pytest

from objfs.auth.acl import Grant, Grantee, Permission, acl_from_grants, canned_acl
from objfs.auth.evaluate import Reason, request_context, resource_arn
from objfs.errors import AccessDenied
from tests.auth.support import (
    ALICE,
    ALICE_ID,
    ANON,
    BOB,
    BOB_ID,
    CAROL,
    OWNER,
    OWNER_ID,
    allow,
    bkt,
    bp,
    decide,
    deny,
    ip,
    obj,
)

PHOTO = obj("photos", "a.jpg")
READ_PHOTOS = ip(allow("s3:GetObject", "arn:aws:s3:::photos/*"))
PUBLIC_READ_OBJ = canned_acl("public-read", BOB_ID)

# (id, who, action, resource, kwargs for decide, allowed, reason, text in explain())
# fmt: off
CASES: list[tuple[str, Any, str, str, dict[str, Any], bool, Reason, str]] = [
    ("nothing applies", ALICE, "s3:GetObject", PHOTO, {}, False, Reason.IMPLICIT_DENY,
     "Denied: implicit deny: no statement allowed it"),
    ("identity allow", ALICE, "s3:GetObject", PHOTO, {"identity": {"read": READ_PHOTOS}}, True,
     Reason.POLICY_ALLOW, 'Allowed: by identity policy "read", Statement[0]'),
    ("bucket allow", ALICE, "s3:GetObject", PHOTO,
     {"bucket": bp(allow("s3:GetObject", "arn:aws:s3:::photos/*", Sid="Pub"))}, True,
     Reason.POLICY_ALLOW, 'Allowed: by bucket policy of photos, Statement[0] (Sid "Pub")'),
    ("acl grant", ANON, "s3:GetObject", PHOTO, {"acl": PUBLIC_READ_OBJ}, True, Reason.ACL_GRANT,
     "Allowed: by ACL grant READ to group AllUsers on object photos/a.jpg"),
    ("bucket deny beats identity allow", ALICE, "s3:GetObject", PHOTO,
     {"identity": {"read": READ_PHOTOS},
      "bucket": bp(allow("s3:*", "*"), deny("s3:GetObject", "*", Sid="NoGet"))},
     False, Reason.EXPLICIT_DENY,
     'Denied: explicit Deny in bucket policy of photos, Statement[1] (Sid "NoGet")'),
    ("identity deny beats bucket allow", ALICE, "s3:GetObject", PHOTO,
     {"identity": {"read": READ_PHOTOS, "nope": ip(deny("s3:*", "*"))},
      "bucket": bp(allow("s3:GetObject", "*"))},
     False, Reason.EXPLICIT_DENY, 'explicit Deny in identity policy "nope", Statement[0]'),
    ("deny beats acl", ANON, "s3:GetObject", PHOTO,
     {"acl": PUBLIC_READ_OBJ, "bucket": bp(deny("s3:GetObject", "arn:aws:s3:::photos/*"))},
     False, Reason.EXPLICIT_DENY, "bucket policy of photos"),
    ("deny binds the bucket owner", BOB, "s3:DeleteObject", PHOTO,
     {"bucket": bp(deny("s3:DeleteObject", "arn:aws:s3:::photos/*"))}, False,
     Reason.EXPLICIT_DENY, "Statement[0]"),
    ("bucket owner has full control", BOB, "s3:GetObject", PHOTO, {}, True,
     Reason.RESOURCE_OWNER, "Allowed: user bob owns object photos/a.jpg"),
    ("bucket owner manages own bucket", BOB, "s3:PutBucketPolicy", bkt("photos"), {}, True,
     Reason.RESOURCE_OWNER, "user bob owns bucket photos"),
    ("bucket owner denied by own identity policy", BOB, "s3:PutBucketPolicy", bkt("photos"),
     {"identity": {"no-policy": ip(deny("s3:PutBucketPolicy", "*"))}}, False,
     Reason.EXPLICIT_DENY, "no-policy"),
    ("object owner in another's bucket", ALICE, "s3:GetObject", PHOTO,
     {"object_owner": ALICE_ID}, True, Reason.RESOURCE_OWNER, "alice owns object"),
    ("object owner changes its object's ACL", ALICE, "s3:PutObjectAcl", PHOTO,
     {"object_owner": ALICE_ID}, True, Reason.RESOURCE_OWNER, "alice owns object"),
    ("object owner may not overwrite in another's bucket", ALICE, "s3:PutObject", PHOTO,
     {"object_owner": ALICE_ID}, False, Reason.IMPLICIT_DENY, "implicit deny"),
    ("object owner may not delete in another's bucket", ALICE, "s3:DeleteObject", PHOTO,
     {"object_owner": ALICE_ID}, False, Reason.IMPLICIT_DENY, "implicit deny"),
    ("object ownership is not bucket ownership", ALICE, "s3:ListBucket", bkt("photos"),
     {"object_owner": ALICE_ID}, False, Reason.IMPLICIT_DENY, "implicit deny"),
    ("store owner manages despite deny", OWNER, "s3:PutBucketPolicy", bkt("photos"),
     {"bucket": bp(deny("s3:*", "*"))}, True, Reason.STORE_OWNER,
     "the store owner may always manage (s3:PutBucketPolicy)"),
    ("store owner reads acl despite deny", OWNER, "s3:GetObjectAcl", PHOTO,
     {"bucket": bp(deny("*", "*"))}, True, Reason.STORE_OWNER, "manage"),
    ("deny binds the store owner's data", OWNER, "s3:GetObject", PHOTO,
     {"bucket": bp(deny("s3:*", "*"))}, False, Reason.EXPLICIT_DENY, "bucket policy of photos"),
    ("store owner reads data", OWNER, "s3:GetObject", PHOTO, {}, True, Reason.STORE_OWNER,
     "the store owner has access unless a policy denies it (s3:GetObject)"),
    ("owner-only for users", ALICE, "objfs:Fsck", resource_arn(),
     {"identity": {"all": ip(allow("*", "*"))}}, False, Reason.OWNER_ONLY,
     "Denied: objfs:Fsck is for the store owner only; user alice is not"),
    ("owner-only for the owner", OWNER, "objfs:Fsck", resource_arn(), {}, True,
     Reason.OWNER_ONLY, "Allowed: objfs:Fsck is for the store owner only"),
    ("anonymous with star principal", ANON, "s3:GetObject", PHOTO,
     {"bucket": bp(allow("s3:GetObject", "arn:aws:s3:::photos/*"))}, True, Reason.POLICY_ALLOW,
     "bucket policy"),
    ("anonymous with AWS star", ANON, "s3:GetObject", PHOTO,
     {"bucket": bp(allow("s3:GetObject", "*", Principal={"AWS": "*"}))}, True,
     Reason.POLICY_ALLOW, "bucket policy"),
    ("anonymous is no named user", ANON, "s3:GetObject", PHOTO,
     {"bucket": bp(allow("s3:GetObject", "*", Principal={"AWS": ["alice", "anonymous"]}))},
     False, Reason.IMPLICIT_DENY, "implicit"),
    ("cross-user grant by name", ALICE, "s3:PutObject", PHOTO,
     {"bucket": bp(allow("s3:PutObject", "arn:aws:s3:::photos/*", Principal={"AWS": "alice"}))},
     True, Reason.POLICY_ALLOW, "bucket policy"),
    ("cross-user grant by IAM ARN", ALICE, "s3:PutObject", PHOTO,
     {"bucket": bp(allow("s3:PutObject", "*",
                         Principal={"AWS": "arn:aws:iam::123456789012:user/alice"}))},
     True, Reason.POLICY_ALLOW, "bucket policy"),
    ("cross-user grant by canonical id", ALICE, "s3:PutObject", PHOTO,
     {"bucket": bp(allow("s3:PutObject", "*", Principal={"CanonicalUser": ALICE_ID}))},
     True, Reason.POLICY_ALLOW, "bucket policy"),
    ("grant to alice is not a grant to carol", CAROL, "s3:PutObject", PHOTO,
     {"bucket": bp(allow("s3:PutObject", "*", Principal={"AWS": "alice"}))},
     False, Reason.IMPLICIT_DENY, "implicit"),
    ("root ARN is the store owner", OWNER, "s3:GetObject", PHOTO,
     {"bucket": bp(deny("s3:GetObject", "*", Principal={"AWS": "arn:aws:iam::1:root"}))},
     False, Reason.EXPLICIT_DENY, "bucket policy"),
    ("users list their own buckets", ALICE, "s3:ListAllMyBuckets", resource_arn(), {}, True,
     Reason.ACCOUNT, "Allowed: user alice may s3:ListAllMyBuckets in its own account"),
    ("users create buckets", ALICE, "s3:CreateBucket", bkt("new"), {"bucket_owner": None},
     True, Reason.ACCOUNT, "in its own account"),
    ("an identity Deny stops bucket creation", ALICE, "s3:CreateBucket", bkt("new"),
     {"bucket_owner": None, "identity": {"no": ip(deny("s3:CreateBucket", "*"))}}, False,
     Reason.EXPLICIT_DENY, 'identity policy "no"'),
    ("anonymous has no account", ANON, "s3:ListAllMyBuckets", resource_arn(), {}, False,
     Reason.IMPLICIT_DENY, "implicit"),
    ("NotPrincipal spares the named", ALICE, "s3:GetObject", PHOTO,
     {"identity": {"read": READ_PHOTOS},
      "bucket": bp(deny("s3:*", "*", NotPrincipal={"AWS": ["alice", "bob"]}))},
     True, Reason.POLICY_ALLOW, "identity policy"),
    ("NotPrincipal denies the rest", CAROL, "s3:GetObject", PHOTO,
     {"identity": {"read": READ_PHOTOS},
      "bucket": bp(deny("s3:*", "*", NotPrincipal={"AWS": ["alice", "bob"]}))},
     False, Reason.EXPLICIT_DENY, "bucket policy"),
    ("NotPrincipal denies anonymous", ANON, "s3:GetObject", PHOTO,
     {"acl": PUBLIC_READ_OBJ, "bucket": bp(deny("s3:*", "*", NotPrincipal={"AWS": "alice"}))},
     False, Reason.EXPLICIT_DENY, "bucket policy"),
]
# fmt: on


@pytest.mark.parametrize(
    ("who", "action", "resource", "kw", "allowed", "reason", "text"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_decision_table(who, action, resource, kw, allowed, reason, text) -> None:
    d = decide(who, action, resource, **kw)
    assert (d.allowed, d.reason) == (allowed, reason), d.explain()
    assert text in d.explain()


# (policy statement, action, resource, allowed?) for alice with only this identity statement.
# fmt: off
MATCHING: list[tuple[dict[str, Any], str, str, bool]] = [
    (allow("s3:Get*", "*"), "s3:GetObjectVersion", PHOTO, True),
    (allow("s3:Get*", "*"), "s3:PutObject", PHOTO, False),
    (allow("S3:getobject", "*"), "s3:GetObject", PHOTO, True),
    (allow("s3:GetObject", "*"), "S3:GETOBJECT", PHOTO, True),
    (allow("s3:*Object", "*"), "s3:DeleteObject", PHOTO, True),
    (allow("s3:*Object", "*"), "s3:DeleteObjectVersion", PHOTO, False),
    (allow("s3:List?ucket", "*"), "s3:ListBucket", bkt("photos"), True),
    (allow("*", "*"), "s3:PutBucketAcl", bkt("photos"), True),
    (allow("s3:GetObject", "arn:aws:s3:::Photos/*"), "s3:GetObject", PHOTO, False),
    (allow("s3:GetObject", "arn:aws:s3:::photos/*"), "s3:GetObject", obj("photos", "a/b/c"), True),
    (allow("s3:GetObject", "arn:aws:s3:::photos/*"), "s3:GetObject", bkt("photos"), False),
    (allow("s3:GetObject", "arn:aws:s3:::photos/img?.jpg"), "s3:GetObject",
     obj("photos", "img1.jpg"), True),
    (allow("s3:GetObject", "arn:aws:s3:::photos/img?.jpg"), "s3:GetObject",
     obj("photos", "img10.jpg"), False),
    (allow("s3:GetObject", "arn:aws:s3:::photos/a*z"), "s3:GetObject",
     obj("photos", "a\nmiddle/z"), True),
    (allow("s3:GetObject", ["arn:aws:s3:::x/*", "arn:aws:s3:::photos/a.jpg"]),
     "s3:GetObject", PHOTO, True),
    (allow("s3:ListAllMyBuckets", "arn:aws:s3:::*"), "s3:ListAllMyBuckets", resource_arn(), True),
    ({"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "arn:aws:s3:::photos/*"},
     "s3:GetObject", PHOTO, True),
    ({"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "arn:aws:s3:::photos/*"},
     "s3:DeleteObject", PHOTO, False),
    ({"Effect": "Allow", "NotAction": ["s3:Delete*", "s3:Put*"], "Resource": "*"},
     "s3:PutObjectAcl", PHOTO, False),
    ({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::photos/private/*"},
     "s3:GetObject", obj("photos", "private/x"), False),
    ({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::photos/private/*"},
     "s3:GetObject", obj("photos", "public/x"), True),
    # policy variables
    (allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"), "s3:GetObject",
     obj("home", "alice/notes"), True),
    (allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"), "s3:GetObject",
     obj("home", "bob/notes"), False),
    (allow("s3:GetObject", "arn:aws:s3:::home/${aws:userid}/*"), "s3:GetObject",
     obj("home", f"{ALICE_ID}/x"), True),
    (allow("s3:GetObject", "arn:aws:s3:::home/${aws:principaltype}/*"), "s3:GetObject",
     obj("home", "User/x"), True),
    (allow("s3:GetObject", "arn:aws:s3:::b/${*}.txt"), "s3:GetObject", obj("b", "*.txt"), True),
    (allow("s3:GetObject", "arn:aws:s3:::b/${*}.txt"), "s3:GetObject", obj("b", "a.txt"), False),
    (allow("s3:GetObject", "arn:aws:s3:::b/${?}${$}"), "s3:GetObject", obj("b", "?$"), True),
    (allow("s3:GetObject", "arn:aws:s3:::b/${aws:nosuchvar}/*"), "s3:GetObject",
     obj("b", "x/y"), False),
    (allow("s3:GetObject", "arn:aws:s3:::b/${s3:prefix, 'none'}/*"), "s3:GetObject",
     obj("b", "none/y"), True),
    (allow("s3:GetObject", "arn:aws:s3:::b/${ aws:username , 'x' }/*"), "s3:GetObject",
     obj("b", "alice/y"), True),
]
# fmt: on


@pytest.mark.parametrize(("statement", "action", "resource", "allowed"), MATCHING)
def test_action_and_resource_matching(statement, action, resource, allowed) -> None:
    d = decide(ALICE, action, resource, identity={"p": ip(statement)})
    assert d.allowed is allowed, d.explain()


def test_a_substituted_value_is_literal_text_not_a_wildcard() -> None:
    pol = {"p": ip(allow("s3:GetObject", "arn:aws:s3:::b/${s3:prefix}"))}
    assert not decide(
        ALICE, "s3:GetObject", obj("b", "x"), identity=pol, context={"s3:prefix": "*"}
    ).allowed
    assert decide(
        ALICE, "s3:GetObject", obj("b", "*"), identity=pol, context={"s3:prefix": "*"}
    ).allowed


def test_version_2008_has_no_variables() -> None:
    pol = ip(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"), version="2008-10-17")
    assert not decide(ALICE, "s3:GetObject", obj("home", "alice/x"), identity={"p": pol}).allowed
    assert decide(
        ALICE, "s3:GetObject", obj("home", "${aws:username}/x"), identity={"p": pol}
    ).allowed


def test_identity_keys_are_filled_in() -> None:
    def ok(who, cond) -> bool:
        pol = bp(allow("s3:GetObject", "*", Condition=cond))
        return decide(who, "s3:GetObject", PHOTO, bucket=pol).allowed

    assert ok(ALICE, {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/alice"}})
    assert ok(OWNER, {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam:::root"}})
    assert ok(ANON, {"StringEquals": {"aws:userid": "anonymous"}})
    assert ok(ANON, {"StringEquals": {"aws:PrincipalType": "Anonymous"}})
    assert ok(ALICE, {"StringEquals": {"aws:PrincipalType": "User", "aws:username": "alice"}})
    assert not ok(ANON, {"Null": {"aws:username": "false"}})
    # identity keys come from the identity, never from the context
    pol = bp(allow("s3:GetObject", "*", Condition={"StringEquals": {"aws:username": "x"}}))
    spoof = {"aws:username": "x", "AWS:UserId": "x", "aws:PrincipalType": "User"}
    assert not decide(ALICE, "s3:GetObject", PHOTO, bucket=pol, context=spoof).allowed
    assert not decide(ANON, "s3:GetObject", PHOTO, bucket=pol, context=spoof).allowed
    pol = bp(allow("s3:GetObject", "*", Condition={"StringEquals": {"aws:PrincipalType": "User"}}))
    assert not decide(ANON, "s3:GetObject", PHOTO, bucket=pol, context=spoof).allowed


def test_anonymous_has_no_username_variable() -> None:
    pol = bp(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"))
    assert not decide(ANON, "s3:GetObject", obj("home", "/x"), bucket=pol).allowed
    # a Deny whose variable cannot be resolved does not apply (the owner has no username)
    no_user = bp(deny("s3:PutObject", "arn:aws:s3:::home/${aws:username}/*"))
    assert decide(OWNER, "s3:PutObject", obj("home", "x"), bucket=no_user).allowed
    assert not decide(ALICE, "s3:PutObject", obj("home", "alice/x"), bucket=no_user).allowed


def test_acl_grants() -> None:
    auth_read = canned_acl("authenticated-read", BOB_ID)
    assert not decide(ANON, "s3:GetObject", PHOTO, acl=auth_read).allowed
    d = decide(ALICE, "s3:GetObject", PHOTO, acl=auth_read)
    assert d.allowed and "READ to group AuthenticatedUsers" in d.explain()
    bucket_acl = acl_from_grants(BOB_ID, [Grant(Grantee.user(ALICE_ID, "alice"), Permission.WRITE)])
    d = decide(ALICE, "s3:PutObject", PHOTO, acl=bucket_acl)
    assert d.allowed and "WRITE to user alice on bucket photos" in d.explain()
    assert not decide(CAROL, "s3:PutObject", PHOTO, acl=bucket_acl).allowed
    read_only = canned_acl("public-read", BOB_ID)
    assert not decide(ALICE, "s3:PutObject", PHOTO, acl=read_only).allowed
    assert not decide(ALICE, "s3:PutObjectAcl", PHOTO, acl=read_only).allowed
    full = acl_from_grants(BOB_ID, [Grant(Grantee.user(ALICE_ID), Permission.FULL_CONTROL)])
    for action in ("s3:GetObject", "s3:GetObjectAcl", "s3:PutObjectAcl"):
        assert decide(ALICE, action, PHOTO, acl=full).allowed
    # ACLs never grant what the table does not map
    assert not decide(ALICE, "s3:PutBucketPolicy", bkt("photos"), acl=full).allowed
    logs = canned_acl("log-delivery-write", BOB_ID)
    from objfs.auth.identity import Identity

    assert decide(Identity.log_delivery(), "s3:PutObject", obj("logs", "x"), acl=logs).allowed
    assert not decide(ALICE, "s3:PutObject", obj("logs", "x"), acl=logs).allowed


def test_typical_bucket_policies() -> None:
    """The policies people actually write: require SSE, require TLS, IP allow-list."""
    require_sse = bp(
        deny(
            "s3:PutObject",
            "arn:aws:s3:::photos/*",
            Sid="RequireSSE",
            Condition={
                "StringNotEquals": {"s3:x-amz-server-side-encryption": ["AES256", "aws:kms"]}
            },
        ),
    )
    assert not decide(BOB, "s3:PutObject", PHOTO, bucket=require_sse).allowed
    assert not decide(
        BOB,
        "s3:PutObject",
        PHOTO,
        bucket=require_sse,
        context={"s3:x-amz-server-side-encryption": "SSE-C"},
    ).allowed
    assert decide(
        BOB,
        "s3:PutObject",
        PHOTO,
        bucket=require_sse,
        context={"s3:x-amz-server-side-encryption": "AES256"},
    ).allowed
    assert not decide(OWNER, "s3:PutObject", PHOTO, bucket=require_sse).allowed
    tls = bp(deny("s3:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}))
    now = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    plain = request_context(now=now, secure_transport=False, source_ip="192.0.2.7")
    secure = request_context(now=now, secure_transport=True, source_ip="192.0.2.7")
    assert not decide(BOB, "s3:GetObject", PHOTO, bucket=tls, context=plain).allowed
    assert decide(BOB, "s3:GetObject", PHOTO, bucket=tls, context=secure).allowed
    office = bp(
        allow("s3:GetObject", "*", Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})
    )
    assert decide(ALICE, "s3:GetObject", PHOTO, bucket=office, context=secure).allowed
    away = request_context(now=now, secure_transport=True, source_ip="198.51.100.1")
    assert not decide(ALICE, "s3:GetObject", PHOTO, bucket=office, context=away).allowed
    home = ip(
        allow(
            "s3:ListBucket",
            "arn:aws:s3:::home",
            Condition={"StringLike": {"s3:prefix": ["${aws:username}/*", ""]}},
        )
    )
    assert decide(
        ALICE,
        "s3:ListBucket",
        bkt("home"),
        identity={"h": home},
        context={"s3:prefix": "alice/docs/"},
    ).allowed
    assert not decide(
        ALICE, "s3:ListBucket", bkt("home"), identity={"h": home}, context={"s3:prefix": "bob/"}
    ).allowed
    mfa = bp(
        deny(
            "s3:DeleteObjectVersion",
            "*",
            Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        )
    )
    assert not decide(BOB, "s3:DeleteObjectVersion", PHOTO, bucket=mfa).allowed
    with_mfa = request_context(now=now, secure_transport=True, mfa_age=30)
    assert decide(BOB, "s3:DeleteObjectVersion", PHOTO, bucket=mfa, context=with_mfa).allowed
    assert with_mfa["aws:EpochTime"] == int(now.timestamp())


def test_decision_records_what_was_asked() -> None:
    d = decide(ALICE, "s3:GetObject", PHOTO)
    assert d.identity == ALICE and d.action == "s3:GetObject" and d.resource == PHOTO
    assert d.source is None and not d.allowed
    assert OWNER_ID != BOB_ID


def test_decision_as_json_and_as_error() -> None:
    pol = bp(deny("s3:GetObject", "*", Sid="NoGet"))
    d = decide(ALICE, "s3:GetObject", PHOTO, bucket=pol)
    assert d.to_obj() == {
        "decision": "Denied",
        "reason": "explicit-deny",
        "principal": "alice",
        "principal_type": "User",
        "action": "s3:GetObject",
        "resource": PHOTO,
        "source": {"kind": "bucket", "name": "photos", "statement": 0, "sid": "NoGet",
                   "grant": None},
        "explanation": 'Denied: explicit Deny in bucket policy of photos, Statement[0] (Sid "NoGet")',
    }  # fmt: skip
    with pytest.raises(AccessDenied) as exc:
        d.raise_if_denied()
    assert "user alice, s3:GetObject on arn:aws:s3:::photos/a.jpg" in str(exc.value)
    assert exc.value.errno == errno.EACCES
    decide(BOB, "s3:GetObject", PHOTO).raise_if_denied()
    acl = decide(ANON, "s3:GetObject", PHOTO, acl=PUBLIC_READ_OBJ).to_obj()["source"]
    assert acl["kind"] == "acl" and acl["grant"] == "READ to group AllUsers"
