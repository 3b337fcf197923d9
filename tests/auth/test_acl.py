"""ACLs: canned expansion, grant parsing (CLI and headers), the action table, storage form."""

from __future__ import annotations

import msgpack
import pytest

from objfs.auth import actions
from objfs.auth.acl import (
    ACL_PERMISSIONS,
    CANNED_ACLS,
    Acl,
    Grant,
    Grantee,
    Group,
    Permission,
    acl_from_grants,
    canned_acl,
    parse_grant_headers,
    parse_grant_option,
    parse_permission,
    required_permission,
)
from objfs.auth.actions import Level
from objfs.auth.identity import Identity
from objfs.errors import InvalidArgument, UnresolvableGrantByEmailAddress
from tests.auth.support import ALICE, ALICE_ID, ANON, BOB_ID, CAROL

P = Permission
OWNER_FULL = Grant(Grantee.user(BOB_ID), P.FULL_CONTROL)


def g(group: Group, perm: Permission) -> Grant:
    return Grant(Grantee.group(group), perm)


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("private", []),
        ("public-read", [g(Group.ALL_USERS, P.READ)]),
        ("public-read-write", [g(Group.ALL_USERS, P.READ), g(Group.ALL_USERS, P.WRITE)]),
        ("authenticated-read", [g(Group.AUTHENTICATED_USERS, P.READ)]),
        ("bucket-owner-read", [Grant(Grantee.user(ALICE_ID), P.READ)]),
        ("bucket-owner-full-control", [Grant(Grantee.user(ALICE_ID), P.FULL_CONTROL)]),
        ("log-delivery-write", [g(Group.LOG_DELIVERY, P.WRITE), g(Group.LOG_DELIVERY, P.READ_ACP)]),
    ],
)
def test_canned_acls_expand_to_owner_full_control_plus_grants(name, extra) -> None:
    acl = canned_acl(name, BOB_ID, bucket_owner_id=ALICE_ID)
    assert acl.owner_id == BOB_ID
    # Listed as S3-compatible servers list them: group grants before user grants.
    groups = tuple(g for g in extra if g.grantee.uri is not None)
    users = tuple(g for g in extra if g.grantee.uri is None)
    assert acl.grants == (*groups, OWNER_FULL, *users)


def test_canned_list_is_complete_and_unknown_names_are_refused() -> None:
    for name in CANNED_ACLS:
        canned_acl(name, BOB_ID)
    with pytest.raises(InvalidArgument, match='unknown canned ACL "public"'):
        canned_acl("public", BOB_ID)


def test_bucket_owner_acls_add_nothing_when_the_bucket_owner_is_the_object_owner() -> None:
    assert canned_acl("bucket-owner-full-control", BOB_ID, bucket_owner_id=BOB_ID).grants == (
        OWNER_FULL,
    )
    assert canned_acl("bucket-owner-read", BOB_ID).grants == (OWNER_FULL,)


def test_group_membership() -> None:
    everyone = Grantee.group(Group.ALL_USERS)
    authed = Grantee.group(Group.AUTHENTICATED_USERS)
    logs = Grantee.group(Group.LOG_DELIVERY)
    assert everyone.matches(ANON) and everyone.matches(ALICE)
    assert authed.matches(ALICE) and not authed.matches(ANON)
    assert logs.matches(Identity.log_delivery()) and not logs.matches(ALICE)
    assert Grantee.user(ALICE_ID).matches(ALICE) and not Grantee.user(ALICE_ID).matches(CAROL)
    assert not Grantee.user(ALICE_ID).matches(ANON)


def test_full_control_implies_every_permission() -> None:
    acl = acl_from_grants(BOB_ID, [Grant(Grantee.user(ALICE_ID), P.FULL_CONTROL)])
    for perm in Permission:
        assert acl.grant_for(ALICE, perm) is not None
    acl = acl_from_grants(BOB_ID, [Grant(Grantee.user(ALICE_ID), P.READ)])
    assert acl.grant_for(ALICE, P.READ) and not acl.grant_for(ALICE, P.WRITE)
    assert not acl.grant_for(ALICE, P.READ_ACP)


# fmt: off
ACTION_TABLE = [
    ("s3:ListBucket", Level.BUCKET, P.READ),
    ("s3:ListBucketVersions", Level.BUCKET, P.READ),
    ("s3:ListBucketMultipartUploads", Level.BUCKET, P.READ),
    ("s3:PutObject", Level.BUCKET, P.WRITE),
    ("s3:DeleteObject", Level.BUCKET, P.WRITE),
    ("s3:DeleteObjectVersion", Level.BUCKET, P.WRITE),
    ("s3:GetObject", Level.OBJECT, P.READ),
    ("s3:GetObjectVersion", Level.OBJECT, P.READ),
    ("s3:GetBucketAcl", Level.BUCKET, P.READ_ACP),
    ("s3:GetObjectAcl", Level.OBJECT, P.READ_ACP),
    ("s3:GetObjectVersionAcl", Level.OBJECT, P.READ_ACP),
    ("s3:PutBucketAcl", Level.BUCKET, P.WRITE_ACP),
    ("s3:PutObjectAcl", Level.OBJECT, P.WRITE_ACP),
    ("s3:PutObjectVersionAcl", Level.OBJECT, P.WRITE_ACP),
]
# fmt: on


@pytest.mark.parametrize(("action", "level", "perm"), ACTION_TABLE)
def test_acl_permission_table(action: str, level: Level, perm: Permission) -> None:
    assert required_permission(action) == (level, perm)
    assert required_permission(action.upper()) == (level, perm)


def test_acl_table_names_only_known_actions_and_nothing_else_is_granted() -> None:
    for name in ACL_PERMISSIONS:
        assert actions.lookup(name) is not None, name
    for a in ("s3:PutBucketPolicy", "s3:DeleteBucket", "s3:PutBucketVersioning", "objfs:Fsck"):
        assert required_permission(a) is None


def resolver(name: str) -> tuple[str, str | None]:
    ids = {"alice": ALICE_ID, "bob": BOB_ID}
    if name not in ids:
        raise InvalidArgument(f"no such user {name}")
    return ids[name], name


def test_parse_grant_option() -> None:
    grants = parse_grant_option(
        f"read=user:alice, full-control=group:AllUsers,READ_ACP=id:{BOB_ID.upper()},"
        "write=uri:http://acs.amazonaws.com/groups/s3/LogDelivery,write-acp=group:authenticatedusers",
        resolver,
    )
    assert grants == (
        Grant(Grantee.user(ALICE_ID, "alice"), P.READ),
        g(Group.ALL_USERS, P.FULL_CONTROL),
        Grant(Grantee.user(BOB_ID), P.READ_ACP),
        g(Group.LOG_DELIVERY, P.WRITE),
        g(Group.AUTHENTICATED_USERS, P.WRITE_ACP),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("read", "bad grant"),
        ("read=alice", "bad grant"),
        ("read=user:", "bad grant"),
        ("reed=user:alice", 'unknown ACL permission "reed"'),
        ("read=group:Everyone", 'unknown group "Everyone"'),
        ("read=id:1234", "not a canonical id"),
        ("read=email:a@b", "bad grantee"),
        ("read=user:nobody", "no such user nobody"),
        ("", "no grant given"),
    ],
)
def test_parse_grant_option_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_grant_option(text, resolver)


def test_user_grant_needs_a_resolver() -> None:
    with pytest.raises(InvalidArgument, match="cannot resolve"):
        parse_grant_option("read=user:alice")


def test_parse_grant_headers() -> None:
    headers = {
        "X-Amz-Grant-Read": f'id="{ALICE_ID}", uri="http://acs.amazonaws.com/groups/global/AllUsers"',
        "x-amz-grant-full-control": f"id={BOB_ID}",
        "x-amz-grant-write-acp": 'uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"',
        "Content-Type": "text/plain",
    }
    assert parse_grant_headers(headers) == (
        Grant(Grantee.user(ALICE_ID), P.READ),
        g(Group.ALL_USERS, P.READ),
        Grant(Grantee.user(BOB_ID), P.FULL_CONTROL),
        g(Group.AUTHENTICATED_USERS, P.WRITE_ACP),
    )
    assert parse_grant_headers({}) == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('id="xyz"', "not a canonical id"),
        ('uri="http://example.com/group"', "unknown group"),
        ("", "empty grant"),
        ('id="' + "a" * 64 + '" junk', "cannot read"),
    ],
)
def test_parse_grant_header_errors(value: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_grant_headers({"x-amz-grant-read": value})


def test_grant_header_to_an_email_address_is_unresolvable() -> None:
    # objfs users have no e-mail address: S3's error for one nobody has.
    with pytest.raises(UnresolvableGrantByEmailAddress) as exc:
        parse_grant_headers({"x-amz-grant-read": 'emailAddress="a@example.com"'})
    assert (exc.value.code, exc.value.status) == ("UnresolvableGrantByEmailAddress", 400)


def test_permission_names() -> None:
    assert parse_permission("full-control") is P.FULL_CONTROL
    assert parse_permission("Read_Acp") is P.READ_ACP


def test_acl_storage_form_round_trips_through_msgpack() -> None:
    acl = acl_from_grants(
        BOB_ID,
        [Grant(Grantee.user(ALICE_ID, "Alice A."), P.READ), g(Group.ALL_USERS, P.READ)],
        "Bob",
    )
    blob = msgpack.packb(acl.to_obj())
    assert Acl.from_obj(msgpack.unpackb(blob)) == acl
    assert acl.to_obj()["grants"][0] == {  # group grants are listed first
        "grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"},
        "permission": "READ",
    }
    for bad in ({}, {"owner": {"id": "x"}, "grants": [{"grantee": {"type": "Mars"}}]}, None):
        with pytest.raises(InvalidArgument, match="not a stored ACL"):
            Acl.from_obj(bad)


def test_acl_grant_limit_and_dedup() -> None:
    same = Grant(Grantee.user(ALICE_ID), P.READ)
    assert len(acl_from_grants(BOB_ID, [same, same]).grants) == 2
    many = [Grant(Grantee.user(f"{i:064x}"), P.READ) for i in range(100)]
    with pytest.raises(InvalidArgument, match="at most 100 grants"):
        acl_from_grants(BOB_ID, many)


def test_grant_descriptions() -> None:
    assert g(Group.ALL_USERS, P.READ).describe() == "READ to group AllUsers"
    assert Grant(Grantee.user(ALICE_ID, "alice"), P.WRITE).describe() == "WRITE to user alice"
    assert Grant(Grantee.user(ALICE_ID), P.WRITE).describe() == f"WRITE to user id {ALICE_ID}"
