"""The access-control commands end to end: users, keys, profiles, policies, ACLs,
the simulator, as a person types them (the installed ``objfs`` in a subprocess).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from objfs.store import OWNER, Store
from tests.test_cli import OBJFS, Result, assert_user_error

READ_PHOTOS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadPhotos",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"],
        }
    ],
}


class Shell:
    """``objfs --store S ...`` with a private HOME (so ~/.config/objfs is the test's)."""

    def __init__(self, store: Path, home: Path) -> None:
        self.store, self.home = store, home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("OBJFS_", "AWS_"))}
        self.env.update(HOME=str(home), LC_ALL="C.UTF-8")

    def __call__(self, *args: str, input: bytes = b"", **env: str) -> Result:
        proc = subprocess.run(
            [str(OBJFS), "--store", str(self.store), *args],
            input=input,
            capture_output=True,
            env={**self.env, **env},
            timeout=120,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr.decode())

    def ok(self, *args: str, input: bytes = b"", **env: str) -> Result:
        result = self(*args, input=input, **env)
        assert result.returncode == 0, (args, result.stderr)
        return result


@pytest.fixture
def sh(tmp_path: Path) -> Shell:
    path = tmp_path / "store"
    with Store.init(path, chunk_size=64 << 10) as store:
        store.create_bucket(OWNER, "photos", versioning=True)
        store.put_object(OWNER, "photos", "a.jpg", b"jpeg bytes")
    home = tmp_path / "home"
    home.mkdir()
    return Shell(path, home)


def test_user_keys_profile_and_policy_flow(sh: Shell, tmp_path: Path) -> None:
    created = sh.ok("user", "create", "alice", "--display-name", "Alice A.")
    assert "created user alice" in created.out
    sh.ok("user", "keys", "create", "alice", "--write-profile", "alice")
    creds = sh.home / ".config" / "objfs" / "credentials"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    text = creds.read_text()
    assert "[alice]" in text and "aws_access_key_id = OBJF" in text

    # Without a policy alice may do nothing with the owner's bucket.
    denied = sh("--profile", "alice", "get", "s3://photos/a.jpg", "-")
    assert_user_error(denied, "Access Denied", "user alice")
    policy_file = tmp_path / "read.json"
    policy_file.write_text(json.dumps(READ_PHOTOS))
    sh.ok("user", "policy", "put", "alice", "read-photos", str(policy_file))
    assert sh.ok("user", "policy", "ls", "alice").out.split() == ["read-photos"]
    assert json.loads(sh.ok("user", "policy", "get", "alice", "read-photos").out) == READ_PHOTOS
    assert sh.ok("--profile", "alice", "get", "s3://photos/a.jpg", "-").stdout == b"jpeg bytes"
    assert "a.jpg" in sh.ok("--profile", "alice", "ls", "s3://photos").out
    refused = sh("--profile", "alice", "put", "-", "s3://photos/b.jpg", input=b"x")
    assert_user_error(refused, "s3:PutObject", "implicit deny")
    assert "b.jpg" not in sh.ok("ls", "s3://photos").out  # nothing written

    # The same key through the environment, as the aws cli would use it.
    key_id = text.split("aws_access_key_id = ")[1].split()[0]
    secret = text.split("aws_secret_access_key = ")[1].split()[0]
    env = {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
    assert sh.ok("get", "s3://photos/a.jpg", "-", **env).stdout == b"jpeg bytes"
    assert_user_error(sh("user", "ls", **env), "store owner only")
    assert_user_error(
        sh("ls", "s3://photos", AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY="wrong" * 8),
        "cannot act as access key",
    )
    assert_user_error(sh("--profile", "nobody", "ls"), 'no profile "nobody"')

    # A disabled key authenticates nothing; enabling it again restores access.
    sh.ok("user", "keys", "disable", "alice", key_id)
    assert_user_error(sh("--profile", "alice", "ls", "s3://photos"), "inactive")
    sh.ok("user", "keys", "enable", "alice", key_id)
    sh.ok("--profile", "alice", "ls", "s3://photos")
    listed = json.loads(sh.ok("--json", "user", "keys", "ls", "alice").out)
    assert [k["access_key_id"] for k in listed] == [key_id]
    assert "secret" not in json.dumps(listed)

    sh.ok("user", "policy", "rm", "alice", "read-photos")
    assert_user_error(sh("--profile", "alice", "ls", "s3://photos"), "Access Denied")
    sh.ok("user", "rm", "alice")
    assert_user_error(sh("--profile", "alice", "ls", "s3://photos"), "does not exist")


def test_a_second_key_profile_keeps_the_first(sh: Shell) -> None:
    sh.ok("user", "create", "bob")
    sh.ok("user", "keys", "create", "bob", "--write-profile", "one")
    sh.ok("user", "keys", "create", "bob", "--write-profile", "two")
    text = (sh.home / ".config" / "objfs" / "credentials").read_text()
    assert "[one]" in text and "[two]" in text
    assert_user_error(sh("user", "keys", "create", "bob"), "already has 2 access keys")


def test_secret_is_printed_once_without_a_profile(sh: Shell) -> None:
    sh.ok("user", "create", "carol")
    out = sh.ok("user", "keys", "create", "carol").out
    assert "AccessKeyId:" in out and "SecretAccessKey:" in out
    secret = out.split("SecretAccessKey:")[1].split()[0]
    assert len(secret) == 40
    assert secret not in sh.ok("user", "keys", "ls", "carol").out


def test_bucket_policy_and_malformed_policy(sh: Shell) -> None:
    bad = '{"Version": "2012-10-17", "Statement": [{"Effect": "Alow", "Action": "s3:*"}]}'
    result = sh("bucket", "policy", "put", "photos", "-", input=bad.encode())
    assert_user_error(result, "Statement[0]", "Effect")
    assert_user_error(sh("bucket", "policy", "get", "photos"), "has no policy")
    deny_all = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Frozen",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::photos/*",
            }
        ],
    }
    sh.ok("bucket", "policy", "put", "photos", "-", input=json.dumps(deny_all).encode())
    assert json.loads(sh.ok("bucket", "policy", "get", "photos").out)["Statement"][0]["Sid"] == (
        "Frozen"
    )
    assert_user_error(sh("put", "-", "s3://photos/new", input=b"x"), 'Sid "Frozen"')
    sh.ok("bucket", "policy", "rm", "photos")
    sh.ok("put", "-", "s3://photos/new", input=b"x")


def test_simulate_names_the_statement_and_exits_by_decision(sh: Shell, tmp_path: Path) -> None:
    sh.ok("user", "create", "alice")
    policy_file = tmp_path / "read.json"
    policy_file.write_text(json.dumps(READ_PHOTOS))
    sh.ok("user", "policy", "put", "alice", "read-photos", str(policy_file))
    allowed = sh(
        "policy", "simulate", "--user", "alice", "--action", "s3:GetObject",
        "--resource", "arn:aws:s3:::photos/a.jpg",
    )  # fmt: skip
    assert allowed.returncode == 0
    assert allowed.out.strip() == (
        'Allowed: by identity policy "read-photos", Statement[0] (Sid "ReadPhotos")'
    )
    denied = sh(
        "--json", "policy", "simulate", "--user", "alice", "--action", "s3:PutObject",
        "--resource", "s3://photos/a.jpg", "--context", "aws:SourceIp=10.1.2.3",
    )  # fmt: skip
    assert denied.returncode == 3
    record = denied.json()
    assert record["decision"] == "Denied" and record["reason"] == "implicit-deny"
    assert "no statement allowed it" in record["explanation"]
    assert_user_error(
        sh("policy", "simulate", "--user", "nobody", "--action", "s3:GetObject", "--resource", "*"),
        "no such user",
    )


def test_acl_put_and_get(sh: Shell) -> None:
    sh.ok("user", "create", "alice", "--display-name", "Alice A.")
    sh.ok(
        "acl",
        "put",
        "s3://photos/a.jpg",
        "--grant",
        "read=user:alice",
        "--grant",
        "read=group:AllUsers",
    )
    shown = sh.ok("acl", "get", "s3://photos/a.jpg").out
    assert "READ" in shown and "Alice A." in shown and "group AllUsers" in shown
    as_json = json.loads(sh.ok("--json", "acl", "get", "s3://photos").out)
    assert [g["permission"] for g in as_json["grants"]] == ["FULL_CONTROL"]
    sh.ok("acl", "put", "s3://photos", "--canned", "public-read")
    assert_user_error(sh("acl", "put", "s3://photos"), "--canned")
    assert_user_error(sh("acl", "put", "s3://photos", "--canned", "world-writable"), "canned ACL")
    assert_user_error(sh("acl", "put", "s3://photos", "--grant", "read=user:nobody"), "nobody")


def test_bucket_policy_requiring_sse_through_the_cli(sh: Shell) -> None:
    require_sse = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RequireSSE",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::photos/*",
                "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}},
            }
        ],
    }
    sh.ok("bucket", "policy", "put", "photos", "-", input=json.dumps(require_sse).encode())
    refused = sh("put", "-", "s3://photos/plain.txt", input=b"x")
    assert_user_error(refused, 'Sid "RequireSSE"')
    sh.ok("put", "-", "s3://photos/sealed.txt", "--sse", "AES256", input=b"x")
    sh.ok("put", "-", "s3://photos/kms.txt", "--sse", "aws:kms", input=b"x")
    listed = sh.ok("ls", "s3://photos").out
    assert "sealed.txt" in listed and "kms.txt" in listed and "plain.txt" not in listed


def test_keys_written_to_a_named_credentials_file(sh: Shell, tmp_path: Path) -> None:
    creds = tmp_path / "elsewhere" / "credentials"
    sh.ok("user", "create", "dave")
    sh.ok(
        "user",
        "keys",
        "create",
        "dave",
        "--write-profile",
        "dave",
        "--credentials-file",
        str(creds),
    )
    assert "[dave]" in creds.read_text()
    sh.ok(
        "user",
        "keys",
        "create",
        "dave",
        "--write-profile",
        "default",
        "--credentials-file",
        str(creds),
    )
    # A named file with a [default] profile acts as it; --profile picks another.
    assert_user_error(sh("--credentials-file", str(creds), "user", "ls"), "store owner only")
    assert_user_error(
        sh("--credentials-file", str(creds), "--profile", "dave", "user", "ls"), "store owner only"
    )
