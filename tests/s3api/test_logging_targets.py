"""Who may log into a target bucket: the target's policy must let the logging
service (``{"Service": "logging.s3.amazonaws.com"}``) put objects under the
prefix for this source bucket (aws:SourceArn) and the requester's account
(aws:SourceAccount), or its ACL must grant the LogDelivery group WRITE."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from objfs.store import OWNER, Store
from objfs.store.logquery import query_access_logs


def log_policy(target: str, prefix: str, source_arn: str, account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": ["s3:PutObject"],
                    "Resource": f"arn:aws:s3:::{target}/{prefix}",
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": source_arn},
                        "StringLike": {"aws:SourceAccount": account},
                    },
                }
            ],
        }
    )


def enable(c, src: str, target: str, prefix: str = "log/"):  # type: ignore[no-untyped-def]
    return c.put_bucket_logging(
        Bucket=src,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": prefix}},
    )


def code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_target_must_let_the_logging_service_in(alice, bob, bkt) -> None:
    target = f"{bkt}-logs"
    alice.create_bucket(Bucket=target)
    with pytest.raises(ClientError) as exc:  # nothing lets the log delivery write there
        enable(alice, bkt, target)
    assert code(exc) == "AccessDenied"
    alice_id = alice.list_buckets()["Owner"]["ID"]
    alice.put_bucket_policy(
        Bucket=target, Policy=log_policy(target, "log/", f"arn:aws:s3:::{bkt}", alice_id)
    )
    enable(alice, bkt, target)
    with pytest.raises(ClientError) as exc:  # another prefix than the policy names
        enable(alice, bkt, target, "other/")
    assert code(exc) == "AccessDenied"
    # Bob's bucket: another source and another account than the policy allows.
    bob.create_bucket(Bucket=f"{bkt}-bob")
    with pytest.raises(ClientError) as exc:
        enable(bob, f"{bkt}-bob", target)
    assert code(exc) == "AccessDenied"
    alice.put_bucket_policy(Bucket=target, Policy=log_policy(target, "log/", "arn:aws:s3:::*", "*"))
    enable(bob, f"{bkt}-bob", target)
    assert bob.get_bucket_logging(Bucket=f"{bkt}-bob")["LoggingEnabled"]["TargetBucket"] == target


def test_partitioned_prefix_names_log_objects_by_account_region_bucket_and_date(
    alice, bkt, s3env
) -> None:
    target = f"{bkt}-plogs"
    alice.create_bucket(Bucket=target, ACL="log-delivery-write")
    enabled = {
        "TargetBucket": target,
        "TargetPrefix": "p/",
        "TargetObjectKeyFormat": {"PartitionedPrefix": {"PartitionDateSource": "EventTime"}},
    }
    alice.put_bucket_logging(Bucket=bkt, BucketLoggingStatus={"LoggingEnabled": enabled})
    assert alice.get_bucket_logging(Bucket=bkt)["LoggingEnabled"] == enabled
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    with Store.open(s3env["store"]) as store:
        store.flush_access_logs(OWNER)
        records = list(query_access_logs(store, OWNER, target, "p/"))
    assert any(r.operation == "REST.PUT.OBJECT" and r.key == "k" for r in records)
    (key,) = [o["Key"] for o in alice.list_objects_v2(Bucket=target)["Contents"]]
    alice_id = alice.list_buckets()["Owner"]["ID"]
    today = datetime.now(UTC).strftime("%Y/%m/%d")
    assert key.startswith(f"p/{alice_id}/local/{bkt}/{today}/"), key
    # The default is S3's SimplePrefix, and GetBucketLogging says so.
    simple = {"TargetBucket": target, "TargetPrefix": "s/"}
    alice.put_bucket_logging(Bucket=bkt, BucketLoggingStatus={"LoggingEnabled": simple})
    assert alice.get_bucket_logging(Bucket=bkt)["LoggingEnabled"] == {
        **simple,
        "TargetObjectKeyFormat": {"SimplePrefix": {}},
    }
    bad = {**enabled, "TargetObjectKeyFormat": {"PartitionedPrefix": {"PartitionDateSource": "x"}}}
    with pytest.raises(ClientError) as exc:
        alice.put_bucket_logging(Bucket=bkt, BucketLoggingStatus={"LoggingEnabled": bad})
    assert code(exc) == "MalformedXML"


def test_logging_policies_as_the_suite_writes_them(alice, bkt) -> None:
    target = f"{bkt}-slogs"
    alice.create_bucket(Bucket=target)
    alice_id = alice.list_buckets()["Owner"]["ID"]
    doc = json.loads(log_policy(target, "log/", f"arn:aws:s3:::{bkt}", alice_id))
    # {"AWS": "*"} is every account, not the logging service.
    doc["Statement"][0]["Principal"] = {"AWS": "*"}
    alice.put_bucket_policy(Bucket=target, Policy=json.dumps(doc))
    with pytest.raises(ClientError) as exc:
        enable(alice, bkt, target)
    assert code(exc) == "AccessDenied"
    # Two statements may share a Sid in a bucket policy.
    doc["Statement"][0]["Principal"] = {"Service": "logging.s3.amazonaws.com"}
    doc["Statement"][0]["Sid"] = "S3ServerAccessLogsPolicy"
    doc["Statement"].append({**doc["Statement"][0], "Resource": f"arn:aws:s3:::{target}/x/"})
    alice.put_bucket_policy(Bucket=target, Policy=json.dumps(doc))
    enable(alice, bkt, target)
    enable(alice, bkt, target, "x/")
    # A statement without Resource is accepted and names nothing.
    no_resource = {"Effect": "Allow", "Principal": "*", "Action": ["s3:PutBucketLogging"]}
    alice.put_bucket_policy(
        Bucket=bkt, Policy=json.dumps({"Version": "2012-10-17", "Statement": [no_resource]})
    )
