"""Tagging over HTTP with boto3: ``?tagging`` on objects and buckets,
``x-amz-tagging`` on PUT / CreateMultipartUpload / Copy, ``x-amz-tagging-count``,
S3's errors, and the tag condition keys of bucket policies (bob is the second user).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from objfs.errors import InvalidArgument, InvalidTag, MalformedXML
from objfs.s3api.tagging import parse_tagging_header, parse_tagging_xml

from .support import raw_request


def tagset(**tags: str) -> dict:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


def error(call, **kwargs) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    resp = caught.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def with_header(client, operation: str, name: str, value: str):  # type: ignore[no-untyped-def]
    def add(params, **_):  # type: ignore[no-untyped-def]
        params["headers"][name] = value

    client.meta.events.register(f"before-call.s3.{operation}", add)
    return add


def test_parsers():
    assert parse_tagging_header("foo=bar&bar&a%20b=c%2Bd") == {
        "foo": "bar",
        "bar": "",
        "a b": "c+d",
    }
    assert parse_tagging_header(None) is None
    with pytest.raises(InvalidArgument):
        parse_tagging_header("a=1&a=2")
    body = b"<Tagging><TagSet><Tag><Key>k</Key><Value> v </Value></Tag></TagSet></Tagging>"
    assert parse_tagging_xml(body) == {"k": " v "}
    for bad in (
        b"<Tagging/>",
        b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
        b"<Tagging><TagSet><Oops/></TagSet></Tagging>",
        b"<NotTagging><TagSet/></NotTagging>",
        b"not xml",
    ):
        with pytest.raises(MalformedXML):
            parse_tagging_xml(bad)
    with pytest.raises(InvalidTag):
        parse_tagging_xml(
            b"<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag>"
            b"<Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>"
        )


def test_object_tagging_round_trip(alice, vbkt):  # type: ignore[no-untyped-def]
    v1 = alice.put_object(Bucket=vbkt, Key="k", Body=b"x")["VersionId"]
    assert alice.get_object_tagging(Bucket=vbkt, Key="k")["TagSet"] == []
    head = alice.head_object(Bucket=vbkt, Key="k")
    assert "x-amz-tagging-count" not in head["ResponseMetadata"]["HTTPHeaders"]
    put = alice.put_object_tagging(Bucket=vbkt, Key="k", Tagging=tagset(b="2", a="1"))
    assert put["VersionId"] == v1
    got = alice.get_object_tagging(Bucket=vbkt, Key="k")
    assert got["TagSet"] == tagset(a="1", b="2")["TagSet"] and got["VersionId"] == v1
    assert (
        alice.head_object(Bucket=vbkt, Key="k")["ResponseMetadata"]["HTTPHeaders"][
            "x-amz-tagging-count"
        ]
        == "2"
    )
    assert alice.get_object(Bucket=vbkt, Key="k")["TagCount"] == 2
    assert len(alice.list_object_versions(Bucket=vbkt)["Versions"]) == 1
    v2 = alice.put_object(Bucket=vbkt, Key="k", Body=b"y")["VersionId"]
    alice.put_object_tagging(Bucket=vbkt, Key="k", VersionId=v1, Tagging=tagset(old="yes"))
    assert (
        alice.get_object_tagging(Bucket=vbkt, Key="k", VersionId=v1)["TagSet"]
        == (tagset(old="yes")["TagSet"])
    )
    assert alice.get_object_tagging(Bucket=vbkt, Key="k", VersionId=v2)["TagSet"] == []
    assert alice.delete_object_tagging(Bucket=vbkt, Key="k", VersionId=v1)["VersionId"] == v1
    assert alice.get_object_tagging(Bucket=vbkt, Key="k", VersionId=v1)["TagSet"] == []
    marker = alice.delete_object(Bucket=vbkt, Key="k")["VersionId"]
    assert error(alice.get_object_tagging, Bucket=vbkt, Key="k") == (404, "NoSuchKey")
    assert error(alice.get_object_tagging, Bucket=vbkt, Key="k", VersionId=marker) == (
        405,
        "MethodNotAllowed",
    )


def test_errors(alice, bkt, keys, server):  # type: ignore[no-untyped-def]
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    many = {"TagSet": [{"Key": str(i), "Value": ""} for i in range(11)]}
    assert error(alice.put_object_tagging, Bucket=bkt, Key="k", Tagging=many) == (400, "InvalidTag")
    for bad in (tagset(**{"k" * 129: "v"}), tagset(k="v" * 257), tagset(**{"aws:x": "v"})):
        assert error(alice.put_object_tagging, Bucket=bkt, Key="k", Tagging=bad) == (
            400,
            "InvalidTag",
        )
    assert alice.get_object_tagging(Bucket=bkt, Key="k")["TagSet"] == []
    assert error(alice.get_object_tagging, Bucket=bkt, Key="nope") == (404, "NoSuchKey")
    resp = raw_request(
        server.endpoint,
        "PUT",
        f"/{bkt}/k",
        query=[("tagging", "")],
        body=b"<Tagging><TagSet><Tag><Key>a</Key></Tag><Bad/></TagSet></Tagging>",
        key=keys["alice"],
    )
    assert (resp.status, resp.code) == (400, "MalformedXML")
    hook = with_header(alice, "PutObject", "x-amz-tagging", "a=1&a=2")
    try:
        assert error(alice.put_object, Bucket=bkt, Key="dup", Body=b"x") == (
            400,
            "InvalidArgument",
        )
    finally:
        alice.meta.events.unregister("before-call.s3.PutObject", hook)


def test_tags_on_put_copy_and_multipart(alice, bkt):  # type: ignore[no-untyped-def]
    alice.put_object(Bucket=bkt, Key="src", Body=b"x", Tagging="foo=bar&bar")
    assert alice.get_object_tagging(Bucket=bkt, Key="src")["TagSet"] == [
        {"Key": "bar", "Value": ""},
        {"Key": "foo", "Value": "bar"},
    ]
    src = {"Bucket": bkt, "Key": "src"}
    alice.copy_object(Bucket=bkt, Key="same", CopySource=src)
    assert len(alice.get_object_tagging(Bucket=bkt, Key="same")["TagSet"]) == 2
    alice.copy_object(
        Bucket=bkt, Key="new", CopySource=src, TaggingDirective="REPLACE", Tagging="n=1"
    )
    assert alice.get_object_tagging(Bucket=bkt, Key="new")["TagSet"] == tagset(n="1")["TagSet"]
    upload = alice.create_multipart_upload(Bucket=bkt, Key="mp", Tagging="Hello=World")["UploadId"]
    etag = alice.upload_part(Bucket=bkt, Key="mp", UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    alice.complete_multipart_upload(
        Bucket=bkt,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert (
        alice.get_object_tagging(Bucket=bkt, Key="mp")["TagSet"] == tagset(Hello="World")["TagSet"]
    )


def test_bucket_tagging(alice, bkt):  # type: ignore[no-untyped-def]
    assert error(alice.get_bucket_tagging, Bucket=bkt) == (404, "NoSuchTagSet")
    assert (
        alice.put_bucket_tagging(Bucket=bkt, Tagging=tagset(Hello="World"))["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 204
    )
    assert alice.get_bucket_tagging(Bucket=bkt)["TagSet"] == tagset(Hello="World")["TagSet"]
    many = {"TagSet": [{"Key": str(i), "Value": ""} for i in range(51)]}
    assert error(alice.put_bucket_tagging, Bucket=bkt, Tagging=many) == (400, "BadRequest")
    delete = alice.delete_bucket_tagging(Bucket=bkt)
    assert delete["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error(alice.get_bucket_tagging, Bucket=bkt) == (404, "NoSuchTagSet")


def _policy(bkt: str, actions: list[str], condition: dict) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "bob"},
                    "Action": actions,
                    "Resource": f"arn:aws:s3:::{bkt}/*",
                    "Condition": condition,
                }
            ],
        }
    )


def test_existing_object_tag_policy(alice, bob, bkt):  # type: ignore[no-untyped-def]
    alice.put_bucket_policy(
        Bucket=bkt,
        Policy=_policy(
            bkt,
            ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging"],
            {"StringEquals": {"s3:ExistingObjectTag/security": "public"}},
        ),
    )
    alice.put_object(Bucket=bkt, Key="pub", Body=b"p", Tagging="security=public")
    alice.put_object(Bucket=bkt, Key="priv", Body=b"q", Tagging="security=private")
    assert bob.get_object(Bucket=bkt, Key="pub")["Body"].read() == b"p"
    assert bob.get_object_tagging(Bucket=bkt, Key="pub")["TagSet"]
    assert error(bob.get_object, Bucket=bkt, Key="priv")[0] == 403
    assert error(bob.get_object_tagging, Bucket=bkt, Key="priv")[0] == 403
    bob.put_object_tagging(Bucket=bkt, Key="pub", Tagging=tagset(security="private"))
    assert error(bob.get_object, Bucket=bkt, Key="pub")[0] == 403
    assert error(
        bob.put_object_tagging, Bucket=bkt, Key="pub", Tagging=tagset(security="public")
    ) == (403, "AccessDenied")


def test_request_object_tag_policy(alice, bob, bkt):  # type: ignore[no-untyped-def]
    alice.put_bucket_policy(
        Bucket=bkt,
        Policy=_policy(
            bkt,
            ["s3:PutObject", "s3:PutObjectTagging"],
            {"StringEquals": {"s3:RequestObjectTag/security": "public"}},
        ),
    )
    assert error(bob.put_object, Bucket=bkt, Key="k", Body=b"x")[0] == 403
    assert (
        error(bob.put_object, Bucket=bkt, Key="k", Body=b"x", Tagging="security=secret")[0] == 403
    )
    bob.put_object(Bucket=bkt, Key="k", Body=b"x", Tagging="security=public")
    assert (
        alice.get_object_tagging(Bucket=bkt, Key="k")["TagSet"]
        == tagset(security="public")["TagSet"]
    )
    # PutObject alone is not enough to tag: S3 asks for s3:PutObjectTagging too.
    alice.put_bucket_policy(
        Bucket=bkt,
        Policy=_policy(bkt, ["s3:PutObject"], {"StringLike": {"s3:RequestObjectTagKeys": "*"}}),
    )
    assert (
        error(bob.put_object, Bucket=bkt, Key="k2", Body=b"x", Tagging="security=public")[0] == 403
    )


def test_anonymous_tagged_upload_into_public_read_write_bucket(alice, anon, bkt):  # type: ignore[no-untyped-def]
    """Whom the bucket's ACL lets write may tag what they write, as S3 takes it."""
    alice.put_bucket_acl(Bucket=bkt, ACL="public-read-write")
    anon.put_object(Bucket=bkt, Key="k", Body=b"x", Tagging="a=1")
    assert alice.get_object_tagging(Bucket=bkt, Key="k")["TagSet"] == [{"Key": "a", "Value": "1"}]
    alice.put_bucket_acl(Bucket=bkt, ACL="private")
    assert error(anon.put_object, Bucket=bkt, Key="k2", Body=b"x", Tagging="a=1")[0] == 403
