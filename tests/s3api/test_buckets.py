"""Bucket operations and bucket configuration over the HTTP API, with boto3."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from .support import Server, client, raw_request


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    e = exc.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]


def test_startup_banner_names_endpoint_and_aws_cli(server):
    assert "aws --endpoint-url " + server.endpoint in server.banner


def test_recreating_your_bucket_on_a_us_east_1_server_is_200(s3env, server, keys):  # type: ignore[no-untyped-def]
    """S3 in us-east-1 answers 200 to CreateBucket on a bucket you own (boto3's
    resource API and s3-tests re-create buckets this way); others still get 409."""
    srv = Server(s3env["store"], "--region", "us-east-1", log=s3env["root"] / "serve-east.log")
    try:
        alice = client(srv.endpoint, keys["alice"])
        bob = client(srv.endpoint, keys["bob"])
        alice.create_bucket(Bucket="east-1-again")
        alice.put_object(Bucket="east-1-again", Key="k", Body=b"kept")
        assert (
            alice.create_bucket(Bucket="east-1-again")["ResponseMetadata"]["HTTPStatusCode"] == 200
        )
        assert alice.get_object(Bucket="east-1-again", Key="k")["Body"].read() == b"kept"
        with pytest.raises(ClientError) as exc:
            bob.create_bucket(Bucket="east-1-again")
        assert error(exc)[1] == 409
        alice.create_bucket(
            Bucket="west-1-once", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        with pytest.raises(ClientError) as exc:
            alice.create_bucket(
                Bucket="west-1-once", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
        assert error(exc) == ("BucketAlreadyOwnedByYou", 409)
    finally:
        assert srv.stop() == 0, srv.stderr()


def test_create_list_head_delete_bucket(alice, bob):
    alice.create_bucket(Bucket="life-cycle")
    names = [b["Name"] for b in alice.list_buckets()["Buckets"]]
    assert "life-cycle" in names
    assert "life-cycle" not in [b["Name"] for b in bob.list_buckets()["Buckets"]]
    head = alice.head_bucket(Bucket="life-cycle")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "local"
    alice.delete_bucket(Bucket="life-cycle")
    with pytest.raises(ClientError) as exc:
        alice.head_bucket(Bucket="life-cycle")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_bucket_errors(alice, bkt):
    with pytest.raises(ClientError) as exc:
        alice.create_bucket(Bucket="Bad_Name")
    assert error(exc) == ("InvalidBucketName", 400)
    for name in ("foo-.bar", "foo.-bar"):  # a dot beside a dash: S3 refuses it
        with pytest.raises(ClientError) as exc:
            alice.create_bucket(Bucket=name)
        assert error(exc) == ("InvalidBucketName", 400)
    with pytest.raises(ClientError) as exc:
        alice.create_bucket(Bucket=bkt)
    assert error(exc) == ("BucketAlreadyOwnedByYou", 409)
    with pytest.raises(ClientError) as exc:
        alice.list_objects_v2(Bucket="no-such-bucket-here")
    assert error(exc) == ("NoSuchBucket", 404)
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        alice.delete_bucket(Bucket=bkt)
    assert error(exc) == ("BucketNotEmpty", 409)


def test_location_constraint_and_get_bucket_location(alice):
    alice.create_bucket(
        Bucket="in-eu-west", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    assert alice.get_bucket_location(Bucket="in-eu-west")["LocationConstraint"] == "eu-west-1"


def test_versioning_get_put(alice, bkt):
    assert "Status" not in alice.get_bucket_versioning(Bucket=bkt)
    alice.put_bucket_versioning(Bucket=bkt, VersioningConfiguration={"Status": "Enabled"})
    assert alice.get_bucket_versioning(Bucket=bkt)["Status"] == "Enabled"
    alice.put_bucket_versioning(Bucket=bkt, VersioningConfiguration={"Status": "Suspended"})
    got = alice.get_bucket_versioning(Bucket=bkt)
    assert got["Status"] == "Suspended" and got["MFADelete"] == "Disabled"


def test_encryption_get_put_delete(alice, bkt):
    got = alice.get_bucket_encryption(Bucket=bkt)["ServerSideEncryptionConfiguration"]
    assert got["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    alice.put_bucket_encryption(
        Bucket=bkt,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    got = alice.get_bucket_encryption(Bucket=bkt)["ServerSideEncryptionConfiguration"]
    rule = got["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] == "aws:kms" and "KMSMasterKeyID" not in rule  # aws/s3 key
    alice.put_object(Bucket=bkt, Key="enc", Body=b"secret")
    head = alice.head_object(Bucket=bkt, Key="enc")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"]
    alice.delete_bucket_encryption(Bucket=bkt)
    got = alice.get_bucket_encryption(Bucket=bkt)["ServerSideEncryptionConfiguration"]
    assert got["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_policy_get_put_delete_and_malformed(alice, bkt):
    with pytest.raises(ClientError) as exc:
        alice.get_bucket_policy(Bucket=bkt)
    assert error(exc) == ("NoSuchBucketPolicy", 404)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bkt}/public/*",
            }
        ],
    }
    alice.put_bucket_policy(Bucket=bkt, Policy=json.dumps(policy))
    stored = json.loads(alice.get_bucket_policy(Bucket=bkt)["Policy"])
    assert stored["Statement"][0]["Action"] in ("s3:GetObject", ["s3:GetObject"])
    with pytest.raises(ClientError) as exc:
        alice.put_bucket_policy(Bucket=bkt, Policy='{"Version": "2012-10-17", "Statement": 5}')
    assert error(exc) == ("MalformedPolicy", 400)
    alice.delete_bucket_policy(Bucket=bkt)
    with pytest.raises(ClientError):
        alice.get_bucket_policy(Bucket=bkt)


def test_bucket_acl_get_put(alice, anon, bkt, keys):
    acl = alice.get_bucket_acl(Bucket=bkt)
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        anon.list_objects_v2(Bucket=bkt)
    assert error(exc) == ("AccessDenied", 403)
    alice.put_bucket_acl(Bucket=bkt, ACL="public-read")
    grants = alice.get_bucket_acl(Bucket=bkt)["Grants"]
    assert any(
        g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ"
        for g in grants
    )
    assert [o["Key"] for o in anon.list_objects_v2(Bucket=bkt)["Contents"]] == ["k"]
    # An explicit grant list in XML, as PutBucketAcl with AccessControlPolicy sends it.
    owner = acl["Owner"]
    alice.put_bucket_acl(
        Bucket=bkt,
        AccessControlPolicy={
            "Owner": owner,
            "Grants": [
                {
                    "Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]},
                    "Permission": "FULL_CONTROL",
                }
            ],
        },
    )
    with pytest.raises(ClientError):
        anon.list_objects_v2(Bucket=bkt)


@pytest.mark.parametrize(
    "sub", ["notification", "inventory", "analytics", "website", "replication"]
)
def test_unknown_subresource_is_not_implemented(server, keys, bkt, sub):
    resp = raw_request(server.endpoint, "GET", f"/{bkt}", query=[(sub, "")], key=keys["alice"])
    assert resp.status == 501 and resp.code == "NotImplemented"
    assert b"<RequestId>" in resp.body and b"<Message>" in resp.body


def test_unknown_method_is_not_implemented(server, keys, bkt):
    resp = raw_request(server.endpoint, "PATCH", f"/{bkt}/k", key=keys["alice"])
    assert resp.status == 501 and resp.code == "NotImplemented"


def test_list_buckets_paginated(server, keys):  # type: ignore[no-untyped-def]
    """S3's ListBuckets pages: max-buckets, continuation-token, prefix, by name."""
    carol = client(server.endpoint, keys["bob"])
    names = [f"pg-{n}-{i}" for n in ("a", "b") for i in range(3)]
    for name in names:
        carol.create_bucket(Bucket=name)
    seen: list[str] = []
    page = carol.list_buckets(MaxBuckets=2, Prefix="pg-")
    while True:
        got = [b["Name"] for b in page["Buckets"]]
        assert len(got) <= 2
        seen += got
        if "ContinuationToken" not in page:
            break
        page = carol.list_buckets(
            MaxBuckets=2, Prefix="pg-", ContinuationToken=page["ContinuationToken"]
        )
    assert seen == sorted(names)
    assert [b["Name"] for b in carol.list_buckets(Prefix="pg-b")["Buckets"]] == names[3:]
    for bad in ("0", "10001", "x"):
        resp = raw_request(
            server.endpoint, "GET", "/", query=[("max-buckets", bad)], key=keys["bob"]
        )
        assert (resp.status, resp.code) == (400, "InvalidArgument")
    for name in names:
        carol.delete_bucket(Bucket=name)
