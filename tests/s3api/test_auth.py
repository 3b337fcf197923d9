"""Who may do what over the HTTP API: SigV4 identities, anonymous requests,
bucket policies and ACLs through the store's seam, pre-signed URLs, and the
ways a signature is refused."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import formatdate

import pytest
from botocore.exceptions import ClientError

from .support import OBJFS, Key, client, raw_request


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    e = exc.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]


def fetch(url: str, *, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_other_users_and_anonymous_are_denied_by_default(alice, bob, anon, bkt):
    alice.put_object(Bucket=bkt, Key="private", Body=b"x")
    for who in (bob, anon):
        for call in (
            lambda c: c.get_object(Bucket=bkt, Key="private"),
            lambda c: c.put_object(Bucket=bkt, Key="new", Body=b"y"),
            lambda c: c.list_objects_v2(Bucket=bkt),
            lambda c: c.delete_object(Bucket=bkt, Key="private"),
            lambda c: c.get_bucket_policy(Bucket=bkt),
        ):
            with pytest.raises(ClientError) as exc:
                call(who)
            assert error(exc) == ("AccessDenied", 403)
    assert [o["Key"] for o in alice.list_objects_v2(Bucket=bkt)["Contents"]] == ["private"]


def test_bucket_policy_allows_then_denies(alice, bob, anon, bkt):
    alice.put_object(Bucket=bkt, Key="public/a", Body=b"A")
    alice.put_object(Bucket=bkt, Key="secret/b", Body=b"B")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadPublic",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bkt}/public/*",
            },
            {
                "Sid": "BobWrites",
                "Effect": "Allow",
                "Principal": {"AWS": ["bob"]},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bkt}/*",
            },
            {
                "Sid": "NoBobInSecret",
                "Effect": "Deny",
                "Principal": {"AWS": ["bob"]},
                "Action": "s3:*",
                "Resource": f"arn:aws:s3:::{bkt}/secret/*",
            },
        ],
    }
    alice.put_bucket_policy(Bucket=bkt, Policy=json.dumps(policy))
    assert anon.get_object(Bucket=bkt, Key="public/a")["Body"].read() == b"A"
    assert bob.get_object(Bucket=bkt, Key="public/a")["Body"].read() == b"A"
    with pytest.raises(ClientError) as exc:
        anon.get_object(Bucket=bkt, Key="secret/b")
    assert error(exc) == ("AccessDenied", 403)
    bob.put_object(Bucket=bkt, Key="drop/from-bob", Body=b"hi")
    with pytest.raises(ClientError) as exc:
        bob.put_object(Bucket=bkt, Key="secret/overwrite", Body=b"no")
    assert error(exc) == ("AccessDenied", 403)
    with pytest.raises(ClientError):
        anon.put_object(Bucket=bkt, Key="drop/anon", Body=b"no")
    keys = [o["Key"] for o in alice.list_objects_v2(Bucket=bkt)["Contents"]]
    assert keys == ["drop/from-bob", "public/a", "secret/b"]


def test_policy_condition_secure_transport_sees_plain_http(alice, bkt):
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    alice.put_bucket_policy(
        Bucket=bkt,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bkt}/*",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=bkt, Key="k")
    assert error(exc) == ("AccessDenied", 403)


def test_acl_grant_to_a_user_made_with_the_cli(server, s3env, alice, bkt):
    run = [*OBJFS, "--store", str(s3env["store"])]
    subprocess.run([*run, "user", "create", "carol"], check=True, capture_output=True)
    out = subprocess.run(
        [*run, "--json", "user", "keys", "create", "carol"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    record = json.loads(out)
    carol = client(
        server.endpoint,
        Key("carol", record["access_key_id"], record["secret_access_key"]),
    )
    alice.put_object(Bucket=bkt, Key="shared", Body=b"for carol")
    with pytest.raises(ClientError) as exc:
        carol.get_object(Bucket=bkt, Key="shared")
    assert error(exc) == ("AccessDenied", 403)
    carol_id = carol.list_buckets()["Owner"]["ID"]
    alice.put_object_acl(Bucket=bkt, Key="shared", GrantRead=f'id="{carol_id}"')
    assert carol.get_object(Bucket=bkt, Key="shared")["Body"].read() == b"for carol"
    with pytest.raises(ClientError):
        carol.put_object(Bucket=bkt, Key="shared", Body=b"no write grant")


def test_presigned_get_and_put(alice, bkt):
    alice.put_object(Bucket=bkt, Key="dir/é ü+dl", Body=b"download me")
    url = alice.generate_presigned_url(
        "get_object", Params={"Bucket": bkt, "Key": "dir/é ü+dl"}, ExpiresIn=300
    )
    assert fetch(url) == (200, b"download me")
    url = alice.generate_presigned_url(
        "put_object", Params={"Bucket": bkt, "Key": "ul"}, ExpiresIn=300
    )
    status, _ = fetch(url, method="PUT", data=b"uploaded")
    assert status == 200
    assert alice.get_object(Bucket=bkt, Key="ul")["Body"].read() == b"uploaded"
    head = alice.generate_presigned_url(
        "head_object", Params={"Bucket": bkt, "Key": "dir/é ü+dl"}, ExpiresIn=300
    )
    assert fetch(head, method="HEAD")[0] == 200


def test_presigned_url_expired_and_tampered(alice, bkt):
    alice.put_object(Bucket=bkt, Key="dl", Body=b"x")
    url = alice.generate_presigned_url(
        "get_object", Params={"Bucket": bkt, "Key": "dl"}, ExpiresIn=1
    )
    # tampered: a long-lived URL (a short one could expire first on a busy machine)
    good = alice.generate_presigned_url(
        "get_object", Params={"Bucket": bkt, "Key": "dl"}, ExpiresIn=300
    )
    tampered = good.replace("/dl?", "/dk?")
    status, body = fetch(tampered)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    assert fetch(good) == (200, b"x")
    time.sleep(2.1)
    status, body = fetch(url)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert b"Request has expired" in body


def test_presigned_url_expires_out_of_range(alice, bkt):
    """S3: X-Amz-Expires over a week (or negative) -> 400 AuthorizationQueryParametersError."""
    alice.put_object(Bucket=bkt, Key="dl", Body=b"x")
    url = alice.generate_presigned_url("get_object", Params={"Bucket": bkt, "Key": "dl"})
    for value, words in (("604801", b"less than a week"), ("-1", b"non-negative")):
        status, body = fetch(re.sub(r"X-Amz-Expires=\d+", f"X-Amz-Expires={value}", url))
        assert status == 400, body
        assert b"<Code>AuthorizationQueryParametersError</Code>" in body and words in body


def test_presigned_url_checks_the_signer_when_used(alice, bob, bkt):
    alice.put_object(Bucket=bkt, Key="dl", Body=b"x")
    url = bob.generate_presigned_url("get_object", Params={"Bucket": bkt, "Key": "dl"})
    status, body = fetch(url)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body


def test_signature_refusals(server, keys, bkt):
    alice = keys["alice"]
    wrong = Key(
        "alice", alice.key_id, alice.secret[:-1] + ("A" if alice.secret[-1] != "A" else "B")
    )
    resp = raw_request(server.endpoint, "GET", f"/{bkt}", key=wrong)
    assert (resp.status, resp.code) == (403, "SignatureDoesNotMatch")
    nobody = Key("nobody", "AKIANOSUCHKEY0000000", "x" * 40)
    resp = raw_request(server.endpoint, "GET", f"/{bkt}", key=nobody)
    assert (resp.status, resp.code) == (403, "InvalidAccessKeyId")
    skewed = datetime.now(UTC) - timedelta(minutes=20)
    resp = raw_request(server.endpoint, "GET", f"/{bkt}", key=alice, when=skewed)
    assert (resp.status, resp.code) == (403, "RequestTimeTooSkewed")
    resp = raw_request(server.endpoint, "GET", f"/{bkt}", key=alice, when=datetime.now(UTC))
    assert resp.status == 200


def test_signature_version_2_is_checked_not_taken_as_anonymous(server, keys, alice, bkt):
    """A SigV2 request is the signer's (test_sigv2.py), never anonymous: a bad
    SigV2 signature is refused even where anonymous could read
    (``--no-sigv2`` refuses SigV2 outright, also in test_sigv2.py)."""
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    alice.put_object_acl(Bucket=bkt, Key="k", ACL="public-read")  # anonymous could read it
    v2 = client(server.endpoint, keys["alice"], signature_version="s3")
    url = v2.generate_presigned_url("get_object", Params={"Bucket": bkt, "Key": "k"})
    assert "AWSAccessKeyId=" in url
    status, body = fetch(url.replace("Signature=", "Signature=x"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    resp = raw_request(
        server.endpoint,
        "GET",
        f"/{bkt}/k",
        headers={"Date": formatdate(usegmt=True)},
        authorization=f"AWS {keys['alice'].key_id}:c2lnbmF0dXJl",
    )
    assert (resp.status, resp.code) == (403, "SignatureDoesNotMatch")


def test_access_denied_over_http_names_no_policy(server, alice, bob, anon, bkt, s3env):
    """Over HTTP a refusal says S3's "Access Denied" and nothing of who, which
    action or which policy statement decided; the CLI keeps the detail."""
    alice.put_object(Bucket=bkt, Key="secret/b", Body=b"B")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NoOneInSecretXyz",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": f"arn:aws:s3:::{bkt}/secret/*",
            }
        ],
    }
    alice.put_bucket_policy(Bucket=bkt, Policy=json.dumps(policy))
    for who in (anon, bob, alice):
        with pytest.raises(ClientError) as exc:
            who.get_object(Bucket=bkt, Key="secret/b")
        assert error(exc) == ("AccessDenied", 403)
        assert exc.value.response["Error"]["Message"] == "Access Denied"
    out = bob.delete_objects(Bucket=bkt, Delete={"Objects": [{"Key": "secret/b"}]})
    assert [(e["Code"], e["Message"]) for e in out["Errors"]] == [("AccessDenied", "Access Denied")]
    r = raw_request(server.endpoint, "GET", f"/{bkt}/secret/b")
    assert r.status == 403 and r.code == "AccessDenied"
    for word in (b"NoOneInSecretXyz", b"anonymous", b"GetObject", b"policy"):
        assert word not in r.body
    # The owner's CLI still says which statement refused.
    cli = subprocess.run(
        [*OBJFS, "--store", str(s3env["store"]), "policy", "simulate", "--user", "bob"]
        + ["--action", "s3:GetObject", "--resource", f"arn:aws:s3:::{bkt}/secret/b"],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 3 and "NoOneInSecretXyz" in cli.stdout, cli


def test_missing_key_is_404_only_for_who_may_list_the_bucket(alice, bob, anon, bkt):
    """S3: a GET of a key that does not exist is 404 NoSuchKey when the caller
    may ListBucket (they could see it is not there), else 403 AccessDenied."""
    alice.put_object(Bucket=bkt, Key="gone", Body=b"x")
    alice.delete_object(Bucket=bkt, Key="gone")
    for who in (anon, bob):
        for key in ("never", "gone"):
            with pytest.raises(ClientError) as exc:
                who.get_object(Bucket=bkt, Key=key)
            assert error(exc) == ("AccessDenied", 403)
    alice.put_bucket_acl(Bucket=bkt, ACL="public-read")  # READ on the bucket: ListBucket
    for who in (anon, bob):
        for key in ("never", "gone"):
            with pytest.raises(ClientError) as exc:
                who.get_object(Bucket=bkt, Key=key)
            assert error(exc) == ("NoSuchKey", 404)
        with pytest.raises(ClientError) as exc:
            who.head_object(Bucket=bkt, Key="never")
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    alice.put_object(Bucket=bkt, Key="private", Body=b"x")  # exists: still 403
    with pytest.raises(ClientError) as exc:
        anon.get_object(Bucket=bkt, Key="private")
    assert error(exc) == ("AccessDenied", 403)


def test_missing_key_404_follows_a_prefix_limited_list_grant(alice, bob, bkt):
    """ListBucket allowed only under public/ (s3:prefix): a missing key there is
    404 for bob, elsewhere 403 (the key is the prefix its listing would use)."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bkt}",
                "Condition": {"StringLike": {"s3:prefix": "public/*"}},
            }
        ],
    }
    alice.put_bucket_policy(Bucket=bkt, Policy=json.dumps(policy))
    with pytest.raises(ClientError) as exc:
        bob.head_object(Bucket=bkt, Key="public/object")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as exc:
        bob.head_object(Bucket=bkt, Key="private/object")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
