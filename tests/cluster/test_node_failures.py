"""What a node, the chunk store or the database going away does to a cluster
store: clear errors while it is down, service back by itself, nothing
acknowledged lost, fsck clean.

Each test drives PUT load through ``objfs serve`` on node A (and reads on
node B), records every PUT that was acknowledged, breaks one piece, and
checks every acknowledged version afterwards. The engines are real: the
SeaweedFS server is killed and started again 10 s later (connections
refused meanwhile), and the PostgreSQL server is shut down and started again.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from tests.cluster.conftest import Cluster
from tests.s3api.support import Server

RETRYABLE = {"SlowDown", "ServiceUnavailable", "InternalError", "503", "500"}


@dataclass
class Load:
    """PUTs of fresh keys in a loop on one server; what was acknowledged, and how others failed."""

    cluster: Cluster
    server: Server
    bucket: str
    acked: dict[str, bytes] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        s3 = self.cluster.client(self.server)
        i = 0
        while not self.stop.is_set():
            # Past INLINE_MAX: every PUT sends a chunk to the chunk store.
            key, body = f"k{i:06d}", os.urandom(200_000 + i % 5000)
            i += 1
            try:
                s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            except ClientError as error:
                self.errors.append(error.response["Error"]["Code"])
                time.sleep(0.05)
                continue
            except (ConnectionClosedError, EndpointConnectionError, ReadTimeoutError) as error:
                self.errors.append(type(error).__name__)
                time.sleep(0.05)
                continue
            self.acked[key] = body

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread


def check_all_readable(
    cluster: Cluster, server: Server, bucket: str, acked: dict[str, bytes]
) -> None:
    s3 = cluster.client(server)
    wrong = [
        k for k, body in acked.items() if s3.get_object(Bucket=bucket, Key=k)["Body"].read() != body
    ]
    assert wrong == []


def fsck_clean(cluster: Cluster, node: str) -> None:
    done = cluster.objfs(node, "fsck", check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_kill_9_of_a_node_mid_write_loses_nothing_it_acknowledged(
    cluster: Cluster, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OBJFS_LEASE_SECONDS", "2")
    a, b = cluster.serve("a"), cluster.serve("b")
    cluster.client(a).create_bucket(Bucket="load")
    load = Load(cluster, a, "load")
    thread = load.start()
    time.sleep(1.5)
    a.proc.kill()  # kill -9, mid-write
    load.stop.set()
    thread.join(timeout=60)
    assert len(load.acked) > 10
    check_all_readable(cluster, b, "load", load.acked)
    # After the dead node's lease expires, gc frees what it left half-written.
    time.sleep(2.5)
    gc = cluster.objfs("b", "gc", "--grace", "0")
    assert "Traceback" not in gc.stderr
    fsck_clean(cluster, "b")
    check_all_readable(cluster, b, "load", load.acked)


def test_the_chunk_store_down_for_10_s_gives_clear_errors_and_service_resumes(
    cluster: Cluster, two_servers: Callable[..., tuple[Server, Server]]
) -> None:
    a, b = two_servers()
    cluster.client(a).create_bucket(Bucket="load")
    load = Load(cluster, a, "load")
    thread = load.start()
    time.sleep(1.0)
    before = len(load.acked)
    cluster.seaweedfs.restart(down_s=10)  # killed, 10 s down, started again
    during = len(load.errors)
    time.sleep(5)  # service resumes by itself
    load.stop.set()
    thread.join(timeout=120)
    assert before > 0 and len(load.acked) > before
    assert during > 0, "no request failed while the chunk store was down"
    assert set(load.errors) <= RETRYABLE | {"ReadTimeoutError"}, load.errors
    check_all_readable(cluster, b, "load", load.acked)
    assert "Traceback" not in a.stderr()
    fsck_clean(cluster, "b")


def test_a_postgresql_restart_gives_clear_errors_and_service_resumes(
    cluster: Cluster, two_servers: Callable[..., tuple[Server, Server]]
) -> None:
    a, b = two_servers()
    cluster.client(a).create_bucket(Bucket="load")
    load = Load(cluster, a, "load")
    thread = load.start()
    time.sleep(1.0)
    before = len(load.acked)
    cluster.postgres.restart(down_s=3)
    time.sleep(5)
    load.stop.set()
    thread.join(timeout=120)
    assert before > 0 and len(load.acked) > before + 5, "service did not resume after the restart"
    assert set(load.errors) <= RETRYABLE | {"ReadTimeoutError"}, load.errors
    check_all_readable(cluster, b, "load", load.acked)
    assert "Traceback" not in a.stderr()
    fsck_clean(cluster, "b")
