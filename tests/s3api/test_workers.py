"""``objfs serve --workers N``: several server processes on one socket.

The parent reports ready once, for all of them; SIGTERM stops every worker
and the server exits 0 with none left; a worker killed from outside is
started again while the others keep serving; a bad count is a usage error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from objfs.store import Store

from .conftest import make_users
from .support import OBJFS, Server, client


def workers(server: Server) -> set[int]:
    pid = server.proc.pid
    out: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        out.update(int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
    return out


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    Store.init(path).close()
    return path


def test_two_workers_serve_and_stop_together(store: Path, tmp_path: Path) -> None:
    keys = make_users(store, "alice")
    server = Server(store, "--workers", "2", log=tmp_path / "serve.log")
    try:
        assert "2 workers" in server.banner
        pids = workers(server)
        assert len(pids) == 2
        s3 = client(server.endpoint, keys["alice"])
        s3.create_bucket(Bucket="many")
        for i in range(20):
            s3.put_object(Bucket="many", Key=f"k{i}", Body=b"v%d" % i)
        assert s3.list_objects_v2(Bucket="many")["KeyCount"] == 20
    finally:
        code = server.stop()
    assert code == 0, server.stderr()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid), f"worker {pid} left"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_a_killed_worker_is_started_again(store: Path, tmp_path: Path) -> None:
    keys = make_users(store, "alice")
    server = Server(store, "--workers", "2", log=tmp_path / "serve.log")
    try:
        s3 = client(server.endpoint, keys["alice"])
        s3.create_bucket(Bucket="again")
        first = workers(server)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            now = workers(server)
            if len(now) == 2 and victim not in now:
                break
            assert time.monotonic() < deadline, f"workers now {now}, were {first}"
            time.sleep(0.1)
        for i in range(10):  # whichever worker takes them
            s3.put_object(Bucket="again", Key=f"k{i}", Body=b"x")
        assert s3.list_objects_v2(Bucket="again")["KeyCount"] == 10
        assert server.alive()
    finally:
        code = server.stop()
    assert code == 0, server.stderr()


@pytest.mark.parametrize("count", ["0", "-1", "many", "257"])
def test_a_bad_worker_count_is_a_usage_error(store: Path, count: str) -> None:
    done = subprocess.run(
        [*OBJFS, "--store", str(store), "serve", "--workers", count],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--workers" in done.stderr and "not a number of processes" in done.stderr
