"""Multipart uploads over the HTTP API with boto3, UploadPartCopy included."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from botocore.exceptions import ClientError

MiB = 1 << 20


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    e = exc.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]


def s3_etag(parts: list[bytes]) -> str:
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(joined).hexdigest()}-{len(parts)}"'


def test_multipart_upload_list_complete(alice, bkt):
    parts = [os.urandom(5 * MiB), os.urandom(1234)]
    up = alice.create_multipart_upload(
        Bucket=bkt, Key="big", ContentType="video/mp4", Metadata={"m": "1"}
    )
    uid = up["UploadId"]
    listed = alice.list_multipart_uploads(Bucket=bkt)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [("big", uid)]
    etags = [
        alice.upload_part(Bucket=bkt, Key="big", UploadId=uid, PartNumber=n, Body=p)["ETag"]
        for n, p in enumerate(parts, start=1)
    ]
    got = alice.list_parts(Bucket=bkt, Key="big", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in got] == [
        (1, etags[0], 5 * MiB),
        (2, etags[1], 1234),
    ]
    with pytest.raises(ClientError):  # invisible until completed
        alice.head_object(Bucket=bkt, Key="big")
    done = alice.complete_multipart_upload(
        Bucket=bkt,
        Key="big",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    assert done["ETag"] == s3_etag(parts)
    obj = alice.get_object(Bucket=bkt, Key="big", Range=f"bytes={5 * MiB - 2}-{5 * MiB + 1}")
    assert obj["Body"].read() == (parts[0] + parts[1])[5 * MiB - 2 : 5 * MiB + 2]
    assert obj["ContentType"] == "video/mp4" and obj["Metadata"] == {"m": "1"}
    assert "Uploads" not in alice.list_multipart_uploads(Bucket=bkt)


def test_multipart_errors_and_abort(alice, bkt):
    uid = alice.create_multipart_upload(Bucket=bkt, Key="k")["UploadId"]
    e1 = alice.upload_part(Bucket=bkt, Key="k", UploadId=uid, PartNumber=1, Body=b"small")["ETag"]
    e2 = alice.upload_part(Bucket=bkt, Key="k", UploadId=uid, PartNumber=2, Body=b"tail")["ETag"]
    with pytest.raises(ClientError) as exc:
        alice.complete_multipart_upload(
            Bucket=bkt,
            Key="k",
            UploadId=uid,
            MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]
            },
        )
    assert error(exc) == ("EntityTooSmall", 400)
    with pytest.raises(ClientError) as exc:
        alice.complete_multipart_upload(
            Bucket=bkt,
            Key="k",
            UploadId=uid,
            MultipartUpload={
                "Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]
            },
        )
    assert error(exc) == ("InvalidPartOrder", 400)
    with pytest.raises(ClientError) as exc:
        alice.complete_multipart_upload(
            Bucket=bkt,
            Key="k",
            UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0123"'}]},
        )
    assert error(exc) == ("InvalidPart", 400)
    alice.abort_multipart_upload(Bucket=bkt, Key="k", UploadId=uid)
    with pytest.raises(ClientError) as exc:
        alice.list_parts(Bucket=bkt, Key="k", UploadId=uid)
    assert error(exc) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as exc:
        alice.upload_part(Bucket=bkt, Key="k", UploadId=uid, PartNumber=1, Body=b"x")
    assert error(exc) == ("NoSuchUpload", 404)


def test_upload_part_copy_with_ranges(alice, bkt):
    src = os.urandom(6 * MiB + 100)
    alice.put_object(Bucket=bkt, Key="src", Body=src)
    uid = alice.create_multipart_upload(Bucket=bkt, Key="composed")["UploadId"]
    p1 = alice.upload_part_copy(
        Bucket=bkt,
        Key="composed",
        UploadId=uid,
        PartNumber=1,
        CopySource={"Bucket": bkt, "Key": "src"},
        CopySourceRange=f"bytes=0-{5 * MiB - 1}",
    )["CopyPartResult"]["ETag"]
    p2 = alice.upload_part_copy(
        Bucket=bkt,
        Key="composed",
        UploadId=uid,
        PartNumber=2,
        CopySource={"Bucket": bkt, "Key": "src"},
    )["CopyPartResult"]["ETag"]
    p3 = alice.upload_part(Bucket=bkt, Key="composed", UploadId=uid, PartNumber=3, Body=b"end")[
        "ETag"
    ]
    with pytest.raises(ClientError) as exc:
        alice.upload_part_copy(
            Bucket=bkt,
            Key="composed",
            UploadId=uid,
            PartNumber=4,
            CopySource={"Bucket": bkt, "Key": "src"},
            CopySourceRange=f"bytes=0-{len(src)}",
        )
    assert error(exc) == ("InvalidRange", 416)
    alice.complete_multipart_upload(
        Bucket=bkt,
        Key="composed",
        UploadId=uid,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": p1},
                {"PartNumber": 2, "ETag": p2},
                {"PartNumber": 3, "ETag": p3},
            ]
        },
    )
    want = src[: 5 * MiB] + src + b"end"
    got = alice.get_object(Bucket=bkt, Key="composed")["Body"].read()
    assert len(got) == len(want) and got == want
    tail = alice.get_object(Bucket=bkt, Key="composed", Range="bytes=-10")["Body"].read()
    assert tail == want[-10:]


def test_boto3_managed_transfer_uses_multipart(alice, bkt):
    from boto3.s3.transfer import TransferConfig

    data = os.urandom(11 * MiB)
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    alice.upload_fileobj(io.BytesIO(data), bkt, "managed", Config=cfg)
    assert alice.head_object(Bucket=bkt, Key="managed")["ETag"].endswith('-3"')
    out = io.BytesIO()
    alice.download_fileobj(bkt, "managed", out, Config=cfg)
    assert out.getvalue() == data
