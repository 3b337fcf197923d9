"""``objfs presign``: URLs signed by the CLI with a profile's key work on the
running server, carry the signer's permissions, and respect --expires."""

from __future__ import annotations

import os
import subprocess
import urllib.error
import urllib.request

from .support import OBJFS


def fetch(url: str, *, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def presign(s3env, who, *args: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OBJFS_"))}
    if who is not None:
        env |= {"AWS_ACCESS_KEY_ID": who.key_id, "AWS_SECRET_ACCESS_KEY": who.secret}
    return subprocess.run(
        [
            *OBJFS,
            "--store",
            str(s3env["store"]),
            "presign",
            *args,
            "--endpoint",
            s3env["server"].endpoint,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_presign_get_put_head(s3env, keys, alice, bkt):
    alice.put_object(Bucket=bkt, Key="dir/file name.txt", Body=b"signed by the cli")
    out = presign(s3env, keys["alice"], f"s3://{bkt}/dir/file name.txt")
    assert out.returncode == 0, out.stderr
    assert fetch(out.stdout.strip()) == (200, b"signed by the cli")
    out = presign(s3env, keys["alice"], f"s3://{bkt}/up", "--method", "PUT", "--expires", "60")
    assert fetch(out.stdout.strip(), method="PUT", data=b"uploaded")[0] == 200
    assert alice.get_object(Bucket=bkt, Key="up")["Body"].read() == b"uploaded"
    out = presign(s3env, keys["alice"], f"s3://{bkt}/up", "--method", "HEAD")
    assert fetch(out.stdout.strip(), method="HEAD")[0] == 200
    # a GET URL used for a PUT does not verify
    out = presign(s3env, keys["alice"], f"s3://{bkt}/up")
    status, body = fetch(out.stdout.strip(), method="PUT", data=b"x")
    assert status == 403 and b"SignatureDoesNotMatch" in body


def test_presign_carries_the_signers_permissions(s3env, keys, alice, bkt):
    alice.put_object(Bucket=bkt, Key="k", Body=b"x")
    out = presign(s3env, keys["bob"], f"s3://{bkt}/k")
    assert out.returncode == 0, out.stderr
    status, body = fetch(out.stdout.strip())
    assert status == 403 and b"<Code>AccessDenied</Code>" in body


def test_presign_refusals(s3env, keys, bkt):
    out = presign(s3env, None, f"s3://{bkt}/k")
    assert out.returncode == 1 and "access key" in out.stderr
    out = presign(s3env, keys["alice"], f"s3://{bkt}/k", "--expires", "604801")
    assert out.returncode == 2 and "--expires" in out.stderr
    out = presign(s3env, keys["alice"], f"s3://{bkt}")
    assert out.returncode in (1, 2) and "KEY" in out.stderr
