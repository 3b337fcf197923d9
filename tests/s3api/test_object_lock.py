"""Object Lock through the HTTP API with boto3: a lock-enabled bucket, its
default retention, retention and legal hold per version, and who may bypass
GOVERNANCE retention (bob, granted everything else by a bucket policy, may not)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from .support import client

_names = itertools.count(1)
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def error_of(exc: pytest.ExceptionInfo) -> tuple[int, str]:
    response = exc.value.response  # type: ignore[attr-defined]
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


@pytest.fixture
def lbkt(alice) -> str:  # type: ignore[no-untyped-def]
    name = f"lock-{next(_names)}"
    alice.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def test_lock_bucket_configuration(alice, lbkt, bkt) -> None:  # type: ignore[no-untyped-def]
    assert alice.get_bucket_versioning(Bucket=lbkt)["Status"] == "Enabled"
    assert alice.get_object_lock_configuration(Bucket=lbkt)["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled"
    }
    conf = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    }
    alice.put_object_lock_configuration(Bucket=lbkt, ObjectLockConfiguration=conf)
    assert alice.get_object_lock_configuration(Bucket=lbkt)["ObjectLockConfiguration"] == conf
    with pytest.raises(ClientError) as err:
        alice.put_bucket_versioning(Bucket=lbkt, VersioningConfiguration={"Status": "Suspended"})
    assert error_of(err) == (409, "InvalidBucketState")
    with pytest.raises(ClientError) as err:
        alice.get_object_lock_configuration(Bucket=bkt)
    assert error_of(err) == (404, "ObjectLockConfigurationNotFoundError")
    # the default retention applies to a PUT without lock headers
    alice.put_object(Bucket=lbkt, Key="k", Body=b"x")
    head = alice.head_object(Bucket=lbkt, Key="k")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(hours=23)


def test_put_with_lock_headers_and_get_them_back(alice, lbkt) -> None:  # type: ignore[no-untyped-def]
    put = alice.put_object(
        Bucket=lbkt,
        Key="k",
        Body=b"abc",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=FAR,
        ObjectLockLegalHoldStatus="ON",
    )
    got = alice.get_object(Bucket=lbkt, Key="k")
    assert got["ObjectLockMode"] == "COMPLIANCE"
    assert got["ObjectLockRetainUntilDate"] == FAR
    assert got["ObjectLockLegalHoldStatus"] == "ON"
    assert alice.get_object_retention(Bucket=lbkt, Key="k")["Retention"] == {
        "Mode": "COMPLIANCE",
        "RetainUntilDate": FAR,
    }
    assert alice.get_object_legal_hold(Bucket=lbkt, Key="k")["LegalHold"] == {"Status": "ON"}
    with pytest.raises(ClientError) as err:
        alice.delete_object(
            Bucket=lbkt, Key="k", VersionId=put["VersionId"], BypassGovernanceRetention=True
        )
    assert error_of(err) == (403, "AccessDenied")
    with pytest.raises(ClientError) as err:  # COMPLIANCE is only ever extended
        alice.put_object_retention(
            Bucket=lbkt,
            Key="k",
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": FAR - timedelta(days=1)},
        )
    assert error_of(err) == (403, "AccessDenied")


def test_lock_headers_need_an_integrity_header(server, keys, lbkt) -> None:  # type: ignore[no-untyped-def]
    plain = client(
        server.endpoint,
        keys["alice"],
        request_checksum_calculation="when_required",
    )
    with pytest.raises(ClientError) as err:
        plain.put_object(Bucket=lbkt, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")
    assert error_of(err) == (400, "InvalidRequest")
    plain.put_object(Bucket=lbkt, Key="k", Body=b"x", ContentMD5="ndTkYSaMgDT1yFZOFVxnpg==")


def test_delete_marker_still_works(alice, lbkt) -> None:  # type: ignore[no-untyped-def]
    put = alice.put_object(Bucket=lbkt, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")
    gone = alice.delete_object(Bucket=lbkt, Key="k")
    assert gone["DeleteMarker"] is True
    with pytest.raises(ClientError) as err:
        alice.delete_object(Bucket=lbkt, Key="k", VersionId=put["VersionId"])
    assert error_of(err) == (403, "AccessDenied")
    result = alice.delete_objects(
        Bucket=lbkt, Delete={"Objects": [{"Key": "k", "VersionId": put["VersionId"]}]}
    )
    assert result["Errors"][0]["Code"] == "AccessDenied"
    alice.put_object_legal_hold(
        Bucket=lbkt, Key="k", VersionId=put["VersionId"], LegalHold={"Status": "OFF"}
    )
    alice.delete_object(Bucket=lbkt, Key="k", VersionId=put["VersionId"])


def test_bypass_needs_the_permission(alice, bob, keys, lbkt) -> None:  # type: ignore[no-untyped-def]
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["s3:GetObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention"],
        "Resource": f"arn:aws:s3:::{lbkt}/*",
    }
    alice.put_bucket_policy(
        Bucket=lbkt, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    put = alice.put_object(
        Bucket=lbkt,
        Key="k",
        Body=b"x",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=FAR,
    )
    version = put["VersionId"]
    with pytest.raises(ClientError) as err:
        bob.delete_object(Bucket=lbkt, Key="k", VersionId=version, BypassGovernanceRetention=True)
    assert error_of(err) == (403, "AccessDenied")
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": FAR - timedelta(days=1)}
    with pytest.raises(ClientError) as err:
        bob.put_object_retention(
            Bucket=lbkt, Key="k", Retention=shorter, BypassGovernanceRetention=True
        )
    assert error_of(err) == (403, "AccessDenied")
    # extending needs no bypass
    later = {"Mode": "GOVERNANCE", "RetainUntilDate": FAR + timedelta(days=1)}
    bob.put_object_retention(Bucket=lbkt, Key="k", Retention=later)
    with pytest.raises(ClientError) as err:  # alice without the header: refused too
        alice.delete_object(Bucket=lbkt, Key="k", VersionId=version)
    assert error_of(err) == (403, "AccessDenied")
    alice.delete_object(Bucket=lbkt, Key="k", VersionId=version, BypassGovernanceRetention=True)


def test_multipart_lock(alice, lbkt) -> None:  # type: ignore[no-untyped-def]
    upload = alice.create_multipart_upload(
        Bucket=lbkt, Key="mp", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=FAR
    )
    part = alice.upload_part(
        Bucket=lbkt, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"abc"
    )
    done = alice.complete_multipart_upload(
        Bucket=lbkt,
        Key="mp",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    head = alice.head_object(Bucket=lbkt, Key="mp", VersionId=done["VersionId"])
    assert head["ObjectLockMode"] == "GOVERNANCE"
    alice.delete_object(
        Bucket=lbkt, Key="mp", VersionId=done["VersionId"], BypassGovernanceRetention=True
    )


def test_lock_calls_on_a_bucket_without_lock(alice, vbkt) -> None:  # type: ignore[no-untyped-def]
    alice.put_object(Bucket=vbkt, Key="k", Body=b"x")
    for call, args in (
        (alice.get_object_retention, {}),
        (alice.get_object_legal_hold, {}),
        (alice.put_object_legal_hold, {"LegalHold": {"Status": "ON"}}),
    ):
        with pytest.raises(ClientError) as err:
            call(Bucket=vbkt, Key="k", **args)
        assert error_of(err) == (400, "InvalidRequest")
    # a versioned bucket can have Object Lock turned on later
    alice.put_object_lock_configuration(
        Bucket=vbkt, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
    )
    alice.put_object_legal_hold(Bucket=vbkt, Key="k", LegalHold={"Status": "ON"})
    alice.put_object_legal_hold(Bucket=vbkt, Key="k", LegalHold={"Status": "OFF"})
