"""SigV4 against AWS's published examples and against botocore's signer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from objfs.auth import sigv4
from objfs.errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    SignatureDoesNotMatch,
)

SUITE_KEY, SUITE_SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
S3_KEY, S3_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_signing_key_example() -> None:
    # AWS General Reference, "deriving the signing key" example.
    key = sigv4.signing_key(SUITE_SECRET, "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_suite_get_vanilla() -> None:
    headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]
    canon = sigv4.canonical_request(
        "GET", "/", [], headers, ["host", "x-amz-date"], sigv4.EMPTY_SHA256
    )
    assert canon == (
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\n" + sigv4.EMPTY_SHA256
    )
    scope = sigv4.credential_scope("20150830", "us-east-1", "service")
    sts = sigv4.string_to_sign("20150830T123600Z", scope, canon)
    assert sts.splitlines()[-1] == (
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    )
    auth = sigv4.sign_headers(
        "GET", "/", [], headers, access_key=SUITE_KEY, secret_key=SUITE_SECRET,
        region="us-east-1", service="service", amz_date="20150830T123600Z",
        payload_hash=sigv4.EMPTY_SHA256,
    )  # fmt: skip
    assert auth == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )
    parsed = sigv4.parse_authorization(auth)
    when = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
    sigv4.verify_headers("GET", "/", [], headers, parsed, SUITE_SECRET, now=when)


S3_GET_HEADERS = [
    ("Host", "examplebucket.s3.amazonaws.com"),
    ("Range", "bytes=0-9"),
    ("x-amz-content-sha256", sigv4.EMPTY_SHA256),
    ("x-amz-date", "20130524T000000Z"),
]
S3_WHEN = datetime(2013, 5, 24, tzinfo=UTC)


def test_s3_documented_get_object_example() -> None:
    auth = sigv4.sign_headers(
        "GET", "/test.txt", [], S3_GET_HEADERS, access_key=S3_KEY, secret_key=S3_SECRET,
        region="us-east-1", service="s3", amz_date="20130524T000000Z",
        payload_hash=sigv4.EMPTY_SHA256,
    )  # fmt: skip
    assert auth.endswith(
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    parsed = sigv4.parse_authorization(auth)
    sigv4.verify_headers("GET", "/test.txt", [], S3_GET_HEADERS, parsed, S3_SECRET, now=S3_WHEN)
    with pytest.raises(SignatureDoesNotMatch):
        sigv4.verify_headers("GET", "/test.txt", [], S3_GET_HEADERS, parsed, "x" * 40, now=S3_WHEN)
    with pytest.raises(SignatureDoesNotMatch):
        sigv4.verify_headers("GET", "/test.txT", [], S3_GET_HEADERS, parsed, S3_SECRET, now=S3_WHEN)
    tampered = [(k, "bytes=0-99" if k == "Range" else v) for k, v in S3_GET_HEADERS]
    with pytest.raises(SignatureDoesNotMatch):
        sigv4.verify_headers("GET", "/test.txt", [], tampered, parsed, S3_SECRET, now=S3_WHEN)
    with pytest.raises(AccessDenied, match="skewed"):
        later = S3_WHEN + timedelta(minutes=16)
        sigv4.verify_headers("GET", "/test.txt", [], S3_GET_HEADERS, parsed, S3_SECRET, now=later)


def test_s3_documented_presigned_example() -> None:
    q = sigv4.presign(
        "GET", "/test.txt", [], [("host", "examplebucket.s3.amazonaws.com")],
        access_key=S3_KEY, secret_key=S3_SECRET, region="us-east-1",
        amz_date="20130524T000000Z", expires=86400,
    )  # fmt: skip
    assert dict(q)["X-Amz-Signature"] == (
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )
    hdrs = [("Host", "examplebucket.s3.amazonaws.com")]
    auth = sigv4.verify_presigned("GET", "/test.txt", q, hdrs, S3_SECRET, now=S3_WHEN)
    assert auth.credential.access_key == S3_KEY and auth.expires == 86400
    with pytest.raises(AccessDenied, match="Request has expired"):
        late = S3_WHEN + timedelta(seconds=86401)
        sigv4.verify_presigned("GET", "/test.txt", q, hdrs, S3_SECRET, now=late)
    with pytest.raises(AccessDenied, match="not valid yet"):
        sigv4.verify_presigned(
            "GET", "/test.txt", q, hdrs, S3_SECRET, now=S3_WHEN - timedelta(hours=1)
        )
    with pytest.raises(SignatureDoesNotMatch):
        sigv4.verify_presigned("PUT", "/test.txt", q, hdrs, S3_SECRET, now=S3_WHEN)
    longer = [(k, "604800" if k == "X-Amz-Expires" else v) for k, v in q]
    with pytest.raises(SignatureDoesNotMatch):
        sigv4.verify_presigned("GET", "/test.txt", longer, hdrs, S3_SECRET, now=S3_WHEN)


def test_encoding_rules() -> None:
    assert sigv4.uri_encode("a b/c~d_e.f-g*h") == "a%20b%2Fc~d_e.f-g%2Ah"
    assert sigv4.canonical_uri("/photos/my cat.jpg") == "/photos/my%20cat.jpg"
    assert sigv4.canonical_uri("/a/./b/../c//d/", normalize_path=True) == "/a/c/d/"
    assert sigv4.canonical_uri("/a/./b//") == "/a/./b//"  # S3: never normalised
    assert sigv4.canonical_uri("/ü") == "/%C3%BC"
    assert sigv4.canonical_query([("b", "2"), ("a", "x y"), ("a", "1"), ("c", "")]) == (
        "a=1&a=x%20y&b=2&c="
    )
    hdrs = [("My-Header", "  a   b  "), ("my-header", "c"), ("Host", "h")]
    assert sigv4.canonical_headers(hdrs, ["host", "my-header"]) == "host:h\nmy-header:a b,c\n"


@pytest.mark.parametrize(
    "value",
    [
        "AWS4-HMAC-SHA1 Credential=a/20150830/r/s/aws4_request, SignedHeaders=host, Signature="
        + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=a/20150830/r/s/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=a/2015/r/s/aws4_request, SignedHeaders=host, Signature="
        + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=a/20150830/r/s/aws5_request, SignedHeaders=host, Signature="
        + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=a/20150830/r/s/aws4_request, SignedHeaders=Host, Signature="
        + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=a/20150830/r/s/aws4_request, SignedHeaders=host, Signature=xyz",
        "AWS4-HMAC-SHA256 Credential=a/20150830/r/s/aws4_request, Credential=b, Signature="
        + "0" * 64,
        "",
    ],
)
def test_malformed_authorization_headers(value: str) -> None:
    with pytest.raises(AuthorizationHeaderMalformed):
        sigv4.parse_authorization(value)


def test_malformed_presigned_queries() -> None:
    good = sigv4.presign(
        "GET", "/k", [], [("host", "h")], access_key="k", secret_key="s", region="r",
        amz_date="20130524T000000Z", expires=60,
    )  # fmt: skip
    assert sigv4.is_presigned(good) and not sigv4.is_presigned([("a", "b")])
    sigv4.parse_presigned(good)
    for name, value, msg in [
        ("X-Amz-Expires", "604801", "less than a week"),
        ("X-Amz-Expires", "-5", "non-negative"),
        ("X-Amz-Expires", "soon", "should be a number"),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA1", "unsupported algorithm"),
        ("X-Amz-Date", "2013-05-24", "not YYYYMMDDTHHMMSSZ"),
        ("X-Amz-Date", "20130525T000000Z", "credential date differs"),
        ("X-Amz-Signature", "abc", "not 64 lowercase hex"),
        ("X-Amz-Credential", "k/20130524/r/s3", "aws4_request"),
    ]:
        bad = [(k, value if k == name else v) for k, v in good]
        with pytest.raises(AuthorizationHeaderMalformed, match=msg):
            sigv4.parse_presigned(bad)
    for value in ("604801", "-5", "soon"):  # S3's code for these
        bad = [(k, value if k == "X-Amz-Expires" else v) for k, v in good]
        with pytest.raises(AuthorizationQueryParametersError):
            sigv4.parse_presigned(bad)
    with pytest.raises(AuthorizationHeaderMalformed, match="lacks X-Amz-Signature"):
        sigv4.parse_presigned([(k, v) for k, v in good if k != "X-Amz-Signature"])
    with pytest.raises(AuthorizationHeaderMalformed, match="twice"):
        sigv4.parse_presigned([*good, ("X-Amz-Date", "20130524T000000Z")])
    with pytest.raises(AuthorizationHeaderMalformed, match="1 to 604800"):
        sigv4.presign("GET", "/k", [], [("host", "h")], access_key="k", secret_key="s",
                      region="r", amz_date="20130524T000000Z", expires=604801)  # fmt: skip


# -- cross-check with botocore, the signer real S3 clients use -----------------

botocore = pytest.importorskip("botocore")


def _boto_request(method: str, url: str, body: bytes = b"", headers: dict | None = None):
    from botocore.awsrequest import AWSRequest

    return AWSRequest(method=method, url=url, data=body, headers=headers or {})


def _creds():
    from botocore.credentials import Credentials

    return Credentials("OBJFABCDEFGHIJKLMNOP", "s3cr3t/+KEYxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("GET", "/photos/my%20cat.jpg", "", b""),
        ("PUT", "/photos/a/b%2Bc~d.txt", "", b"hello world"),
        ("GET", "/photos", "list-type=2&prefix=a%2Fb&delimiter=%2F&max-keys=10", b""),
        ("DELETE", "/photos/k", "versionId=abc%3D%3D", b""),
        ("GET", "/photos/%C3%BCml%C3%A4ut", "acl=", b""),
    ],
)
def test_botocore_header_signatures_verify(method: str, path: str, query: str, body: bytes) -> None:
    from botocore.auth import S3SigV4Auth

    url = f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else "")
    req = _boto_request(method, url, body, {"Content-Type": "application/octet-stream"})
    S3SigV4Auth(_creds(), "s3", "us-east-1").add_auth(req)
    prepared = req.prepare()
    parts = urlsplit(prepared.url)
    q = parse_qsl(parts.query, keep_blank_values=True)
    hdrs = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()]
    hdrs.append(("Host", parts.netloc))
    auth = sigv4.parse_authorization(dict(hdrs)["Authorization"])
    now = sigv4.parse_amz_date(dict(hdrs)["X-Amz-Date"])
    secret = _creds().secret_key
    sigv4.verify_headers(method, unquote(parts.path), q, hdrs, auth, secret, now=now)
    with pytest.raises(SignatureDoesNotMatch):
        sigv4.verify_headers(method, unquote(parts.path) + "x", q, hdrs, auth, secret, now=now)


def test_botocore_presigned_urls_verify_and_ours_match_theirs() -> None:
    from botocore.auth import S3SigV4QueryAuth

    req = _boto_request("GET", "http://127.0.0.1:9000/photos/a%20b.jpg?versionId=1")
    S3SigV4QueryAuth(_creds(), "s3", "us-east-1", expires=900).add_auth(req)
    parts = urlsplit(req.prepare().url)
    q = parse_qsl(parts.query, keep_blank_values=True)
    hdrs = [("host", parts.netloc)]
    d = dict(q)
    now = sigv4.parse_amz_date(d["X-Amz-Date"]) + timedelta(seconds=899)
    secret = _creds().secret_key
    auth = sigv4.verify_presigned("GET", unquote(parts.path), q, hdrs, secret, now=now)
    assert auth.expires == 900
    with pytest.raises(AccessDenied, match="expired"):
        sigv4.verify_presigned("GET", unquote(parts.path), q, hdrs, secret,
                               now=now + timedelta(seconds=2))  # fmt: skip
    ours = sigv4.presign(
        "GET", "/photos/a b.jpg", [("versionId", "1")], hdrs, access_key=_creds().access_key,
        secret_key=secret, region="us-east-1", amz_date=d["X-Amz-Date"], expires=900,
    )  # fmt: skip
    assert dict(ours)["X-Amz-Signature"] == d["X-Amz-Signature"]
