"""POST Object: browser form uploads against ``objfs serve``.

Forms are signed by boto3's ``generate_presigned_post`` (SigV4), by hand
with SigV2 (as the s3-tests do), by ``objfs presign --post``, and submitted
by headless Chromium from a page of another origin (CORS). Bodies are
multipart/form-data built here and sent with http.client; a 64 MiB file
streams through with the server's memory bounded.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import http.client
import http.server
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest

from objfs.store import OWNER, Store
from objfs.store.logquery import query_access_logs

from .conftest import make_users
from .support import OBJFS, Key, Server, client
from .test_browser import PAGE, _open, _Quiet, browser  # noqa: F401 - browser: a fixture
from .test_memory import MiB, peak_rss

FileField = tuple[str, bytes]  # (filename, data)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str | None:
        if not self.body.startswith(b"<?xml") and not self.body.startswith(b"<Error"):
            return None
        found = ET.fromstring(self.body).find("Code")
        return found.text if found is not None else None

    @property
    def message(self) -> str:
        found = ET.fromstring(self.body).find("Message")
        return found.text or "" if found is not None else ""


def _part(boundary: str, name: str, value: str | FileField) -> bytes:
    if isinstance(value, tuple):
        head = (
            f'Content-Disposition: form-data; name="{name}"; filename="{value[0]}"\r\n'
            "Content-Type: application/octet-stream\r\n"
        )
        data = value[1]
    else:
        head = f'Content-Disposition: form-data; name="{name}"\r\n'
        data = value.encode()
    return f"--{boundary}\r\n{head}\r\n".encode() + data + b"\r\n"


def post(
    url: str,
    fields: Iterable[tuple[str, str | FileField]],
    *,
    stream: tuple[int, bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """POST a multipart/form-data form. ``stream``: (count, block), a file of
    ``count`` times ``block`` sent as it is made (the form's last field)."""
    boundary = "objfs" + secrets.token_hex(8)
    body = b"".join(_part(boundary, n, v) for n, v in fields)
    tail = f"--{boundary}--\r\n".encode()
    head = b""
    if stream is not None:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big"\r\n\r\n'
        ).encode()
        tail = b"\r\n" + tail
    length = len(body) + len(head) + (stream[0] * len(stream[1]) if stream else 0) + len(tail)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    conn.putrequest("POST", target, skip_host="Host" in (headers or {}))
    sent = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(length),
        **(headers or {}),
    }
    for k, v in sent.items():
        conn.putheader(k, v)
    conn.endheaders()
    conn.send(body + head)
    if stream is not None:
        for _ in range(stream[0]):
            conn.send(stream[1])
    conn.send(tail)
    resp = conn.getresponse()
    answer = Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    conn.close()
    return answer


def v2_form(key: Key, policy: dict) -> list[tuple[str, str | FileField]]:
    text = base64.b64encode(json.dumps(policy).encode())
    signature = base64.b64encode(hmac.new(key.secret.encode(), text, hashlib.sha1).digest())
    return [
        ("AWSAccessKeyId", key.key_id),
        ("policy", text.decode()),
        ("signature", signature.decode()),
    ]


def expiry(seconds: int = 600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def url(server, bkt) -> str:  # type: ignore[no-untyped-def]
    return f"{server.endpoint}/{bkt}"


def presigned(alice, bkt, key="up/${filename}", fields=None, conditions=None):  # type: ignore[no-untyped-def]
    made = alice.generate_presigned_post(
        bkt, key, Fields=fields, Conditions=conditions, ExpiresIn=300
    )
    return made["url"], list(made["fields"].items())


# -- boto3's generate_presigned_post (SigV4) ------------------------------------


def test_boto3_presigned_post_uploads_with_its_fields(alice, bkt):  # type: ignore[no-untyped-def]
    fields = {"Content-Type": "text/plain", "x-amz-meta-color": "blue", "acl": "public-read"}
    conditions = [
        {"Content-Type": "text/plain"},
        ["starts-with", "$x-amz-meta-color", "bl"],
        {"acl": "public-read"},
        ["content-length-range", 1, 100],
    ]
    url, form = presigned(alice, bkt, fields=fields, conditions=conditions)
    got = post(url, [*form, ("file", ("notes.txt", b"hello form"))])
    assert got.status == 204, got.body
    head = alice.head_object(Bucket=bkt, Key="up/notes.txt")
    assert head["ETag"] == got.headers["etag"] == f'"{hashlib.md5(b"hello form").hexdigest()}"'
    assert head["ContentType"] == "text/plain"
    assert head["Metadata"] == {"color": "blue"}
    assert got.headers["location"].endswith(f"/{bkt}/up/notes.txt")
    anon = client(url.rsplit("/", 1)[0], None)
    assert anon.get_object(Bucket=bkt, Key="up/notes.txt")["Body"].read() == b"hello form"


def test_success_action_status_and_redirect(alice, bkt, url):  # type: ignore[no-untyped-def]
    made, form = presigned(alice, bkt, "k", conditions=[{"success_action_status": "201"}])
    got = post(made, [*form, ("success_action_status", "201"), ("file", ("f", b"one"))])
    assert got.status == 201, got.body
    doc = ET.fromstring(got.body)
    assert doc.tag == "PostResponse"
    assert (doc.findtext("Bucket"), doc.findtext("Key")) == (bkt, "k")
    assert doc.findtext("ETag") == got.headers["etag"]
    assert doc.findtext("Location") == got.headers["location"]

    made, form = presigned(alice, bkt, "k", conditions=[{"success_action_status": "200"}])
    got = post(made, [*form, ("success_action_status", "200"), ("file", ("f", b"two"))])
    assert (got.status, got.body) == (200, b"")

    # An invalid status is 204; a redirect wins over any status.
    made, form = presigned(alice, bkt, "k", conditions=[{"success_action_status": "404"}])
    got = post(made, [*form, ("success_action_status", "404"), ("file", ("f", b"three"))])
    assert (got.status, got.body) == (204, b"")

    target = "http://example.invalid/done?from=objfs"
    made, form = presigned(
        alice, bkt, "a b", conditions=[["starts-with", "$success_action_redirect", "http://"]]
    )
    got = post(made, [*form, ("success_action_redirect", target), ("file", ("f", b"four"))])
    etag = hashlib.md5(b"four").hexdigest()
    assert got.status == 303
    assert got.headers["location"] == f"{target}&bucket={bkt}&key=a%20b&etag=%22{etag}%22"


def test_fields_are_case_insensitive_and_after_the_file_ignored(alice, bkt):  # type: ignore[no-untyped-def]
    url, form = presigned(alice, bkt, "k", conditions=[{"content-type": "text/csv"}])
    form = [(name.upper() if name == "key" else name, value) for name, value in form]
    got = post(
        url,
        [
            *form,
            ("CONTENT-TYPE", "text/csv"),
            ("x-ignore-anything", "fine"),
            ("file", ("f.csv", b"a,b\n")),
            ("x-amz-meta-late", "ignored"),
            ("submit", "Upload"),
        ],
    )
    assert got.status == 204, got.body
    head = alice.head_object(Bucket=bkt, Key="k")
    assert head["ContentType"] == "text/csv" and head["Metadata"] == {}


def test_non_ascii_metadata_is_kept_as_text(alice, bkt, s3env):  # type: ignore[no-untyped-def]
    # "Ã©" is also what the UTF-8 bytes of "é" read as latin-1: kept as sent
    meta = {"x-amz-meta-name": "Ã©", "x-amz-meta-cup": "café ☕"}
    conditions = [{k: v} for k, v in meta.items()]
    url, form = presigned(alice, bkt, "k", fields=meta, conditions=conditions)
    got = post(url, [*form, ("file", ("f", b"x"))])
    assert got.status == 204, got.body
    with Store.open(s3env["store"]) as store:
        assert store.head_object(OWNER, bkt, "k").user_meta == {"name": "Ã©", "cup": "café ☕"}


# -- SigV2 policies and every condition kind ------------------------------------


def test_v2_policy_conditions(keys, alice, bkt, url):  # type: ignore[no-untyped-def]
    def attempt(
        conditions: list, extra: list, data: bytes = b"data", bucket: bool = True
    ) -> Answer:
        named = [{"bucket": bkt}] if bucket else []
        policy = {"expiration": expiry(), "conditions": [*named, *conditions]}
        form = v2_form(keys["alice"], policy)
        return post(url, [("key", "in/x"), *form, *extra, ("file", ("x", data))])

    base = [["starts-with", "$key", "in/"]]
    assert attempt(base, []).status == 204
    # eq, written both ways; values are case-sensitive, names are not
    assert (
        attempt(
            [*base, ["eq", "$Cache-Control", "no-cache"]], [("cache-control", "no-cache")]
        ).status
        == 204
    )
    refused = attempt([*base, {"cache-control": "no-cache"}], [("Cache-Control", "No-Cache")])
    assert (refused.status, refused.code) == (403, "AccessDenied")
    assert refused.message == (
        'Invalid according to Policy: Policy Condition failed: ["eq", "$cache-control", "no-cache"]'
    )
    # starts-with: a prefix of the value ("" allows anything, the field may be missing)
    refused = attempt([["starts-with", "$key", "out/"]], [])
    assert refused.status == 403 and "Policy Condition failed" in refused.message
    assert attempt([*base, ["starts-with", "$x-amz-meta-a", ""]], []).status == 204
    # a field no condition names
    refused = attempt(base, [("x-amz-meta-sneaky", "1")])
    assert refused.message == "Invalid according to Policy: Extra input fields: x-amz-meta-sneaky"
    refused = attempt(base, [], bucket=False)  # nor the bucket
    assert refused.status == 403
    body = alice.get_object(Bucket=bkt, Key="in/x")["Body"].read()
    assert body == b"data"

    # content-length-range, checked on the file's bytes as they arrive
    sized = [*base, ["content-length-range", 3, 5]]
    assert attempt(sized, [], b"12345").status == 204
    big = attempt(sized, [], b"123456")
    assert (big.status, big.code) == (400, "EntityTooLarge")
    small = attempt(sized, [], b"12")
    assert (small.status, small.code) == (400, "EntityTooSmall")
    assert alice.get_object(Bucket=bkt, Key="in/x")["Body"].read() == b"12345"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"conditions": []}, "Invalid Policy: Policy missing expiration."),
        (
            {"expiration": "soon", "conditions": []},
            "Invalid Policy: Invalid 'expiration' value: 'soon'",
        ),
        ({"expiration": "EXP"}, "Invalid Policy: Policy missing conditions."),
        ({"expiration": "EXP", "conditions": [{}]}, "Invalid Policy: Invalid Simple-Condition"),
        (
            {"expiration": "EXP", "conditions": [["content-length-range", 0]]},
            "Invalid Policy: Invalid content-length-range",
        ),
        (
            {"expiration": "EXP", "conditions": [["content-length-range", -1, 5]]},
            "Invalid Policy: Invalid content-length-range",
        ),
        (
            {"expiration": "EXP", "conditions": [["matches", "$key", "x"]]},
            "Invalid Policy: Invalid Condition: unknown",
        ),
    ],
)
def test_invalid_policy_documents(keys, url, policy, message):  # type: ignore[no-untyped-def]
    policy = {k: expiry() if v == "EXP" else v for k, v in policy.items()}
    got = post(url, [("key", "k"), *v2_form(keys["alice"], policy), ("file", ("f", b"x"))])
    assert (got.status, got.code) == (400, "InvalidPolicyDocument")
    assert got.message.startswith(message)


def test_refusals(keys, s3env, bkt, url):  # type: ignore[no-untyped-def]
    policy = {"expiration": expiry(), "conditions": [{"bucket": bkt}, {"key": "k"}]}
    form = v2_form(keys["alice"], policy)

    def send(fields: list) -> Answer:
        return post(url, [("key", "k"), *fields, ("file", ("f", b"x"))])

    expired = v2_form(keys["alice"], {**policy, "expiration": expiry(-60)})
    got = send(expired)
    assert (got.status, got.code) == (403, "AccessDenied")
    assert got.message == "Invalid according to Policy: Policy expired."
    tampered = [(n, v[:-4] + "AAA=" if n == "signature" else v) for n, v in form]
    got = send(tampered)
    assert (got.status, got.code) == (403, "SignatureDoesNotMatch")
    unknown = [(n, "AKIDNOSUCHKEY" if n == "AWSAccessKeyId" else v) for n, v in form]
    assert send(unknown).code == "InvalidAccessKeyId"
    got = send([f for f in form if f[0] != "signature"])
    assert got.code == "InvalidArgument" and "'Signature'" in got.message
    got = post(url, [*form, ("file", ("f", b"x"))])  # no key
    assert got.code == "InvalidArgument" and "'key'" in got.message
    got = post(url, [("key", "k"), *form])  # no file
    assert (got.status, got.code) == (400, "IncorrectNumberOfFilesInPostRequest")
    got = post(url, [("key", "k"), ("x-amz-meta-big", "x" * 30000), ("file", ("f", b"x"))])
    assert got.code == "MaxPostPreDataLengthExceededError"
    got = post(url, [("key", "k"), ("file", ("f", b"x"))], headers={"Content-Type": "text/plain"})
    assert (got.status, got.code) == (412, "PreconditionFailed")

    # A key made inactive signs nothing any more.
    with Store.open(s3env["store"]) as store:
        store.set_access_key_status(OWNER, "alice", keys["alice"].key_id, active=False)
    try:
        assert send(form).code == "InvalidAccessKeyId"
    finally:
        with Store.open(s3env["store"]) as store:
            store.set_access_key_status(OWNER, "alice", keys["alice"].key_id, active=True)
    assert send(form).status == 204


def test_the_signer_needs_put_object_permission(keys, alice, bob, bkt, url, server):  # type: ignore[no-untyped-def]
    policy = {"expiration": expiry(), "conditions": [{"bucket": bkt}, {"key": "k"}]}
    form = [("key", "k"), *v2_form(keys["bob"], policy), ("file", ("f", b"from bob"))]
    assert post(url, form).code == "AccessDenied"  # bob may not write alice's bucket
    v4 = client(server.endpoint, keys["bob"])
    made = v4.generate_presigned_post(bkt, "k", ExpiresIn=60)
    assert (
        post(made["url"], [*made["fields"].items(), ("file", ("f", b"x"))]).code == "AccessDenied"
    )
    bob_arn = "arn:aws:iam:::user/bob"
    alice.put_bucket_policy(
        Bucket=bkt,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": bob_arn},
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{bkt}/k",
                    }
                ],
            }
        ),
    )
    assert post(url, form).status == 204
    assert bob.get_object(Bucket=bkt, Key="k")["Body"].read() == b"from bob"  # bob's object

    # Without a policy the form is anonymous: a bucket must allow public writes.
    anon_form = [("key", "anon"), ("file", ("f", b"anon"))]
    assert post(url, anon_form).code == "AccessDenied"
    alice.put_bucket_acl(Bucket=bkt, ACL="public-read-write")
    assert post(url, anon_form).status == 204


def test_encryption_checksum_and_tagging_fields(keys, alice, bkt, url):  # type: ignore[no-untyped-def]
    def upload(key: str, extra: list, data: bytes = b"secret") -> Answer:
        names = [["starts-with", f"${n}", ""] for n, _ in extra]
        policy = {"expiration": expiry(), "conditions": [{"bucket": bkt}, {"key": key}, *names]}
        return post(
            url, [("key", key), *v2_form(keys["alice"], policy), *extra, ("file", ("f", data))]
        )

    got = upload("s3", [("x-amz-server-side-encryption", "AES256")])
    assert got.status == 204 and got.headers["x-amz-server-side-encryption"] == "AES256"
    assert alice.head_object(Bucket=bkt, Key="s3")["ServerSideEncryption"] == "AES256"

    customer = os.urandom(32)
    ssec = [
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key", base64.b64encode(customer).decode()),
        (
            "x-amz-server-side-encryption-customer-key-MD5",
            base64.b64encode(hashlib.md5(customer).digest()).decode(),
        ),
    ]
    got = upload("c", ssec)
    assert got.status == 204, got.body
    assert got.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    read = alice.get_object(
        Bucket=bkt, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=customer
    )
    assert read["Body"].read() == b"secret"
    with pytest.raises(Exception, match="400|InvalidRequest"):
        alice.get_object(Bucket=bkt, Key="c")

    good = base64.b64encode(hashlib.sha256(b"secret").digest()).decode()
    got = upload("sum", [("x-amz-checksum-sha256", good)])
    assert got.status == 204 and got.headers["x-amz-checksum-sha256"] == good
    got = upload("sum", [("x-amz-checksum-sha256", good)], b"other")
    assert (got.status, got.code) == (400, "BadDigest")
    assert alice.get_object(Bucket=bkt, Key="sum")["Body"].read() == b"secret"

    tagging = "<Tagging><TagSet><Tag><Key>a b</Key><Value>1+2</Value></Tag></TagSet></Tagging>"
    assert upload("t", [("tagging", tagging)]).status == 204
    assert alice.get_object_tagging(Bucket=bkt, Key="t")["TagSet"] == [
        {"Key": "a b", "Value": "1+2"}
    ]
    bad = upload("t", [("tagging", "<Tagging><TagSet>")])
    assert (bad.status, bad.code) == (400, "MalformedXML")


def test_tagging_field_becomes_the_tagging_header() -> None:
    from objfs.s3api.post import tagging_header

    doc = (
        "<Tagging><TagSet><Tag><Key>project</Key><Value>a b</Value></Tag>"
        "<Tag><Key>k=</Key><Value></Value></Tag><Tag><Key>é</Key><Value>☕</Value></Tag>"
        "</TagSet></Tagging>"
    )
    assert tagging_header(doc) == "project=a%20b&k%3D=&%C3%A9=%E2%98%95"


def test_access_log_names_a_form_upload(keys, alice, bkt, url, s3env):  # type: ignore[no-untyped-def]
    target = f"{bkt}-logs"
    alice.create_bucket(Bucket=target, ACL="log-delivery-write")
    alice.put_bucket_logging(
        Bucket=bkt,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": ""}},
    )
    made = alice.generate_presigned_post(bkt, "logged", ExpiresIn=60)
    assert post(made["url"], [*made["fields"].items(), ("file", ("f", b"x"))]).status == 204
    with Store.open(s3env["store"]) as store:
        store.flush_access_logs(OWNER)
        alice_id = store.user_identity("alice").canonical_id
        records = list(query_access_logs(store, OWNER, target, ""))
    posted = [r for r in records if r.key == "logged"]
    assert [(r.operation, r.http_status, r.requester) for r in posted] == [
        ("REST.POST.OBJECT", 204, alice_id)
    ]
    assert posted[0].signature_version == "SigV4"


def test_a_large_file_streams_in_bounded_memory(alice, bkt, server):  # type: ignore[no-untyped-def]
    size = 64 * MiB
    block = os.urandom(MiB)
    url, form = presigned(alice, bkt, "big", conditions=[["content-length-range", 0, size]])
    before = peak_rss(server.proc.pid)
    got = post(url, form, stream=(size // MiB, block))
    assert got.status == 204, got.body
    grew = peak_rss(server.proc.pid) - before
    assert grew < 40 * MiB, f"server peak memory grew by {grew // MiB} MiB for a 64 MiB form"
    assert got.headers["etag"] == f'"{hashlib.md5(block * (size // MiB)).hexdigest()}"'
    assert alice.head_object(Bucket=bkt, Key="big")["ContentLength"] == size


def test_virtual_hosted_and_sigv2_refused(tmp_path):  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    Store.init(store).close()
    alice_key = make_users(store, "alice")["alice"]
    server = Server(store, "--domain", "s3.test", "--no-sigv2", log=tmp_path / "log")
    try:
        alice = client(server.endpoint, alice_key)
        alice.create_bucket(Bucket="vhost")
        made = alice.generate_presigned_post("vhost", "k", ExpiresIn=60)
        host = f"vhost.s3.test:{server.port}"
        got = post(
            f"{server.endpoint}/",
            [*made["fields"].items(), ("file", ("f", b"by host"))],
            headers={"Host": host},
        )
        assert got.status == 204, got.body
        assert got.headers["location"] == f"http://{host}/k"
        assert alice.get_object(Bucket="vhost", Key="k")["Body"].read() == b"by host"
        policy = {"expiration": expiry(), "conditions": [{"bucket": "vhost"}, {"key": "k"}]}
        got = post(
            f"{server.endpoint}/vhost",
            [("key", "k"), *v2_form(alice_key, policy), ("file", ("f", b"v2"))],
        )
        assert (got.status, got.code) == (400, "InvalidRequest")
    finally:
        assert server.stop() == 0


# -- objfs presign --post --------------------------------------------------------


def test_cli_presign_post(s3env, keys, alice, bkt):  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OBJFS_"))}
    env |= {
        "AWS_ACCESS_KEY_ID": keys["alice"].key_id,
        "AWS_SECRET_ACCESS_KEY": keys["alice"].secret,
    }

    def presign(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*OBJFS, "--store", str(s3env["store"]), *args, "--endpoint", s3env["server"].endpoint],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip

    out = presign(
        "--json", "presign", "--post", f"s3://{bkt}/docs/${{filename}}",
        "--field", "Content-Type=text/plain", "--condition", '["content-length-range", 0, 10]',
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    assert made["url"] == f"{s3env['server'].endpoint}/{bkt}"
    assert made["fields"]["key"] == "docs/${filename}"
    assert made["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    got = post(made["url"], [*made["fields"].items(), ("file", ("a.txt", b"by the cli"))])
    assert got.status == 204, got.body
    head = alice.head_object(Bucket=bkt, Key="docs/a.txt")
    assert head["ContentType"] == "text/plain"
    too_big = post(made["url"], [*made["fields"].items(), ("file", ("b.txt", b"x" * 11))])
    assert too_big.code == "EntityTooLarge"

    out = presign("presign", "--post", f"s3://{bkt}/plain")  # human-readable
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"POST {s3env['server'].endpoint}/{bkt}"
    fields = [tuple(line.split("=", 1)) for line in lines[1:-1]]
    assert ("key", "plain") in fields and lines[-1].startswith("file=")
    assert post(lines[0][5:], [*fields, ("file", ("f", b"x"))]).status == 204

    out = presign("presign", f"s3://{bkt}/k", "--field", "a=b")
    assert out.returncode == 1 and "--post" in out.stderr
    out = presign("presign", "--post", f"s3://{bkt}/k", "--condition", "nope")
    assert out.returncode == 2 and "--condition" in out.stderr


# -- a real browser, from another origin -------------------------------------------

SUBMIT = """
const [url, fields, name, text, done] = arguments;
const form = new FormData();
for (const [k, v] of fields) form.append(k, v);
form.append('file', new Blob([text], {type: 'text/plain'}), name);
fetch(url, {method: 'POST', body: form}).then(
  async r => done({status: r.status, text: await r.text(), etag: r.headers.get('ETag')}),
  e => done({error: String(e)}));
"""

FORM_PAGE = """<!doctype html><html><head><title>objfs post</title></head><body>
<form id=f method=post enctype=multipart/form-data action="{url}">{inputs}
<input type=file name=file id=file><input type=submit id=go value=Upload></form></body></html>"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(origin, directory) of pages served on another port than objfs serve."""
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text(PAGE)
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def _arrives(alice, bkt: str, key: str) -> bytes:  # type: ignore[no-untyped-def]
    for _ in range(100):
        try:
            return alice.get_object(Bucket=bkt, Key=key)["Body"].read()
        except alice.exceptions.NoSuchKey:
            time.sleep(0.1)
    raise AssertionError(f"{key} never arrived")


def test_browser_posts_a_form_across_origins(browser, site, alice, bkt, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    page, root = site
    url, form = presigned(
        alice, bkt, "web/${filename}", fields={"success_action_status": "201"},
        conditions=[{"success_action_status": "201"}],
    )  # fmt: skip
    _open(browser, page)
    # fetch() of a multipart form is a "simple" request: no preflight, but
    # the page reads the answer only if the bucket's CORS rule allows it.
    result = browser.execute_async_script(SUBMIT, url, form, "hello.txt", "from chromium")
    assert "Failed to fetch" in result.get("error", ""), result
    assert alice.get_object(Bucket=bkt, Key="web/hello.txt")["Body"].read() == b"from chromium"
    alice.put_bucket_cors(
        Bucket=bkt,
        CORSConfiguration={
            "CORSRules": [
                {"AllowedOrigins": [page], "AllowedMethods": ["POST"], "ExposeHeaders": ["ETag"]}
            ]
        },
    )
    result = browser.execute_async_script(SUBMIT, url, form, "again.txt", "from chromium, read")
    assert result.get("status") == 201, result
    assert "<Key>web/again.txt</Key>" in result["text"]
    assert result["etag"] == f'"{hashlib.md5(b"from chromium, read").hexdigest()}"'

    # A plain HTML form, as a user submits it: the page navigates to the answer.
    inputs = "".join(f'<input type=hidden name="{k}" value="{v}">' for k, v in form)
    html = FORM_PAGE.format(url=url, inputs=inputs)
    (root / "form.html").write_text(html)
    upload = tmp_path / "picked.txt"
    upload.write_bytes(b"picked by a user")
    browser.get(page + "/form.html")
    browser.find_element("id", "file").send_keys(str(upload))
    browser.find_element("id", "go").click()
    assert _arrives(alice, bkt, "web/picked.txt") == b"picked by a user"
    # the browser followed the 201: it shows S3's PostResponse
    for _ in range(100):
        if "web/picked.txt" in browser.page_source:
            break
        time.sleep(0.1)
    assert (
        "<Key>web/picked.txt</Key>" in browser.page_source
        or "web/picked.txt" in browser.page_source
    )
