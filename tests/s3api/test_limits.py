"""``objfs serve`` limits: a slow or greedy client cannot hold the server.

Real clients on raw sockets against a real ``objfs serve`` on 127.0.0.1,
with the timeouts shortened by its options: a request head sent too slowly,
a body that stops, a body that trickles are each cut off while a normal
client is answered; connections above ``--max-connections`` wait to be
accepted, so the server's file descriptors stay bounded. Bounded loops,
a few seconds each.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from objfs.auth import sigv4
from objfs.store import Store

from .conftest import make_users
from .support import OBJFS, Key, Server, client, raw_request

CUT_WITHIN = 15.0  # seconds: a 1 s timeout on a busy 2-core machine


@pytest.fixture
def own_server(tmp_path):  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    Store.init(store).close()
    keys = make_users(store, "alice")
    servers: list[Server] = []

    def start(*extra: str) -> tuple[Server, Key]:
        servers.append(Server(store, *extra, log=tmp_path / f"log{len(servers)}"))
        return servers[-1], keys["alice"]

    yield start
    for s in servers:
        s.stop()


def _signed_put_head(server: Server, key: Key, path: str, length: int) -> bytes:
    """The head of a SigV4-signed PUT of ``length`` bytes (UNSIGNED-PAYLOAD)."""
    host = server.endpoint.split("://")[1]
    amz_date = sigv4.format_amz_date(datetime.now(UTC))
    headers = {
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
    }
    auth = sigv4.sign_headers(
        "PUT",
        path,
        [],
        list(headers.items()),
        access_key=key.key_id,
        secret_key=key.secret,
        region="us-east-1",
        service="s3",
        amz_date=amz_date,
        payload_hash="UNSIGNED-PAYLOAD",
    )
    lines = [f"PUT {path} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += [f"authorization: {auth}", f"content-length: {length}", "", ""]
    return "\r\n".join(lines).encode()


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=CUT_WITHIN)


def _wait_closed(sock: socket.socket, since: float) -> float:
    """Seconds from ``since`` until the server closes ``sock`` (whatever it
    answers first); ``inf`` if it keeps it ``CUT_WITHIN`` seconds."""
    sock.settimeout(CUT_WITHIN)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return float("inf")
    except OSError:  # reset by the server
        pass
    return time.monotonic() - since


def test_slow_clients_are_cut_off_while_others_are_served(own_server) -> None:  # type: ignore[no-untyped-def]
    server, key = own_server(
        "--header-timeout", "1", "--body-timeout", "1", "--body-min-rate", "1000"
    )
    s3 = client(server.endpoint, key)
    s3.create_bucket(Bucket="lim")
    opened = time.monotonic()

    # A head that never ends (slowloris).
    head = _connect(server)
    head.sendall(b"GET /lim/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1")
    # A body that stops: 10 of 1,000 bytes, then nothing.
    stalled = _connect(server)
    stalled.sendall(_signed_put_head(server, key, "/lim/stalled", 1000) + b"0123456789")
    # A body that trickles: 10 bytes every 0.1 s, 100 B/s, under --body-min-rate.
    trickle = _connect(server)
    trickle.sendall(_signed_put_head(server, key, "/lim/trickle", 100_000))
    stop = threading.Event()

    def drip() -> None:
        for _ in range(int(CUT_WITHIN * 10)):
            if stop.is_set():
                return
            try:
                trickle.sendall(b"x" * 10)
            except OSError:
                return  # cut off
            time.sleep(0.1)

    dripping = threading.Thread(target=drip)
    dripping.start()
    closed: dict[str, float] = {}  # seconds from opening to the server's close
    watchers = [
        threading.Thread(
            target=lambda n=name, s=sock: closed.update({n: _wait_closed(s, since=opened)})
        )
        for name, sock in (("head", head), ("stalled", stalled), ("trickle", trickle))
    ]
    for watcher in watchers:
        watcher.start()
    try:
        # Meanwhile a normal client is answered, again and again.
        served = 0
        while len(closed) < 3 and time.monotonic() - opened < CUT_WITHIN:
            s3.put_object(Bucket="lim", Key="ok", Body=b"normal %d" % served)
            assert s3.get_object(Bucket="lim", Key="ok")["Body"].read() == b"normal %d" % served
            served += 1
        for watcher in watchers:
            watcher.join()
    finally:
        stop.set()
        dripping.join()
        for sock in (head, stalled, trickle):
            sock.close()
    assert served >= 1
    assert set(closed) == {"head", "stalled", "trickle"}, closed
    for name, after in closed.items():
        assert 0.9 <= after < CUT_WITHIN, (name, after)  # not before its timeout
    # Nothing of a cut body was committed; the server still answers.
    for name in ("stalled", "trickle"):
        with pytest.raises(ClientError) as err:
            s3.head_object(Bucket="lim", Key=name)
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert s3.get_object(Bucket="lim", Key="ok")["Body"].read().startswith(b"normal ")
    assert server.alive()


def _open_fds(server: Server) -> int:
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


def test_connections_above_the_limit_wait_and_fds_stay_bounded(own_server) -> None:  # type: ignore[no-untyped-def]
    server, key = own_server("--max-connections", "3", "--header-timeout", "60")
    s3 = client(server.endpoint, key)
    s3.create_bucket(Bucket="lim")
    s3.put_object(Bucket="lim", Key="k", Body=b"answer")
    del s3  # boto3's kept-alive connection would hold a slot
    time.sleep(0.2)
    baseline = _open_fds(server)

    held = []
    for _ in range(3):  # three clients that send part of a head and wait
        sock = _connect(server)
        sock.sendall(b"GET /lim/k HTTP/1.1\r\n")
        held.append(sock)
    extra = [_connect(server) for _ in range(40)]  # the kernel queues these
    time.sleep(0.5)
    assert _open_fds(server) <= baseline + 3  # not one per connection

    answered: list[int] = []

    def ask() -> None:
        resp = raw_request(server.endpoint, "GET", "/lim/k", key=key)
        answered.append(resp.status)

    asking = threading.Thread(target=ask)
    asking.start()
    try:
        time.sleep(1.0)
        assert answered == []  # waits for a free connection
        assert server.alive()
    finally:
        for sock in extra + held:  # ends them: the waiting request gets its turn
            sock.close()
        asking.join(timeout=CUT_WITHIN)
    assert answered == [200]

    # Clients that hang up mid-body give their connection back: were one
    # left held, the next request would wait forever.
    for i in range(8):
        sock = _connect(server)
        sock.sendall(_signed_put_head(server, key, f"/lim/gone{i}", 1000) + b"partial")
        time.sleep(0.05)
        sock.close()
    assert raw_request(server.endpoint, "GET", "/lim/k", key=key).status == 200


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--max-connections", "0", "not a number of connections"),
        ("--header-timeout", "soon", "not a number of seconds"),
        ("--body-timeout", "-1", "not a number of seconds"),
        ("--body-min-rate", "fast", "not a number of bytes per second"),
    ],
)
def test_bad_limits_are_usage_errors(tmp_path, option: str, value: str, says: str) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    Store.init(store).close()
    done = subprocess.run(
        [*OBJFS, "--store", str(store), "serve", "--listen", "127.0.0.1:0", option, value],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr


def test_help_names_the_limits() -> None:
    out = subprocess.run(
        [*OBJFS, "serve", "--help"], capture_output=True, text=True, timeout=30
    ).stdout
    for option in ("--max-connections", "--header-timeout", "--body-timeout", "--body-min-rate"):
        assert option in out


def test_a_client_that_reads_nothing_is_cut_off(own_server) -> None:  # type: ignore[no-untyped-def]
    """A GET whose client never reads the answer does not hold its connection."""
    server, key = own_server("--max-connections", "1", "--body-timeout", "1")
    s3 = client(server.endpoint, key)
    s3.create_bucket(Bucket="lim")
    s3.put_object(Bucket="lim", Key="big", Body=os.urandom(16 << 20))
    s3.close()  # its kept-alive connection would hold the only slot
    time.sleep(0.2)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "lim", "Key": "big"})
    target = url.split(str(server.port), 1)[1]
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.connect(("127.0.0.1", server.port))
    reader.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
    try:
        time.sleep(0.5)  # the answer fills the socket buffers, then waits for us
        started = time.monotonic()
        resp = raw_request(server.endpoint, "GET", "/lim", key=key)  # waits for the slot
        assert resp.status == 200
        assert time.monotonic() - started < CUT_WITHIN
    finally:
        reader.close()
