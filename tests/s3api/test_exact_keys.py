"""Keys are exact bytes on the wire: whitespace in an XML body, a query
parameter or a header is part of the key, and a URI whose escapes are not
UTF-8 is refused (``InvalidURI``), never read with replacement characters.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError

from .support import raw_request

SPACED = ["_ ", " ", "\tlead", " both\t", "_\n"]


def keys_of(client, bucket: str, **kw: str) -> list[str]:  # type: ignore[no-untyped-def]
    out = client.list_objects_v2(Bucket=bucket, **kw)
    return [o["Key"] for o in out.get("Contents", [])]


@pytest.mark.parametrize("key", SPACED, ids=repr)
def test_delete_objects_keeps_whitespace_in_keys(alice, bkt, key):
    stem = key.strip() or "_"
    alice.put_object(Bucket=bkt, Key=stem, Body=b"stem")
    alice.put_object(Bucket=bkt, Key=key, Body=b"spaced")
    out = alice.delete_objects(Bucket=bkt, Delete={"Objects": [{"Key": key}]})
    assert [d["Key"] for d in out["Deleted"]] == [key]
    assert "Errors" not in out
    # The spaced key is gone, the stripped one untouched.
    assert keys_of(alice, bkt) == [stem]
    assert alice.get_object(Bucket=bkt, Key=stem)["Body"].read() == b"stem"


def test_whitespace_in_query_parameters_and_copy_source(alice, bkt):
    for key in ("a ", "a", " a", "a b/ c", "a b/d"):
        alice.put_object(Bucket=bkt, Key=key, Body=key.encode())
    assert keys_of(alice, bkt, Prefix="a ") == ["a ", "a b/ c", "a b/d"]
    assert keys_of(alice, bkt, StartAfter="a ") == ["a b/ c", "a b/d"]
    v1 = alice.list_objects(Bucket=bkt, Marker=" a", Delimiter=" ")
    assert [p["Prefix"] for p in v1.get("CommonPrefixes", [])] == ["a "]
    assert [o["Key"] for o in v1.get("Contents", [])] == ["a"]
    v1 = alice.list_objects(Bucket=bkt, Prefix="a b/", Delimiter=" ")
    assert [p["Prefix"] for p in v1.get("CommonPrefixes", [])] == ["a b/ "]
    assert [o["Key"] for o in v1.get("Contents", [])] == ["a b/d"]
    alice.copy_object(Bucket=bkt, Key="copy", CopySource={"Bucket": bkt, "Key": "a "})
    assert alice.get_object(Bucket=bkt, Key="copy")["Body"].read() == b"a "


def test_logging_target_prefix_keeps_whitespace(alice, bkt):
    target = f"{bkt}-logs"
    alice.create_bucket(Bucket=target)
    alice.put_bucket_acl(
        Bucket=target,
        GrantWrite="uri=http://acs.amazonaws.com/groups/s3/LogDelivery",
        GrantReadACP="uri=http://acs.amazonaws.com/groups/s3/LogDelivery",
    )
    alice.put_bucket_logging(
        Bucket=bkt,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": " logs/ "}},
    )
    got = alice.get_bucket_logging(Bucket=bkt)["LoggingEnabled"]
    assert got["TargetPrefix"] == " logs/ "


def test_empty_key_in_delete_objects_is_malformed(server, keys, bkt):
    body = b"<Delete><Object><Key></Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = raw_request(
        server.endpoint,
        "POST",
        f"/{bkt}",
        query=[("delete", "")],
        headers={"content-md5": md5},
        body=body,
        key=keys["alice"],
    )
    assert (r.status, r.code) == (400, "MalformedXML")


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    e = exc.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]
