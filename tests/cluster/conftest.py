"""Fixtures for the multi-node tests: one store on PostgreSQL + SeaweedFS, two nodes.

A *node* is a store directory (``objfs init --meta URL --chunks URL``: the
descriptor, the master key, the node's chunk cache) on this machine; the
tests run every node's ``objfs serve`` and mounts as separate processes, as
they would run on separate hosts (nothing but the two engines is shared).

Invariants: each ``cluster`` is a fresh PostgreSQL schema and a fresh
SeaweedFS bucket (the engines themselves are the session's, see
tests/conftest.py); node B attaches with a copy of node A's ``keys/`` and never
re-initialises the store; every server a test starts is stopped at teardown.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from objfs.store import OWNER, Store
from tests.fs.conftest import fuse_ok  # noqa: F401 - the mount test's fixture
from tests.postgres import PostgresServer
from tests.s3api.support import Key, Server, client
from tests.seaweed import SeaweedFS

OBJFS = str(Path(sys.executable).with_name("objfs"))


@dataclass
class Cluster:
    meta_url: str
    chunks_url: str
    nodes: dict[str, Path]
    root: Path
    key: Key
    postgres: PostgresServer
    seaweedfs: SeaweedFS
    servers: list[Server] = field(default_factory=list)

    def objfs(self, node: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``objfs --store NODE ARGS...``; its output (raises on failure if ``check``)."""
        done = self.objfs_at(self.nodes[node], *args)
        if check and done.returncode != 0:
            raise AssertionError(f"objfs {' '.join(args)} on {node}: {done.stderr}")
        return done

    def objfs_at(self, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """``objfs --store STORE ARGS...`` (any directory); never raises on failure."""
        return subprocess.run(
            [OBJFS, "--store", str(store), *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def serve(self, node: str, *extra: str) -> Server:
        server = Server(
            self.nodes[node], *extra, log=self.root / f"serve-{node}-{len(self.servers)}.log"
        )
        self.servers.append(server)
        return server

    def client(self, server: Server, **config: object):  # type: ignore[no-untyped-def]
        return client(server.endpoint, self.key, **config)


@pytest.fixture
def cluster(
    tmp_path: Path, postgres: PostgresServer, seaweedfs: SeaweedFS, pg_url: str
) -> Iterator[Cluster]:
    """Nodes ``a`` and ``b`` of one fresh store, user ``alice`` with a key."""
    bucket = seaweedfs.new_bucket("cluster")
    chunks_url = f"s3://{bucket}/store?endpoint={seaweedfs.endpoint}&region={seaweedfs.region}"
    saved = {
        k: os.environ.get(k)
        for k in ("OBJFS_CHUNKS_ACCESS_KEY_ID", "OBJFS_CHUNKS_SECRET_ACCESS_KEY")
    }
    os.environ["OBJFS_CHUNKS_ACCESS_KEY_ID"] = seaweedfs.access_key
    os.environ["OBJFS_CHUNKS_SECRET_ACCESS_KEY"] = seaweedfs.secret_key
    nodes = {"a": tmp_path / "node-a", "b": tmp_path / "node-b"}
    c = Cluster(pg_url, chunks_url, nodes, tmp_path, Key("", "", ""), postgres, seaweedfs)
    try:
        c.objfs("a", "init", "--meta", pg_url, "--chunks", chunks_url)
        # The operator copies the master key to the new node (it never goes
        # to either engine), then attaches it with the same two URLs.
        nodes["b"].mkdir()
        shutil.copytree(nodes["a"] / "keys", nodes["b"] / "keys")
        c.objfs("b", "init", "--meta", pg_url, "--chunks", chunks_url)
        with Store.open(nodes["a"]) as store:
            store.create_user(OWNER, "alice")
            new = store.create_access_key(OWNER, "alice")
            c.key = Key("alice", new.info.key_id, new.secret)
        yield c
    finally:
        for server in c.servers:
            server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def two_servers(cluster: Cluster) -> Callable[..., tuple[Server, Server]]:
    def start(*extra: str) -> tuple[Server, Server]:
        return cluster.serve("a", *extra), cluster.serve("b", *extra)

    return start
