"""Object Ownership: Put/Get/DeleteBucketOwnershipControls, the CreateBucket
header, and what each setting does to who owns an object and which ACLs count."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError


def status(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def controls(mode: str) -> dict:
    return {"Rules": [{"ObjectOwnership": mode}]}


def mode_of(client, bucket: str) -> str:  # type: ignore[no-untyped-def]
    rules = client.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert len(rules) == 1
    return rules[0]["ObjectOwnership"]


def let_bob_write(alice, bucket: str, bob_id: str) -> None:  # type: ignore[no-untyped-def]
    st = {
        "Effect": "Allow",
        "Principal": {"AWS": "bob"},
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }
    alice.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [st]})
    )


def owner(client, bucket: str, key: str) -> str:  # type: ignore[no-untyped-def]
    return client.get_object_acl(Bucket=bucket, Key=key)["Owner"]["ID"]


@pytest.fixture(scope="module")
def ids(alice, bob) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "alice": alice.list_buckets()["Owner"]["ID"],
        "bob": bob.list_buckets()["Owner"]["ID"],
    }


def test_configuration_round_trip(alice, bob, bkt) -> None:
    with pytest.raises(ClientError) as exc:
        alice.get_bucket_ownership_controls(Bucket=bkt)
    assert status(exc) == ("OwnershipControlsNotFoundError", 404)
    for mode in ("ObjectWriter", "BucketOwnerPreferred", "BucketOwnerEnforced"):
        alice.put_bucket_ownership_controls(Bucket=bkt, OwnershipControls=controls(mode))
        assert mode_of(alice, bkt) == mode
    with pytest.raises(ClientError) as exc:  # not bob's bucket
        bob.get_bucket_ownership_controls(Bucket=bkt)
    assert status(exc) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as exc:
        alice.put_bucket_ownership_controls(Bucket=bkt, OwnershipControls=controls("Nobody"))
    assert status(exc) == ("MalformedXML", 400)
    alice.delete_bucket_ownership_controls(Bucket=bkt)
    with pytest.raises(ClientError) as exc:
        alice.get_bucket_ownership_controls(Bucket=bkt)
    assert status(exc) == ("OwnershipControlsNotFoundError", 404)
    alice.delete_bucket_ownership_controls(Bucket=bkt)  # none: still no error


def test_create_bucket_header(alice) -> None:
    name = f"own-{uuid.uuid4().hex[:10]}"
    alice.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerPreferred")
    assert mode_of(alice, name) == "BucketOwnerPreferred"
    with pytest.raises(ClientError) as exc:  # ACLs off and a public bucket ACL: refused
        alice.create_bucket(
            Bucket=f"own-{uuid.uuid4().hex[:10]}",
            ObjectOwnership="BucketOwnerEnforced",
            ACL="public-read",
        )
    assert status(exc) == ("InvalidBucketAclWithObjectOwnership", 400)


def test_enforced_refused_while_the_bucket_acl_grants_others(alice, bkt) -> None:
    alice.put_bucket_acl(Bucket=bkt, ACL="public-read")
    with pytest.raises(ClientError) as exc:
        alice.put_bucket_ownership_controls(
            Bucket=bkt, OwnershipControls=controls("BucketOwnerEnforced")
        )
    assert status(exc) == ("InvalidBucketAclWithObjectOwnership", 400)
    alice.put_bucket_acl(Bucket=bkt, ACL="private")
    alice.put_bucket_ownership_controls(
        Bucket=bkt, OwnershipControls=controls("BucketOwnerEnforced")
    )


def test_bucket_owner_enforced(alice, bob, anon, bkt, ids) -> None:
    let_bob_write(alice, bkt, ids["bob"])
    bob.put_object(Bucket=bkt, Key="before", Body=b"b", ACL="public-read")
    assert owner(bob, bkt, "before") == ids["bob"]
    alice.put_bucket_ownership_controls(
        Bucket=bkt, OwnershipControls=controls("BucketOwnerEnforced")
    )
    # Everything is the bucket owner's now, also what bob wrote before; its
    # public-read grant counts for nothing.
    acl = alice.get_object_acl(Bucket=bkt, Key="before")
    assert acl["Owner"]["ID"] == ids["alice"]
    assert [(g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"]] == [
        (ids["alice"], "FULL_CONTROL")
    ]
    with pytest.raises(ClientError) as exc:
        anon.get_object(Bucket=bkt, Key="before")
    assert status(exc) == ("AccessDenied", 403)
    listed = alice.list_objects_v2(Bucket=bkt, FetchOwner=True)["Contents"]
    assert [o["Owner"]["ID"] for o in listed] == [ids["alice"]]

    bob.put_object(Bucket=bkt, Key="plain", Body=b"x")
    bob.put_object(Bucket=bkt, Key="bofc", Body=b"x", ACL="bucket-owner-full-control")
    assert owner(bob, bkt, "plain") == owner(bob, bkt, "bofc") == ids["alice"]
    refused = [
        lambda: bob.put_object(Bucket=bkt, Key="p", Body=b"x", ACL="private"),
        lambda: bob.put_object(Bucket=bkt, Key="p", Body=b"x", ACL="public-read"),
        lambda: bob.create_multipart_upload(Bucket=bkt, Key="m", ACL="private"),
        lambda: bob.copy_object(
            Bucket=bkt, Key="c", CopySource={"Bucket": bkt, "Key": "plain"}, ACL="private"
        ),
        lambda: alice.put_bucket_acl(Bucket=bkt, ACL="private"),
        lambda: alice.put_object_acl(Bucket=bkt, Key="plain", ACL="public-read"),
    ]
    for call in refused:
        with pytest.raises(ClientError) as exc:
            call()
        assert status(exc) == ("AccessControlListNotSupported", 400)
    up = bob.create_multipart_upload(Bucket=bkt, Key="m")["UploadId"]
    parts = bob.list_parts(Bucket=bkt, Key="m", UploadId=up)
    assert parts["Owner"]["ID"] == ids["alice"]
    assert parts["Initiator"]["ID"] == ids["bob"]
    # Without the ACL header it is fine again; the object is the bucket owner's.
    bob.copy_object(Bucket=bkt, Key="c", CopySource={"Bucket": bkt, "Key": "plain"})
    assert owner(bob, bkt, "c") == ids["alice"]


def test_bucket_owner_preferred(alice, bob, bkt, ids) -> None:
    alice.put_bucket_ownership_controls(
        Bucket=bkt, OwnershipControls=controls("BucketOwnerPreferred")
    )
    let_bob_write(alice, bkt, ids["bob"])
    bob.put_object(Bucket=bkt, Key="plain", Body=b"x")
    bob.put_object(Bucket=bkt, Key="bofc", Body=b"x", ACL="bucket-owner-full-control")
    bob.put_object(Bucket=bkt, Key="priv", Body=b"x", ACL="private")
    assert owner(bob, bkt, "plain") == ids["bob"]
    assert owner(bob, bkt, "bofc") == ids["alice"]
    assert owner(bob, bkt, "priv") == ids["bob"]
    up = bob.create_multipart_upload(Bucket=bkt, Key="m", ACL="bucket-owner-full-control")
    assert (
        bob.list_parts(Bucket=bkt, Key="m", UploadId=up["UploadId"])["Owner"]["ID"]
        == (ids["alice"])
    )
    bob.put_object_acl(Bucket=bkt, Key="plain", ACL="private")  # ACLs still work
    alice.put_bucket_acl(Bucket=bkt, ACL="private")


def test_object_writer(alice, bob, bkt, ids) -> None:
    alice.put_bucket_ownership_controls(Bucket=bkt, OwnershipControls=controls("ObjectWriter"))
    let_bob_write(alice, bkt, ids["bob"])
    bob.put_object(Bucket=bkt, Key="bofc", Body=b"x", ACL="bucket-owner-full-control")
    assert owner(bob, bkt, "bofc") == ids["bob"]
    up = bob.create_multipart_upload(Bucket=bkt, Key="m", ACL="bucket-owner-full-control")
    assert (
        bob.list_parts(Bucket=bkt, Key="m", UploadId=up["UploadId"])["Owner"]["ID"] == (ids["bob"])
    )
