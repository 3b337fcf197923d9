"""Owners in listings, as S3 shows them: ListObjects (v1) Contents always carry
Owner, ListObjectsV2 only with fetch-owner=true, ListObjectVersions always
(versions and delete markers); the same ID and DisplayName as GetObjectAcl."""

from __future__ import annotations

import json


def _acl_owner(client, bkt: str, key: str) -> dict:  # type: ignore[no-untyped-def]
    owner = client.get_object_acl(Bucket=bkt, Key=key)["Owner"]
    return {"ID": owner["ID"], "DisplayName": owner["DisplayName"]}


def _let_bob_write(alice, bkt: str) -> None:  # type: ignore[no-untyped-def]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["bob"]}, "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{bkt}/*"},
        ],
    }  # fmt: skip
    alice.put_bucket_policy(Bucket=bkt, Policy=json.dumps(policy))


def test_list_objects_v1_contents_carry_their_owner(alice, bob, bkt):  # type: ignore[no-untyped-def]
    _let_bob_write(alice, bkt)
    alice.put_object(Bucket=bkt, Key="a", Body=b"x")
    bob.put_object(Bucket=bkt, Key="b", Body=b"y")
    contents = {o["Key"]: o for o in alice.list_objects(Bucket=bkt)["Contents"]}
    assert contents["a"]["Owner"] == _acl_owner(alice, bkt, "a")
    assert contents["b"]["Owner"] == _acl_owner(bob, bkt, "b")
    assert contents["a"]["Owner"]["DisplayName"] == "alice"
    assert contents["b"]["Owner"]["DisplayName"] == "bob"
    assert contents["a"]["Owner"]["ID"] != contents["b"]["Owner"]["ID"]


def test_list_objects_v2_owner_only_with_fetch_owner(alice, bkt):  # type: ignore[no-untyped-def]
    alice.put_object(Bucket=bkt, Key="a", Body=b"x")
    plain = alice.list_objects_v2(Bucket=bkt)["Contents"]
    assert "Owner" not in plain[0]
    fetched = alice.list_objects_v2(Bucket=bkt, FetchOwner=True)["Contents"]
    assert fetched[0]["Owner"] == _acl_owner(alice, bkt, "a")


def test_list_object_versions_carry_owners(alice, bob, vbkt):  # type: ignore[no-untyped-def]
    _let_bob_write(alice, vbkt)
    alice.put_object(Bucket=vbkt, Key="k", Body=b"1")
    bob.put_object(Bucket=vbkt, Key="k", Body=b"2")
    alice.delete_object(Bucket=vbkt, Key="k")
    out = alice.list_object_versions(Bucket=vbkt)
    names = [v["Owner"]["DisplayName"] for v in out["Versions"]]
    assert names == ["bob", "alice"]  # newest first
    for v in out["Versions"]:
        assert v["Owner"]["ID"]
    assert [m["Owner"]["DisplayName"] for m in out["DeleteMarkers"]] == ["alice"]
