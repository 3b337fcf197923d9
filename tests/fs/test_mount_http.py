"""One store, one truth: a mount and ``objfs serve`` on the same store see each
other's writes at once (a put over HTTP within a second in the mount; a file
closed in the mount on the next GET).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from objfs.store import OWNER, Store
from tests.s3api.support import Key, Server, client

from .support import Mount

FULL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@pytest.fixture
def web(fs_store: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    with Store.open(fs_store) as store:
        store.create_user(OWNER, "web")
        store.put_user_policy(OWNER, "web", "all", json.dumps(FULL))
        new = store.create_access_key(OWNER, "web")
    server = Server(fs_store, log=tmp_path / "serve.log")
    try:
        yield client(server.endpoint, Key("web", new.info.key_id, new.secret))
    finally:
        assert server.stop() == 0, server.stderr()


def wait_for(check, seconds: float = 1.0) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, "not visible in time"
        time.sleep(0.02)
    return time.monotonic() - start


def test_http_and_mount_see_each_other(mnt: Mount, web) -> None:  # type: ignore[no-untyped-def]
    path = mnt.path / "from-http.txt"
    (mnt.path / "warm").mkdir()  # the mount has listed and cached the root already
    assert not path.exists()
    web.put_object(Bucket="vers", Key="from-http.txt", Body=b"put over HTTP")
    wait_for(lambda: path.exists() and path.read_bytes() == b"put over HTTP")
    web.put_object(Bucket="vers", Key="from-http.txt", Body=b"second version")
    wait_for(lambda: path.read_bytes() == b"second version")

    (mnt.path / "from-mount.txt").write_bytes(b"closed in the mount")
    got = web.get_object(Bucket="vers", Key="from-mount.txt")["Body"].read()
    assert got == b"closed in the mount"  # at once: no waiting
    with open(mnt.path / "from-mount.txt", "r+b") as f:
        f.write(b"CLOSED")
    assert web.get_object(Bucket="vers", Key="from-mount.txt")["Body"].read() == (
        b"CLOSED in the mount"
    )

    web.delete_object(Bucket="vers", Key="from-http.txt")
    wait_for(lambda: not path.exists())
