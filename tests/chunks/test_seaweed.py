"""The SeaweedFS fixture is a real S3 server: what the chunk backend relies on.

boto3 against ``weed server -s3``: buckets and objects round-trip, range
GETs, signatures are checked (a wrong secret is refused), and ``pause()``
hangs the server until ``resume()`` (the backend's "store down" tests
depend on exactly that).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from tests.seaweed import SeaweedFS, SeaweedFSError


def test_objects_round_trip(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    s3 = seaweedfs.client()
    assert s3_bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0
    body = os.urandom(70_000)
    for key in ("c/aa/one", "c/ab/two", "other"):
        s3.put_object(Bucket=s3_bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=s3_bucket, Key="c/aa/one")["Body"].read() == body
    listed = s3.list_objects_v2(Bucket=s3_bucket, Prefix="c/")
    assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == [
        ("c/aa/one", len(body)),
        ("c/ab/two", len(body)),
    ]
    s3.delete_object(Bucket=s3_bucket, Key="c/aa/one")
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=s3_bucket, Key="c/aa/one")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys == ["c/ab/two", "other"]


def test_fresh_buckets_are_distinct_and_empty(seaweedfs: SeaweedFS) -> None:
    first, second = seaweedfs.new_bucket(), seaweedfs.new_bucket("chunks")
    assert first != second and second.startswith("chunks-")
    s3 = seaweedfs.client()
    s3.put_object(Bucket=first, Key="k", Body=b"x")
    assert s3.list_objects_v2(Bucket=second)["KeyCount"] == 0


def test_range_get(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    s3 = seaweedfs.client()
    body = bytes(range(256)) * 64
    s3.put_object(Bucket=s3_bucket, Key="frame", Body=body)
    got = s3.get_object(Bucket=s3_bucket, Key="frame", Range="bytes=1000-1999")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes 1000-1999/{len(body)}"
    assert got["Body"].read() == body[1000:2000]
    tail = s3.get_object(Bucket=s3_bucket, Key="frame", Range="bytes=-10")["Body"].read()
    assert tail == body[-10:]


@pytest.mark.parametrize(
    "keys, code",
    [
        ({"secret_key": "not-the-secret"}, "SignatureDoesNotMatch"),
        ({"access_key": "AKNOSUCHKEY0000000"}, "InvalidAccessKeyId"),
    ],
)
def test_wrong_credentials_are_refused(
    seaweedfs: SeaweedFS, s3_bucket: str, keys: dict[str, str], code: str
) -> None:
    seaweedfs.client().put_object(Bucket=s3_bucket, Key="secret", Body=b"s")
    intruder = seaweedfs.client(**keys)
    for call in (
        lambda: intruder.get_object(Bucket=s3_bucket, Key="secret"),
        lambda: intruder.put_object(Bucket=s3_bucket, Key="planted", Body=b"p"),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert refused.value.response["Error"]["Code"] == code
    names = [o["Key"] for o in seaweedfs.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert names == ["secret"]


def test_pause_hangs_requests_until_resume(seaweedfs: SeaweedFS, s3_bucket: str) -> None:
    seaweedfs.client().put_object(Bucket=s3_bucket, Key="k", Body=b"before")
    impatient = seaweedfs.client(timeout_s=0.5)
    seaweedfs.pause()
    try:
        with pytest.raises(ReadTimeoutError):
            impatient.get_object(Bucket=s3_bucket, Key="k")
    finally:
        seaweedfs.resume()
    assert impatient.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"before"
    seaweedfs.client().put_object(Bucket=s3_bucket, Key="k", Body=b"after")
    assert impatient.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"after"


def test_a_server_that_does_not_come_up_fails_with_its_log(tmp_path: Path) -> None:
    """No skip and no hang: start() gives up at its deadline, says why, cleans up."""
    with pytest.raises(
        SeaweedFSError, match=r"did not answer S3 on http://127\.0\.0\.1:\d+"
    ) as err:
        SeaweedFS.start(tmp_path, timeout_s=0.2)
    assert "tail of" in str(err.value)
    log = next(tmp_path.glob("data*/weed.log"))
    assert str(log) in str(err.value)
    port = int(str(err.value).split("127.0.0.1:")[1].split()[0])
    assert not Path(f"/tmp/seaweedfs-s3-{port}.sock").exists()
