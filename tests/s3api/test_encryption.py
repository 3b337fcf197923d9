"""Server-side encryption over the HTTP API, as S3 answers it.

Every write (PutObject, CopyObject, UploadPart, UploadPartCopy,
CompleteMultipartUpload) names the encryption the store applied, also when
it came from the bucket's default; requests S3 refuses are refused the same way.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from objfs.store import OWNER, Store

from .conftest import make_users
from .support import Server, raw_request

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
    listed = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    # As S3: the upload's key again on Complete; without it, or with another, a 400.
    other = bytes(range(1, 33))
    for sent in (
        {},
        {
            **SSEC,
            "SSECustomerKey": base64.b64encode(other).decode(),
            "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(other).digest()).decode(),
        },
    ):
        with pytest.raises(ClientError) as exc:
            alice.complete_multipart_upload(
                Bucket=bkt, Key="mp", UploadId=upload, MultipartUpload=listed, **sent
            )
        assert _error(exc) == ("InvalidRequest", 400)
    done = alice.complete_multipart_upload(
        Bucket=bkt, Key="mp", UploadId=upload, MultipartUpload=listed, **SSEC
    )
    assert "ServerSideEncryption" not in done
    got = alice.get_object(Bucket=bkt, Key="mp", **SSEC)
    assert got["Body"].read() == b"a"


# -- requests S3 refuses -------------------------------------------------------------


def _raw(server: Server, keys: dict, method: str, path: str, **kw):  # type: ignore[no-untyped-def]
    return raw_request(server.endpoint, method, path, key=keys["alice"], **kw)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    "sent",
    [
        {"x-amz-server-side-encryption": "AES256"},
        {"x-amz-server-side-encryption": "aws:kms"},
        {"x-amz-server-side-encryption-aws-kms-key-id": "some-key"},
    ],
)
def test_sse_headers_on_a_read_are_refused(
    alice,  # type: ignore[no-untyped-def]
    bkt: str,
    server: Server,
    keys: dict,
    method: str,
    sent: dict,
) -> None:
    """SSE-S3 and SSE-KMS are decided at write time: a read naming them is a 400."""
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    resp = _raw(server, keys, method, f"/{bkt}/k", headers=sent)
    assert resp.status == 400
    if method == "GET":
        assert resp.code == "InvalidArgument"
    assert _raw(server, keys, method, f"/{bkt}/k").status == 200


def test_ssec_without_key_md5_is_refused(alice, bkt: str, server: Server, keys: dict) -> None:  # type: ignore[no-untyped-def]
    sent = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": KEY_B64,
    }
    resp = _raw(server, keys, "PUT", f"/{bkt}/k", headers=sent, body=b"x")
    assert (resp.status, resp.code) == (400, "InvalidArgument")
    sent["x-amz-server-side-encryption-customer-key-MD5"] = KEY_MD5
    assert _raw(server, keys, "PUT", f"/{bkt}/k", headers=sent, body=b"x").status == 200


@pytest.mark.parametrize(
    "sent",
    [
        {
            "x-amz-server-side-encryption": "AES256",
            "x-amz-server-side-encryption-aws-kms-key-id": "k",
        },
        {"x-amz-server-side-encryption-aws-kms-key-id": "k"},
    ],
)
def test_kms_key_id_without_aws_kms_is_refused(
    bkt: str,
    server: Server,
    keys: dict,
    sent: dict,
) -> None:
    resp = _raw(server, keys, "PUT", f"/{bkt}/k", headers=sent, body=b"x")
    assert (resp.status, resp.code) == (400, "InvalidArgument")


def test_ssec_part_with_another_key_is_refused(alice, bkt: str) -> None:  # type: ignore[no-untyped-def]
    """A part must carry the key the upload was created with: 400 InvalidRequest
    (a read with a wrong key is a 403: there the object exists and is refused)."""
    upload = alice.create_multipart_upload(Bucket=bkt, Key="mp", **SSEC)["UploadId"]
    other = bytes(32)
    wrong = {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(other).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(other).digest()).decode(),
    }
    args = {"Bucket": bkt, "Key": "mp", "UploadId": upload, "PartNumber": 1, "Body": b"a"}
    with pytest.raises(ClientError) as exc:
        alice.upload_part(**args, **wrong)
    assert _error(exc) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as exc:
        alice.upload_part(**args)
    assert _error(exc) == ("InvalidRequest", 400)
    assert alice.upload_part(**args, **SSEC)["SSECustomerKeyMD5"] == KEY_MD5


def test_range_on_an_empty_object_is_unsatisfiable(alice, bkt: str) -> None:  # type: ignore[no-untyped-def]
    alice.put_object(Bucket=bkt, Key="empty", Body=b"")
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=bkt, Key="empty", Range="bytes=40-50")
    assert _error(exc) == ("InvalidRange", 416)


def _deny_put_unless(alice, bkt: str, key: str, value: str) -> None:  # type: ignore[no-untyped-def]
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bkt}/*",
        "Condition": {"StringNotEquals": {key: value}},
    }
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    alice.put_bucket_policy(Bucket=bkt, Policy=json.dumps(policy))


def test_policy_decides_before_an_unknown_algorithm_is_refused(alice, bkt: str) -> None:  # type: ignore[no-untyped-def]
    """An algorithm S3 does not know is refused (400) only once the request
    is authorized: a policy denying on the value as sent answers 403."""
    with pytest.raises(ClientError) as exc:
        alice.put_object(Bucket=bkt, Key="k", Body=b"x", ServerSideEncryption="AES192")
    assert _error(exc) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as exc:
        alice.put_object(Bucket=bkt, Key="k", Body=b"x", SSECustomerAlgorithm="AES192")
    assert _error(exc) == ("InvalidArgument", 400)
    _deny_put_unless(alice, bkt, "s3:x-amz-server-side-encryption", "AES256")
    with pytest.raises(ClientError) as exc:
        alice.put_object(Bucket=bkt, Key="k", Body=b"x", ServerSideEncryption="AES192")
    assert _error(exc) == ("AccessDenied", 403)
    put = alice.put_object(Bucket=bkt, Key="k", Body=b"x", ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"


def test_policy_on_the_ssec_algorithm(alice, bkt: str) -> None:  # type: ignore[no-untyped-def]
    _deny_put_unless(alice, bkt, "s3:x-amz-server-side-encryption-customer-algorithm", "AES256")
    with pytest.raises(ClientError) as exc:
        alice.put_object(Bucket=bkt, Key="k", Body=b"x", SSECustomerAlgorithm="AES192")
    assert _error(exc) == ("AccessDenied", 403)
    assert alice.put_object(Bucket=bkt, Key="k", Body=b"x", **SSEC)["SSECustomerKeyMD5"] == KEY_MD5
