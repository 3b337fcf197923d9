"""Server access logging through the API: Get/PutBucketLogging, and a request's
HTTP details (request id and URI, user agent, requester, status, auth type,
signature version, Host header; TLS ones in test_tls.py) in its record.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request

import pytest
from botocore.exceptions import ClientError

from objfs.store import OWNER, Store
from objfs.store.logquery import query_access_logs

from .support import OBJFS, raw_request


def test_bucket_logging_round_trip_and_records(alice, bkt: str, s3env: dict) -> None:  # type: ignore[no-untyped-def]
    target = f"{bkt}-logs"
    alice.create_bucket(Bucket=target, ACL="log-delivery-write")  # lets the log delivery in
    assert "LoggingEnabled" not in alice.get_bucket_logging(Bucket=bkt)
    alice.put_bucket_logging(
        Bucket=bkt,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "web/"}},
    )
    got = alice.get_bucket_logging(Bucket=bkt)["LoggingEnabled"]
    assert (got["TargetBucket"], got["TargetPrefix"]) == (target, "web/")
    with pytest.raises(ClientError) as err:  # a bucket never logs into itself
        alice.put_bucket_logging(
            Bucket=bkt,
            BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": bkt, "TargetPrefix": ""}},
        )
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    alice.put_object(Bucket=bkt, Key="page.html", Body=b"<p>hi</p>")
    sent = alice.get_object(Bucket=bkt, Key="page.html")
    request_id = sent["ResponseMetadata"]["RequestId"]
    assert sent["Body"].read() == b"<p>hi</p>"
    with pytest.raises(ClientError):
        alice.get_object(Bucket=bkt, Key="missing.html")

    with Store.open(s3env["store"]) as store:
        store.flush_access_logs(OWNER)
        alice_id = store.user_identity("alice").canonical_id
        records = list(query_access_logs(store, OWNER, target, "web/"))
    gets = [r for r in records if r.operation == "REST.GET.OBJECT"]
    ok = next(r for r in gets if r.key == "page.html")
    assert (ok.requester, ok.http_status, ok.request_id) == (alice_id, 200, request_id)
    assert ok.request_uri is not None and ok.request_uri.startswith(f"GET /{bkt}/page.html")
    assert ok.user_agent and "Boto3" in ok.user_agent
    assert ok.remote_ip == "127.0.0.1"
    missing = next(r for r in gets if r.key == "missing.html")
    assert (missing.http_status, missing.error_code) == (404, "NoSuchKey")
    assert any(r.operation == "REST.PUT.OBJECT" and r.key == "page.html" for r in records)

    alice.put_bucket_logging(Bucket=bkt, BucketLoggingStatus={})  # turns it off
    assert "LoggingEnabled" not in alice.get_bucket_logging(Bucket=bkt)


def _records(s3env: dict, target: str) -> list:  # type: ignore[type-arg]
    with Store.open(s3env["store"]) as store:
        store.flush_access_logs(OWNER)
        return list(query_access_logs(store, OWNER, target, ""))


def test_records_name_auth_type_host_and_signature(alice, anon, server, bkt, s3env) -> None:  # type: ignore[no-untyped-def]
    target = f"{bkt}-logs"
    alice.create_bucket(Bucket=target, ACL="log-delivery-write")  # lets the log delivery in
    alice.put_bucket_logging(
        Bucket=bkt,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": ""}},
    )
    alice.put_object(Bucket=bkt, Key="header", Body=b"signed in the Authorization header")
    url = alice.generate_presigned_url("get_object", Params={"Bucket": bkt, "Key": "header"})
    with urllib.request.urlopen(url) as resp:  # noqa: S310 - our own endpoint
        assert resp.read() == b"signed in the Authorization header"
    with pytest.raises(ClientError):  # anonymous: refused, and logged all the same
        anon.get_object(Bucket=bkt, Key="header")
    records = [r for r in _records(s3env, target) if r.key == "header"]
    host = server.endpoint.split("://", 1)[1]
    by_auth = {(r.operation, r.auth_type): r for r in records}
    put = by_auth[("REST.PUT.OBJECT", "AuthHeader")]
    presigned = by_auth[("REST.GET.OBJECT", "QueryString")]
    anonymous = by_auth[("REST.GET.OBJECT", None)]
    assert put.signature_version == presigned.signature_version == "SigV4"
    assert anonymous.signature_version is None and anonymous.requester is None
    assert (anonymous.http_status, anonymous.error_code) == (403, "AccessDenied")
    assert presigned.http_status == 200 and "X-Amz-Signature=" in (presigned.request_uri or "")
    for r in (put, presigned, anonymous):
        assert r.host_header == host
        assert r.tls_version is None and r.cipher_suite is None  # plain HTTP


def test_log_lines_have_s3s_26_fields(alice, bkt, s3env) -> None:  # type: ignore[no-untyped-def]
    target = f"{bkt}-logs"
    alice.create_bucket(Bucket=target, ACL="log-delivery-write")  # lets the log delivery in
    alice.put_bucket_logging(
        Bucket=bkt,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "raw/"}},
    )
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    with Store.open(s3env["store"]) as store:
        store.flush_access_logs(OWNER)
    logs = alice.list_objects_v2(Bucket=target, Prefix="raw/")["Contents"]
    text = b"".join(alice.get_object(Bucket=target, Key=o["Key"])["Body"].read() for o in logs)
    line = next(x for x in text.decode().splitlines() if "REST.PUT.OBJECT" in x)
    fields = re.findall(r'\[[^\]]*\]|"(?:[^"\\]|\\.)*"|\S+', line)
    assert len(fields) == 26, fields
    # ... SigV4, cipher suite, auth type, host header, TLS version, access point, aclRequired
    assert fields[19:] == ["SigV4", "-", "AuthHeader", fields[22], "-", "-", "-"]
    assert fields[22].startswith("127.0.0.1:")


def test_delete_objects_is_one_record_per_key(alice, bkt, s3env) -> None:  # type: ignore[no-untyped-def]
    target = f"{bkt}-logs"
    alice.create_bucket(Bucket=target, ACL="log-delivery-write")  # lets the log delivery in
    alice.put_bucket_logging(
        Bucket=bkt,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": ""}},
    )
    for key in ("x", "y"):
        alice.put_object(Bucket=bkt, Key=key, Body=b"1")
    out = alice.delete_objects(Bucket=bkt, Delete={"Objects": [{"Key": "x"}, {"Key": "y"}]})
    request_id = out["ResponseMetadata"]["RequestId"]
    records = [r for r in _records(s3env, target) if r.request_id == request_id]
    assert [(r.operation, r.key, r.http_status) for r in records] == [
        ("REST.POST.MULTI_OBJECT_DELETE", None, 200),
        ("BATCH.DELETE.OBJECT", "x", 204),
        ("BATCH.DELETE.OBJECT", "y", 204),
    ]
    assert all(r.request_uri == f"POST /{bkt}?delete" for r in records)


CONTROL_CHARS = [*range(0x00, 0x20), 0x7F]


def _cli(store: object, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBJFS_")}
    done = subprocess.run(
        [*OBJFS, "--store", str(store), *args],
        capture_output=True,
        text=True,
        env={**env, "LC_ALL": "C.UTF-8"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_control_characters_cannot_forge_log_lines(alice, server, bkt, s3env) -> None:  # type: ignore[no-untyped-def]
    """A key (and a user agent) holding any control character is one record,
    read back by ``objfs bucket logging query`` with exactly that key."""
    target = f"{bkt}-logs"
    alice.create_bucket(Bucket=target, ACL="log-delivery-write")  # lets the log delivery in
    alice.put_bucket_logging(
        Bucket=bkt,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "c/"}},
    )
    sent = {}
    for c in CONTROL_CHARS:
        key = f'k{c:02x}-{chr(c)}-x y"\\ 1 2 3 REST.GET.OBJECT [x] %0a-end'
        # An anonymous request: refused, and logged all the same.
        got = raw_request(server.endpoint, "GET", f"/{bkt}/{key}")
        assert got.status in (400, 403, 404), (c, got.status, got.body)
        sent[key] = got.status
    # A user agent may carry control characters too (h11 lets all but NUL,
    # CR, LF and other whitespace through): \x1c splits a line for Python.
    agent = 'evil\x1c\x1d\x1e\x01\x7f\t"agent\\'
    raw_request(server.endpoint, "GET", f"/{bkt}/agent", headers={"user-agent": agent})
    _cli(s3env["store"], "bucket", "logging", "flush")
    records = json.loads(
        _cli(s3env["store"], "--json", "bucket", "logging", "query", f"s3://{target}/c/")
    )
    by_key = {r["key"]: r for r in records}
    assert len(records) == len(sent) + 1, [r["key"] for r in records]
    for key, status in sent.items():
        assert key in by_key, key
        assert by_key[key]["http_status"] == status
        assert by_key[key]["operation"] == "REST.GET.OBJECT"
        assert by_key[key]["request_uri"].startswith(f"GET /{bkt}/k")
    assert by_key["agent"]["user_agent"] == agent
    # Every record is one line of the delivered objects.
    logs = alice.list_objects_v2(Bucket=target, Prefix="c/")["Contents"]
    text = b"".join(alice.get_object(Bucket=target, Key=o["Key"])["Body"].read() for o in logs)
    lines = text.decode().splitlines()
    assert len(lines) == len(records), lines
    assert all(ord(ch) >= 0x20 and ch != "\x7f" for line in lines for ch in line)
    # A person's view: one line per record, controls shown escaped.
    shown = _cli(s3env["store"], "bucket", "logging", "query", f"s3://{target}/c/")
    assert len(shown.split("\n")) == len(records) + 1, shown
    assert f"s3://{bkt}/k0a-\\x0a-x y" in shown and "\x1b" not in shown
