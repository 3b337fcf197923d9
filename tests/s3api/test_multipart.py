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


def test_list_multipart_uploads_paginated(alice, bkt):
    keys = ["a", "b/1", "b/2", "c", "c", "c", "d/x/1", "e", "sp ace/\u00e9"]
    made = [(k, alice.create_multipart_upload(Bucket=bkt, Key=k)["UploadId"]) for k in keys]
    paginator = alice.get_paginator("list_multipart_uploads")
    for size in (1, 2, 4, 100):
        pages = list(paginator.paginate(Bucket=bkt, PaginationConfig={"PageSize": size}))
        got = [(u["Key"], u["UploadId"]) for p in pages for u in p.get("Uploads", [])]
        assert got == made, size
        assert len(pages) == max(1, -(-len(made) // size))
        assert all(p["IsTruncated"] for p in pages[:-1]) and not pages[-1]["IsTruncated"]
    page = alice.list_multipart_uploads(Bucket=bkt, MaxUploads=4)
    assert page["IsTruncated"] and page["MaxUploads"] == 4
    assert (page["NextKeyMarker"], page["NextUploadIdMarker"]) == made[3]
    rest = alice.list_multipart_uploads(
        Bucket=bkt, KeyMarker=made[3][0], UploadIdMarker=made[3][1], MaxUploads=2
    )
    assert [(u["Key"], u["UploadId"]) for u in rest["Uploads"]] == made[4:6]
    assert rest["KeyMarker"] == "c" and rest["UploadIdMarker"] == made[3][1]
    # delimiter and prefix: common prefixes count toward a page
    for size in (1, 3, 100):
        pages = list(
            paginator.paginate(Bucket=bkt, Delimiter="/", PaginationConfig={"PageSize": size})
        )
        prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
        uploads = [u["Key"] for p in pages for u in p.get("Uploads", [])]
        assert prefixes == ["b/", "d/", "sp ace/"] and uploads == ["a", "c", "c", "c", "e"]
    under = alice.list_multipart_uploads(Bucket=bkt, Prefix="d/", Delimiter="/")
    assert [c["Prefix"] for c in under["CommonPrefixes"]] == ["d/x/"] and "Uploads" not in under
    assert under["Prefix"] == "d/" and under["Delimiter"] == "/"
    only = alice.list_multipart_uploads(Bucket=bkt, Prefix="sp ace/")
    assert [u["Key"] for u in only["Uploads"]] == ["sp ace/\u00e9"]


def test_list_parts_paginated(alice, bkt):
    uid = alice.create_multipart_upload(Bucket=bkt, Key="parts")["UploadId"]
    numbers = [1, 2, 5, 9, 10, 11, 300]
    etags = {
        n: alice.upload_part(Bucket=bkt, Key="parts", UploadId=uid, PartNumber=n, Body=b"p%d" % n)[
            "ETag"
        ]
        for n in numbers
    }
    paginator = alice.get_paginator("list_parts")
    for size in (1, 3, 1000):
        pages = list(
            paginator.paginate(
                Bucket=bkt, Key="parts", UploadId=uid, PaginationConfig={"PageSize": size}
            )
        )
        got = [(p["PartNumber"], p["ETag"]) for page in pages for p in page.get("Parts", [])]
        assert got == [(n, etags[n]) for n in numbers]
        assert len(pages) == -(-len(numbers) // size)
    page = alice.list_parts(Bucket=bkt, Key="parts", UploadId=uid, MaxParts=2, PartNumberMarker=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [5, 9]
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 9
    assert page["PartNumberMarker"] == 2 and page["MaxParts"] == 2
    last = alice.list_parts(Bucket=bkt, Key="parts", UploadId=uid, PartNumberMarker=11)
    assert [p["PartNumber"] for p in last["Parts"]] == [300] and not last["IsTruncated"]
