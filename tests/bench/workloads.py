"""The benchmark workloads, each run the same way on every target.

A workload gets a created-but-not-started ``Target`` and appends ``Row``s
to a list as it goes, so the steps measured before a failure are kept. Data
written is incompressible and unique (random bytes, a fresh store per
target), so neither compression nor chunk dedup flatters objfs; what was
written is read back and compared, untimed, so a fast wrong answer is a
failure, not a result.

Workloads (sizes from ``Sizes``; ``--quick`` shrinks them):
- ``seq``: ``dd bs=1M conv=fsync`` of a file, then a cold ``dd`` read of it
  (unmount, drop caches, mount), daemon peak RSS for each.
- ``randread``: random 4 KiB ``pread``s (psync, one thread, like
  ``fio --rw=randread --bs=4k --ioengine=psync``) in a file of ``seq_mib``
  written through the target, after a remount and dropping caches (IOPS).
- ``small``: files of 4 KiB created, ``ls -lR``, ``find`` and read, each
  listing/read step cold, then ``rm -rf`` of them all (cold too; checked
  gone afterwards, untimed).
- ``bigdir``: ``ls -l`` (cold, warm) and ``ls -f | wc -l`` (cold) of one
  directory of many entries (created outside the timed part: on disk, or
  via the store API for objfs), daemon peak RSS per step. Not run on the
  passthrough (``SKIPPED``): it needs minutes for 100,000 entries.
- HTTP (the ``http`` target, ``s3http.py``): ``seq`` as boto3 PUT and GET
  of the same file over ``objfs serve``; ``randread`` as 4 KiB GETs by 8
  concurrent clients (requests/s).
- ``overwrite``: a file on a versioned bucket rewritten in place at 4 KiB
  spots over several open/close rounds; time, and space growth of the
  backing storage (objfs: the store dir, i.e. chunks plus metadata).
"""

from __future__ import annotations

import os
import random
import shlex
import subprocess
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import s3http
from results import Row
from targets import BenchError, ObjfsTarget, Target, drop_caches

MIB = 1 << 20
SMALL = 4096
STEP_TIMEOUT = 900  # seconds; a hung mount fails its row, not the run


@dataclass(slots=True, frozen=True)
class Sizes:
    seq_mib: int = 1024
    small_files: int = 5000
    small_per_dir: int = 500
    bigdir_entries: int = 100_000
    overwrite_mib: int = 1024
    overwrite_rounds: int = 10
    overwrite_spots: int = 100  # per round
    randread_ops: int = 20_000
    http_gets: int = 8000  # 4 KiB GETs over HTTP, all clients together


FULL = Sizes()
QUICK = Sizes(
    seq_mib=64,
    small_files=500,
    small_per_dir=100,
    bigdir_entries=5000,
    overwrite_mib=64,
    overwrite_rounds=5,
    overwrite_spots=20,
    randread_ops=2000,
    http_gets=800,
)


@dataclass(slots=True)
class RunState:
    """What the workloads of one run share: sizes, work dir, source files."""

    sizes: Sizes
    workdir: Path
    _sources: dict[int, Path] = field(default_factory=dict)

    def source(self, size: int) -> Path:
        """A file of ``size`` random bytes on local disk, made once per run."""
        path = self._sources.get(size)
        if path is None:
            path = self.workdir / f"source-{size // MIB}MiB.bin"
            with open(path, "wb") as f:
                for _ in range(size // MIB):
                    f.write(os.urandom(MIB))
            # On disk before any target runs: otherwise the first target's
            # timed phase shares the disk with this file's writeback.
            os.sync()
            self._sources[size] = path
        return path


def warm(path: Path) -> None:
    """Read a file once so that reading it next costs no disk time."""
    with open(path, "rb") as f:
        while f.read(8 * MIB):
            pass


def timed(cmd: list[str]) -> tuple[float, str]:
    """Run ``cmd``; return (seconds, stdout). A failure is a BenchError."""
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{cmd[0]} still running after {STEP_TIMEOUT} s") from None
    secs = time.perf_counter() - t0
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BenchError(f"{cmd[0]} failed ({done.returncode}): {tail}")
    return secs, done.stdout


def seq(t: Target, run: RunState, rows: list[Row]) -> None:
    size = run.sizes.seq_mib * MIB
    src = run.source(size)
    if isinstance(t, s3http.HttpTarget):
        s3http.seq(t, src, rows)
        return
    t.create()
    t.start()
    warm(src)
    dst = t.root / "seq.bin"
    secs, _ = timed(["dd", f"if={src}", f"of={dst}", "bs=1M", "conv=fsync", "status=none"])
    t.stop()  # the daemon's peak includes committing on close
    rows.append(
        Row(
            "seq",
            f"write {size // MIB} MiB",
            t.kind,
            t.sse,
            size / secs / 1e6,
            "MB/s",
            secs,
            peak_rss_kib=t.current_rss(),
            note="dd bs=1M conv=fsync",
        )  # fmt: skip
    )
    t.reset_rss()
    if not drop_caches():
        t.notes.append("page cache not dropped (needs root)")
    t.start()
    secs, _ = timed(["dd", f"if={dst}", "of=/dev/null", "bs=1M", "status=none"])
    rss = t.current_rss()
    same = subprocess.run(["cmp", "-s", str(src), str(dst)]).returncode == 0
    t.stop()
    rows.append(
        Row(
            "seq",
            f"cold read {size // MIB} MiB",
            t.kind,
            t.sse,
            size / secs / 1e6,
            "MB/s",
            secs,
            peak_rss_kib=rss,
            note="dd bs=1M after remount + drop_caches",
            error=None if same else "data read back differs from what was written",
        )  # fmt: skip
    )


def randread(t: Target, run: RunState, rows: list[Row]) -> None:
    if isinstance(t, s3http.HttpTarget):
        s3http.small_gets(t, run.sizes.http_gets, rows)
        return
    size = run.sizes.seq_mib * MIB
    src = run.source(size)
    t.create()
    t.start()
    path = t.root / "rand.bin"
    timed(["dd", f"if={src}", f"of={path}", "bs=1M", "conv=fsync", "status=none"])
    t.stop()
    if not drop_caches():
        t.notes.append("page cache not dropped (needs root)")
    t.start()
    rng = random.Random(20261130)
    offsets = [rng.randrange(size // SMALL) * SMALL for _ in range(run.sizes.randread_ops)]
    fd = os.open(path, os.O_RDONLY)
    try:
        t0 = time.perf_counter()
        got = [zlib.crc32(os.pread(fd, SMALL, off)) for off in offsets]
        secs = time.perf_counter() - t0
    finally:
        os.close(fd)
    rss = t.current_rss()
    t.stop()
    with open(src, "rb") as f:
        want = [zlib.crc32(os.pread(f.fileno(), SMALL, off)) for off in offsets]
    wrong = sum(1 for a, b in zip(got, want, strict=True) if a != b)
    rows.append(
        Row(
            "randread",
            f"random 4 KiB reads in {size // MIB} MiB",
            t.kind,
            t.sse,
            len(offsets) / secs,
            "IOPS",
            secs,
            peak_rss_kib=rss,
            note=f"{len(offsets)} preads, one thread, cold",
            error=f"{wrong} reads came back wrong" if wrong else None,
        )  # fmt: skip
    )


def _small_paths(t: Target, run: RunState) -> list[Path]:
    n, per_dir = run.sizes.small_files, run.sizes.small_per_dir
    return [t.root / "small" / f"d{i // per_dir:03d}" / f"f{i:05d}" for i in range(n)]


def create_small_files(paths: list[Path], blob: bytes) -> None:
    """The small workload's create step: file i gets bytes [i*SMALL, (i+1)*SMALL)
    of ``blob`` (open O_CREAT|O_TRUNC, one write, close; no fsync)."""
    made: set[Path] = set()
    for i, path in enumerate(paths):
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, blob[i * SMALL : (i + 1) * SMALL])
        finally:
            os.close(fd)


def small(t: Target, run: RunState, rows: list[Row]) -> None:
    n = run.sizes.small_files
    blob = os.urandom(n * SMALL)
    paths = _small_paths(t, run)
    t.create()
    t.start()
    t0 = time.perf_counter()
    create_small_files(paths, blob)
    secs = time.perf_counter() - t0

    def add(metric: str, secs: float, note: str, error: str | None = None) -> None:
        rows.append(
            Row(
                "small",
                metric,
                t.kind,
                t.sse,
                n / secs,
                "files/s",
                secs,
                peak_rss_kib=t.current_rss(),
                note=note,
                error=error,
            )  # fmt: skip
        )

    add(f"create {n} x 4 KiB", secs, "open/write/close, no fsync")

    t.cold()
    secs, out = timed(["ls", "-lR", str(t.root / "small")])
    files = sum(1 for line in out.splitlines() if line.startswith("-"))
    add("ls -lR (cold)", secs, "", None if files == n else f"ls -lR listed {files} of {n} files")

    t.cold()
    secs, out = timed(["find", str(t.root / "small"), "-type", "f"])
    files = len(out.splitlines())
    add("find -type f (cold)", secs, "", None if files == n else f"find found {files} of {n}")

    t.cold()
    t0 = time.perf_counter()
    bad = 0
    for i, path in enumerate(paths):
        with open(path, "rb") as f:
            if f.read() != blob[i * SMALL : (i + 1) * SMALL]:
                bad += 1
    secs = time.perf_counter() - t0
    add("read (cold)", secs, "open/read/close", f"{bad} files read back wrong" if bad else None)

    t.cold()
    secs, _ = timed(["rm", "-rf", str(t.root / "small")])
    left = sum(len(files) for _, _, files in os.walk(t.root / "small"))
    gone = not left and not (t.root / "small").exists()
    add("rm -rf (cold)", secs, "", None if gone else f"rm -rf left {left} files behind")
    t.stop()


def bigdir(t: Target, run: RunState, rows: list[Row]) -> None:
    """One directory of ``bigdir_entries`` keys: ``ls -l`` cold and warm, ``ls -f | wc -l`` cold.

    The daemon's peak RSS (VmHWM) is taken per step: a cold step runs on a
    fresh daemon, so its peak is what that listing cost.
    """
    n = run.sizes.bigdir_entries
    t.create()
    t0 = time.perf_counter()
    t.populate("wide", n)
    setup = time.perf_counter() - t0
    how = "store API" if isinstance(t, ObjfsTarget) else "os.open"
    wide = t.root / "wide"
    steps = [
        ("ls -l (cold)", ["ls", "-l", str(wide)]),
        ("ls -l (warm)", ["ls", "-l", str(wide)]),
        ("ls -f | wc -l (cold)", ["sh", "-c", f"ls -f {shlex.quote(str(wide))} | wc -l"]),
    ]
    for metric, cmd in steps:
        if metric.endswith("(cold)"):
            t.cold()
            t.reset_rss()  # this daemon's peak only
        secs, out = timed(cmd)
        rss = t.current_rss()  # before the check below lists the directory again
        if metric.startswith("ls -l"):
            entries = len(out.splitlines()) - 1  # the "total" line
        else:
            # "." and ".." are counted where the file system lists them (not objfs)
            _, names = timed(["ls", "-f", str(wide)])
            entries = sum(1 for name in names.splitlines() if name not in (".", ".."))
        rows.append(
            Row(
                "bigdir",
                f"{metric} {n} entries",
                t.kind,
                t.sse,
                n / secs,
                "entries/s",
                secs,
                peak_rss_kib=rss,
                note=f"created via {how} in {setup:.1f} s",
                error=None if entries == n else f"{metric} listed {entries} of {n}",
            )  # fmt: skip
        )
    t.stop()


def overwrite(t: Target, run: RunState, rows: list[Row]) -> None:
    sizes = run.sizes
    size = sizes.overwrite_mib * MIB
    src = run.source(size)
    t.create(versioning=True)
    t.start()
    path = t.root / "big.bin"
    timed(["dd", f"if={src}", f"of={path}", "bs=1M", "conv=fsync", "status=none"])
    t.stop()
    before = t.space_bytes()
    t.start()
    rng = random.Random(20260101)
    expect: dict[int, bytes] = {}
    spots = sizes.overwrite_rounds * sizes.overwrite_spots
    t0 = time.perf_counter()
    for _ in range(sizes.overwrite_rounds):
        fd = os.open(path, os.O_RDWR)
        try:
            for _ in range(sizes.overwrite_spots):
                offset = rng.randrange(size // SMALL) * SMALL
                data = rng.randbytes(SMALL)
                os.pwrite(fd, data, offset)
                expect[offset] = data
        finally:
            os.close(fd)
    secs = time.perf_counter() - t0
    t.stop()
    rss = t.current_rss()
    growth = t.space_bytes() - before
    t.start()
    wrong = sum(1 for off, data in expect.items() if _pread(path, off) != data)
    t.stop()
    note = f"{sizes.overwrite_rounds} open/close rounds"
    if isinstance(t, ObjfsTarget):
        note += ", versioning on"
    rows.append(
        Row(
            "overwrite",
            f"4 KiB x {spots} in {size // MIB} MiB",
            t.kind,
            t.sse,
            spots / secs,
            "writes/s",
            secs,
            peak_rss_kib=rss,
            note=note,
            error=f"{wrong} spots read back wrong" if wrong else None,
        )  # fmt: skip
    )
    note = f"{growth / spots / 1024:.0f} KiB per 4 KiB write"
    if isinstance(t, ObjfsTarget):
        note += f"; {t.versions('big.bin')} versions"
    rows.append(
        Row(
            "overwrite",
            "space growth",
            t.kind,
            t.sse,
            growth / MIB,
            "MiB",
            None,
            rate=False,
            note=note,
        )  # fmt: skip
    )


def _pread(path: Path, offset: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(SMALL)


# (workload, target kind) pairs not run, and why (run.py says so on stderr).
SKIPPED: dict[tuple[str, str], str] = {
    ("bigdir", "passthrough"): "the pyfuse3 passthrough needs minutes for 100,000 entries",
}

WORKLOADS: dict[str, Callable[[Target, RunState, list[Row]], None]] = {
    "seq": seq,
    "randread": randread,
    "small": small,
    "bigdir": bigdir,
    "overwrite": overwrite,
}
