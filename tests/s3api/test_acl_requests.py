"""ACLs as S3 requests give them: canned ACLs and ``x-amz-grant-*`` headers on
the requests that create (PutObject, CopyObject, CreateBucket), and PutAcl's
rules (display names, unknown grantees, an empty list revoking every grant,
the ACL read back being the one put)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .support import client

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def error(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def canonical_id(c) -> str:  # type: ignore[no-untyped-def]
    return c.list_buckets()["Owner"]["ID"]


def grants(acl: dict) -> list[tuple[str, str, str | None]]:
    """(grantee ID or group URI, permission, display name) in the order listed."""
    return [
        (
            g["Grantee"].get("ID") or g["Grantee"]["URI"],
            g["Permission"],
            g["Grantee"].get("DisplayName"),
        )
        for g in acl["Grants"]
    ]


def test_canned_acl_on_put_object_is_applied(alice, anon, bkt) -> None:
    alice.put_object(Bucket=bkt, Key="pub", Body=b"for all", ACL="public-read")
    alice.put_object(Bucket=bkt, Key="priv", Body=b"mine")
    assert anon.get_object(Bucket=bkt, Key="pub")["Body"].read() == b"for all"
    with pytest.raises(ClientError) as exc:
        anon.get_object(Bucket=bkt, Key="priv")
    assert error(exc) == ("AccessDenied", 403)
    me = canonical_id(alice)
    acl = alice.get_object_acl(Bucket=bkt, Key="pub")
    assert acl["Owner"] == {"ID": me, "DisplayName": "alice"}
    # The canned grants, then the owner's FULL_CONTROL, with its display name.
    assert grants(acl) == [(ALL_USERS, "READ", None), (me, "FULL_CONTROL", "alice")]


def test_canned_acl_on_copy_object_is_applied(alice, bob, bkt) -> None:
    alice.put_object(Bucket=bkt, Key="src", Body=b"copied")
    alice.copy_object(
        Bucket=bkt, Key="dst", CopySource={"Bucket": bkt, "Key": "src"}, ACL="authenticated-read"
    )
    assert bob.get_object(Bucket=bkt, Key="dst")["Body"].read() == b"copied"
    with pytest.raises(ClientError):
        bob.get_object(Bucket=bkt, Key="src")


def test_canned_acl_on_create_bucket_is_applied(alice, anon) -> None:
    alice.create_bucket(Bucket="acl-created-public", ACL="public-read-write")
    me = canonical_id(alice)
    assert grants(alice.get_bucket_acl(Bucket="acl-created-public")) == [
        (ALL_USERS, "READ", None),
        (ALL_USERS, "WRITE", None),
        (me, "FULL_CONTROL", "alice"),
    ]
    anon.put_object(Bucket="acl-created-public", Key="drop", Body=b"x")
    assert [o["Key"] for o in anon.list_objects_v2(Bucket="acl-created-public")["Contents"]] == [
        "drop"
    ]


def test_grant_headers_on_put_object_are_the_whole_acl(alice, bob, bkt) -> None:
    bob_id = canonical_id(bob)
    alice.put_object(Bucket=bkt, Key="for-bob", Body=b"hi bob", GrantRead=f"id={bob_id}")
    assert bob.get_object(Bucket=bkt, Key="for-bob")["Body"].read() == b"hi bob"
    acl = alice.get_object_acl(Bucket=bkt, Key="for-bob")
    # Explicit grants replace the default ACL: the owner is listed, not granted.
    assert acl["Owner"]["ID"] == canonical_id(alice)
    assert grants(acl) == [(bob_id, "READ", "bob")]


def test_default_bucket_acl_names_its_owner(alice, bkt) -> None:
    acl = alice.get_bucket_acl(Bucket=bkt)
    me = canonical_id(alice)
    assert acl["Owner"] == {"ID": me, "DisplayName": "alice"}
    assert grants(acl) == [(me, "FULL_CONTROL", "alice")]


def test_grant_to_an_unknown_canonical_id_is_invalid(alice, bkt) -> None:
    acl = alice.get_bucket_acl(Bucket=bkt)
    unknown = {"Grantee": {"ID": "_foo", "Type": "CanonicalUser"}, "Permission": "READ"}
    with pytest.raises(ClientError) as exc:
        alice.put_bucket_acl(
            Bucket=bkt,
            AccessControlPolicy={"Owner": acl["Owner"], "Grants": [*acl["Grants"], unknown]},
        )
    assert error(exc) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as exc:
        alice.put_object(Bucket=bkt, Key="k", Body=b"x", GrantRead="id=" + "ab" * 32)
    assert error(exc) == ("InvalidArgument", 400)
    email = {
        "Grantee": {"EmailAddress": "nobody@example.com", "Type": "AmazonCustomerByEmail"},
        "Permission": "READ",
    }
    with pytest.raises(ClientError) as exc:
        alice.put_bucket_acl(
            Bucket=bkt, AccessControlPolicy={"Owner": acl["Owner"], "Grants": [email]}
        )
    assert error(exc) == ("UnresolvableGrantByEmailAddress", 400)


def test_empty_grant_list_revokes_every_grant_and_put_acl_reads_back(alice, bob, bkt) -> None:
    acl = alice.get_bucket_acl(Bucket=bkt)
    alice.put_bucket_acl(Bucket=bkt, AccessControlPolicy={"Owner": acl["Owner"], "Grants": []})
    assert alice.get_bucket_acl(Bucket=bkt)["Grants"] == []
    # The owner still manages the bucket: it puts back what it had, plus a grant.
    bob_grant = {
        "Grantee": {"ID": canonical_id(bob), "Type": "CanonicalUser"},
        "Permission": "WRITE",
    }
    alice.put_bucket_acl(
        Bucket=bkt,
        AccessControlPolicy={"Owner": acl["Owner"], "Grants": [*acl["Grants"], bob_grant]},
    )
    assert grants(alice.get_bucket_acl(Bucket=bkt)) == [
        (canonical_id(alice), "FULL_CONTROL", "alice"),
        (canonical_id(bob), "WRITE", "bob"),
    ]
    bob.put_object(Bucket=bkt, Key="from-bob", Body=b"x")


def test_put_object_acl_with_grant_headers_only_grants_those(alice, server, keys, bkt) -> None:
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    anon = client(server.endpoint, None)
    alice.put_object_acl(Bucket=bkt, Key="k", GrantRead=f'uri="{ALL_USERS}"')
    assert grants(alice.get_object_acl(Bucket=bkt, Key="k")) == [(ALL_USERS, "READ", None)]
    assert anon.get_object(Bucket=bkt, Key="k")["Body"].read() == b"x"


def test_canned_acl_on_create_multipart_upload_applies_to_the_object(alice, anon, bkt) -> None:
    up = alice.create_multipart_upload(Bucket=bkt, Key="mp", ACL="public-read")
    part = alice.upload_part(
        Bucket=bkt, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"parts"
    )
    alice.complete_multipart_upload(
        Bucket=bkt,
        Key="mp",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert anon.get_object(Bucket=bkt, Key="mp")["Body"].read() == b"parts"
    # An aborted upload leaves no ACL behind for the key.
    up = alice.create_multipart_upload(Bucket=bkt, Key="gone", ACL="public-read")
    alice.abort_multipart_upload(Bucket=bkt, Key="gone", UploadId=up["UploadId"])
    alice.put_object(Bucket=bkt, Key="gone", Body=b"private")
    with pytest.raises(ClientError):
        anon.get_object(Bucket=bkt, Key="gone")


def test_bucket_owner_reads_anothers_object_only_when_granted(alice, bob, bkt) -> None:
    alice.put_bucket_acl(Bucket=bkt, ACL="public-read-write")
    bob.put_object(Bucket=bkt, Key="bobs", Body=b"b")
    bob.put_object(Bucket=bkt, Key="shared", Body=b"s", ACL="bucket-owner-full-control")
    # Objects belong to their writer: the bucket's owner needs a grant to read one.
    for read in (alice.get_object, alice.get_object_acl):
        with pytest.raises(ClientError) as exc:
            read(Bucket=bkt, Key="bobs")
        assert error(exc) == ("AccessDenied", 403)
    assert alice.get_object(Bucket=bkt, Key="shared")["Body"].read() == b"s"
    assert bob.get_object_acl(Bucket=bkt, Key="bobs")["Owner"]["ID"] == canonical_id(bob)
    # Deleting keys stays the bucket's business.
    alice.delete_object(Bucket=bkt, Key="bobs")
    assert [o["Key"] for o in alice.list_objects_v2(Bucket=bkt)["Contents"]] == ["shared"]
