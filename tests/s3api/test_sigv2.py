"""Signature Version 2 over HTTP: boto3 with ``signature_version='s3'`` (header
SigV2) and SigV2 pre-signed URLs (what boto3 still makes for us-east-1 by
default) act as the signer, with SigV4's checks; ``--no-sigv2`` refuses them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import pytest
from botocore.exceptions import ClientError

from objfs.auth import sigv2
from objfs.store import OWNER, Store
from objfs.store.logquery import query_access_logs

from .support import Server, client, raw_request


def fetch(
    url: str, *, method: str = "GET", data: bytes | None = None, headers: dict | None = None
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - our own endpoint
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture(scope="module")
def alice_v2(server, keys):  # type: ignore[no-untyped-def]
    return client(server.endpoint, keys["alice"], signature_version="s3")


@pytest.fixture(scope="module")
def bob_v2(server, keys):  # type: ignore[no-untyped-def]
    return client(server.endpoint, keys["bob"], signature_version="s3")


def test_boto3_header_sigv2_put_get_list(alice_v2, bkt):  # type: ignore[no-untyped-def]
    alice_v2.put_object(Bucket=bkt, Key="dir/a b+c.txt", Body=b"v2 body", ContentType="text/plain",
                        Metadata={"colour": "blue"})  # fmt: skip
    got = alice_v2.get_object(Bucket=bkt, Key="dir/a b+c.txt")
    assert got["Body"].read() == b"v2 body"
    assert got["Metadata"] == {"colour": "blue"}
    assert [o["Key"] for o in alice_v2.list_objects_v2(Bucket=bkt)["Contents"]] == ["dir/a b+c.txt"]
    assert [o["Key"] for o in alice_v2.list_objects(Bucket=bkt, Prefix="dir/")["Contents"]] == [
        "dir/a b+c.txt"
    ]
    alice_v2.put_object_acl(Bucket=bkt, Key="dir/a b+c.txt", ACL="public-read")  # ?acl signed
    assert alice_v2.get_object_acl(Bucket=bkt, Key="dir/a b+c.txt")["Grants"]
    alice_v2.delete_object(Bucket=bkt, Key="dir/a b+c.txt")
    assert alice_v2.list_objects_v2(Bucket=bkt)["KeyCount"] == 0


def test_presigned_sigv2_url_fetched_with_urllib(alice_v2, bkt):  # type: ignore[no-untyped-def]
    alice_v2.put_object(Bucket=bkt, Key="share me.txt", Body=b"shared")
    url = alice_v2.generate_presigned_url(
        "get_object", Params={"Bucket": bkt, "Key": "share me.txt"}, ExpiresIn=300
    )
    assert "AWSAccessKeyId=" in url and "X-Amz-" not in url
    assert fetch(url) == (200, b"shared")
    put_url = alice_v2.generate_presigned_url(
        "put_object", Params={"Bucket": bkt, "Key": "up", "ContentType": "text/plain"}
    )
    # SigV2 signs the Content-Type: the uploader sends the one signed.
    sent = {"Content-Type": "text/plain"}
    assert fetch(put_url, method="PUT", data=b"uploaded", headers=sent)[0] == 200
    assert alice_v2.get_object(Bucket=bkt, Key="up")["Body"].read() == b"uploaded"


def test_default_boto3_presigned_url_works(server, keys, bkt):  # type: ignore[no-untyped-def]
    """A client that did not choose a signature version shares an object."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                      aws_access_key_id=keys["alice"].key_id,
                      aws_secret_access_key=keys["alice"].secret)  # fmt: skip
    s3.put_object(Bucket=bkt, Key="k", Body=b"default")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bkt, "Key": "k"})
    assert fetch(url) == (200, b"default")


def test_expired_and_tampered_sigv2_urls_are_refused(server, keys, alice_v2, bkt):  # type: ignore[no-untyped-def]
    alice_v2.put_object(Bucket=bkt, Key="k", Body=b"x")
    alice_v2.put_object(Bucket=bkt, Key="other", Body=b"y")
    alice = keys["alice"]
    past = int(time.time()) - 5
    query = sigv2.presign("GET", f"/{bkt}/k", [], access_key=alice.key_id,
                          secret_key=alice.secret, expires_at=past)  # fmt: skip
    status, body = fetch(f"{server.endpoint}/{bkt}/k?{urlencode(query)}")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"expired" in body
    url = alice_v2.generate_presigned_url("get_object", Params={"Bucket": bkt, "Key": "k"})
    status, body = fetch(url.replace(f"/{bkt}/k?", f"/{bkt}/other?"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    later = url.replace("Expires=", "Expires=1")  # a longer life than signed
    status, body = fetch(later)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body


def test_header_sigv2_refusals(server, keys, bkt):  # type: ignore[no-untyped-def]
    alice = keys["alice"]
    for when, secret, code in (
        (datetime.now(UTC), alice.secret + "x", "SignatureDoesNotMatch"),
        (datetime.now(UTC) - timedelta(minutes=20), alice.secret, "RequestTimeTooSkewed"),
    ):
        date = sigv2.http_date(when)
        auth = sigv2.sign_headers("GET", f"/{bkt}", [], [("Date", date)],
                                  access_key=alice.key_id, secret_key=secret)  # fmt: skip
        resp = raw_request(server.endpoint, "GET", f"/{bkt}", headers={"Date": date},
                           authorization=auth)  # fmt: skip
        assert (resp.status, resp.code) == (403, code)
    date = sigv2.http_date(datetime.now(UTC))
    auth = sigv2.sign_headers("GET", f"/{bkt}", [], [("Date", date)],
                              access_key="AKIANOSUCHKEY0000000", secret_key="x")  # fmt: skip
    resp = raw_request(server.endpoint, "GET", f"/{bkt}", headers={"Date": date},
                       authorization=auth)  # fmt: skip
    assert (resp.status, resp.code) == (403, "InvalidAccessKeyId")


def test_bucket_policy_denies_a_sigv2_user(alice, bob_v2, bkt):  # type: ignore[no-untyped-def]
    alice.put_object(Bucket=bkt, Key="open/k", Body=b"x")
    alice.put_object(Bucket=bkt, Key="closed/k", Body=b"x")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["bob"]}, "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bkt}/*"},
            {"Effect": "Deny", "Principal": {"AWS": ["bob"]}, "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bkt}/closed/*"},
        ],
    }  # fmt: skip
    alice.put_bucket_policy(Bucket=bkt, Policy=json.dumps(policy))
    assert bob_v2.get_object(Bucket=bkt, Key="open/k")["Body"].read() == b"x"
    with pytest.raises(ClientError) as exc:
        bob_v2.get_object(Bucket=bkt, Key="closed/k")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    url = bob_v2.generate_presigned_url("get_object", Params={"Bucket": bkt, "Key": "closed/k"})
    status, body = fetch(url)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body


def test_access_log_says_sigv2(alice, alice_v2, bkt, s3env):  # type: ignore[no-untyped-def]
    target = f"{bkt}-logs"
    alice.create_bucket(Bucket=target, ACL="log-delivery-write")  # lets the log delivery in
    alice.put_bucket_logging(
        Bucket=bkt,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": ""}},
    )
    alice_v2.put_object(Bucket=bkt, Key="k", Body=b"x")
    url = alice_v2.generate_presigned_url("get_object", Params={"Bucket": bkt, "Key": "k"})
    assert fetch(url) == (200, b"x")
    alice.get_object(Bucket=bkt, Key="k")
    with Store.open(s3env["store"]) as store:
        store.flush_access_logs(OWNER)
        records = [r for r in query_access_logs(store, OWNER, target, "") if r.key == "k"]
    got = {(r.operation, r.auth_type, r.signature_version) for r in records}
    assert ("REST.PUT.OBJECT", "AuthHeader", "SigV2") in got
    assert ("REST.GET.OBJECT", "QueryString", "SigV2") in got
    assert ("REST.GET.OBJECT", "AuthHeader", "SigV4") in got


@pytest.fixture(scope="module")
def no_v2_server(s3env) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    srv = Server(s3env["store"], "--no-sigv2", log=s3env["root"] / "serve-no-v2.log")
    try:
        yield srv
    finally:
        assert srv.stop() == 0, srv.stderr()


def test_no_sigv2_refuses_sigv2(no_v2_server, keys, alice, bkt):  # type: ignore[no-untyped-def]
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    alice.put_object_acl(Bucket=bkt, Key="k", ACL="public-read")  # anonymous could read it
    v2 = client(no_v2_server.endpoint, keys["alice"], signature_version="s3")
    with pytest.raises(ClientError) as exc:
        v2.get_object(Bucket=bkt, Key="k")
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"
    url = v2.generate_presigned_url("get_object", Params={"Bucket": bkt, "Key": "k"})
    status, body = fetch(url)
    assert status == 400 and b"<Code>InvalidRequest</Code>" in body and b"AWS4-HMAC-SHA256" in body
    v4 = client(no_v2_server.endpoint, keys["alice"])
    assert v4.get_object(Bucket=bkt, Key="k")["Body"].read() == b"x"
    assert fetch(f"{no_v2_server.endpoint}/{bkt}/{quote('k')}") == (200, b"x")


def test_bucket_policy_can_refuse_sigv2(alice, keys, server, bob_v2, bkt):  # type: ignore[no-untyped-def]
    """s3:signatureversion is "AWS" for SigV2, as in S3: a policy can refuse SigV2."""
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["bob"]}, "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bkt}/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": f"arn:aws:s3:::{bkt}/*",
             "Condition": {"StringEquals": {"s3:signatureversion": "AWS"}}},
        ],
    }  # fmt: skip
    alice.put_bucket_policy(Bucket=bkt, Policy=json.dumps(policy))
    with pytest.raises(ClientError) as exc:
        bob_v2.get_object(Bucket=bkt, Key="k")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    bob_v4 = client(server.endpoint, keys["bob"])
    assert bob_v4.get_object(Bucket=bkt, Key="k")["Body"].read() == b"x"
