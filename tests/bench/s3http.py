"""The HTTP rows of the benchmarks: ``objfs serve`` driven with boto3.

``HttpTarget`` (kind ``http``) is a fresh store with one bucket owned by a
user made through the store API, served by ``objfs serve`` on a free
loopback port. Its rows sit next to the mount's:

- ``seq``: ``put_object`` of the seq file (one PUT, streamed from disk), then
  after a server restart and dropping caches a ``get_object`` streamed to
  nowhere (MB/s; the same step names as the mount rows, so ``x disk``
  compares them); the data read back is compared, untimed.
- ``randread``: 4 KiB objects fetched with ``get_object`` by 8 concurrent
  clients (8 processes, one boto3 client each, started together): requests/s.

The server's peak RSS is reported like a FUSE daemon's.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from results import Row
from targets import BUCKET, BenchError, Target, peak_rss_kib

MIB = 1 << 20
SMALL = 4096
CLIENTS = 8
SMALL_OBJECTS = 256
START_TIMEOUT = 30.0


class HttpTarget(Target):
    """A store served by ``objfs serve``; ``root`` holds nothing (data goes over HTTP)."""

    kind = "http"

    def __init__(self, workdir: Path, *, sse: str = "AES256") -> None:
        super().__init__(workdir, sse=sse)
        self.store_dir = self.base / "store"
        self.proc: subprocess.Popen[bytes] | None = None
        self.endpoint = ""
        self.key_id = self.secret = ""

    @property
    def label(self) -> str:
        return f"objfs http sse={self.sse}"

    def create(self, *, versioning: bool = False) -> None:
        super().create()
        from objfs.store import OWNER, RequestContext, Store

        with Store.init(self.store_dir) as store:
            store.create_user(OWNER, "bench")
            new = store.create_access_key(OWNER, "bench")
            self.key_id, self.secret = new.info.key_id, new.secret
            user = RequestContext(store.user_identity("bench"), "cli")
            store.create_bucket(user, BUCKET, versioning=versioning)
            store.set_bucket_encryption(OWNER, BUCKET, self.sse)

    def start(self) -> None:
        if self.proc is not None:
            return
        objfs = Path(sys.executable).parent / "objfs"
        cmd = [str(objfs), "--store", str(self.store_dir), "serve", "--listen", "127.0.0.1:0"]
        with open(self.base / "serve.log", "ab") as logf:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=logf)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            m = re.search(r"S3 API on (http://127\.0\.0\.1:\d+)", line)
            if m:
                self.endpoint = m.group(1)
                return
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise BenchError("objfs serve did not start (see serve.log)")

    def stop(self) -> None:
        if self.proc is None:
            return
        rss = peak_rss_kib(self.proc.pid)
        if rss is not None:
            self.peak_rss = max(self.peak_rss or 0, rss)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def current_rss(self) -> int | None:
        now = peak_rss_kib(self.proc.pid) if self.proc is not None else None
        values = [v for v in (now, self.peak_rss) if v is not None]
        return max(values) if values else None

    def client(self):  # type: ignore[no-untyped-def]
        return _client(self.endpoint, self.key_id, self.secret)

    def space_bytes(self) -> int:
        from targets import tree_bytes

        os.sync()
        return tree_bytes(self.store_dir)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def _client(endpoint: str, key_id: str, secret: str):  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    cfg = Config(
        retries={"max_attempts": 1},
        s3={"addressing_style": "path"},
        max_pool_connections=4,
        read_timeout=600,
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=cfg,
    )


def seq(t: HttpTarget, src: Path, rows: list[Row]) -> None:
    from targets import drop_caches

    size = src.stat().st_size
    t.create()
    t.start()
    s3 = t.client()
    t0 = time.perf_counter()
    with open(src, "rb") as f:
        s3.put_object(Bucket=BUCKET, Key="seq.bin", Body=f)
    secs = time.perf_counter() - t0
    t.stop()
    rows.append(
        Row("seq", f"write {size // MIB} MiB", t.kind, t.sse, size / secs / 1e6, "MB/s", secs,
            peak_rss_kib=t.current_rss(), note="boto3 put_object, one PUT")
    )  # fmt: skip
    t.reset_rss()
    if not drop_caches():
        t.notes.append("page cache not dropped (needs root)")
    t.start()
    s3 = t.client()
    digest = hashlib.sha256()
    t0 = time.perf_counter()
    body = s3.get_object(Bucket=BUCKET, Key="seq.bin")["Body"]
    got = 0
    for piece in body.iter_chunks(MIB):
        got += len(piece)
        digest.update(piece)  # hashing inside the timing: a client does look at what it gets
    secs = time.perf_counter() - t0
    rss = t.current_rss()
    t.stop()
    want = hashlib.sha256()
    with open(src, "rb") as f:
        while piece := f.read(8 * MIB):
            want.update(piece)
    same = got == size and digest.digest() == want.digest()
    rows.append(
        Row("seq", f"cold read {size // MIB} MiB", t.kind, t.sse, size / secs / 1e6, "MB/s",
            secs, peak_rss_kib=rss, note="boto3 get_object after restart + drop_caches",
            error=None if same else "data read back differs from what was written")
    )  # fmt: skip


def _worker(args: tuple[str, str, str, list[str], object]) -> tuple[float, float, int, int]:
    """One client: its own process and boto3 client; (start, end, requests, wrong)."""
    endpoint, key_id, secret, keys, barrier = args
    s3 = _client(endpoint, key_id, secret)
    s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read()  # connect, warm up
    barrier.wait()  # type: ignore[attr-defined]
    wrong = 0
    t0 = time.monotonic()
    for key in keys:
        data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        wrong += len(data) != SMALL or data[:16] != key.encode().ljust(16, b".")[:16]
    return t0, time.monotonic(), len(keys), wrong


def small_gets(t: HttpTarget, total: int, rows: list[Row]) -> None:
    from objfs.store import OWNER, Store

    t.create()
    names = [f"s/{i:04d}" for i in range(SMALL_OBJECTS)]
    with Store.open(t.store_dir) as store:
        for name in names:
            body = name.encode().ljust(16, b".") + os.urandom(SMALL - 16)
            store.put_object(OWNER.with_options(durable=False), BUCKET, name, body)
        store.sync(OWNER)
    t.start()
    rng = random.Random(20261130)
    per = max(1, total // CLIENTS)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(CLIENTS)
        jobs = [
            (t.endpoint, t.key_id, t.secret, [rng.choice(names) for _ in range(per)], barrier)
            for _ in range(CLIENTS)
        ]
        with ctx.Pool(CLIENTS) as pool:
            results = pool.map(_worker, jobs)
    rss = t.current_rss()
    t.stop()
    start = min(r[0] for r in results)
    secs = max(r[1] for r in results) - start
    count = sum(r[2] for r in results)
    wrong = sum(r[3] for r in results)
    rows.append(
        Row("randread", "4 KiB GETs, 8 clients", t.kind, t.sse, count / secs, "req/s", secs,
            peak_rss_kib=rss, note=f"{count} boto3 get_object of 4 KiB objects, 8 processes",
            error=f"{wrong} GETs came back wrong" if wrong else None)
    )  # fmt: skip
