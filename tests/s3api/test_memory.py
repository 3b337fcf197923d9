"""Bodies stream both ways: a large PUT and GET leave the server's peak
memory (VmHWM) far below the object size."""

from __future__ import annotations

import hashlib
import http.client
import os
from datetime import UTC, datetime

from objfs.auth import sigv4

MiB = 1 << 20
SIZE = 128 * MiB


def peak_rss(pid: int) -> int:
    """The largest VmHWM of the server and its worker processes (``--workers``)."""
    pids = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            pids += [int(p) for p in f.read().split()]
    peaks = []
    for p in pids:
        for line in open(f"/proc/{p}/status"):
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) * 1024)
    assert peaks, "no VmHWM"
    return max(peaks)


def test_large_put_and_get_stream_in_bounded_memory(server, keys, alice, bkt):
    block = os.urandom(MiB)  # repeated: chunks dedup, so the store's work stays small
    before = peak_rss(server.proc.pid)
    key = keys["alice"]
    host = server.endpoint.split("://")[1]
    amz_date = sigv4.format_amz_date(datetime.now(UTC))
    headers = {"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    auth = sigv4.sign_headers(
        "PUT",
        f"/{bkt}/big",
        [],
        list(headers.items()),
        access_key=key.key_id,
        secret_key=key.secret,
        region="us-east-1",
        service="s3",
        amz_date=amz_date,
        payload_hash="UNSIGNED-PAYLOAD",
    )
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    conn.putrequest("PUT", f"/{bkt}/big", skip_host=True, skip_accept_encoding=True)
    for k, v in {**headers, "authorization": auth, "content-length": str(SIZE)}.items():
        conn.putheader(k, v)
    conn.endheaders()
    for _ in range(SIZE // MiB):
        conn.send(block)
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    resp.read()
    conn.close()
    body = alice.get_object(Bucket=bkt, Key="big")["Body"]
    digest, total = hashlib.md5(), 0
    for piece in body.iter_chunks(MiB):
        digest.update(piece)
        total += len(piece)
    assert total == SIZE
    assert digest.hexdigest() == hashlib.md5(block * (SIZE // MiB)).hexdigest()
    grew = peak_rss(server.proc.pid) - before
    assert grew < 48 * MiB, (
        f"server peak memory grew by {grew // MiB} MiB for a {SIZE // MiB} MiB object"
    )
