"""The aws cli (v1, from PyPI) against ``objfs serve``, unchanged: s3 cp/sync/ls/rm
and s3api calls for versioning and policies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

AWS = Path(sys.executable).with_name("aws")


@pytest.fixture
def aws(server, keys, tmp_path):  # type: ignore[no-untyped-def]
    if not AWS.exists():
        if os.environ.get("CI"):
            pytest.fail("the aws cli is not installed: CI must run this (a test extra)")
        pytest.skip("the aws cli is a test extra (pip install -e '.[test]')")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": keys["alice"].key_id,
        "AWS_SECRET_ACCESS_KEY": keys["alice"].secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }

    def run(*args: str, input: bytes | None = None) -> str:
        out = subprocess.run(
            [str(AWS), "--endpoint-url", server.endpoint, *args],
            env=env,
            input=input,
            capture_output=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr.decode()
        return out.stdout.decode()

    return run


def test_aws_s3_cp_sync_ls_rm(aws, alice, tmp_path):
    aws("s3", "mb", "s3://aws-cli")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.bin").write_bytes(os.urandom(9 << 20))  # multipart in the cli (8 MiB parts)
    aws("s3", "cp", str(src / "a.txt"), "s3://aws-cli/one/a.txt")
    aws("s3", "sync", str(src), "s3://aws-cli/tree/")
    listing = aws("s3", "ls", "--recursive", "s3://aws-cli/")
    for key in ("one/a.txt", "tree/a.txt", "tree/sub/b.bin"):
        assert key in listing
    assert aws("s3", "cp", "s3://aws-cli/one/a.txt", "-") == "alpha"
    back = tmp_path / "back"
    aws("s3", "sync", "s3://aws-cli/tree/", str(back))
    assert (back / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    aws("s3", "rm", "--recursive", "s3://aws-cli/tree/")
    keys = [o["Key"] for o in alice.list_objects_v2(Bucket="aws-cli")["Contents"]]
    assert keys == ["one/a.txt"]


def test_aws_s3api_versioning_and_policy(aws, alice):
    aws("s3api", "create-bucket", "--bucket", "aws-api")
    aws(
        "s3api",
        "put-bucket-versioning",
        "--bucket",
        "aws-api",
        "--versioning-configuration",
        "Status=Enabled",
    )
    got = json.loads(aws("s3api", "get-bucket-versioning", "--bucket", "aws-api"))
    assert got["Status"] == "Enabled"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::aws-api/*",
            }
        ],
    }
    aws("s3api", "put-bucket-policy", "--bucket", "aws-api", "--policy", json.dumps(policy))
    stored = json.loads(
        json.loads(aws("s3api", "get-bucket-policy", "--bucket", "aws-api"))["Policy"]
    )
    assert stored["Statement"][0]["Principal"] in ("*", {"AWS": "*"}, {"AWS": ["*"]})
    alice.put_object(Bucket="aws-api", Key="k", Body=b"1")
    alice.put_object(Bucket="aws-api", Key="k", Body=b"2")
    versions = json.loads(aws("s3api", "list-object-versions", "--bucket", "aws-api"))
    assert len(versions["Versions"]) == 2
