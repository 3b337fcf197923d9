"""Bad input thrown at the server: malformed XML (entity bombs included), broken
SigV4, truncated aws-chunked bodies, unsatisfiable ranges, oversized headers
(S3's 8 KB header section, 2 KB of user metadata, and far past the HTTP
parser's buffer), HTTP the parser refuses, odd requests.

Every answer is a 4xx (or 501 for what objfs does not implement) carrying an
S3 error document, the server stays up, and nothing partial is committed.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import socket
import threading
from urllib.parse import urlsplit

import pytest

from .chunked import SIGNED, TRAILER, chunked_put
from .support import Raw, raw_request

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Delete><Object><Key>&lol9;</Key></Object></Delete>"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<VersioningConfiguration><Status>&x;</Status></VersioningConfiguration>"""

BAD_XML = [
    b"",
    b"<",
    b"not xml at all",
    b"<Delete><Object><Key>k</Key></Object>",  # unclosed
    b"<Wrong><Object><Key>k</Key></Object></Wrong>",
    b"<Delete><Object><VersionId>v</VersionId></Object></Delete>",
    b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>",
    b"\xff\xfe<\x00D\x00",
    BOMB,
    EXTERNAL,
    b"<VersioningConfiguration><Status>Sometimes</Status></VersioningConfiguration>",
    b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>",
    b"<AccessControlPolicy><AccessControlList><Grant/></AccessControlList></AccessControlPolicy>",
    b"<ServerSideEncryptionConfiguration><Rule/></ServerSideEncryptionConfiguration>",
    b"<a>" * 5000 + b"</a>" * 5000,
    b"x" * (3 << 20),  # over the XML body limit
]


def assert_s3_error(resp, *, allow_501: bool = False) -> None:  # type: ignore[no-untyped-def]
    assert 400 <= resp.status < 500 or (allow_501 and resp.status == 501), (resp.status, resp.body)
    if resp.status != 404 or resp.body:
        assert resp.body.startswith(b"<?xml") and b"<Error><Code>" in resp.body, resp.body[:200]
        assert b"<RequestId>" in resp.body


@pytest.fixture
def state(alice, vbkt):  # type: ignore[no-untyped-def]
    """A bucket with known content: what must still hold after the fuzzing."""
    alice.put_object(Bucket=vbkt, Key="keep", Body=b"keep me")
    uid = alice.create_multipart_upload(Bucket=vbkt, Key="upload")["UploadId"]

    def snapshot():  # type: ignore[no-untyped-def]
        versions = alice.list_object_versions(Bucket=vbkt)
        return (
            [(v["Key"], v["VersionId"]) for v in versions.get("Versions", [])],
            [(m["Key"], m["VersionId"]) for m in versions.get("DeleteMarkers", [])],
            [u["UploadId"] for u in alice.list_multipart_uploads(Bucket=vbkt).get("Uploads", [])],
            alice.get_bucket_versioning(Bucket=vbkt).get("Status"),
            alice.get_bucket_acl(Bucket=vbkt)["Grants"],
            alice.get_bucket_encryption(Bucket=vbkt)["ServerSideEncryptionConfiguration"],
        )

    return vbkt, uid, snapshot


def test_malformed_xml_bodies(server, keys, state):
    bkt, uid, snapshot = state
    before = snapshot()
    targets = [
        ("POST", f"/{bkt}", [("delete", "")]),
        ("PUT", f"/{bkt}", [("versioning", "")]),
        ("PUT", f"/{bkt}", [("acl", "")]),
        ("PUT", f"/{bkt}", [("encryption", "")]),
        ("POST", f"/{bkt}/upload", [("uploadId", uid)]),
        ("PUT", "/fuzz-new-bucket", []),
    ]
    for method, path, query in targets:
        for body in BAD_XML:
            if not body and method == "PUT" and not query:
                continue  # CreateBucket without a configuration is valid
            resp = raw_request(
                server.endpoint, method, path, query=query, body=body, key=keys["alice"]
            )
            assert_s3_error(resp)
            if body in (BOMB, EXTERNAL) or body.startswith(b"<a>"):
                assert resp.code in ("MalformedXML", "InvalidRequest"), resp.body
    assert server.alive()
    assert snapshot() == before
    assert raw_request(server.endpoint, "HEAD", "/fuzz-new-bucket", key=keys["alice"]).status == 404


BAD_AUTH = [
    "AWS4-HMAC-SHA256",
    "AWS4-HMAC-SHA256 Credential=x",
    "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
    "AWS4-HMAC-SHA256 Credential=AKID/2026/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature="
    + "g" * 64,
    "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=HOST, Signature="
    + "0" * 64,
    "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, Signature=" + "0" * 64,
    "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature="
    + "0" * 64,
    "\u00e9\u00e8",
    "AWS4-HMAC-SHA256 " + "Credential=a, " * 500,
]


def test_bad_sigv4_strings(server, keys, state):
    bkt, _, snapshot = state
    before = snapshot()
    key_id = keys["alice"].key_id
    cases = [*BAD_AUTH, BAD_AUTH[-3].replace("AKID", key_id)]
    for auth in cases:
        for method, path in (
            ("GET", f"/{bkt}"),
            ("PUT", f"/{bkt}/fuzzed"),
            ("DELETE", f"/{bkt}/keep"),
        ):
            headers = {"x-amz-date": "20260101T000000Z", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
            resp = raw_request(
                server.endpoint,
                method,
                path,
                headers=headers,
                body=b"x" if method == "PUT" else b"",
                authorization=auth.encode("utf-8").decode("latin-1"),
            )
            assert_s3_error(resp)
            assert resp.status in (400, 403), (auth, resp.status, resp.body)
    presigned = [
        [("X-Amz-Signature", "0" * 64)],
        [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "x"),
            ("X-Amz-Signature", "z"),
        ],
        [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"{key_id}/20260101/us-east-1/s3/aws4_request"),
            ("X-Amz-Date", "20260101T000000Z"),
            ("X-Amz-Expires", "9999999"),
            ("X-Amz-SignedHeaders", "host"),
            ("X-Amz-Signature", "0" * 64),
        ],
    ]
    for query in presigned:
        resp = raw_request(server.endpoint, "GET", f"/{bkt}/keep", query=query)
        assert_s3_error(resp)
    assert snapshot() == before


def test_truncated_and_garbled_chunked_bodies(server, keys, state, alice):  # type: ignore[no-untyped-def]
    bkt, _, snapshot = state
    before = snapshot()
    rng = random.Random(8)
    chunks = [os.urandom(3000), os.urandom(3000), os.urandom(100)]
    for mode in (SIGNED, TRAILER):
        for _ in range(12):
            cut = rng.randrange(1, 6000)
            resp = chunked_put(
                server.endpoint,
                f"/{bkt}/chunked",
                keys["alice"],
                chunks,
                mode=mode,
                mangle=lambda b, cut=cut: b[:cut],
            )
            assert_s3_error(resp)
            pos = rng.randrange(0, 6000)
            resp = chunked_put(
                server.endpoint,
                f"/{bkt}/chunked",
                keys["alice"],
                chunks,
                mode=mode,
                mangle=lambda b, pos=pos: b[:pos] + b"\r\n;;\r\n" + b[pos:],
            )
            assert_s3_error(resp)
    assert snapshot() == before


def test_unsatisfiable_ranges(server, keys, state):
    bkt, _, _ = state
    for spec in ("bytes=7-", "bytes=100-200", "bytes=5-1", "bytes=-0", "bytes=99999999999999-"):
        resp = raw_request(
            server.endpoint, "GET", f"/{bkt}/keep", headers={"range": spec}, key=keys["alice"]
        )
        assert resp.status == 416 and resp.code == "InvalidRange", (spec, resp.body)


def test_random_requests_never_answer_5xx(server, keys, state):
    bkt, _, snapshot = state
    before = snapshot()
    rng = random.Random(42)
    methods = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"]
    params = [
        "acl",
        "uploads",
        "uploadId",
        "partNumber",
        "versionId",
        "list-type",
        "max-keys",
        "prefix",
        "delete",
        "versions",
        "cors",
        "encoding-type",
        "continuation-token",
        "key-marker",
        "location",
        "tagging",
        "policy",
        "torrent",
    ]
    values = [
        "",
        "1",
        "2",
        "-1",
        "abc",
        "99999999999999999999",
        "\u00e9",
        "../..",
        "%00",
        "x" * 300,
    ]
    headers_pool = [
        ("range", "bytes=abc"),
        ("x-amz-copy-source", "/nowhere"),
        ("x-amz-copy-source", "%%%"),
        ("content-md5", "!!"),
        ("x-amz-checksum-crc32", "??"),
        ("x-amz-acl", "nope"),
        ("x-amz-server-side-encryption", "rot13"),
        ("if-match", ""),
        ("x-amz-metadata-directive", "MOVE"),
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-mfa", "x"),
        ("x-amz-copy-source-range", "bytes=9-1"),
        ("x-amz-checksum-crc64nvme", "AAAAAAAAAAA="),
    ]
    for _ in range(150):
        method = rng.choice(methods)
        paths = [f"/{bkt}", f"/{bkt}/fz/{rng.randrange(100)}", "/", "/no-such-bkt/k"]
        if method in ("GET", "HEAD"):
            paths.append(f"/{bkt}/keep")  # read only: valid writes to it would be legitimate
        path = rng.choice(paths)
        query = [(rng.choice(params), rng.choice(values)) for _ in range(rng.randrange(3))]
        hdrs = dict(rng.sample(headers_pool, rng.randrange(3)))
        body = rng.choice([b"", b"<x/>", os.urandom(rng.randrange(64))])
        resp = raw_request(
            server.endpoint,
            method,
            path,
            query=query,
            headers=hdrs,
            body=body,
            key=keys["alice"] if rng.random() < 0.8 else None,
        )
        assert resp.status < 500 or resp.status == 501, (
            method,
            path,
            query,
            hdrs,
            resp.status,
            resp.body,
        )
        if resp.status >= 400 and method != "HEAD":
            assert b"<Error><Code>" in resp.body, (method, path, query, resp.body)
    assert server.alive()
    after = snapshot()
    # random PUTs under fz/ may have created objects; nothing else changed
    assert [v for v in after[0] if not v[0].startswith("fz/")] == before[0]
    assert after[2:] == before[2:]


SSEC = "x-amz-server-side-encryption-customer-"
GOOD_KEY = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="  # 32 bytes


@pytest.mark.parametrize(
    "headers",
    [
        {SSEC + "algorithm": "AES256"},
        {SSEC + "algorithm": "AES128", SSEC + "key": GOOD_KEY},
        {SSEC + "algorithm": "AES256", SSEC + "key": "!!not base64"},
        {SSEC + "algorithm": "AES256", SSEC + "key": "c2hvcnQ="},
        {SSEC + "algorithm": "AES256", SSEC + "key": GOOD_KEY, SSEC + "key-md5": "%%%"},
        {SSEC + "algorithm": "AES256", SSEC + "key": GOOD_KEY, SSEC + "key-md5": "AAAA"},
    ],
)
def test_bad_sse_c_headers(server, keys, state, headers):
    bkt, _, _ = state
    for method, path in (
        ("PUT", f"/{bkt}/ssec"),
        ("GET", f"/{bkt}/keep"),
        ("HEAD", f"/{bkt}/keep"),
    ):
        resp = raw_request(
            server.endpoint,
            method,
            path,
            headers=headers,
            body=b"x" if method == "PUT" else b"",
            key=keys["alice"],
        )
        assert resp.status == 400, (method, headers, resp.status, resp.body)
        if method != "HEAD":
            assert resp.code == "InvalidArgument", resp.body


def test_sse_c_and_sse_s3_together_refused_on_put(server, keys, state):
    bkt, _, _ = state
    headers = {
        SSEC + "algorithm": "AES256",
        SSEC + "key": GOOD_KEY,
        "x-amz-server-side-encryption": "AES256",
    }
    resp = raw_request(
        server.endpoint, "PUT", f"/{bkt}/both", headers=headers, body=b"x", key=keys["alice"]
    )
    assert (resp.status, resp.code) == (400, "InvalidArgument")


def _raw_exchange(endpoint: str, data: bytes) -> Raw:
    """Send ``data`` as is on a fresh connection (while reading) and parse the answer."""
    parts = urlsplit(endpoint)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sender = threading.Thread(target=_send_quietly, args=(sock, data))
        sender.start()
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        body = resp.read()
        sender.join()
        return Raw(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    # The server may answer and close before it has read a huge request.
    with contextlib.suppress(OSError):
        sock.sendall(data)


@pytest.mark.parametrize(
    "head",
    [
        # one header over S3's 8 KB, then far past hypercorn's own buffer
        b"GET /x HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 9000 + b"\r\nConnection: close\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * (100 << 10) + b"\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n",
        # many small headers adding up past 8 KB
        b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
        + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(400))
        + b"\r\n",
        # a request line of 1 MiB
        b"GET /" + b"k" * (1 << 20) + b" HTTP/1.1\r\nHost: h\r\n\r\n",
    ],
    ids=["9KiB", "100KiB", "1MiB", "400-headers", "1MiB-url"],
)
def test_oversized_headers(server, keys, state, head):
    bkt, _, snapshot = state
    before = snapshot()
    resp = _raw_exchange(server.endpoint, head)
    assert_s3_error(resp)
    assert (resp.status, resp.code) == (400, "RequestHeaderSectionTooLarge"), resp.body
    assert server.alive()
    assert snapshot() == before


def test_oversized_signed_headers(server, keys, state):
    """Signed requests: metadata over 2 KB and a header section over 8 KB, nothing stored."""
    bkt, _, snapshot = state
    before = snapshot()
    for meta, code in ((3000, "MetadataTooLarge"), (9000, "RequestHeaderSectionTooLarge")):
        resp = raw_request(
            server.endpoint,
            "PUT",
            f"/{bkt}/meta",
            headers={"x-amz-meta-big": "m" * meta},
            body=b"data",
            key=keys["alice"],
        )
        assert_s3_error(resp)
        assert (resp.status, resp.code) == (400, code), resp.body
    assert snapshot() == before


@pytest.mark.parametrize(
    "head",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nBad Header Name: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ],
    ids=["garbage", "bad-name", "transfer-encoding", "two-lengths", "websocket"],
)
def test_unparseable_http(server, head):
    resp = _raw_exchange(server.endpoint, head)
    assert_s3_error(resp, allow_501=True)
    assert server.alive()
