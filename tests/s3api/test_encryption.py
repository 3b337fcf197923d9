"""Server-side encryption over the HTTP API, as S3 answers it.

Every write (PutObject, CopyObject, UploadPart, UploadPartCopy,
CompleteMultipartUpload) names the encryption the store applied, also when
it came from the bucket's default; requests S3 refuses are refused the same way.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from objfs.store import OWNER, Store

from .conftest import make_users
from .support import Server

KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()
KEY_MD5 = base64.b64encode(hashlib.md5(KEY).digest()).decode()
SSEC = {
    "SSECustomerAlgorithm": "AES256",
    "SSECustomerKey": KEY_B64,
    "SSECustomerKeyMD5": KEY_MD5,
}
PART = 5 << 20


@pytest.fixture(scope="module")
def s3env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """As conftest's, plus a KMS key the users may use."""
    root = tmp_path_factory.mktemp("s3enc")
    store = root / "store"
    Store.init(store).close()
    keys = make_users(store, "alice", "bob")
    with Store.open(store) as s:
        kms_key = s.kms_create_key(OWNER, description="test").key_id
    server = Server(store, log=root / "serve.log")
    try:
        yield {"server": server, "keys": keys, "store": store, "root": root, "kms": kms_key}
    finally:
        code = server.stop()
        assert code == 0, server.stderr()


@pytest.fixture(scope="module")
def kms_key(s3env: dict) -> str:
    return s3env["kms"]


def _hdrs(response: dict) -> dict[str, str]:
    return response["ResponseMetadata"]["HTTPHeaders"]


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def _kms_default(alice, bkt: str, kms_key: str) -> None:  # type: ignore[no-untyped-def]
    alice.put_bucket_encryption(
        Bucket=bkt,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": kms_key,
                    }
                }
            ]
        },
    )


# -- the answer of a write names the encryption applied ---------------------------


def test_put_names_the_default_encryption(alice, bkt: str) -> None:  # type: ignore[no-untyped-def]
    """No SSE header on the request: the store default (SSE-S3) is named."""
    put = alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    assert put["ServerSideEncryption"] == "AES256"


def test_put_names_the_bucket_kms_default(alice, bkt: str, kms_key: str) -> None:  # type: ignore[no-untyped-def]
    _kms_default(alice, bkt, kms_key)
    put = alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"] == kms_key
    got = alice.get_object(Bucket=bkt, Key="k")
    assert got["SSEKMSKeyId"] == put["SSEKMSKeyId"]


def test_copy_names_the_encryption(alice, bkt: str, kms_key: str) -> None:  # type: ignore[no-untyped-def]
    alice.put_object(Bucket=bkt, Key="src", Body=b"x")
    copied = alice.copy_object(Bucket=bkt, Key="dst", CopySource=f"{bkt}/src")
    assert copied["ServerSideEncryption"] == "AES256"
    _kms_default(alice, bkt, kms_key)
    copied = alice.copy_object(Bucket=bkt, Key="dst2", CopySource=f"{bkt}/src")
    assert copied["ServerSideEncryption"] == "aws:kms" and copied["SSEKMSKeyId"] == kms_key
    copied = alice.copy_object(Bucket=bkt, Key="dst3", CopySource=f"{bkt}/src", **SSEC)
    assert copied["SSECustomerAlgorithm"] == "AES256"
    assert copied["SSECustomerKeyMD5"] == KEY_MD5
    assert "ServerSideEncryption" not in copied


def test_multipart_names_the_default_encryption(alice, bkt: str, kms_key: str) -> None:  # type: ignore[no-untyped-def]
    _kms_default(alice, bkt, kms_key)
    alice.put_object(Bucket=bkt, Key="src", Body=b"s" * PART)
    upload = alice.create_multipart_upload(Bucket=bkt, Key="mp")["UploadId"]
    part = alice.upload_part(Bucket=bkt, Key="mp", UploadId=upload, PartNumber=1, Body=b"a" * PART)
    assert part["ServerSideEncryption"] == "aws:kms" and part["SSEKMSKeyId"] == kms_key
    copied = alice.upload_part_copy(
        Bucket=bkt, Key="mp", UploadId=upload, PartNumber=2, CopySource=f"{bkt}/src"
    )
    assert copied["ServerSideEncryption"] == "aws:kms" and copied["SSEKMSKeyId"] == kms_key
    done = alice.complete_multipart_upload(
        Bucket=bkt,
        Key="mp",
        UploadId=upload,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": part["ETag"]},
                {"PartNumber": 2, "ETag": copied["CopyPartResult"]["ETag"]},
            ]
        },
    )
    assert done["ServerSideEncryption"] == "aws:kms" and done["SSEKMSKeyId"] == kms_key


def test_ssec_multipart_echoes_the_key(alice, bkt: str) -> None:  # type: ignore[no-untyped-def]
    upload = alice.create_multipart_upload(Bucket=bkt, Key="mp", **SSEC)["UploadId"]
    part = alice.upload_part(Bucket=bkt, Key="mp", UploadId=upload, PartNumber=1, Body=b"a", **SSEC)
    assert part["SSECustomerKeyMD5"] == KEY_MD5 and "ServerSideEncryption" not in part
    done = alice.complete_multipart_upload(
        Bucket=bkt,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert "ServerSideEncryption" not in done
    got = alice.get_object(Bucket=bkt, Key="mp", **SSEC)
    assert got["Body"].read() == b"a"
