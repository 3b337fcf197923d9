"""Fixtures for the HTTP API tests: one ``objfs serve`` per module on a store
with users alice and bob (access keys made with the store API), boto3
clients for each and for anonymous, and a fresh bucket per test owned by alice.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from objfs.store import OWNER, Store

from .support import Key, Server, client

_names = itertools.count(1)


def make_users(path: Path, *names: str) -> dict[str, Key]:
    keys = {}
    with Store.open(path) as store:
        for name in names:
            store.create_user(OWNER, name)
            new = store.create_access_key(OWNER, name)
            keys[name] = Key(name, new.info.key_id, new.secret)
    return keys


@pytest.fixture(scope="module")
def s3env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("s3api")
    store = root / "store"
    Store.init(store).close()
    keys = make_users(store, "alice", "bob")
    server = Server(store, log=root / "serve.log")
    try:
        yield {"server": server, "keys": keys, "store": store, "root": root}
    finally:
        code = server.stop()
        assert code == 0, server.stderr()


@pytest.fixture(scope="module")
def server(s3env: dict) -> Server:
    return s3env["server"]


@pytest.fixture(scope="module")
def keys(s3env: dict) -> dict[str, Key]:
    return s3env["keys"]


@pytest.fixture(scope="module")
def alice(server: Server, keys: dict[str, Key]):  # type: ignore[no-untyped-def]
    return client(server.endpoint, keys["alice"])


@pytest.fixture(scope="module")
def bob(server: Server, keys: dict[str, Key]):  # type: ignore[no-untyped-def]
    return client(server.endpoint, keys["bob"])


@pytest.fixture(scope="module")
def anon(server: Server):  # type: ignore[no-untyped-def]
    return client(server.endpoint, None)


@pytest.fixture
def bkt(alice) -> str:  # type: ignore[no-untyped-def]
    """A fresh bucket owned by alice (unversioned)."""
    name = f"bkt-{next(_names)}"
    alice.create_bucket(Bucket=name)
    return name


@pytest.fixture
def vbkt(alice) -> str:  # type: ignore[no-untyped-def]
    """A fresh bucket owned by alice with versioning Enabled."""
    name = f"vbkt-{next(_names)}"
    alice.create_bucket(Bucket=name)
    alice.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture(autouse=True)
def server_stays_up(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test that used the server: it is still running."""
    yield
    if "s3env" in request.fixturenames:
        srv = request.getfixturevalue("server")
        assert srv.alive(), srv.stderr()
