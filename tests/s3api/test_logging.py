"""Server access logging through the API: Get/PutBucketLogging, and a request's
HTTP details (request id and URI, user agent, requester, status) in its record.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from objfs.store import OWNER, Store
from objfs.store.logquery import query_access_logs


def test_bucket_logging_round_trip_and_records(alice, bkt: str, s3env: dict) -> None:  # type: ignore[no-untyped-def]
    target = f"{bkt}-logs"
    alice.create_bucket(Bucket=target)
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
