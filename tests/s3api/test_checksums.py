"""Additional checksums kept with the object: returned on GET/HEAD with
``x-amz-checksum-mode: ENABLED``; multipart uploads keep their algorithm,
each part's checksum and the object's (COMPOSITE or FULL_OBJECT); CRC64NVME.
"""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError

MiB = 1 << 20


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def sha256(data: bytes) -> str:
    return b64(hashlib.sha256(data).digest())


def crc64(data: bytes) -> str:
    return b64(crt.crc64nvme(data).to_bytes(8, "big"))


def crc32(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


@pytest.mark.parametrize(
    ("algorithm", "digest"), [("SHA256", sha256), ("CRC64NVME", crc64), ("CRC32", crc32)]
)
def test_put_keeps_its_checksum(alice, bkt, algorithm, digest):
    body = b"A" * 1024
    arg = f"Checksum{algorithm}"
    put = alice.put_object(
        Bucket=bkt, Key="k", Body=body, ChecksumAlgorithm=algorithm, **{arg: digest(body)}
    )
    assert put[arg] == digest(body)
    assert arg not in alice.head_object(Bucket=bkt, Key="k")
    head = alice.head_object(Bucket=bkt, Key="k", ChecksumMode="ENABLED")
    assert head[arg] == digest(body) and head["ChecksumType"] == "FULL_OBJECT"
    got = alice.get_object(Bucket=bkt, Key="k", ChecksumMode="ENABLED")
    assert got[arg] == digest(body)
    with pytest.raises(ClientError) as exc:
        alice.put_object(
            Bucket=bkt, Key="k", Body=body, ChecksumAlgorithm=algorithm, **{arg: "bad"}
        )
    assert exc.value.response["Error"]["Code"] == "BadDigest"


def _upload(alice, bkt, algorithm, kind, bodies, digest):  # type: ignore[no-untyped-def]
    arg = f"Checksum{algorithm}"
    created = alice.create_multipart_upload(
        Bucket=bkt, Key="mp", ChecksumAlgorithm=algorithm, ChecksumType=kind
    )
    assert created["ChecksumAlgorithm"] == algorithm and created["ChecksumType"] == kind
    parts = []
    for n, body in enumerate(bodies, 1):
        part = alice.upload_part(
            Bucket=bkt,
            Key="mp",
            UploadId=created["UploadId"],
            PartNumber=n,
            Body=body,
            ChecksumAlgorithm=algorithm,
            **{arg: digest(body)},
        )
        assert part[arg] == digest(body)
        parts.append({"PartNumber": n, "ETag": part["ETag"], arg: part[arg]})
    listed = alice.list_parts(Bucket=bkt, Key="mp", UploadId=created["UploadId"])
    assert [p[arg] for p in listed["Parts"]] == [digest(b) for b in bodies]
    return created["UploadId"], parts


def test_multipart_composite_sha256(alice, bkt):
    bodies = [b"A" * (5 * MiB), b"B" * 1000]
    upload_id, parts = _upload(alice, bkt, "SHA256", "COMPOSITE", bodies, sha256)
    joined = b"".join(hashlib.sha256(b).digest() for b in bodies)
    want = f"{b64(hashlib.sha256(joined).digest())}-2"
    with pytest.raises(ClientError) as exc:
        alice.complete_multipart_upload(
            Bucket=bkt,
            Key="mp",
            UploadId=upload_id,
            ChecksumSHA256="bad",
            MultipartUpload={"Parts": parts},
        )
    assert exc.value.response["Error"]["Code"] == "BadDigest"
    done = alice.complete_multipart_upload(
        Bucket=bkt,
        Key="mp",
        UploadId=upload_id,
        ChecksumSHA256=want,
        MultipartUpload={"Parts": parts},
    )
    assert done["ChecksumSHA256"] == want and done["ChecksumType"] == "COMPOSITE"
    head = alice.head_object(Bucket=bkt, Key="mp", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == want and head["ChecksumType"] == "COMPOSITE"


@pytest.mark.parametrize(("algorithm", "digest"), [("CRC64NVME", crc64), ("CRC32", crc32)])
def test_multipart_full_object_crc(alice, bkt, algorithm, digest):
    bodies = [b"A" * (5 * MiB), b"B" * (5 * MiB), b"C" * 777]
    upload_id, parts = _upload(alice, bkt, algorithm, "FULL_OBJECT", bodies, digest)
    done = alice.complete_multipart_upload(
        Bucket=bkt, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    whole = digest(b"".join(bodies))
    assert done[f"Checksum{algorithm}"] == whole and done["ChecksumType"] == "FULL_OBJECT"
    head = alice.head_object(Bucket=bkt, Key="mp", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == whole
    for n, body in enumerate(bodies, 1):  # each part's own, with ?partNumber=N
        got = alice.get_object(Bucket=bkt, Key="mp", PartNumber=n, ChecksumMode="ENABLED")
        assert got[f"Checksum{algorithm}"] == digest(body) and got["ChecksumType"] == "FULL_OBJECT"
        assert got["Body"].read() == body


def test_sha_cannot_be_full_object(alice, bkt):
    with pytest.raises(ClientError) as exc:
        alice.create_multipart_upload(
            Bucket=bkt, Key="mp", ChecksumAlgorithm="SHA256", ChecksumType="FULL_OBJECT"
        )
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_copied_part_gets_the_uploads_checksum(alice, bkt):
    src = b"S" * (5 * MiB)
    alice.put_object(Bucket=bkt, Key="src", Body=src)
    upload_id = alice.create_multipart_upload(Bucket=bkt, Key="mp", ChecksumAlgorithm="SHA256")[
        "UploadId"
    ]
    copied = alice.upload_part_copy(
        Bucket=bkt,
        Key="mp",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bkt, "Key": "src"},
    )["CopyPartResult"]
    assert copied["ChecksumSHA256"] == sha256(src)
    tail = alice.upload_part(
        Bucket=bkt,
        Key="mp",
        UploadId=upload_id,
        PartNumber=2,
        Body=b"t",
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=sha256(b"t"),
    )
    done = alice.complete_multipart_upload(
        Bucket=bkt,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": copied["ETag"]},
                {"PartNumber": 2, "ETag": tail["ETag"]},
            ]
        },
    )
    joined = hashlib.sha256(src).digest() + hashlib.sha256(b"t").digest()
    assert done["ChecksumSHA256"] == f"{b64(hashlib.sha256(joined).digest())}-2"
