"""Bucket policies as S3 takes them: the document kept as put, service
principals, NotPrincipal only in a Deny, the condition keys of what a write
asks for (ACL headers, copy source, metadata directive), and 404 rather than
403 for a missing key the caller may list."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError


def error(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def statement(action: str, resource: str) -> dict:
    return {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": action, "Resource": resource}


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def with_header(c, event: str, name: str, value: str):  # type: ignore[no-untyped-def]
    """A handler adding a header boto3 has no parameter for; returns its unregister."""

    def add(params, **_):  # type: ignore[no-untyped-def]
        params["headers"][name] = value

    c.meta.events.register(f"before-call.s3.{event}", add)
    return lambda: c.meta.events.unregister(f"before-call.s3.{event}", add)


def test_policy_is_returned_as_put_and_service_principals_are_accepted(alice, bkt) -> None:
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "S3ServerAccessLogsPolicy",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": ["s3:PutObject"],
                    "Resource": f"arn:aws:s3:::{bkt}/log/*",
                }
            ],
        }
    )
    alice.put_bucket_policy(Bucket=bkt, Policy=text)
    assert alice.get_bucket_policy(Bucket=bkt)["Policy"] == text


def test_allow_with_not_principal_is_malformed(alice, bkt) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "NotPrincipal": {"AWS": "arn:aws:iam::other:root"},
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bkt}",
            }
        ],
    }
    with pytest.raises(ClientError) as exc:
        alice.put_bucket_policy(Bucket=bkt, Policy=json.dumps(doc))
    assert error(exc) == ("MalformedPolicy", 400)


def test_copy_source_is_a_condition_key(alice, bob, bkt) -> None:
    alice.create_bucket(Bucket=f"{bkt}-dst")
    for key in ("public/a", "private/a"):
        alice.put_object(Bucket=bkt, Key=key, Body=key.encode())
    alice.put_bucket_policy(
        Bucket=bkt, Policy=policy(statement("s3:GetObject", f"arn:aws:s3:::{bkt}/*"))
    )
    put = statement("s3:PutObject", f"arn:aws:s3:::{bkt}-dst/*")
    put["Condition"] = {"StringLike": {"s3:x-amz-copy-source": f"{bkt}/public/*"}}
    alice.put_bucket_policy(Bucket=f"{bkt}-dst", Policy=policy(put))
    bob.copy_object(Bucket=f"{bkt}-dst", Key="got", CopySource={"Bucket": bkt, "Key": "public/a"})
    assert bob.get_object(Bucket=f"{bkt}-dst", Key="got")["Body"].read() == b"public/a"
    with pytest.raises(ClientError) as exc:
        bob.copy_object(
            Bucket=f"{bkt}-dst", Key="got2", CopySource={"Bucket": bkt, "Key": "private/a"}
        )
    assert error(exc) == ("AccessDenied", 403)


def test_metadata_directive_is_a_condition_key_only_when_sent(alice, bob, bkt) -> None:
    alice.put_object(Bucket=bkt, Key="src", Body=b"x")
    get = statement("s3:GetObject", f"arn:aws:s3:::{bkt}/src")
    put = statement("s3:PutObject", f"arn:aws:s3:::{bkt}/copies/*")
    put["Condition"] = {"StringEquals": {"s3:x-amz-metadata-directive": "COPY"}}
    alice.put_bucket_policy(Bucket=bkt, Policy=policy(get, put))
    undo = with_header(bob, "CopyObject", "x-amz-metadata-directive", "COPY")
    bob.copy_object(Bucket=bkt, Key="copies/1", CopySource={"Bucket": bkt, "Key": "src"})
    undo()
    with pytest.raises(ClientError) as exc:
        bob.copy_object(Bucket=bkt, Key="copies/2", CopySource={"Bucket": bkt, "Key": "src"})
    assert error(exc) == ("AccessDenied", 403)


def test_acl_headers_are_condition_keys(alice, bob, bkt) -> None:
    alice_id = alice.list_buckets()["Owner"]["ID"]
    deny_public = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bkt}/*",
        "Condition": {"StringLike": {"s3:x-amz-acl": "public*"}},
    }
    grant_owner = statement("s3:PutObject", f"arn:aws:s3:::{bkt}/*")
    grant_owner["Condition"] = {"StringEquals": {"s3:x-amz-grant-full-control": f"id={alice_id}"}}
    alice.put_bucket_policy(Bucket=bkt, Policy=policy(grant_owner, deny_public))
    with pytest.raises(ClientError) as exc:
        bob.put_object(Bucket=bkt, Key="plain", Body=b"x")  # no grant header: not allowed
    assert error(exc) == ("AccessDenied", 403)
    bob.put_object(Bucket=bkt, Key="granted", Body=b"x", GrantFullControl=f"id={alice_id}")
    acl = alice.get_object_acl(Bucket=bkt, Key="granted")
    assert [g["Grantee"]["ID"] for g in acl["Grants"]] == [alice_id]
    with pytest.raises(ClientError) as exc:
        bob.put_object(
            Bucket=bkt,
            Key="public",
            Body=b"x",
            ACL="public-read",
            GrantFullControl=f"id={alice_id}",
        )
    assert error(exc)[1] in (400, 403)  # both at once is invalid; the Deny may answer first


def test_missing_key_under_a_listable_prefix_is_404(alice, bob, bkt) -> None:
    listing = statement("s3:ListBucket", f"arn:aws:s3:::{bkt}")
    listing["Condition"] = {"StringLike": {"s3:prefix": "public/*"}}
    alice.put_bucket_policy(Bucket=bkt, Policy=policy(listing))
    with pytest.raises(ClientError) as exc:
        bob.head_object(Bucket=bkt, Key="public/none")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as exc:
        bob.get_object(Bucket=bkt, Key="public/none")
    assert error(exc) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as exc:
        bob.head_object(Bucket=bkt, Key="private/none")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    alice.put_object(Bucket=bkt, Key="public/there", Body=b"x")
    with pytest.raises(ClientError) as exc:  # it exists: reading it needs GetObject
        bob.get_object(Bucket=bkt, Key="public/there")
    assert error(exc) == ("AccessDenied", 403)


def test_policy_status_says_whether_policy_or_acl_lets_anyone_in(alice, bob, bkt) -> None:
    def public() -> bool:
        return alice.get_bucket_policy_status(Bucket=bkt)["PolicyStatus"]["IsPublic"]

    assert public() is False
    alice.put_bucket_acl(Bucket=bkt, ACL="authenticated-read")
    assert public() is True
    alice.put_bucket_acl(Bucket=bkt, ACL="private")
    assert public() is False
    anyone = statement("s3:ListBucket", f"arn:aws:s3:::{bkt}")
    alice.put_bucket_policy(Bucket=bkt, Policy=policy(anyone))
    assert public() is True
    anyone["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.0/32"}}
    alice.put_bucket_policy(Bucket=bkt, Policy=policy(anyone))
    assert public() is False  # pinned to one address
    named = {**statement("s3:ListBucket", f"arn:aws:s3:::{bkt}"), "Principal": {"AWS": "bob"}}
    alice.put_bucket_policy(Bucket=bkt, Policy=policy(named))
    assert public() is False
    with pytest.raises(ClientError) as exc:
        bob.get_bucket_policy_status(Bucket=bkt)
    assert error(exc) == ("AccessDenied", 403)
