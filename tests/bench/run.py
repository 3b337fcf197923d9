"""Run the objfs benchmarks: local disk vs. passthrough FUSE vs. objfs.

Usage::

    .venv/bin/python tests/bench/run.py [--quick] [--json FILE] [--only NAME[,NAME]]
                                        [--targets disk,passthrough,objfs,http] [--repeat N]
                                        [--dir DIR] [--keep] [--sse-everywhere] [--cluster]

Every workload runs on each target in the same run (fresh directory or
store per target); the table on stdout and the JSON file give MB/s or ops/s
and the ratio to disk and to the passthrough. The ``http`` target is
``objfs serve`` driven with boto3: PUT and GET of the ``seq`` file (next to
the mount's rows) and, in ``randread``, 4 KiB GETs by 8 concurrent clients. The sequential workload runs
objfs twice, with bucket default encryption ``AES256`` and ``none`` (the
``sse`` column); ``--sse-everywhere`` does so for every workload. The
``httpload`` workload is ``httpload.py``'s: wrk with pre-signed URLs against
``objfs serve`` and SeaweedFS in one run (3 s per step with ``--quick``).

``--cluster`` (what ``make bench`` runs) adds the targets ``cluster`` (objfs
on a PostgreSQL and a SeaweedFS started for the run) and ``juicefs`` (JuiceFS
on the same two) to ``seq``, ``small`` and ``bigdir``, and the workload
``http4k`` (4 KiB GET/PUT req/s over HTTP, one and two ``objfs serve``
nodes, the JuiceFS gateway); see ``cluster.py``. The ``x objfs`` column
compares a row with the embedded objfs row of the same step.

Needs root (to drop the page cache between write and read), /dev/fuse and
fusermount3. Exit status: 0 all measured, 1 some step failed (its row says
why), 2 bad usage.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cluster  # noqa: E402
from results import Row, format_table, host_info, write_json  # noqa: E402
from s3http import HttpTarget  # noqa: E402
from targets import BenchError, ObjfsTarget, PassthroughTarget, Target  # noqa: E402
from workloads import FULL, QUICK, SKIPPED, WORKLOADS, RunState  # noqa: E402

log = logging.getLogger("objfs.bench")
TARGETS = ("disk", "passthrough", "objfs", "http")
# Workloads that bring their own servers and targets (no mount): httpload.py.
OWN_TARGETS = ("httpload",)
ALL_TARGETS = TARGETS + cluster.TARGETS
ALL_WORKLOADS = {**WORKLOADS, **cluster.WORKLOADS}
HTTP_WORKLOADS = ("seq", "randread")  # the ones with HTTP rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="run.py",
        description="Benchmark objfs against local disk and a pyfuse3 passthrough mount.",
        epilog="example: .venv/bin/python tests/bench/run.py --quick --only seq,small",
    )
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run in seconds")
    p.add_argument(
        "--json",
        metavar="FILE",
        default="bench-results.json",
        help="write results here (default: %(default)s)",
    )
    p.add_argument(
        "--only",
        metavar="NAME",
        default=None,
        help=f"comma-separated workloads of {', '.join((*ALL_WORKLOADS, *OWN_TARGETS))} "
        f"(default: {', '.join((*WORKLOADS, *OWN_TARGETS))}; with --cluster also "
        f"{', '.join(cluster.WORKLOADS)})",
    )
    p.add_argument(
        "--targets",
        metavar="LIST",
        default=",".join(TARGETS),
        help=f"comma-separated targets of {', '.join(ALL_TARGETS)} (default: %(default)s)",
    )
    p.add_argument(
        "--cluster",
        action="store_true",
        help="also the cluster targets (objfs and JuiceFS on PostgreSQL + SeaweedFS) "
        "and the http4k workload",
    )
    p.add_argument(
        "--sse-everywhere",
        action="store_true",
        help="run objfs with encryption on and off for every workload, not just seq",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run each workload N times per target and keep the best (default: 1)",
    )
    p.add_argument("--objfs-options", default="", metavar="OPTS", help="extra objfs -o options")
    p.add_argument("--dir", type=Path, help="work directory parent (default: system temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("-v", "--verbose", action="store_true", help="log mounts and steps")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.only is None:
        args.only = ",".join(
            [*WORKLOADS, *OWN_TARGETS, *(cluster.WORKLOADS if args.cluster else ())]
        )
    args.only = [w.strip() for w in args.only.split(",") if w.strip()]
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if args.cluster:
        args.targets += [t for t in cluster.TARGETS if t not in args.targets]
    for name in args.only:
        if name not in ALL_WORKLOADS and name not in OWN_TARGETS:
            choices = ", ".join((*ALL_WORKLOADS, *OWN_TARGETS))
            p.error(f"unknown workload {name!r} (choose from {choices})")
    for name in args.targets:
        if name not in ALL_TARGETS:
            p.error(f"unknown target {name!r} (choose from {', '.join(ALL_TARGETS)})")
    return args


def preflight(args: argparse.Namespace) -> str | None:
    """A one-line reason the benchmarks cannot run here, or None."""
    if any(t != "disk" for t in args.targets):
        if not os.path.exists("/dev/fuse"):
            return "/dev/fuse is missing (load the fuse module)"
        if not shutil.which("fusermount3"):
            return "fusermount3 not found (apt-get install fuse3)"
    if "http" in args.targets or any(w in cluster.WORKLOADS for w in args.only):
        try:
            import boto3  # noqa: F401
        except ImportError:
            return "boto3 not installed (pip install -e '.[test]'), needed by the http target"
    if "httpload" in args.only and not shutil.which("wrk"):
        return "wrk not found (apt-get install wrk, or make bench), needed by httpload"
    for tool in ("dd", "ls", "find", "cmp", "rm"):
        if not shutil.which(tool):
            return f"{tool} not found"
    return None


def make_targets(
    workload: str, args: argparse.Namespace, workdir: Path, svc: cluster.Services | None
) -> list[Target]:
    if workload in cluster.WORKLOADS:
        return cluster.make_targets(workload, args.targets, workdir, svc, args.objfs_options)
    out: list[Target] = []
    if "disk" in args.targets:
        out.append(Target(workdir))
    if "passthrough" in args.targets:
        why = SKIPPED.get((workload, "passthrough"))
        if why is None:
            out.append(PassthroughTarget(workdir))
        else:
            print(f"# {workload} not run on passthrough: {why}", file=sys.stderr)
    if "objfs" in args.targets:
        modes = (
            ["AES256", "none", "CSE"] if workload == "seq" or args.sse_everywhere else ["AES256"]
        )
        for sse in modes:
            out.append(ObjfsTarget(workdir, sse=sse, options=args.objfs_options))
    if "http" in args.targets and workload in HTTP_WORKLOADS:
        out.append(HttpTarget(workdir))
    out.extend(cluster.make_targets(workload, args.targets, workdir, svc, args.objfs_options))
    return out


def run_all(
    args: argparse.Namespace, workdir: Path, svc: cluster.Services | None = None
) -> list[Row]:
    state = RunState(sizes=QUICK if args.quick else FULL, workdir=workdir)
    rows: list[Row] = []
    for name in args.only:
        if name == "httpload":
            rows.extend(run_httpload(args, workdir))
            continue
        for target in make_targets(name, args, workdir, svc):
            label = target.kind if target.sse == "-" else f"{target.kind} sse={target.sse}"
            print(f"# {name} on {label} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            runs: list[list[Row]] = []
            for _ in range(args.repeat):
                got: list[Row] = []
                runs.append(got)
                try:
                    ALL_WORKLOADS[name](target, state, got)
                except Exception as exc:  # a harness: record the failure, go on
                    got.append(
                        Row(name, "(aborted)", target.kind, target.sse, error=_one_line(exc))
                    )
                finally:
                    target.destroy()
                if any(r.error for r in got):
                    break
            best = _best_of(runs)
            for note in dict.fromkeys(target.notes):
                best = [_with_note(r, note) for r in best]
            rows.extend(best)
            log.info("%s on %s took %.1f s", name, label, time.perf_counter() - t0)
    return rows


def run_httpload(args: argparse.Namespace, workdir: Path) -> list[Row]:
    """The HTTP load rows: wrk against objfs serve and SeaweedFS (httpload.py)."""
    import httpload

    print("# httpload: objfs serve and SeaweedFS under wrk ...", file=sys.stderr, flush=True)
    (workdir / "httpload").mkdir()
    try:
        results = httpload.run(
            workdir / "httpload", seconds=3.0 if args.quick else 15.0,
            steps=list(httpload.STEPS), workers=None,
        )  # fmt: skip
    except Exception as exc:  # a harness: record the failure, go on
        return [Row("httpload", "(aborted)", "objfs", error=_one_line(exc))]
    print(httpload.format_table(results), file=sys.stderr)
    return httpload.rows(results)


def _best_of(runs: list[list[Row]]) -> list[Row]:
    """One row per step: the fastest repetition (all values kept in ``extra``)."""
    if len(runs) == 1 or any(r.error for r in runs[-1]):
        return runs[-1]
    out = []
    for i, row in enumerate(runs[0]):
        same = [run[i] for run in runs if i < len(run)]
        pick = max(same, key=lambda r: r.value or 0.0) if row.rate else same[-1]
        out.append(Row(**{**asdict(pick), "extra": {**pick.extra, "all": [r.value for r in same]}}))
    return out


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else ""
    return f"{type(exc).__name__}: {msg}" if not isinstance(exc, BenchError) else msg


def _with_note(row: Row, note: str) -> Row:
    return Row(**{**asdict(row), "note": f"{row.note}; {note}" if row.note else note})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(name)s: %(message)s",
    )
    problem = preflight(args)
    if problem:
        print(f"run.py: {problem}", file=sys.stderr)
        return 1
    if args.dir is not None and not args.dir.is_dir():
        print(f"run.py: --dir {args.dir} is not a directory", file=sys.stderr)
        return 2
    json_dir = Path(args.json).absolute().parent
    if not json_dir.is_dir() or not os.access(json_dir, os.W_OK):
        print(f"run.py: cannot write --json {args.json}: no writable directory", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("run.py: not root: reads after a remount will not be cold", file=sys.stderr)
    # SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C: mounts are unmounted
    # and the work directory removed on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="objfs-bench-", dir=args.dir))
    host = host_info(workdir)
    if host["workdir_fs"] in ("tmpfs", "ramfs"):
        print(f"run.py: note: {workdir} is on {host['workdir_fs']}, not a disk", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        with cluster.services(args.targets, workdir) as svc:
            rows = run_all(args, workdir, svc)
    except KeyboardInterrupt:
        print("run.py: interrupted", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"run.py: work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sizes = QUICK if args.quick else FULL
    params = {
        "quick": args.quick,
        "sizes": asdict(sizes),
        "workloads": args.only,
        "targets": args.targets,
        "objfs_options": args.objfs_options,
        "repeat": args.repeat,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(format_table(rows))
    json_path = Path(args.json)
    try:
        write_json(json_path, rows, params, host)
    except OSError as exc:
        print(f"run.py: cannot write {json_path}: {exc.strerror}", file=sys.stderr)
        return 1
    failed = sum(1 for r in rows if r.error)
    print(f"\nresults: {json_path}  ({params['seconds']} s)", file=sys.stderr)
    if failed:
        print(f"run.py: {failed} step(s) failed; see the notes column", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
