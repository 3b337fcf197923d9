"""Lifecycle over HTTP with boto3: Put/Get/DeleteBucketLifecycleConfiguration, S3's
errors, ``x-amz-expiration`` on PUT/HEAD/GET, and ``serve --lifecycle-interval``."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from objfs.store import Store

from .conftest import make_users
from .support import Server, client

RULES = [
    {"ID": "logs", "Status": "Enabled", "Prefix": "logs/", "Expiration": {"Days": 1}},
    {
        "ID": "tmp",
        "Status": "Disabled",
        "Filter": {
            "And": {
                "Prefix": "tmp/",
                "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
                "ObjectSizeGreaterThan": 10,
            }
        },
        "NoncurrentVersionExpiration": {"NoncurrentDays": 3, "NewerNoncurrentVersions": 2},
    },
    {
        "ID": "uploads",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        "Expiration": {"ExpiredObjectDeleteMarker": True},
    },
    {
        "ID": "big",
        "Status": "Enabled",
        "Filter": {"ObjectSizeLessThan": 5},
        "Expiration": {"Date": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)},
    },
]


def code(err: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    resp = err.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def test_put_get_delete_round_trip(alice, bkt) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as err:
        alice.get_bucket_lifecycle_configuration(Bucket=bkt)
    assert code(err) == (404, "NoSuchLifecycleConfiguration")
    assert alice.delete_bucket_lifecycle(Bucket=bkt)["ResponseMetadata"]["HTTPStatusCode"] == 204
    alice.put_bucket_lifecycle_configuration(Bucket=bkt, LifecycleConfiguration={"Rules": RULES})
    got = alice.get_bucket_lifecycle_configuration(Bucket=bkt)["Rules"]
    assert got[:3] == RULES[:3]
    assert got[3]["Expiration"]["Date"] == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    alice.delete_bucket_lifecycle(Bucket=bkt)
    with pytest.raises(ClientError) as err:
        alice.get_bucket_lifecycle_configuration(Bucket=bkt)
    assert code(err) == (404, "NoSuchLifecycleConfiguration")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            {"ID": "x" * 256, "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1}},
            "InvalidArgument",
        ),
        ({"ID": "x", "Prefix": "", "Status": "enabled", "Expiration": {"Days": 1}}, "MalformedXML"),
        (
            {"ID": "x", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 0}},
            "InvalidArgument",
        ),
        (
            {
                "ID": "x",
                "Prefix": "",
                "Status": "Enabled",
                "Expiration": {"Date": "2020-01-01T10:00:00Z"},
            },
            "InvalidArgument",
        ),
        (
            {
                "ID": "x",
                "Prefix": "",
                "Status": "Enabled",
                "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
            },
            "InvalidStorageClass",
        ),
        ({"ID": "x", "Filter": {}, "Status": "Enabled"}, "InvalidRequest"),
    ],
)
def test_invalid_rules_get_s3s_error(alice, bkt, rule, expected) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as err:
        alice.put_bucket_lifecycle_configuration(
            Bucket=bkt, LifecycleConfiguration={"Rules": [rule]}
        )
    assert code(err) == (400, expected)


def test_duplicate_ids_and_other_owners_are_refused(alice, bob, bkt) -> None:  # type: ignore[no-untyped-def]
    rule = {"ID": "same", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1}}
    with pytest.raises(ClientError) as err:
        alice.put_bucket_lifecycle_configuration(
            Bucket=bkt, LifecycleConfiguration={"Rules": [rule, rule]}
        )
    assert code(err) == (400, "InvalidArgument")
    with pytest.raises(ClientError) as err:
        bob.put_bucket_lifecycle_configuration(Bucket=bkt, LifecycleConfiguration={"Rules": [rule]})
    assert code(err) == (403, "AccessDenied")


def test_expiration_header_on_put_head_get(alice, bkt) -> None:  # type: ignore[no-untyped-def]
    rule = {
        "ID": "week",
        "Filter": {"Prefix": "w/"},
        "Status": "Enabled",
        "Expiration": {"Days": 7},
    }
    alice.put_bucket_lifecycle_configuration(Bucket=bkt, LifecycleConfiguration={"Rules": [rule]})
    now = dt.datetime.now(dt.UTC)
    put = alice.put_object(Bucket=bkt, Key="w/a", Body=b"x")
    other = alice.put_object(Bucket=bkt, Key="other", Body=b"x")
    assert "x-amz-expiration" not in other["ResponseMetadata"]["HTTPHeaders"]
    for resp in (
        put,
        alice.head_object(Bucket=bkt, Key="w/a"),
        alice.get_object(Bucket=bkt, Key="w/a"),
    ):
        header = resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]
        m = re.fullmatch(r'expiry-date="(.+)", rule-id="week"', header)
        assert m, header
        when = dt.datetime.strptime(m.group(1), "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=dt.UTC)
        assert (when.hour, when.minute) == (0, 0)  # the next midnight UTC
        assert 7 <= (when - now).total_seconds() / 86400 <= 8


def test_serve_applies_rules_every_interval(tmp_path: Path) -> None:
    store = tmp_path / "store"
    Store.init(store).close()
    key = make_users(store, "carol")["carol"]
    server = Server(store, "--lifecycle-interval", "0.2", log=tmp_path / "serve.log")
    try:
        carol = client(server.endpoint, key)
        carol.create_bucket(Bucket="old-things")
        carol.put_object(Bucket="old-things", Key="old/a", Body=b"x")
        carol.put_object(Bucket="old-things", Key="new/b", Body=b"x")
        rule = {
            "ID": "past",
            "Filter": {"Prefix": "old/"},
            "Status": "Enabled",
            "Expiration": {"Date": "2015-01-01"},
        }
        carol.put_bucket_lifecycle_configuration(
            Bucket="old-things", LifecycleConfiguration={"Rules": [rule]}
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            keys = [
                o["Key"] for o in carol.list_objects_v2(Bucket="old-things").get("Contents", [])
            ]
            if keys == ["new/b"]:
                break
            time.sleep(0.1)
        assert keys == ["new/b"]
    finally:
        assert server.stop() == 0, server.stderr()
