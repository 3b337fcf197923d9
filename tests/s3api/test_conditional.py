"""Conditional requests as S3 answers them: a 304 carries the validators,
a copy whose source conditions fail is 412, write conditions take ETags."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .support import raw_request


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    e = exc.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_304_carries_etag_and_validators(alice, vbkt, server, keys, method):
    put = alice.put_object(Bucket=vbkt, Key="k", Body=b"data", CacheControl="max-age=60")
    resp = raw_request(
        server.endpoint,
        method,
        f"/{vbkt}/k",
        headers={"if-none-match": put["ETag"]},
        key=keys["alice"],
    )
    assert resp.status == 304
    assert resp.headers["etag"] == put["ETag"]
    assert resp.headers["last-modified"].endswith("GMT")
    assert resp.headers["cache-control"] == "max-age=60"
    assert resp.headers["x-amz-version-id"] == put["VersionId"]


def test_copy_source_if_none_match_that_matches_is_412(alice, bkt):
    etag = alice.put_object(Bucket=bkt, Key="src", Body=b"data")["ETag"]
    with pytest.raises(ClientError) as exc:
        alice.copy_object(
            Bucket=bkt,
            Key="dst",
            CopySource={"Bucket": bkt, "Key": "src"},
            CopySourceIfNoneMatch=etag,
        )
    assert error(exc) == (412, "PreconditionFailed")
    alice.copy_object(
        Bucket=bkt, Key="dst", CopySource={"Bucket": bkt, "Key": "src"}, CopySourceIfNoneMatch='"x"'
    )


def test_write_conditions_take_etags(alice, bkt):
    with pytest.raises(ClientError) as exc:
        alice.put_object(Bucket=bkt, Key="k", Body=b"1", IfMatch="*")
    assert error(exc) == (404, "NoSuchKey")
    etag = alice.put_object(Bucket=bkt, Key="k", Body=b"1", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as exc:
        alice.put_object(Bucket=bkt, Key="k", Body=b"2", IfNoneMatch=etag)
    assert error(exc) == (412, "PreconditionFailed")
    etag = alice.put_object(Bucket=bkt, Key="k", Body=b"2", IfNoneMatch='"other"')["ETag"]
    alice.put_object(Bucket=bkt, Key="k", Body=b"3", IfMatch="*")
    with pytest.raises(ClientError) as exc:
        alice.put_object(Bucket=bkt, Key="k", Body=b"4", IfMatch=etag)  # now "3"'s
    assert error(exc) == (412, "PreconditionFailed")
    alice.delete_object(Bucket=bkt, Key="k")
    alice.put_object(Bucket=bkt, Key="k", Body=b"5", IfNoneMatch=etag)  # nothing there
