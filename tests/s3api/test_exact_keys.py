"""Keys are exact bytes on the wire: whitespace in an XML body, a query
parameter or a header is part of the key, and a URI whose escapes are not
UTF-8 is refused (``InvalidURI``), never read with replacement characters.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from .support import Key, Raw, raw_request, sign_v4

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


def send_target(
    endpoint: str,
    method: str,
    target: str,
    key: Key,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> Raw:
    """One request for exactly ``target`` (escapes as given), signed for the path
    and query a lenient server reads from it (``%ff`` as U+FFFD), so that only
    the URI's encoding can be the reason for a refusal."""
    path, _, query = target.partition("?")
    hdrs = {"host": urlsplit(endpoint).netloc, **(headers or {})}
    sign_v4(
        hdrs,
        method,
        unquote(path, errors="replace"),
        parse_qsl(query, keep_blank_values=True),
        key,
        body=body,
    )
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        if method in ("PUT", "POST"):
            conn.putheader("content-length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        return Raw(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


NOT_UTF8 = ["alias%ff", "alias%fe", "alias%c3", "alias%ed%a0%80", "%ff" * 400]


def test_a_path_that_is_not_utf8_is_invalid_uri(server, keys, alice, bkt):
    alice_key = keys["alice"]
    for name in NOT_UTF8:
        r = send_target(server.endpoint, "PUT", f"/{bkt}/{name}", alice_key, body=name.encode())
        assert (r.status, r.code) == (400, "InvalidURI"), (name, r.body)
        assert b"Couldn't parse the specified URI." in r.body
    # U+FFFD itself, properly encoded, is a key like any other.
    r = send_target(server.endpoint, "PUT", f"/{bkt}/alias%EF%BF%BD", alice_key, body=b"fffd")
    assert r.status == 200, r.body
    assert keys_of(alice, bkt) == ["alias\ufffd"]
    assert alice.get_object(Bucket=bkt, Key="alias\ufffd")["Body"].read() == b"fffd"
    for method in ("GET", "HEAD", "DELETE"):
        r = send_target(server.endpoint, method, f"/{bkt}/alias%ff", alice_key)
        assert r.status == 400, (method, r.status)
    assert keys_of(alice, bkt) == ["alias\ufffd"]


@pytest.mark.parametrize(
    "query",
    [
        "prefix=alias%ff",
        "marker=alias%ff",
        "delimiter=%ff",
        "list-type=2&start-after=alias%ff",
        "versions&key-marker=alias%ff",
        "uploads&prefix=%fe",
    ],
)
def test_a_query_that_is_not_utf8_is_invalid_uri(server, keys, alice, bkt, query):
    alice.put_object(Bucket=bkt, Key="alias\ufffd", Body=b"x")
    r = send_target(server.endpoint, "GET", f"/{bkt}?{query}", keys["alice"])
    assert (r.status, r.code) == (400, "InvalidURI"), r.body


def test_a_copy_source_that_is_not_utf8_is_refused(server, keys, alice, bkt):
    alice.put_object(Bucket=bkt, Key="alias\ufffd", Body=b"x")
    for source in (f"/{bkt}/alias%ff", f"{bkt}/alias%c3", f"/{bkt}/alias\xff"):
        r = send_target(
            server.endpoint,
            "PUT",
            f"/{bkt}/copy",
            keys["alice"],
            headers={"x-amz-copy-source": source},
        )
        assert (r.status, r.code) == (400, "InvalidArgument"), (source, r.body)
    assert keys_of(alice, bkt) == ["alias\ufffd"]
    # A copy source in UTF-8, escaped or not, names its key.
    for source in (f"/{bkt}/alias%EF%BF%BD", f"/{bkt}/alias\ufffd"):
        r = send_target(
            server.endpoint,
            "PUT",
            f"/{bkt}/copy",
            keys["alice"],
            headers={"x-amz-copy-source": source.encode().decode("latin-1")},
        )
        assert r.status == 200, (source, r.body)
    assert keys_of(alice, bkt) == ["alias\ufffd", "copy"]
