"""Multipart uploads as S3 answers them: a repeated Complete, conditional
Complete, ListMultipartUploads' Initiator, a copy range
it cannot read, GET/HEAD ?partNumber=N."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from botocore.exceptions import ClientError

MiB = 1 << 20


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    e = exc.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"]


def _upload(client, bkt, key, bodies):  # type: ignore[no-untyped-def]
    upload_id = client.create_multipart_upload(Bucket=bkt, Key=key)["UploadId"]
    parts = []
    for n, body in enumerate(bodies, 1):
        etag = client.upload_part(Bucket=bkt, Key=key, UploadId=upload_id, PartNumber=n, Body=body)[
            "ETag"
        ]
        parts.append({"PartNumber": n, "ETag": etag})
    return upload_id, parts


def _complete(client, bkt, key, upload_id, parts, **kw):  # type: ignore[no-untyped-def]
    return client.complete_multipart_upload(
        Bucket=bkt, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **kw
    )


def test_a_repeated_complete_answers_the_same(alice, bkt):
    upload_id, parts = _upload(alice, bkt, "k", [b"a" * (5 * MiB), b"b"])
    first = _complete(alice, bkt, "k", upload_id, parts)
    again = _complete(alice, bkt, "k", upload_id, parts)
    assert again["ETag"] == first["ETag"]
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    alice.put_object(Bucket=bkt, Key="k", Body=b"newer")  # no longer its result
    with pytest.raises(ClientError) as exc:
        _complete(alice, bkt, "k", upload_id, parts)
    assert error(exc) == (404, "NoSuchUpload")


def test_complete_honours_if_match_and_if_none_match(alice, bkt):
    upload_id, parts = _upload(alice, bkt, "k", [b"x"])
    with pytest.raises(ClientError) as exc:
        _complete(alice, bkt, "k", upload_id, parts, IfMatch="*")
    assert error(exc) == (404, "NoSuchKey")
    etag = _complete(alice, bkt, "k", upload_id, parts, IfNoneMatch="*")["ETag"]
    upload_id, parts = _upload(alice, bkt, "k", [b"y"])
    with pytest.raises(ClientError) as exc:
        _complete(alice, bkt, "k", upload_id, parts, IfNoneMatch="*")
    assert error(exc) == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as exc:
        _complete(alice, bkt, "k", upload_id, parts, IfMatch='"0123"')
    assert error(exc) == (412, "PreconditionFailed")
    _complete(alice, bkt, "k", upload_id, parts, IfMatch=etag)
    assert alice.get_object(Bucket=bkt, Key="k")["Body"].read() == b"y"


def test_list_uploads_names_the_initiator(alice, bkt, keys):
    upload_id = alice.create_multipart_upload(Bucket=bkt, Key="k")["UploadId"]
    (upload,) = alice.list_multipart_uploads(Bucket=bkt)["Uploads"]
    assert upload["UploadId"] == upload_id
    assert upload["Initiator"]["DisplayName"] == "alice"
    assert len(upload["Initiator"]["ID"]) == 64 and upload["Owner"] == upload["Initiator"]


@pytest.mark.parametrize("text", ["bytes=0", "bytes=hello-world", "bytes=0-2,3-5"])
def test_an_unreadable_copy_range_is_400(alice, bkt, text):
    alice.put_object(Bucket=bkt, Key="src", Body=b"0123456789")
    upload_id = alice.create_multipart_upload(Bucket=bkt, Key="k")["UploadId"]
    with pytest.raises(ClientError) as exc:
        alice.upload_part_copy(
            Bucket=bkt,
            Key="k",
            UploadId=upload_id,
            PartNumber=1,
            CopySource={"Bucket": bkt, "Key": "src"},
            CopySourceRange=text,
        )
    assert error(exc) == (400, "InvalidArgument")


def test_get_and_head_part_number(alice, bkt):
    bodies = [b"a" * (5 * MiB), b"b" * (5 * MiB), b"c" * 100]
    upload_id, parts = _upload(alice, bkt, "k", bodies)
    with pytest.raises(ClientError) as exc:  # not completed: no object yet
        alice.get_object(Bucket=bkt, Key="k", PartNumber=1)
    assert error(exc) == (404, "NoSuchKey")
    done = _complete(alice, bkt, "k", upload_id, parts)
    for n, body in enumerate(bodies, 1):
        head = alice.head_object(Bucket=bkt, Key="k", PartNumber=n)
        assert head["PartsCount"] == 3 and head["ETag"] == done["ETag"]
        assert head["ContentLength"] == len(body)
        got = alice.get_object(Bucket=bkt, Key="k", PartNumber=n)
        assert got["PartsCount"] == 3 and got["ContentLength"] == len(body)
        assert got["Body"].read() == body
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=bkt, Key="k", PartNumber=4)
    assert error(exc) == (400, "InvalidPart")


def test_part_number_of_a_single_put(alice, bkt):
    alice.put_object(Bucket=bkt, Key="k", Body=b"body")
    got = alice.get_object(Bucket=bkt, Key="k", PartNumber=1)
    assert got["Body"].read() == b"body" and "PartsCount" not in got
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=bkt, Key="k", PartNumber=2)
    assert error(exc) == (400, "InvalidPart")


def test_a_missing_part_of_an_sse_c_object_is_invalid_part_without_its_key(alice, bkt):
    key = os.urandom(32)
    ssec = {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(key).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }
    alice.put_object(Bucket=bkt, Key="k", Body=b"secret", **ssec)
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=bkt, Key="k", PartNumber=5)
    assert error(exc) == (400, "InvalidPart")
    got = alice.get_object(Bucket=bkt, Key="k", PartNumber=1, **ssec)
    assert got["Body"].read() == b"secret"
