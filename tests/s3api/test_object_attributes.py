"""GetObjectAttributes: ETag, Checksum, ObjectParts (paged), StorageClass,
ObjectSize of a single PUT, a versioned object and a multipart object."""

from __future__ import annotations

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError

ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
MiB = 1 << 20


def test_attributes_of_a_put(alice, vbkt):
    body = b"abc"
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    put = alice.put_object(
        Bucket=vbkt, Key="k", Body=body, ChecksumAlgorithm="SHA256", ChecksumSHA256=sha
    )
    got = alice.get_object_attributes(Bucket=vbkt, Key="k", ObjectAttributes=ALL)
    assert got["ETag"] == put["ETag"].strip('"') and got["ObjectSize"] == 3
    assert got["StorageClass"] == "STANDARD" and "ObjectParts" not in got
    assert got["Checksum"]["ChecksumSHA256"] == sha
    assert got["VersionId"] == put["VersionId"] and "DeleteMarker" not in got
    alice.put_object(Bucket=vbkt, Key="k", Body=b"newer")
    old = alice.get_object_attributes(
        Bucket=vbkt, Key="k", VersionId=put["VersionId"], ObjectAttributes=["ObjectSize"]
    )
    assert old["ObjectSize"] == 3 and "ETag" not in old


def test_attributes_of_a_multipart_object_page_its_parts(alice, bkt):
    upload_id = alice.create_multipart_upload(Bucket=bkt, Key="mp", ChecksumAlgorithm="SHA256")[
        "UploadId"
    ]
    bodies = [bytes([65 + i]) * (5 * MiB) for i in range(3)] + [b"tail"]
    parts, sums = [], []
    for n, body in enumerate(bodies, 1):
        sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
        part = alice.upload_part(
            Bucket=bkt,
            Key="mp",
            UploadId=upload_id,
            PartNumber=n,
            Body=body,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=sha,
        )
        parts.append({"PartNumber": n, "ETag": part["ETag"], "ChecksumSHA256": sha})
        sums.append(sha)
    done = alice.complete_multipart_upload(
        Bucket=bkt, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    got = alice.get_object_attributes(Bucket=bkt, Key="mp", ObjectAttributes=ALL)
    assert got["ObjectSize"] == 15 * MiB + 4 and got["ETag"] == done["ETag"].strip('"')
    assert got["Checksum"]["ChecksumSHA256"] == done["ChecksumSHA256"]
    assert got["Checksum"]["ChecksumType"] == "COMPOSITE"
    listed = got["ObjectParts"]
    assert listed["TotalPartsCount"] == 4 and listed["IsTruncated"] is False
    assert [p["Size"] for p in listed["Parts"]] == [len(b) for b in bodies]
    assert [p["ChecksumSHA256"] for p in listed["Parts"]] == sums
    page = alice.get_object_attributes(
        Bucket=bkt, Key="mp", ObjectAttributes=ALL, MaxParts=1, PartNumberMarker=2
    )["ObjectParts"]
    assert page["IsTruncated"] is True and page["NextPartNumberMarker"] == 3
    assert [p["PartNumber"] for p in page["Parts"]] == [3]


def test_attributes_of_a_missing_key(alice, bkt):
    with pytest.raises(ClientError) as exc:
        alice.get_object_attributes(Bucket=bkt, Key="none", ObjectAttributes=ALL)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
