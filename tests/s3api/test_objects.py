"""Object operations over the HTTP API with boto3: data, metadata, ranges,
conditions, versions and delete markers, copies, digests and checksums."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import crc32c
import pytest
from botocore.exceptions import ClientError

from .support import raw_request


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    e = exc.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]


def test_put_get_head_delete_with_metadata(alice, bkt):
    body = bytes(range(256)) * 5000  # 1.2 MiB: more than one chunk
    put = alice.put_object(
        Bucket=bkt,
        Key="dir/a file+name.bin",
        Body=body,
        ContentType="application/x-test",
        Metadata={"colour": "blue", "Mixed-Case": "v"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = alice.get_object(Bucket=bkt, Key="dir/a file+name.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"colour": "blue", "mixed-case": "v"}
    assert got["ContentLength"] == len(body) and got["ServerSideEncryption"] == "AES256"
    head = alice.head_object(Bucket=bkt, Key="dir/a file+name.bin")
    assert head["ETag"] == put["ETag"] and head["ContentLength"] == len(body)
    alice.delete_object(Bucket=bkt, Key="dir/a file+name.bin")
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=bkt, Key="dir/a file+name.bin")
    assert error(exc) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as exc:
        alice.head_object(Bucket=bkt, Key="dir/a file+name.bin")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_posix_metadata_round_trips(alice, bkt):
    alice.put_object(
        Bucket=bkt,
        Key="f",
        Body=b"x",
        Metadata={"mode": "33188", "uid": "1000", "mtime": "1700000000.5"},
    )
    meta = alice.head_object(Bucket=bkt, Key="f")["Metadata"]
    assert meta == {"mode": "33188", "uid": "1000", "mtime": "1700000000.5"}


@pytest.mark.parametrize(
    ("spec", "want", "content_range"),
    [
        ("bytes=2-5", b"2345", "bytes 2-5/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
    ],
)
def test_ranges(alice, bkt, spec, want, content_range):
    alice.put_object(Bucket=bkt, Key="r", Body=b"0123456789")
    got = alice.get_object(Bucket=bkt, Key="r", Range=spec)
    assert got["Body"].read() == want and got["ContentRange"] == content_range
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206


@pytest.mark.parametrize("spec", ["bytes=10-", "bytes=20-30", "bytes=5-2", "bytes=-0"])
def test_unsatisfiable_range(alice, bkt, spec):
    alice.put_object(Bucket=bkt, Key="r", Body=b"0123456789")
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=bkt, Key="r", Range=spec)
    assert error(exc) == ("InvalidRange", 416)


def test_conditional_requests(alice, bkt):
    etag = alice.put_object(Bucket=bkt, Key="c", Body=b"v1")["ETag"]
    assert alice.get_object(Bucket=bkt, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=bkt, Key="c", IfMatch='"0000"')
    assert error(exc) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=bkt, Key="c", IfNoneMatch=etag)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    future = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=bkt, Key="c", IfModifiedSince=future)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    past = datetime.now(UTC) - timedelta(hours=1)
    with pytest.raises(ClientError) as exc:
        alice.head_object(Bucket=bkt, Key="c", IfUnmodifiedSince=past)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    # writes: If-None-Match: * refuses to overwrite; If-Match guards an update
    with pytest.raises(ClientError) as exc:
        alice.put_object(Bucket=bkt, Key="c", Body=b"v2", IfNoneMatch="*")
    assert error(exc) == ("PreconditionFailed", 412)
    alice.put_object(Bucket=bkt, Key="c", Body=b"v2", IfMatch=etag)
    assert alice.get_object(Bucket=bkt, Key="c")["Body"].read() == b"v2"


def test_versions_and_delete_markers(alice, vbkt):
    v1 = alice.put_object(Bucket=vbkt, Key="k", Body=b"one")["VersionId"]
    v2 = alice.put_object(Bucket=vbkt, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and v1 != "null"
    got = alice.get_object(Bucket=vbkt, Key="k", VersionId=v1)
    assert got["Body"].read() == b"one" and got["VersionId"] == v1
    deleted = alice.delete_object(Bucket=vbkt, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=vbkt, Key="k")
    assert error(exc) == ("NoSuchKey", 404)
    assert exc.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=vbkt, Key="k", VersionId=marker)
    assert error(exc) == ("MethodNotAllowed", 405)
    listed = alice.list_object_versions(Bucket=vbkt)
    assert [v["VersionId"] for v in listed["Versions"]] == [v2, v1]
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == [marker]
    assert listed["DeleteMarkers"][0]["IsLatest"] is True
    alice.delete_object(Bucket=vbkt, Key="k", VersionId=marker)  # undelete
    assert alice.get_object(Bucket=vbkt, Key="k")["Body"].read() == b"two"
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=vbkt, Key="k", VersionId="nope")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404)


def test_copy_object_copy_and_replace(alice, vbkt, bkt):
    v1 = alice.put_object(Bucket=vbkt, Key="src", Body=b"first", Metadata={"a": "1"})["VersionId"]
    alice.put_object(Bucket=vbkt, Key="src", Body=b"second", Metadata={"a": "2"})
    alice.copy_object(Bucket=bkt, Key="dst", CopySource={"Bucket": vbkt, "Key": "src"})
    got = alice.get_object(Bucket=bkt, Key="dst")
    assert got["Body"].read() == b"second" and got["Metadata"] == {"a": "2"}
    out = alice.copy_object(
        Bucket=bkt,
        Key="old",
        CopySource={"Bucket": vbkt, "Key": "src", "VersionId": v1},
        MetadataDirective="REPLACE",
        Metadata={"b": "new"},
        ContentType="text/plain",
    )
    assert out["CopySourceVersionId"] == v1
    got = alice.get_object(Bucket=bkt, Key="old")
    assert got["Body"].read() == b"first" and got["Metadata"] == {"b": "new"}
    assert got["ContentType"] == "text/plain"
    with pytest.raises(ClientError) as exc:
        alice.copy_object(
            Bucket=bkt, Key="x", CopySource={"Bucket": vbkt, "Key": "src"}, CopySourceIfMatch='"00"'
        )
    assert error(exc) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:
        alice.copy_object(Bucket=bkt, Key="x", CopySource={"Bucket": vbkt, "Key": "missing"})
    assert error(exc) == ("NoSuchKey", 404)


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_checksums_verified_and_returned(alice, bkt, algorithm):
    if algorithm == "CRC32C":  # botocore computes CRC32C only with awscrt: give the value
        value = base64.b64encode(crc32c.crc32c(b"checked data").to_bytes(4, "big")).decode()
        put = alice.put_object(Bucket=bkt, Key="sum", Body=b"checked data", ChecksumCRC32C=value)
        assert put["ChecksumCRC32C"] == value
    else:
        put = alice.put_object(
            Bucket=bkt, Key="sum", Body=b"checked data", ChecksumAlgorithm=algorithm
        )
        assert put[f"Checksum{algorithm}"]
    wrong = {
        "CRC32": "AAAAAA==",
        "CRC32C": "AAAAAA==",
        "SHA1": base64.b64encode(bytes(20)).decode(),
        "SHA256": base64.b64encode(bytes(32)).decode(),
    }[algorithm]
    with pytest.raises(ClientError) as exc:
        alice.put_object(
            Bucket=bkt, Key="bad", Body=b"checked data", **{f"Checksum{algorithm}": wrong}
        )
    assert error(exc) == ("BadDigest", 400)
    with pytest.raises(ClientError):
        alice.head_object(Bucket=bkt, Key="bad")  # nothing was committed


def test_content_md5(server, keys, bkt, alice):
    body = b"md5 checked"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    resp = raw_request(
        server.endpoint,
        "PUT",
        f"/{bkt}/m",
        body=body,
        key=keys["alice"],
        headers={"content-md5": good},
    )
    assert resp.status == 200
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    resp = raw_request(
        server.endpoint,
        "PUT",
        f"/{bkt}/m2",
        body=body,
        key=keys["alice"],
        headers={"content-md5": bad},
    )
    assert (resp.status, resp.code) == (400, "BadDigest")
    resp = raw_request(
        server.endpoint,
        "PUT",
        f"/{bkt}/m2",
        body=body,
        key=keys["alice"],
        headers={"content-md5": "not base64!"},
    )
    assert (resp.status, resp.code) == (400, "InvalidDigest")
    assert "Contents" in alice.list_objects_v2(Bucket=bkt)
    assert [o["Key"] for o in alice.list_objects_v2(Bucket=bkt)["Contents"]] == ["m"]


def test_signed_payload_hash_mismatch(server, keys, bkt, alice):
    resp = raw_request(
        server.endpoint,
        "PUT",
        f"/{bkt}/h",
        body=b"real body",
        key=keys["alice"],
        payload_hash=hashlib.sha256(b"another body").hexdigest(),
    )
    assert (resp.status, resp.code) == (400, "XAmzContentSHA256Mismatch")
    assert alice.list_objects_v2(Bucket=bkt)["KeyCount"] == 0


def test_delete_objects(alice, vbkt):
    for k in ("a", "b", "c"):
        alice.put_object(Bucket=vbkt, Key=k, Body=k.encode())
    v = alice.put_object(Bucket=vbkt, Key="d", Body=b"d")["VersionId"]
    out = alice.delete_objects(
        Bucket=vbkt,
        Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "d", "VersionId": v}]},
    )
    deleted = {d["Key"]: d for d in out["Deleted"]}
    assert deleted["a"]["DeleteMarker"] is True and deleted["a"]["DeleteMarkerVersionId"]
    assert deleted["d"]["VersionId"] == v
    assert [o["Key"] for o in alice.list_objects_v2(Bucket=vbkt)["Contents"]] == ["c"]
    quiet = alice.delete_objects(Bucket=vbkt, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet


def test_delete_objects_reports_denied_keys(alice, bob, bkt):
    alice.put_object(Bucket=bkt, Key="mine", Body=b"x")
    out = bob.delete_objects(Bucket=bkt, Delete={"Objects": [{"Key": "mine"}]})
    assert out["Errors"][0]["Code"] == "AccessDenied"
    assert alice.get_object(Bucket=bkt, Key="mine")["Body"].read() == b"x"


def test_list_objects_v1_v2_paging_and_delimiter(alice, bkt):
    keys = ["a/1", "a/2", "b/1", "c", "d e+f"]
    for k in keys:
        alice.put_object(Bucket=bkt, Key=k, Body=b"x")
    top = alice.list_objects_v2(Bucket=bkt, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "b/"]
    assert [o["Key"] for o in top["Contents"]] == ["c", "d e+f"]
    seen, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        page = alice.list_objects_v2(Bucket=bkt, MaxKeys=2, **kw)
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == keys
    v1 = alice.list_objects(Bucket=bkt, Prefix="a/", MaxKeys=1)
    assert [o["Key"] for o in v1["Contents"]] == ["a/1"] and v1["IsTruncated"]
    v1 = alice.list_objects(Bucket=bkt, Prefix="a/", Marker="a/1")
    assert [o["Key"] for o in v1["Contents"]] == ["a/2"] and not v1["IsTruncated"]
    assert alice.list_objects_v2(Bucket=bkt, StartAfter="c")["Contents"][0]["Key"] == "d e+f"
    pager = alice.get_paginator("list_objects").paginate(
        Bucket=bkt, PaginationConfig={"PageSize": 2}
    )
    assert [o["Key"] for page in pager for o in page["Contents"]] == keys


def test_object_acl(alice, anon, bkt):
    alice.put_object(Bucket=bkt, Key="pub", Body=b"hello")
    with pytest.raises(ClientError) as exc:
        anon.get_object(Bucket=bkt, Key="pub")
    assert error(exc) == ("AccessDenied", 403)
    alice.put_object_acl(Bucket=bkt, Key="pub", ACL="public-read")
    grants = alice.get_object_acl(Bucket=bkt, Key="pub")["Grants"]
    assert {g["Permission"] for g in grants} == {"FULL_CONTROL", "READ"}
    assert anon.get_object(Bucket=bkt, Key="pub")["Body"].read() == b"hello"
    with pytest.raises(ClientError):
        anon.put_object(Bucket=bkt, Key="pub", Body=b"vandal")


def test_concurrent_deletes_of_the_same_versions_all_succeed(alice, vbkt):
    """Two DeleteObjects of the same versions: S3 reports every version Deleted to
    both (a version already gone is deleted), and DeleteObject says 204 again."""
    for body in (b"1", b"2"):
        alice.put_object(Bucket=vbkt, Key="k", Body=body)
    versions = alice.list_object_versions(Bucket=vbkt)["Versions"]
    objects = {"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]}
    for _ in range(2):
        out = alice.delete_objects(Bucket=vbkt, Delete=objects)
        assert len(out["Deleted"]) == 2 and "Errors" not in out
    again = alice.delete_object(Bucket=vbkt, Key="k", VersionId=versions[0]["VersionId"])
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "Versions" not in alice.list_object_versions(Bucket=vbkt)
