"""Count the daemon's work for the ``seq`` benchmark: CPU per thread, context
switches, syscalls, FUSE requests (a profiling aid, not a benchmark).

Usage::

    .venv/bin/python tests/bench/seqprobe.py [--code DIR] [--mib N] [--only wrx]
                                             [--sse AES256|none] [--strace] [--requests]
                                             [--env K=V ...] [--repeat N]
                                             [--target objfs|passthrough]
                                             [--null-store | --proc-store N]
                                             [--spy PREFIX [--native]]

``w``: ``dd bs=1M conv=fsync`` into a fresh objfs mount; ``r``: ``dd bs=1M``
of it after a remount and drop_caches (as ``run.py --only seq``); ``x``: 20,000
random 4 KiB ``pread``s of it, one thread, after a remount and drop_caches (as
``run.py --only randread``; "IOPS" and CPU per read). For each
phase it prints one JSON line: MB/s, the daemon's CPU seconds (user+system)
and voluntary context switches during the dd, and the busiest threads
(name, CPU, system CPU, voluntary switches; cumulative since the mount).
``--strace`` adds ``strace -c -f`` syscall counts (slows the daemon: compare
counts, not times); ``--requests`` mounts with ``-o debug`` and counts the
FUSE requests by handler from the daemon log (slower still).

``--target passthrough`` runs the same phases on ``passthrough.py`` over a
plain directory (the benchmark baseline), so both daemons are measured by one
harness. ``--null-store`` (objfs, phase ``w`` only) is a ceiling, not objfs:
the daemon runs with every full block after a writer's first one stored as a
reference to that first chunk, so nothing is hashed, sealed or written for
them (the file's content is wrong, which is why the read phases are refused);
what is left is what the mount's FUSE side costs per MiB on its own.
``--proc-store N`` (objfs) hashes, seals and writes whole blocks in N
spawned processes instead of the daemon's threads (``procseal.py``): the
same chunks without the GIL, to tell a lock-bound write from a CPU-bound one
(the processes' CPU is not in ``daemon_cpu``).
``--spy PREFIX`` samples every phase with py-spy (``--native`` adds C frames
and pauses the daemon while sampling).

Wall times on a shared machine are noise; counts are not. Compare a change
with its base back to back: ``git archive main | tar -x -C /tmp/base`` and
``--code /tmp/base`` runs the daemon from that tree (PYTHONPATH). ``--env``
passes variables to the daemon (``OBJFS_PAGE_PUSH=0`` and the like).
Needs root (drop_caches), /dev/fuse and fusermount3.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1 << 20
ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="seqprobe.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--code", default=str(ROOT), help="objfs source tree to run (default: this)")
    p.add_argument("--mib", type=int, default=1024, help="file size in MiB (default: 1024)")
    p.add_argument(
        "--only", default="wr", help="phases: w (write), r (cold read), x (cold random reads)"
    )
    p.add_argument("--spy", metavar="PREFIX", help="py-spy record each phase to PREFIX-<phase>.txt")
    p.add_argument("--native", action="store_true", help="--spy with C frames (pauses the daemon)")
    p.add_argument("--target", choices=("objfs", "passthrough"), default="objfs")
    p.add_argument(
        "--null-store", action="store_true", help="objfs minus hashing, sealing and chunk writes"
    )
    p.add_argument(
        "--proc-store", type=int, default=0, metavar="N", help="seal in N processes (procseal.py)"
    )
    p.add_argument(
        "--perf", metavar="PREFIX", help="perf record -g the read phases to PREFIX-<phase>.data"
    )
    p.add_argument("--repeat", type=int, default=1, help="run the read phases N times")
    p.add_argument("--reads", type=int, default=20_000, help="random reads in phase x")
    p.add_argument("--sse", default="AES256", help="bucket default encryption")
    p.add_argument("--strace", action="store_true", help="count syscalls (strace -c -f)")
    p.add_argument("--requests", action="store_true", help="count FUSE requests (-o debug)")
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="daemon env")
    args = p.parse_args(argv)
    if args.mib < 1 or not set(args.only) <= {"w", "r", "x"} or "w" not in args.only:
        p.error("--mib must be positive and --only must include w (the read needs the file)")
    if args.null_store and (args.only != "w" or args.target != "objfs"):
        p.error("--null-store writes wrong content: objfs and --only w alone")
    if args.proc_store and (args.null_store or args.target != "objfs" or args.proc_store < 1):
        p.error("--proc-store N: objfs, N >= 1, not with --null-store")
    for kv in args.env:
        if "=" not in kv:
            p.error(f"--env {kv!r}: expected K=V")
    return args


def _stat(path: str) -> tuple[str, float, float]:
    with open(path) as f:
        text = f.read()
    name = text.split("(", 1)[1].rsplit(")", 1)[0]
    fields = text.rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return name, (int(fields[11]) + int(fields[12])) / tick, int(fields[12]) / tick


def _switches(path: str) -> int:
    with open(path) as f:
        return int(f.read().split("\nvoluntary_ctxt_switches:")[1].split()[0])


def threads(pid: int) -> list[tuple[str, float, float, int]]:
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name, cpu, sys_cpu = _stat(f"/proc/{pid}/task/{tid}/stat")
            switches = _switches(f"/proc/{pid}/task/{tid}/status")
        except (OSError, IndexError):
            continue
        name = "main" if tid == str(pid) else name
        out.append((name, round(cpu, 2), round(sys_cpu, 2), switches))
    return sorted(out, key=lambda t: -t[1])


class Probe:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.mnt = work / "mnt"
        self.store = work / "store"
        self.env = dict(os.environ, PYTHONPATH=args.code)
        if args.proc_store:
            self.env["PYTHONPATH"] += os.pathsep + str(Path(__file__).resolve().parent)
            self.env["OBJFS_PROBE_SEALERS"] = str(args.proc_store)
        self.env.update(kv.split("=", 1) for kv in args.env)

    def py(self, *argv: str, **kw: object) -> subprocess.Popen[bytes]:
        # cwd: ``python -c`` puts the working directory first on sys.path, so
        # run from a source tree it would import that tree, not ``--code``.
        return subprocess.Popen(  # type: ignore[call-overload]
            [sys.executable, *argv], env=self.env, cwd=self.work, **kw
        )

    def init_store(self) -> None:
        if self.args.target == "passthrough":
            self.store.mkdir()  # the directory it passes through to
            return
        script = (
            "import sys; from objfs.store import OWNER, Store\n"
            "s = Store.init(sys.argv[1]); s.create_bucket(OWNER, 'bench')\n"
            "s.set_bucket_encryption(OWNER, 'bench', sys.argv[2]); s.close()\n"
        )
        if self.py("-c", script, str(self.store), self.args.sse).wait() != 0:
            raise SystemExit("seqprobe: store setup failed")

    def mount(self) -> subprocess.Popen[bytes]:
        opts = f"store={self.store}" + (",debug" if self.args.requests else "")
        code = (_NULL_STORE if self.args.null_store else "") + _MAIN
        if self.args.proc_store:
            code = "import procseal\n" + _MAIN
        if self.args.target == "passthrough":
            argv = [
                str(ROOT / "tests" / "bench" / "passthrough.py"),
                str(self.store),
                str(self.mnt),
            ]
            argv += ["--debug"] if self.args.requests else []
        else:
            argv = ["-c", code, "mount", "bench", str(self.mnt), "-f", "-o", opts]
        with open(self.work / "daemon.log", "ab") as log:
            proc = self.py(*argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.ismount(self.mnt):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.unmount(proc)
                raise SystemExit(f"seqprobe: mount failed, see {self.work / 'daemon.log'}")
            time.sleep(0.05)
        time.sleep(1.5)  # let the mount settle (the read-ahead is raised at INIT)
        return proc

    def unmount(self, proc: subprocess.Popen[bytes]) -> None:
        subprocess.run(["fusermount3", "-u", str(self.mnt)], capture_output=True)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def phase(self, tag: str, cmd: list[str], ops: int = 0) -> dict[str, object]:
        proc = self.mount()
        log_at = (self.work / "daemon.log").stat().st_size
        tracer = None
        trace_out = self.work / f"strace-{tag}.txt"
        if self.args.strace:
            tracer = subprocess.Popen(
                ["strace", "-c", "-f", "-o", str(trace_out), "-p", str(proc.pid)],
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
        spy = None
        if self.args.spy:
            how = ["--native"] if self.args.native else ["--nonblocking"]
            spy = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", *how,
                 "--threads", "--format", "raw", "-r", "250", "-o",
                 f"{self.args.spy}-{tag}.txt", "-p", str(proc.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1.0)
        if self.args.perf and tag != "w":
            spy = subprocess.Popen(
                ["perf", "record", "-g", "-F", "999", "-o", f"{self.args.perf}-{tag}.data",
                 "-p", str(proc.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1.0)
        cpu0 = _stat(f"/proc/{proc.pid}/stat")[1]
        sw0 = sum(t[3] for t in threads(proc.pid))
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        secs = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
        out: dict[str, object] = {
            "phase": tag,
            "MB/s": round(self.args.mib * MIB / secs / 1e6),
            "secs": round(secs, 2),
            "daemon_cpu": round(_stat(f"/proc/{proc.pid}/stat")[1] - cpu0, 2),
            "client_cpu": round(client, 2),
            **({"IOPS": round(ops / secs), "us_cpu_per_read": 0} if ops else {}),
            "switches": sum(t[3] for t in threads(proc.pid)) - sw0,
            "threads": threads(proc.pid)[:8],
        }
        if spy is not None:
            spy.send_signal(2)
            spy.wait()
        if ops:
            out["us_cpu_per_read"] = round(out["daemon_cpu"] / ops * 1e6)  # type: ignore[operator]
        if tracer is not None:
            tracer.send_signal(2)
            tracer.wait()
            out["syscalls"] = _strace_counts(trace_out)
        self.unmount(proc)
        if self.args.requests:
            with open(self.work / "daemon.log", "rb") as f:
                f.seek(log_at)
                text = f.read().decode(errors="replace")
            found = re.findall(r"DEBUG objfs\.fs: ([a-z_]+)\(", text)
            out["requests"] = dict(collections.Counter(found).most_common())
        return out


_MAIN = "import sys; from objfs.cli import main; sys.exit(main())"

# --null-store: a writer's first full block is stored; every later full block
# becomes a reference to that chunk, with no hashing, sealing or chunk write.
_NULL_STORE = """
from objfs.store import writer as _w
_store_block = _w.ObjectWriter._store_block
def _null_block(self, buf, length):
    first = getattr(self, "_null_first", None)
    if first is not None and length == self.block:
        return first
    ref = _store_block(self, buf, length)
    if length == self.block and ref.chunk_id is not None:
        self._null_first = ref
    return ref
_w.ObjectWriter._store_block = _null_block
"""

# As ``workloads.randread``: the same offsets.
_RANDREAD = """
import json, os, random, sys, time
path, n = sys.argv[1], int(sys.argv[2])
size = os.stat(path).st_size
rng = random.Random(20261130)
offsets = [rng.randrange(size // 4096) * 4096 for _ in range(n)]
fd = os.open(path, os.O_RDONLY)
lat = []
clock = time.perf_counter_ns
for off in offsets:
    t0 = clock()
    os.pread(fd, 4096, off)
    lat.append(clock() - t0)
lat.sort()
print(json.dumps({f"p{q}_us": lat[len(lat) * q // 100] // 1000 for q in (10, 50, 90)}))
"""


def _drop_caches() -> None:
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def _strace_counts(path: Path) -> dict[str, int]:
    counts = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[-1].isidentifier() and parts[3].isdigit():
            counts[parts[-1]] = int(parts[3])
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:12])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="objfs-seqprobe-"))
    try:
        src = work / "src.bin"
        with open(src, "wb") as f:
            for _ in range(args.mib):
                f.write(os.urandom(MIB))
        os.sync()  # its writeback would otherwise compete with the first phase's
        probe = Probe(args, work)
        probe.mnt.mkdir()
        probe.init_store()
        dst = probe.mnt / "seq.bin"
        dd = ["dd", "bs=1M", "status=none"]
        print(
            json.dumps(probe.phase("w", [*dd, f"if={src}", f"of={dst}", "conv=fsync"])), flush=True
        )
        for _ in range(args.repeat):
            if "r" in args.only:
                _drop_caches()
                print(json.dumps(probe.phase("r", [*dd, f"if={dst}", "of=/dev/null"])))
            if "x" in args.only:
                _drop_caches()
                rand = [sys.executable, "-c", _RANDREAD, str(dst), str(args.reads)]
                print(json.dumps(probe.phase("x", rand, ops=args.reads)), flush=True)
        return 0
    finally:
        if os.path.ismount(work / "mnt"):
            subprocess.run(["fusermount3", "-uz", str(work / "mnt")], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
