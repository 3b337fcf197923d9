"""POST policy documents: parsing, conditions and both signatures, without a server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from botocore.auth import S3SigV4PostAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from objfs.auth import postpolicy, sigv4
from objfs.errors import AccessDenied, InvalidPolicyDocument, SignatureDoesNotMatch

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def policy(*conditions: object, expiration: str = "2026-03-01T13:00:00.000Z") -> str:
    doc = {"expiration": expiration, "conditions": list(conditions)}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def check(text: str, **fields: str) -> None:
    postpolicy.parse(text).check({k.lower(): v for k, v in fields.items()}, now=NOW)


def test_names_are_case_insensitive_values_are_not() -> None:
    text = policy({"BuCkEt": "b"}, ["StArTs-WiTh", "$KEY", "up/"], ["EQ", "$Acl", "private"])
    check(text, bucket="b", key="up/x", acl="private")
    with pytest.raises(
        AccessDenied, match=r'Policy Condition failed: \["EQ", "\$Acl", "private"\]'
    ):
        check(text, bucket="b", key="up/x", acl="Private")


def test_exempt_fields_need_no_condition() -> None:
    text = policy({"bucket": "b"})
    check(
        text,
        bucket="b",
        file="",
        policy="p",
        signature="s",
        AWSAccessKeyId="k",
        **{"x-amz-signature": "s", "x-ignore-me": "1", "x-amz-checksum-crc32": "AAAAAA=="},
    )
    with pytest.raises(AccessDenied, match="Extra input fields: key"):
        check(text, bucket="b", key="k")


def test_content_type_starts_with_checks_each_listed_type() -> None:
    text = policy({"bucket": "b"}, ["starts-with", "$Content-Type", "image/"])
    check(text, bucket="b", **{"content-type": "image/png, image/jpeg"})
    with pytest.raises(AccessDenied):
        check(text, bucket="b", **{"content-type": "image/png, text/html"})


def test_length_range_and_expiry() -> None:
    parsed = postpolicy.parse(policy(["content-length-range", "1", "10"]))
    assert parsed.length_range == (1, 10)
    assert postpolicy.parse(policy()).length_range is None
    expired = postpolicy.parse(policy(expiration="2026-03-01T11:59:59Z"))
    with pytest.raises(AccessDenied, match="Policy expired."):
        expired.check({}, now=NOW)


@pytest.mark.parametrize(
    "text",
    [
        "not base64!",
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(
            b'{"expiration": "2026-03-01T13:00:00Z", "conditions": [], "x": 1}'
        ).decode(),
        policy(["content-length-range", 10, 1]),
        policy(["starts-with", "key", "x"]),
        policy({"a": "1", "b": "2"}),
        policy(expiration="2026-02-30T00:00:00Z"),
    ],
)
def test_invalid_documents(text: str) -> None:
    with pytest.raises(InvalidPolicyDocument, match="^Invalid Policy: "):
        postpolicy.parse(text)


def test_sign_v4_matches_botocore_and_verifies() -> None:
    fields = postpolicy.sign_v4(
        {"expiration": "2026-03-01T13:00:00Z", "conditions": [{"bucket": "b"}]},
        access_key="AKID",
        secret_key="secret",
        region="us-east-1",
        now=NOW,
    )
    assert fields["x-amz-credential"] == "AKID/20260301/us-east-1/s3/aws4_request"
    doc = json.loads(base64.b64decode(fields["policy"]))
    assert {"x-amz-date": "20260301T120000Z"} in doc["conditions"]
    cred = sigv4.Credential.parse(fields["x-amz-credential"])
    postpolicy.verify_v4(fields["policy"], fields["x-amz-signature"], cred, "secret")
    with pytest.raises(SignatureDoesNotMatch):
        postpolicy.verify_v4(fields["policy"], fields["x-amz-signature"], cred, "other")

    # botocore's own POST signer: its form verifies here
    signer = S3SigV4PostAuth(Credentials("AKID", "secret"), "s3", "us-east-1")
    request = AWSRequest(method="POST", url="http://h/b")
    request.context["s3-presign-post-fields"] = {}
    request.context["s3-presign-post-policy"] = {
        "expiration": "2026-03-01T13:00:00Z",
        "conditions": [{"bucket": "b"}],
    }
    signer.add_auth(request)
    theirs = request.context["s3-presign-post-fields"]
    theirs_cred = sigv4.Credential.parse(theirs["x-amz-credential"])
    postpolicy.verify_v4(theirs["policy"], theirs["x-amz-signature"], theirs_cred, "secret")


def test_verify_v2() -> None:
    text = policy({"bucket": "b"})
    good = base64.b64encode(hmac.new(b"secret", text.encode(), hashlib.sha1).digest()).decode()
    postpolicy.verify_v2(text, good, "secret")
    with pytest.raises(SignatureDoesNotMatch):
        postpolicy.verify_v2(text, good, "other")
