"""A whole store whose chunks are on a real S3 server (SeaweedFS), chosen by URL.

End to end through ``Store.init``/``Store.open`` and the ``objfs`` command:
the store records the URL, its data round-trips through the bucket, and
``init`` refuses a location it must not or cannot use (not empty, no such
bucket, server down, wrong key) with a message saying what to check, leaving
no store behind. Needs ``objfs.chunks.s3`` and the ``seaweedfs``/``s3_bucket``
fixtures of tests/chunks/conftest.py.

Credentials reach the backend from the environment as they would for a user
(the usual AWS sources), never from this machine's ~/.aws: every test points
the shared files at its own temporary directory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from objfs.errors import InvalidRequest, ObjfsError
from objfs.store import OWNER, Store

OBJFS = Path(sys.executable).with_name("objfs")
BODY = os.urandom(700_000)  # past the inline limit: stored as chunks in the bucket


def url_of(seaweedfs: Any, bucket: str, prefix: str = "store1") -> str:
    return f"s3://{bucket}/{prefix}?endpoint={seaweedfs.endpoint}&region={seaweedfs.region}"


@pytest.fixture
def aws_env(tmp_path: Path, seaweedfs: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """SeaweedFS's admin key in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, nothing else."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "OBJFS_CHUNK_CACHE")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


def _read(store: Store, bucket: str, key: str) -> bytes:
    with store.get_object(OWNER, bucket, key) as reader:
        return reader.read()


def test_a_store_on_s3_records_its_url_and_round_trips(
    tmp_path: Path, seaweedfs: Any, s3_bucket: str, aws_env: None
) -> None:
    url = url_of(seaweedfs, s3_bucket)
    with Store.init(tmp_path / "s", chunks_url=url) as store:
        assert store.chunks_url == f"s3://{s3_bucket}/store1/?" + url.split("?")[1] + "&style=path"
        store.create_bucket(OWNER, "data")
        store.put_object(OWNER, "data", "k", BODY)
        names = [name for name, _ in store.chunks.backend.iterate()]
        assert names  # the chunks are objects in the bucket
    assert not (tmp_path / "s" / "chunks").exists()
    with Store.open(tmp_path / "s") as store:
        assert _read(store, "data", "k") == BODY
        assert store.fsck(OWNER).ok
    # A second store on the same prefix would gc the first's chunks: refused.
    with pytest.raises(InvalidRequest, match="already holds chunks"):
        Store.init(tmp_path / "t", chunks_url=url)
    assert not (tmp_path / "t").exists()


def test_gc_of_a_store_on_s3_frees_what_nothing_names(
    tmp_path: Path, seaweedfs: Any, s3_bucket: str, aws_env: None
) -> None:
    """gc of an S3 store decides from rows and leases (store/chunkgc.py): the
    deleted object's chunk goes, the kept one's stays, and the store stays whole."""
    with Store.init(tmp_path / "s", chunks_url=url_of(seaweedfs, s3_bucket)) as store:
        store.create_bucket(OWNER, "data")
        store.put_object(OWNER, "data", "gone", BODY)
        before = {name for name, _ in store.chunks.backend.iterate()}
        store.put_object(OWNER, "data", "kept", BODY[::-1])
        kept = {name for name, _ in store.chunks.backend.iterate()} - before
        store.delete_object(OWNER, "data", "gone")
        report = store.gc(OWNER, grace_seconds=0)
        assert report.chunks_removed == len(before) == 1
        assert {name for name, _ in store.chunks.backend.iterate()} == kept
        assert _read(store, "data", "kept") == BODY[::-1]
        assert store.fsck(OWNER).ok


def test_init_on_a_missing_bucket_says_what_to_check(
    tmp_path: Path, seaweedfs: Any, aws_env: None
) -> None:
    with pytest.raises(ObjfsError) as err:
        Store.init(tmp_path / "s", chunks_url=url_of(seaweedfs, "no-such-bucket-here"))
    assert "cannot use the chunk location s3://no-such-bucket-here/store1/" in str(err.value)
    assert "bucket no-such-bucket-here exists" in str(err.value)
    assert not (tmp_path / "s").exists()


def _objfs(
    store: Path, *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OBJFS), "--store", str(store), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def _cli_env(tmp_path: Path, key: str, secret: str) -> dict[str, str]:
    """The chunk store's key in a profile of an AWS credentials file (AWS_PROFILE):
    AWS_ACCESS_KEY_ID in objfs's environment would also be the objfs user to act as."""
    creds = tmp_path / "aws-credentials"
    creds.write_text(f"[seaweed]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OBJFS_"))}
    env.update(
        OBJFS_RESERVE="64K",
        AWS_PROFILE="seaweed",
        AWS_SHARED_CREDENTIALS_FILE=str(creds),
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def test_cli_init_info_put_get_on_s3(tmp_path: Path, seaweedfs: Any, s3_bucket: str) -> None:
    env = _cli_env(tmp_path, seaweedfs.access_key, seaweedfs.secret_key)
    store, url = tmp_path / "s", url_of(seaweedfs, s3_bucket, "cli")
    done = _objfs(store, "init", "--chunks", url, env=env)
    assert done.returncode == 0, done.stderr
    assert f"chunks at s3://{s3_bucket}/cli/?endpoint={seaweedfs.endpoint}" in done.stdout
    assert f"chunks:      s3://{s3_bucket}/cli/?" in _objfs(store, "info", env=env).stdout
    (tmp_path / "f").write_bytes(BODY)
    for args in (
        ["bucket", "create", "data"],
        ["put", str(tmp_path / "f"), "s3://data/f"],
        ["get", "s3://data/f", str(tmp_path / "g")],
    ):
        run = _objfs(store, *args, env=env)
        assert run.returncode == 0, run.stderr
    assert (tmp_path / "g").read_bytes() == BODY


def test_cli_takes_the_chunk_key_from_objfs_variables(
    tmp_path: Path, seaweedfs: Any, s3_bucket: str
) -> None:
    """OBJFS_CHUNKS_ACCESS_KEY_ID/SECRET: the chunk store's key beside no profile at all."""
    env = _cli_env(tmp_path, seaweedfs.access_key, seaweedfs.secret_key)
    del env["AWS_PROFILE"]
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-aws-credentials")
    env["OBJFS_CHUNKS_ACCESS_KEY_ID"] = seaweedfs.access_key
    env["OBJFS_CHUNKS_SECRET_ACCESS_KEY"] = seaweedfs.secret_key
    store = tmp_path / "s"
    done = _objfs(store, "init", "--chunks", url_of(seaweedfs, s3_bucket, "env"), env=env)
    assert done.returncode == 0, done.stderr
    (tmp_path / "f").write_bytes(BODY)
    for args in (["bucket", "create", "data"], ["put", str(tmp_path / "f"), "s3://data/f"]):
        run = _objfs(store, *args, env=env)
        assert run.returncode == 0, run.stderr


def test_cli_init_with_a_wrong_key_says_check_the_credentials(
    tmp_path: Path, seaweedfs: Any, s3_bucket: str
) -> None:
    env = _cli_env(tmp_path, seaweedfs.access_key, "not-the-secret")
    done = _objfs(tmp_path / "s", "init", "--chunks", url_of(seaweedfs, s3_bucket), env=env)
    assert done.returncode == 1
    assert done.stderr.startswith(f"objfs: cannot use the chunk location s3://{s3_bucket}/")
    assert "credentials" in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_cli_init_with_the_server_down_says_check_the_endpoint(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = _cli_env(tmp_path, "AKIDEXAMPLE", "secret")
    url = f"s3://data/p?endpoint=http://127.0.0.1:{port}&region=us-east-1"
    done = _objfs(tmp_path / "s", "init", "--chunks", url, env=env)
    assert done.returncode == 1
    assert f"check that the endpoint http://127.0.0.1:{port} answers" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "s").exists()
