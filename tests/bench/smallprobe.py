"""Count the daemon's work for the ``small`` benchmark's create and ``rm -rf``
phases: FUSE requests by opcode, daemon CPU, optionally a py-spy profile (a
profiling aid, not a benchmark).

Usage::

    .venv/bin/python tests/bench/smallprobe.py [--target objfs|passthrough]
        [--code DIR] [--files N] [--per-dir N] [--pyspy DIR [--native]]
        [--perf-profile DIR] [--wrapper SCRIPT] [--no-perf] [--env K=V ...]

The phases do what ``workloads.small`` does, on the same targets
(``targets.ObjfsTarget``, ``targets.PassthroughTarget``): create N files of
4 KiB (open/write/close) in directories of ``--per-dir``, then unmount, drop
caches, mount again and ``rm -rf`` them. For each phase one JSON line: wall
seconds, the daemon's CPU seconds (utime+stime of the process, all threads),
both per file, and the FUSE requests the kernel sent by opcode (counted with
``perf record`` on the ``fuse:fuse_request_send`` tracepoint, filtered to the
mount's connection: no daemon logging, so the daemon runs at full speed).
``--pyspy DIR`` samples the daemon with ``py-spy --nonblocking`` during each
phase (collapsed stacks, ``DIR/<target>-<phase>.txt``; ``--native`` adds C
frames, pausing the daemon); ``--perf-profile DIR`` records ``perf record -g``
of the daemon (``DIR/<target>-<phase>.data``); ``--wrapper SCRIPT`` runs the
daemon as ``python SCRIPT ARGS...`` (e.g. one that starts cProfile first).

``--code DIR`` runs objfs from another tree (PYTHONPATH): ``git archive main
| tar -x -C /tmp/base`` then ``--code /tmp/base`` compares with main back to
back. Needs root (drop_caches, perf), /dev/fuse and fusermount3.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.bench import targets, workloads  # noqa: E402

SMALL = workloads.SMALL
MAIN = "import sys; from objfs.cli import main; sys.exit(main())"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="smallprobe.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--target", default="objfs", choices=("objfs", "passthrough"))
    p.add_argument("--code", default=None, help="objfs source tree to run (default: installed)")
    p.add_argument("--files", type=int, default=5000)
    p.add_argument("--per-dir", type=int, default=500)
    p.add_argument("--wrapper", default=None, help="python script to run the daemon with")
    p.add_argument("--pyspy", default=None, metavar="DIR", help="profile each phase into DIR")
    p.add_argument("--native", action="store_true", help="py-spy --native (C frames too)")
    p.add_argument("--no-perf", action="store_true", help="do not count FUSE requests")
    p.add_argument("--perf-profile", default=None, metavar="DIR", help="perf record -g into DIR")
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="daemon env")
    return p.parse_args(argv)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> dict[str, tuple[float, int, int]]:
    """name -> (CPU seconds, voluntary, involuntary switches) of each thread."""
    out: dict[str, tuple[float, int, int]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                text = f.read()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                status = f.read()
        except OSError:
            continue
        name = "main" if tid == str(pid) else text.split("(", 1)[1].rsplit(")", 1)[0]
        fields = text.rsplit(")", 1)[1].split()
        vol = int(status.split("\nvoluntary_ctxt_switches:")[1].split()[0])
        invol = int(status.split("\nnonvoluntary_ctxt_switches:")[1].split()[0])
        cpu, v0, i0 = out.get(name, (0.0, 0, 0))
        out[name] = (cpu + (int(fields[11]) + int(fields[12])) / tick, v0 + vol, i0 + invol)
    return out


class Phase:
    """Counts one phase: CPU, wall time, FUSE requests, an optional profile."""

    def __init__(self, args: argparse.Namespace, target: targets.FuseTarget, tag: str) -> None:
        self.args, self.target, self.tag = args, target, tag
        self.work = Path(tempfile.mkdtemp(prefix="smallprobe-"))
        self.perf: subprocess.Popen[bytes] | None = None
        self.spy: subprocess.Popen[bytes] | None = None
        self.prof: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Phase:
        assert self.target.proc is not None
        self.pid = self.target.proc.pid
        st = os.stat(self.target.root)
        conn = (os.major(st.st_dev) << 20) | os.minor(st.st_dev)
        if not self.args.no_perf:
            self.perf = subprocess.Popen(
                ["perf", "record", "-q", "-a", "-e", "fuse:fuse_request_send",
                 "--filter", f"connection == {conn}", "-o", str(self.work / "perf.data")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        if self.args.pyspy:
            out = Path(self.args.pyspy) / f"{self.args.target}-{self.tag}.txt"
            # --native pauses the process to unwind C frames (--nonblocking cannot)
            mode = ["--native"] if self.args.native else ["--nonblocking"]
            spy = str(Path(sys.executable).parent / "py-spy")
            self.spy = subprocess.Popen(
                [spy, "record", *mode, "-p", str(self.pid), "-f", "raw", "-r", "250", "-t",
                 "-o", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        if self.args.perf_profile:
            out = Path(self.args.perf_profile) / f"{self.args.target}-{self.tag}.data"
            self.prof = subprocess.Popen(
                ["perf", "record", "-q", "-F", "499", "-g", "-p", str(self.pid), "-o", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        time.sleep(1.5)  # perf and py-spy attach
        self.cpu0 = cpu_seconds(self.pid)
        self.threads0 = threads(self.pid)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.secs = time.perf_counter() - self.t0
        self.cpu = cpu_seconds(self.pid) - self.cpu0
        after = threads(self.pid)
        self.threads = {
            name: (round(cpu - self.threads0.get(name, (0, 0, 0))[0], 2),
                   vol - self.threads0.get(name, (0, 0, 0))[1],
                   invol - self.threads0.get(name, (0, 0, 0))[2])
            for name, (cpu, vol, invol) in after.items()
        }  # fmt: skip
        self.requests: dict[str, int] = {}
        for tool in (self.spy, self.prof):
            if tool is not None:
                tool.send_signal(signal.SIGINT)
                tool.wait()
        if self.perf is not None:
            time.sleep(0.3)
            self.perf.send_signal(signal.SIGINT)
            self.perf.wait()
            text = subprocess.run(
                ["perf", "script", "-i", str(self.work / "perf.data")],
                capture_output=True, text=True,
            ).stdout  # fmt: skip
            found = re.findall(r"\(FUSE_([A-Z_0-9]+)\)", text)
            self.requests = dict(collections.Counter(found).most_common())
        shutil.rmtree(self.work, ignore_errors=True)

    def report(self, n: int) -> dict[str, object]:
        return {
            "target": self.args.target,
            "phase": self.tag,
            "secs": round(self.secs, 2),
            "daemon_cpu": round(self.cpu, 2),
            "cpu_ms_per_file": round(self.cpu * 1000 / n, 3),
            "requests_per_file": round(sum(self.requests.values()) / n, 2),
            "requests": self.requests,
            # name: (CPU seconds, voluntary, involuntary context switches)
            "threads": {k: v for k, v in self.threads.items() if v[0] >= 0.01},
        }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.code:
        os.environ["PYTHONPATH"] = args.code
    os.environ.update(kv.split("=", 1) for kv in args.env)
    work = Path(tempfile.mkdtemp(prefix="objfs-smallprobe-"))
    target: targets.FuseTarget
    if args.target == "objfs":
        target = targets.ObjfsTarget(work)
        if args.code or args.wrapper:
            argv0 = [args.wrapper] if args.wrapper else ["-c", MAIN]
            target.command = (
                lambda: [  # type: ignore[method-assign]
                    sys.executable,
                    *argv0,
                    *targets.ObjfsTarget.command(target)[1:],
                ]
            )
    else:
        target = targets.PassthroughTarget(work)
        if args.wrapper:
            target.command = (
                lambda: [  # type: ignore[method-assign]
                    sys.executable,
                    args.wrapper,
                    *targets.PassthroughTarget.command(target)[2:],
                ]
            )
    n = args.files
    blob = os.urandom(n * SMALL)
    root = target.root
    paths = [root / "small" / f"d{i // args.per_dir:03d}" / f"f{i:05d}" for i in range(n)]
    try:
        target.create()
        target.start()
        with Phase(args, target, "create") as create:
            workloads.create_small_files(paths, blob)
        print(json.dumps(create.report(n)), flush=True)
        target.cold()
        with Phase(args, target, "rm") as rm:
            subprocess.run(["rm", "-rf", str(root / "small")], check=True)
        print(json.dumps(rm.report(n)), flush=True)
        if (root / "small").exists():
            print("smallprobe: rm -rf left files behind", file=sys.stderr)
            return 1
        return 0
    finally:
        target.destroy()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
