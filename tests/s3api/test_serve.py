"""``objfs serve`` itself: graceful SIGTERM, virtual-hosted-style addressing."""

from __future__ import annotations

import hashlib
import http.client
import time
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from objfs.auth import sigv4
from objfs.store import Store

from .conftest import make_users
from .support import Server, client, raw_request


@pytest.fixture
def own_server(tmp_path):  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    Store.init(store).close()
    keys = make_users(store, "alice")
    servers: list[Server] = []

    def start(*extra: str) -> tuple[Server, dict]:
        servers.append(Server(store, *extra, log=tmp_path / f"log{len(servers)}"))
        return servers[-1], keys

    yield start
    for s in servers:
        s.stop()


def test_sigterm_lets_an_upload_in_flight_finish(own_server):
    server, keys = own_server()
    key = keys["alice"]
    s3 = client(server.endpoint, key)
    s3.create_bucket(Bucket="graceful")
    body = b"slow upload " * 100_000
    host = server.endpoint.split("://")[1]
    amz_date = sigv4.format_amz_date(datetime.now(UTC))
    headers = {
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    auth = sigv4.sign_headers(
        "PUT",
        "/graceful/slow",
        [],
        list(headers.items()),
        access_key=key.key_id,
        secret_key=key.secret,
        region="us-east-1",
        service="s3",
        amz_date=amz_date,
        payload_hash=headers["x-amz-content-sha256"],
    )
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("PUT", "/graceful/slow", skip_host=True, skip_accept_encoding=True)
    for k, v in {**headers, "authorization": auth, "content-length": str(len(body))}.items():
        conn.putheader(k, v)
    conn.endheaders()
    half = len(body) // 2
    conn.send(body[:half])
    time.sleep(0.3)
    server.terminate()  # SIGTERM while the body is half sent
    time.sleep(0.5)
    assert server.alive()
    conn.send(body[half:])
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    conn.close()
    assert server.proc.wait(timeout=30) == 0
    with Store.open(server.store) as store:
        from objfs.store import OWNER

        with store.get_object(OWNER, "graceful", "slow") as reader:
            assert reader.read() == body


def test_virtual_hosted_style(own_server):
    server, keys = own_server("--domain", "s3.test")
    alice = client(server.endpoint, keys["alice"])
    alice.create_bucket(Bucket="vhost")
    host = f"vhost.s3.test:{server.port}"
    resp = raw_request(
        server.endpoint, "PUT", "/dir/k", body=b"by host", key=keys["alice"], host=host
    )
    assert resp.status == 200, resp.body
    assert alice.get_object(Bucket="vhost", Key="dir/k")["Body"].read() == b"by host"
    resp = raw_request(
        server.endpoint, "GET", "/", query=[("list-type", "2")], key=keys["alice"], host=host
    )
    assert resp.status == 200 and b"<Key>dir/k</Key>" in resp.body
    resp = raw_request(server.endpoint, "GET", "/dir/k", key=keys["alice"], host=host)
    assert resp.body == b"by host"
    # path style still works on the same endpoint
    resp = raw_request(server.endpoint, "GET", "/vhost/dir/k", key=keys["alice"])
    assert resp.body == b"by host"
    with pytest.raises(ClientError):
        alice.get_object(Bucket="vhost", Key="missing")


def test_serve_refuses_half_a_tls_pair(tmp_path):
    import subprocess

    from .support import OBJFS

    store = tmp_path / "store"
    Store.init(store).close()
    out = subprocess.run(
        [*OBJFS, "--store", str(store), "serve", "--listen", "127.0.0.1:0", "--tls-cert", "x"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1 and "--tls-cert and --tls-key go together" in out.stderr


def test_serve_start_up_failures_are_one_line(own_server, tmp_path):
    import subprocess

    from .support import OBJFS

    server, _ = own_server()
    store = str(server.store)

    def serve(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*OBJFS, "--store", store, "serve", *args], capture_output=True, text=True, timeout=30
        )

    busy = serve("--listen", f"127.0.0.1:{server.port}")
    assert busy.returncode == 1
    assert (
        busy.stderr.strip()
        == f"objfs: cannot listen on 127.0.0.1:{server.port}: Address already in use"
    )
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    out = serve("--listen", "127.0.0.1:0", "--tls-cert", str(bad), "--tls-key", str(bad))
    assert out.returncode == 1 and "cannot load the TLS certificate" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_virtual_hosted_style_sigv2(own_server):
    """SigV2 signs /BUCKET/KEY also when the bucket is in the Host name."""
    from datetime import UTC, datetime

    from objfs.auth import sigv2

    server, keys = own_server("--domain", "s3.test")
    alice = client(server.endpoint, keys["alice"])
    alice.create_bucket(Bucket="vhost2")
    host = f"vhost2.s3.test:{server.port}"
    key = keys["alice"]
    for method, path, resource, body in (
        ("PUT", "/dir/k", "/vhost2/dir/k", b"v2 by host"),
        ("GET", "/", "/vhost2/", b""),
    ):
        date = sigv2.http_date(datetime.now(UTC))
        auth = sigv2.sign_headers(method, resource, [], [("Date", date)],
                                  access_key=key.key_id, secret_key=key.secret)  # fmt: skip
        resp = raw_request(server.endpoint, method, path, body=body, host=host,
                           headers={"Date": date}, authorization=auth)  # fmt: skip
        assert resp.status == 200, resp.body
    assert b"<Key>dir/k</Key>" in resp.body
    assert alice.get_object(Bucket="vhost2", Key="dir/k")["Body"].read() == b"v2 by host"
