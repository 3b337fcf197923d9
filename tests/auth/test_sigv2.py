"""SigV2 (S3's HmacV1) against AWS's documented example and botocore's signers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from objfs.auth import sigv2
from objfs.errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)

S3_KEY, S3_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_aws_documented_example() -> None:
    # Amazon S3 developer guide, "Signing and authenticating REST requests":
    # the GET object example (virtual-hosted awsexamplebucket1, photos/puppy.jpg).
    headers = [("Host", "awsexamplebucket1.s3.us-west-1.amazonaws.com"),
               ("Date", "Tue, 27 Mar 2007 19:36:42 +0000")]  # fmt: skip
    to_sign = sigv2.string_to_sign(
        "GET", "", "", "Tue, 27 Mar 2007 19:36:42 +0000", "", "/awsexamplebucket1/photos/puppy.jpg"
    )
    assert sigv2.signature(S3_SECRET, to_sign) == "qgk2+6Sv9/oM7G3qLEjTH1a1l1g="
    auth = sigv2.sign_headers(
        "GET", "/awsexamplebucket1/photos/puppy.jpg", [], headers,
        access_key=S3_KEY, secret_key=S3_SECRET,
    )  # fmt: skip
    assert auth == f"AWS {S3_KEY}:qgk2+6Sv9/oM7G3qLEjTH1a1l1g="
    now = parsedate_to_datetime("Tue, 27 Mar 2007 19:40:00 +0000")
    sigv2.verify_headers("GET", "/awsexamplebucket1/photos/puppy.jpg", [], headers,
                         sigv2.parse_authorization(auth), S3_SECRET, now=now)  # fmt: skip


def test_canonical_resource_and_amz_headers() -> None:
    q = [("versionId", "v1"), ("prefix", "a"), ("acl", ""), ("uploadId", "u")]
    assert sigv2.canonical_resource("/b/k", q) == "/b/k?acl&uploadId=u&versionId=v1"
    assert sigv2.canonical_resource("/b/k", [("list-type", "2")]) == "/b/k"
    assert sigv2.canonical_resource("/b", [("encryption", "")]) == "/b"
    assert sigv2.canonical_resource("/b", [("encryption", "")], sigv2.MORE_SUBRESOURCES) == (
        "/b?encryption"
    )
    amz = sigv2.canonical_amz_headers(
        [("X-Amz-Meta-B", " 2 "), ("x-amz-meta-a", "1"), ("x-amz-meta-b", "3"), ("Other", "x")]
    )
    assert amz == "x-amz-meta-a:1\nx-amz-meta-b:2,3\n"


def test_refusals() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    headers = [("Date", sigv2.http_date(when)), ("x-amz-meta-a", "1")]
    auth = sigv2.parse_authorization(
        sigv2.sign_headers("PUT", "/b/k", [], headers, access_key="K", secret_key="S")
    )
    sigv2.verify_headers("PUT", "/b/k", [], headers, auth, "S", now=when)
    with pytest.raises(SignatureDoesNotMatch):
        sigv2.verify_headers("PUT", "/b/k2", [], headers, auth, "S", now=when)
    with pytest.raises(SignatureDoesNotMatch):
        sigv2.verify_headers("PUT", "/b/k", [], [*headers[:1], ("x-amz-meta-a", "2")], auth, "S",
                             now=when)  # fmt: skip
    with pytest.raises(SignatureDoesNotMatch):
        sigv2.verify_headers("PUT", "/b/k", [], headers, auth, "wrong", now=when)
    with pytest.raises(RequestTimeTooSkewed):
        sigv2.verify_headers("PUT", "/b/k", [], headers, auth, "S", now=when + timedelta(hours=1))
    with pytest.raises(AccessDenied, match="Date"):
        sigv2.verify_headers("PUT", "/b/k", [], headers[1:], auth, "S", now=when)
    for bad in ("AWS", "AWS K", "AWS :sig", "AWS4 K:sig"):
        with pytest.raises(AuthorizationHeaderMalformed):
            sigv2.parse_authorization(bad)
    with pytest.raises(AccessDenied):
        sigv2.parse_presigned([("AWSAccessKeyId", "K"), ("Signature", "x")])
    with pytest.raises(AccessDenied):
        sigv2.parse_presigned([("AWSAccessKeyId", "K"), ("Signature", "x"), ("Expires", "soon")])


def test_x_amz_date_replaces_the_date_line() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    headers = [("x-amz-date", sigv2.http_date(when))]
    auth = sigv2.parse_authorization(
        sigv2.sign_headers("GET", "/b", [], headers, access_key="K", secret_key="S")
    )
    sigv2.verify_headers("GET", "/b", [], headers, auth, "S", now=when)


def test_presign_and_expiry() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    expires_at = int(when.timestamp()) + 60
    q = sigv2.presign("GET", "/b/k", [("versionId", "v")], access_key="K", secret_key="S+/",
                      expires_at=expires_at)  # fmt: skip
    auth = sigv2.verify_presigned("GET", "/b/k", q, [], "S+/", now=when)
    assert (auth.access_key, auth.expires) == ("K", expires_at)
    with pytest.raises(AccessDenied, match="expired"):
        sigv2.verify_presigned("GET", "/b/k", q, [], "S+/", now=when + timedelta(seconds=61))
    tampered = [(k, "w" if k == "versionId" else v) for k, v in q]
    with pytest.raises(SignatureDoesNotMatch):
        sigv2.verify_presigned("GET", "/b/k", tampered, [], "S+/", now=when)
    with pytest.raises(SignatureDoesNotMatch):
        sigv2.verify_presigned("PUT", "/b/k", q, [], "S+/", now=when)


# -- cross-check with botocore's HmacV1Auth / HmacV1QueryAuth ----------------------

botocore = pytest.importorskip("botocore")


def _creds():
    from botocore.credentials import Credentials

    return Credentials("OBJFABCDEFGHIJKLMNOP", "s3cr3t/+KEYxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")


def _boto_request(method: str, url: str, body: bytes = b"", headers: dict | None = None):
    from botocore.awsrequest import AWSRequest

    return AWSRequest(method=method, url=url, data=body, headers=headers or {})


@pytest.mark.parametrize(
    ("method", "path", "query", "headers"),
    [
        ("GET", "/photos/my%20cat.jpg", "", {}),
        ("PUT", "/photos/a/b%2Bc~d.txt", "", {"Content-Type": "text/plain",
                                              "Content-MD5": "XrY7u+Ae7tCTyyK7j1rNww=="}),
        ("GET", "/photos", "list-type=2&prefix=a%2Fb&delimiter=%2F&max-keys=10", {}),
        ("DELETE", "/photos/k", "versionId=abc%3D%3D", {}),
        ("GET", "/photos/%C3%BCml%C3%A4ut", "acl", {}),
        ("PUT", "/photos/k", "partNumber=2&uploadId=xyz", {"x-amz-meta-Colour": "blue",
                                                           "X-Amz-ACL": "public-read"}),
        ("GET", "/photos", "versions&prefix=a&key-marker=b", {}),
        ("POST", "/photos", "delete", {"Content-MD5": "abc="}),
    ],
)  # fmt: skip
def test_botocore_header_signatures_verify(method: str, path: str, query: str, headers) -> None:
    from botocore.auth import HmacV1Auth

    url = f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else "")
    req = _boto_request(method, url, b"x", headers)
    HmacV1Auth(_creds()).add_auth(req)
    prepared = req.prepare()
    parts = urlsplit(prepared.url)
    q = parse_qsl(parts.query, keep_blank_values=True)
    hdrs = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()]
    auth = sigv2.parse_authorization(dict(hdrs)["Authorization"])
    assert auth.access_key == _creds().access_key
    now = parsedate_to_datetime(dict(hdrs)["Date"])
    secret = _creds().secret_key
    sigv2.verify_headers(method, parts.path, q, hdrs, auth, secret, now=now)
    ours = sigv2.sign_headers(method, parts.path, q, hdrs, access_key=auth.access_key,
                              secret_key=secret)  # fmt: skip
    assert ours == dict(hdrs)["Authorization"]
    with pytest.raises(SignatureDoesNotMatch):
        sigv2.verify_headers(method, parts.path + "x", q, hdrs, auth, secret, now=now)


def test_botocore_presigned_urls_verify_and_ours_match_theirs() -> None:
    from botocore.auth import HmacV1QueryAuth

    req = _boto_request("GET", "http://127.0.0.1:9000/photos/a%20b.jpg?versionId=1")
    HmacV1QueryAuth(_creds(), expires=900).add_auth(req)
    parts = urlsplit(req.prepare().url)
    q = parse_qsl(parts.query, keep_blank_values=True)
    d = dict(q)
    expires_at = int(d["Expires"])
    secret = _creds().secret_key
    now = datetime.fromtimestamp(expires_at - 1, UTC)
    auth = sigv2.verify_presigned("GET", parts.path, q, [("host", parts.netloc)], secret, now=now)
    assert auth.expires == expires_at
    with pytest.raises(AccessDenied, match="expired"):
        sigv2.verify_presigned("GET", parts.path, q, [], secret, now=now + timedelta(seconds=2))
    ours = sigv2.presign("GET", "/photos/a%20b.jpg", [("versionId", "1")],
                         access_key=_creds().access_key, secret_key=secret,
                         expires_at=expires_at)  # fmt: skip
    assert dict(ours)["Signature"] == d["Signature"]


def test_botocore_presigned_put_with_amz_headers_in_the_query() -> None:
    """A URL for a PUT with an ACL: botocore moves x-amz-acl into the query and signs it."""
    from botocore.auth import HmacV1QueryAuth

    req = _boto_request("PUT", "http://127.0.0.1:9000/photos/k", b"", {"x-amz-acl": "private"})
    HmacV1QueryAuth(_creds(), expires=900).add_auth(req)
    parts = urlsplit(req.prepare().url)
    q = parse_qsl(parts.query, keep_blank_values=True)
    assert dict(q)["x-amz-acl"] == "private"
    now = datetime.fromtimestamp(int(dict(q)["Expires"]) - 10, UTC)
    sigv2.verify_presigned("PUT", parts.path, q, [], _creds().secret_key, now=now)
    tampered = [(k, "public-read" if k == "x-amz-acl" else v) for k, v in q]
    with pytest.raises(SignatureDoesNotMatch):
        sigv2.verify_presigned("PUT", parts.path, tampered, [], _creds().secret_key, now=now)
