"""Helpers for the HTTP API tests: a real ``objfs serve`` subprocess, boto3
clients for it, and raw HTTP requests signed with objfs's own SigV4 code
(for what boto3 will not send: bad signatures, skewed clocks, hand-made
aws-chunked bodies).

Nothing is mocked: the server is the ``objfs`` entry point on a free
loopback port, on a store made with the store API.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import boto3
from botocore.config import Config

from objfs.auth import sigv4

OBJFS = [str(Path(sys.executable).with_name("objfs"))]
STARTUP_TIMEOUT = 20.0


@dataclass
class Key:
    user: str
    key_id: str
    secret: str


class Server:
    """``objfs serve`` on ``127.0.0.1:0``; the endpoint is read from its start-up line."""

    def __init__(self, store: Path, *extra: str, log: Path) -> None:
        self.store = store
        self.log = log
        self._out = open(log, "w+b")  # noqa: SIM115 - kept open for the process's life
        self.proc = subprocess.Popen(
            [*OBJFS, "--store", str(store), "serve", "--listen", "127.0.0.1:0", *extra],
            stdout=subprocess.PIPE,
            stderr=self._out,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.endpoint = self._wait_ready()

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        assert self.proc.stdout is not None
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            lines.append(line)
            m = re.search(r"S3 API on (https?://127\.0\.0\.1:\d+)", line)
            if m:
                self.banner = "".join(lines) + self.proc.stdout.readline().decode()
                return m.group(1)
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"objfs serve did not start: {''.join(lines)} {self.stderr()}")

    def stderr(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> int:
        self.terminate()
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self._out.close()
        return code


def client(endpoint: str, key: Key | None, *, verify: str | bool = True, **config: object):  # type: ignore[no-untyped-def]
    """A boto3 S3 client for the endpoint, signed with ``key`` (unsigned if None)."""
    from botocore import UNSIGNED

    cfg = Config(
        retries={"max_attempts": 1, "mode": "standard"},
        signature_version=config.pop("signature_version", UNSIGNED if key is None else "s3v4"),
        s3={"addressing_style": "path"},
        connect_timeout=5,
        read_timeout=30,
        **config,  # type: ignore[arg-type]
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key.key_id if key else "unused",
        aws_secret_access_key=key.secret if key else "unused",
        config=cfg,
        verify=verify,
    )


@dataclass
class Raw:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str | None:
        m = re.search(rb"<Code>([^<]*)</Code>", self.body)
        return m.group(1).decode() if m else None


def sign_v4(
    hdrs: dict[str, str],
    method: str,
    path: str,
    query: list[tuple[str, str]],
    key: Key,
    *,
    body: bytes = b"",
    when: datetime | None = None,
    payload_hash: str | None = None,
) -> None:
    """Add ``key``'s SigV4 headers (objfs's own signer, us-east-1) to ``hdrs``,
    which must hold every header to sign (``host`` included)."""
    amz_date = sigv4.format_amz_date(when or datetime.now(UTC))
    hdrs["x-amz-date"] = amz_date
    hdrs["x-amz-content-sha256"] = payload_hash or hashlib.sha256(body).hexdigest()
    hdrs["authorization"] = sigv4.sign_headers(
        method,
        path,
        query,
        list(hdrs.items()),
        access_key=key.key_id,
        secret_key=key.secret,
        region="us-east-1",
        service="s3",
        amz_date=amz_date,
        payload_hash=hdrs["x-amz-content-sha256"],
    )


def raw_request(
    endpoint: str,
    method: str,
    path: str,
    *,
    query: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    key: Key | None = None,
    when: datetime | None = None,
    payload_hash: str | None = None,
    authorization: str | None = None,
    host: str | None = None,
    context: ssl.SSLContext | None = None,
) -> Raw:
    """One HTTP request with http.client; SigV4-signed with ``key`` (objfs's signer).

    ``path`` is the decoded path; ``payload_hash`` defaults to the body's SHA-256.
    ``authorization`` replaces the computed header (to send a broken one).
    """
    parts = urlsplit(endpoint)
    query = query or []
    hdrs = dict(headers or {})
    hdrs["host"] = host or parts.netloc
    if key is not None and authorization is None:
        sign_v4(hdrs, method, path, query, key, body=body, when=when, payload_hash=payload_hash)
    elif authorization is not None:
        hdrs["authorization"] = authorization
    target = quote(path, safe="/-_.~")
    if query:
        target += "?" + "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" if v != "" else quote(k)
            for k, v in query
        )
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=30, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        if body or method in ("PUT", "POST"):
            if "content-length" not in {k.lower() for k in hdrs}:
                conn.putheader("content-length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        data = resp.read()
        return Raw(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()
