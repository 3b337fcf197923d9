"""Debian's rclone against ``objfs serve``, unchanged: an S3 remote with
provider ``Other`` configured only through environment variables, with the
access keys of a user made in the store. Results are checked through the
store itself.

Without rclone the test skips on a developer's machine and fails in CI
(``CI`` set), where ``make test`` installs it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from objfs.errors import NoSuchBucket
from objfs.store import OWNER, Store

RCLONE = "/usr/bin/rclone"


@pytest.fixture
def rclone(server, keys, tmp_path: Path):  # type: ignore[no-untyped-def]
    if not shutil.which(RCLONE):
        if os.environ.get("CI"):
            pytest.fail("rclone is not installed: CI must run this (make test installs it)")
        pytest.skip("rclone is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RCLONE_", "AWS_"))}
    env.update(
        HOME=str(tmp_path),
        RCLONE_CONFIG=str(tmp_path / "rclone.conf"),  # none: the remote is all environment
        RCLONE_CONFIG_OBJFS_TYPE="s3",
        RCLONE_CONFIG_OBJFS_PROVIDER="Other",
        RCLONE_CONFIG_OBJFS_ENV_AUTH="false",
        RCLONE_CONFIG_OBJFS_ACCESS_KEY_ID=keys["alice"].key_id,
        RCLONE_CONFIG_OBJFS_SECRET_ACCESS_KEY=keys["alice"].secret,
        RCLONE_CONFIG_OBJFS_ENDPOINT=server.endpoint,
        RCLONE_CONFIG_OBJFS_REGION="us-east-1",
        RCLONE_CONFIG_OBJFS_FORCE_PATH_STYLE="true",
    )

    def run(*args: str) -> str:
        proc = subprocess.run(
            [RCLONE, "--retries", "1", "--low-level-retries", "1", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert proc.returncode == 0, (args, proc.stderr)
        return proc.stdout

    return run


def _objects(store_path: Path, bucket: str) -> dict[str, bytes]:
    with Store.open(store_path) as store:
        out = {}
        for v in store.list_objects(OWNER, bucket).contents:
            with store.get_object(OWNER, bucket, v.key) as r:
                out[v.key] = r.read()
        return out


def test_rclone_round_trip(rclone, s3env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store_path = s3env["store"]
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    files = {
        "a.txt": b"alpha\n",
        "sub/b.bin": os.urandom(300_000),
        "sub/empty": b"",
        "unicode \u00e9t\u00e9.txt": b"summer",
    }
    for name, data in files.items():
        (src / name).write_bytes(data)

    rclone("mkdir", "objfs:rc-bucket")
    with Store.open(store_path) as store:
        info = store.head_bucket(OWNER, "rc-bucket")
        assert info.owner == "alice"  # made with alice's keys

    rclone("copy", str(src), "objfs:rc-bucket/data")
    assert _objects(store_path, "rc-bucket") == {f"data/{k}": v for k, v in files.items()}

    listed = rclone("ls", "objfs:rc-bucket")
    assert sorted(line.split(None, 1)[1] for line in listed.splitlines()) == sorted(
        f"data/{k}" for k in files
    )
    sizes = {line.split(None, 1)[1]: int(line.split()[0]) for line in listed.splitlines()}
    assert sizes["data/sub/b.bin"] == 300_000
    lsl = rclone("lsl", "objfs:rc-bucket/data/sub")
    assert "b.bin" in lsl and "empty" in lsl  # with modification times
    assert rclone("cat", "objfs:rc-bucket/data/a.txt") == "alpha\n"
    sums = dict(
        reversed(line.split(None, 1))
        for line in rclone("md5sum", "objfs:rc-bucket/data/sub").splitlines()
    )
    assert sums == {n: hashlib.md5(files[f"sub/{n}"]).hexdigest() for n in ("b.bin", "empty")}
    rclone("check", str(src), "objfs:rc-bucket/data")  # sizes and hashes all agree

    # sync makes the remote mirror the source: changed, added, deleted
    (src / "a.txt").write_bytes(b"alpha, changed\n")
    (src / "new.txt").write_bytes(b"new")
    (src / "sub" / "empty").unlink()
    rclone("sync", str(src), "objfs:rc-bucket/data")
    got = _objects(store_path, "rc-bucket")
    assert got["data/a.txt"] == b"alpha, changed\n" and got["data/new.txt"] == b"new"
    assert "data/sub/empty" not in got and got["data/sub/b.bin"] == files["sub/b.bin"]

    # and back: a sync down reproduces the files
    back = tmp_path / "back"
    rclone("sync", "objfs:rc-bucket/data", str(back))
    assert (back / "sub" / "b.bin").read_bytes() == files["sub/b.bin"]
    assert (back / "unicode \u00e9t\u00e9.txt").read_bytes() == b"summer"

    rclone("delete", "objfs:rc-bucket/data/sub")
    assert not any(k.startswith("data/sub/") for k in _objects(store_path, "rc-bucket"))
    rclone("purge", "objfs:rc-bucket")
    with Store.open(store_path) as store, pytest.raises(NoSuchBucket):
        store.head_bucket(OWNER, "rc-bucket")
