"""No request sees stale authorization, under load and across server processes.

``objfs serve --workers 2`` serves GETs from 8 client threads (pre-signed
URLs, a new connection every few requests so both workers take some); the
test process changes the store through its own handle, as the CLI would.
Every request that starts after the change has returned must be decided by
it: a disabled access key is refused (403), and so is a GET that a new
bucket-policy Deny forbids; undoing either lets the very next request in.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from objfs.store import OWNER, Store

from .conftest import make_users
from .support import Server, client

THREADS = 8
PER_CONNECTION = 5


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("fresh")
    path = root / "store"
    Store.init(path).close()
    keys = make_users(path, "alice")
    server = Server(path, "--workers", "2", log=root / "serve.log")
    try:
        s3 = client(server.endpoint, keys["alice"])
        s3.create_bucket(Bucket="fresh")
        s3.put_object(Bucket="fresh", Key="obj", Body=b"x" * 4096)
        url = s3.generate_presigned_url(
            "get_object", Params={"Bucket": "fresh", "Key": "obj"}, ExpiresIn=3600
        )
        yield {"server": server, "path": path, "key": keys["alice"], "url": url}
    finally:
        code = server.stop()
        assert code == 0, server.stderr()


class Load:
    """GETs of one URL from ``THREADS`` threads: (started, ended, status) of each."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.target = f"{parts.path}?{parts.query}"
        self.seen: list[tuple[float, float, int]] = []  # (started, ended, status)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run) for _ in range(THREADS)]

    def _run(self) -> None:
        while not self.stop.is_set():
            conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                for _ in range(PER_CONNECTION):
                    started = time.monotonic()
                    conn.request("GET", self.target)
                    resp = conn.getresponse()
                    resp.read()
                    with self.lock:
                        self.seen.append((started, time.monotonic(), resp.status))
            finally:
                conn.close()

    def count(self) -> int:
        with self.lock:
            return len(self.seen)

    def wait_for(self, more: int, timeout: float = 60.0) -> None:
        goal = self.count() + more
        deadline = time.monotonic() + timeout
        while self.count() < goal:
            assert time.monotonic() < deadline, "the server answers too slowly"
            time.sleep(0.01)

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def after(self, moment: float) -> list[int]:
        with self.lock:
            return [status for started, _, status in self.seen if started > moment]


def worker_cpu(server: Server) -> dict[int, int]:
    """CPU ticks so far of each worker process of the server."""
    out = {}
    pid = server.proc.pid
    for task in os.listdir(f"/proc/{pid}/task"):
        for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            out[int(child)] = int(fields[11]) + int(fields[12])
    return out


def flip(env: dict, change: Callable[[Store], None], undo: Callable[[Store], None]) -> None:
    """Under load: every GET started after ``change`` returned is refused, and
    every one started after ``undo`` returned is answered."""
    before = worker_cpu(env["server"])
    assert len(before) == 2, "objfs serve --workers 2 runs two worker processes"
    with Load(env["url"]) as load, Store.open(env["path"]) as store:
        load.wait_for(100)  # the workers have served (and cached) plenty
        assert set(load.after(0)) == {200}
        change(store)
        changed = time.monotonic()
        load.wait_for(100)
        undoing = time.monotonic()  # from here on the change may be undone
        undo(store)
        undone = time.monotonic()
        load.wait_for(100)
    # Answered wholly between the change and its undoing: decided by the change.
    between = [s for started, ended, s in load.seen if changed < started and ended < undoing]
    assert len(between) >= 50
    assert set(between) == {403}, f"answers after the change: {sorted(set(between))}"
    assert set(load.after(undone)) == {200}
    after = worker_cpu(env["server"])
    busy = [pid for pid in before if after.get(pid, 0) - before[pid] >= 5]
    assert len(busy) == 2, f"both workers served the load: cpu ticks {before} -> {after}"


def test_a_disabled_key_is_refused_by_the_next_request(env: dict) -> None:
    key_id = env["key"].key_id

    def disable(store: Store) -> None:
        store.set_access_key_status(OWNER, "alice", key_id, active=False)

    def enable(store: Store) -> None:
        store.set_access_key_status(OWNER, "alice", key_id, active=True)

    flip(env, disable, enable)


def test_a_new_bucket_policy_deny_binds_the_next_request(env: dict) -> None:
    deny = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::fresh/*",
                }
            ],
        }
    )

    def put(store: Store) -> None:
        store.put_bucket_policy(OWNER, "fresh", deny)

    def delete(store: Store) -> None:
        store.delete_bucket_policy(OWNER, "fresh")

    flip(env, put, delete)


def test_an_identity_policy_deny_binds_the_next_request(env: dict) -> None:
    deny = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}],
        }
    )

    def put(store: Store) -> None:
        store.put_user_policy(OWNER, "alice", "no-reads", deny)

    def delete(store: Store) -> None:
        store.delete_user_policy(OWNER, "alice", "no-reads")

    flip(env, put, delete)
