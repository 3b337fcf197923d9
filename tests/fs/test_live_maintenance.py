"""Maintenance on a live store: a busy mount while fsck --repair and gc --grace 0 loop.

The test of issue 11: two mounts (a versioned and an unversioned bucket)
write small files (closes every few milliseconds, the same few bodies over
and over, so writes dedup onto chunks that overwrites just freed), large
files (several chunks, held open for seconds) and in-place edits, while
``objfs fsck --repair`` and ``objfs gc --grace 0`` run in loops from other
processes. Wanted: no write error, every acknowledged close reads back
byte-identical (the versioned bucket keeps every close as a version, in
order), every maintenance run clean, and afterwards a clean fsck with no
orphan left after one more gc.

``OBJFS_LIVE_SECONDS`` sets the duration (default 60: what CI runs).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from objfs.store import OWNER, Store

from .support import Mount

pytestmark = [pytest.mark.fuse, pytest.mark.slow]

OBJFS = Path(sys.executable).with_name("objfs")
MiB = 1 << 20
DURATION = float(os.environ.get("OBJFS_LIVE_SECONDS", "60"))


# One maintenance loop: run the command until the stop file exists, a JSON
# line per run (exit status, stdout, stderr).
LOOP = """
import json, os, subprocess, sys
stop, cmd = sys.argv[1], sys.argv[2:]
while not os.path.exists(stop):
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    print(json.dumps({"rc": done.returncode, "out": done.stdout, "err": done.stderr}), flush=True)
"""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Tally:
    """What happened, by kind; errors with their first messages."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = defaultdict(int)
        self.errors: list[str] = []

    def add(self, kind: str, n: int = 1) -> None:
        with self.lock:
            self.counts[kind] += n

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


def close_and_check(path: Path, data: bytes, tally: Tally, kind: str) -> bool:
    """Write ``data`` as the whole file, close, read it back through the mount."""
    try:
        with open(path, "wb") as f:
            f.write(data)
        tally.add(kind)
        if path.read_bytes() != data:
            tally.error(f"{path.name}: read back differs after close")
            return False
        return True
    except OSError as exc:
        tally.error(f"{path.name}: {exc!r}")
        return False


def _diff(got: list[str], want: list[str]) -> str:
    """Where the stored versions depart from the acknowledged closes (short digests)."""
    empty = sha(b"")
    short = {empty: "EMPTY"}
    g = [short.get(d, d[:8]) for d in got]
    w = [short.get(d, d[:8]) for d in want]
    for i, (a, b) in enumerate(zip(g, w, strict=False)):
        if a != b:
            return f"first difference at version {i}: stored {g[i : i + 4]}, closes {w[i : i + 4]}"
    return f"stored {len(g)} versions, {len(w)} closes; tail stored {g[-3:]}, closes {w[-3:]}"


def _changed(bodies: list[bytes], got: list[str], want: list[str]) -> str:
    """For the first stored version no close asked for: the byte ranges where it
    differs from the versions stored before and after it (what kind of state it is)."""
    wanted = set(want)
    for i, digest in enumerate(got):
        if digest in wanted:
            continue

        def spans(a: bytes, b: bytes) -> str:
            if len(a) != len(b):
                return f"sizes {len(a)} and {len(b)}"
            idx = [n for n in range(0, len(a), 512) if a[n : n + 512] != b[n : n + 512]]
            return f"{len(idx)} differing 512-byte blocks, {idx[:3]}..{idx[-3:]}" if idx else "same"

        before = spans(bodies[i], bodies[i - 1]) if i else "none"
        after = spans(bodies[i], bodies[i + 1]) if i + 1 < len(bodies) else "none"
        return f"extra version {i} ({len(bodies[i])} bytes): vs the one before: {before}; vs after: {after}"
    return "no extra version"


def test_writes_survive_fsck_repair_and_gc_in_loops(
    mounter: Callable[..., Mount], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Leases renewed every 2 s: gc can collect what overwrites free within
    # seconds, so a run of a few seconds still races it for real.
    monkeypatch.setenv("OBJFS_LEASE_SECONDS", "8")
    vers = mounter(bucket="vers", name="vers")
    plain = mounter(bucket="plain", name="plain")
    store_dir = vers.store
    (vers.path / "s").mkdir()
    (vers.path / "e").mkdir()
    (plain.path / "s").mkdir()
    (plain.path / "l").mkdir()
    stop = threading.Event()
    tally = Tally()
    history: dict[str, list[str]] = defaultdict(list)  # vers: every acknowledged close
    last: dict[str, str] = {}  # plain: the last acknowledged close

    pool = [
        random.Random(n).randbytes(random.Random(n).choice([700, 5000, 70_000])) for n in range(12)
    ]

    def small_versioned() -> None:
        rng = random.Random(1)
        i = 0
        while not stop.is_set():
            name = f"s/v{i % 150}"
            data = rng.randbytes(rng.choice([1, 100, 4096, 30_000, 200_000]))
            if close_and_check(vers.path / name, data, tally, "small closes (vers)"):
                history[name].append(sha(data))
            i += 1

    def small_plain() -> None:
        rng = random.Random(2)
        i = 0
        while not stop.is_set():
            name = f"s/p{i % 40}"
            data = rng.choice(pool)  # the same bodies again and again: dedup hits
            if close_and_check(plain.path / name, data, tally, "small closes (plain)"):
                last[name] = sha(data)
            i += 1

    def large_plain() -> None:
        rng = random.Random(3)
        i = 0
        while not stop.is_set():
            name = f"l/big{i % 5}"
            size = rng.choice([3, 9, 20]) * MiB + rng.randrange(MiB)
            data = rng.randbytes(size)
            hold = rng.uniform(0.5, 3.0)  # open for seconds, written piece by piece
            pieces = max(1, size // MiB)
            try:
                with open(plain.path / name, "wb") as f:
                    for n in range(pieces + 1):
                        f.write(data[n * MiB : (n + 1) * MiB])
                        time.sleep(hold / (pieces + 1))
                tally.add("large closes (plain)")
                if sha((plain.path / name).read_bytes()) != sha(data):
                    tally.error(f"{name}: read back differs after close")
                else:
                    last[name] = sha(data)
            except OSError as exc:
                tally.error(f"{name}: {exc!r}")
            i += 1

    def edit_in_place() -> None:
        # Small edits of multi-chunk files: new versions that reuse the base's chunks.
        rng = random.Random(4)
        bodies: dict[str, bytearray] = {}
        for n in range(3):
            name = f"e/doc{n}"
            body = bytearray(rng.randbytes(5 * MiB + 123))
            if close_and_check(vers.path / name, bytes(body), tally, "edit closes (vers)"):
                history[name].append(sha(bytes(body)))
                bodies[name] = body
        while not stop.is_set() and bodies:
            name = rng.choice(sorted(bodies))
            body = bodies[name]
            at = rng.randrange(len(body) - 4096)
            patch = rng.randbytes(4096)
            try:
                with open(vers.path / name, "r+b") as f:
                    f.seek(at)
                    f.write(patch)
                body[at : at + 4096] = patch
                tally.add("edit closes (vers)")
                history[name].append(sha(bytes(body)))
                if sha((vers.path / name).read_bytes()) != sha(bytes(body)):
                    tally.error(f"{name}: read back differs after an edit")
            except OSError as exc:
                tally.error(f"{name}: {exc!r}")
            time.sleep(0.05)

    # The maintenance loops run in processes started now, before any file is
    # open: a process forked later holds a copy of every descriptor open at
    # that moment and closing them (exec) is a FLUSH of those files, which
    # commits whatever the kernel had written back then: a torn state of a
    # write in progress, a version no close asked for (the mount's documented
    # flush-on-close semantics; tests/fs/test_versions.py covers the child's
    # close). This test is about maintenance racing writers, not that.
    stop_file = store_dir.parent / "stop-maintenance"
    procs = {
        kind: subprocess.Popen(
            [sys.executable, "-c", LOOP, str(stop_file), str(OBJFS), "--store", str(store_dir)]
            + args
            + ["--json"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for args, kind in (
            (["fsck", "--repair"], "fsck --repair runs"),
            (["gc", "--grace", "0"], "gc runs"),
        )
    }

    def maintenance(proc: subprocess.Popen[str], kind: str) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            done = json.loads(line)
            tally.add(kind)
            try:
                report = json.loads(done["out"])
            except ValueError:
                report = {}
            if done["rc"] != 0 or report.get("findings"):
                tally.error(f"{kind}: exit {done['rc']}: {done['out']}{done['err']}")
            tally.add(f"chunks removed by {kind}", report.get("chunks_removed", 0))

    workers = [
        threading.Thread(target=fn, name=fn.__name__)
        for fn in (small_versioned, small_plain, large_plain, edit_in_place)
    ]
    loops = [threading.Thread(target=maintenance, args=(p, k)) for k, p in procs.items()]
    started = time.monotonic()
    for t in workers + loops:
        t.start()
    try:
        while time.monotonic() - started < DURATION and len(tally.errors) < 20:
            time.sleep(0.5)
    finally:
        stop.set()
        stop_file.touch()
        for t in workers + loops:
            t.join(timeout=600)
        for proc in procs.values():
            proc.wait(timeout=60)
    elapsed = time.monotonic() - started
    closes = sum(v for k, v in tally.counts.items() if "closes" in k)
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(tally.counts.items()))
    print(f"\nlive loop {elapsed:.0f} s: {closes} closes; {summary}; errors: {len(tally.errors)}")
    assert tally.errors == [], tally.errors[:10]
    assert tally.counts["fsck --repair runs"] >= 2 and tally.counts["gc runs"] >= 2
    assert tally.counts["small closes (vers)"] >= 50 and tally.counts["large closes (plain)"] >= 2
    # gc had real work (what overwrites freed), so it raced the writers for real.
    assert tally.counts["chunks removed by gc runs"] > 0, summary

    vers.stop()
    plain.stop()
    with Store.open(store_dir) as store:
        # Every acknowledged close of the versioned bucket is a version, in
        # order, and nothing else is: no version that no close asked for (an
        # empty one minted by the truncate of open(O_TRUNC), a repeated
        # commit after a retried maintenance lock, ...).
        for name, closes_of_name in history.items():
            got, bodies = [], []
            for v in reversed(store.key_versions(OWNER, "vers", name)):
                with store.get_object(OWNER, "vers", name, version_id=v.version_id) as r:
                    bodies.append(r.read())
                    got.append(sha(bodies[-1]))
            assert got == closes_of_name, (
                name,
                _diff(got, closes_of_name),
                _changed(bodies, got, closes_of_name),
            )
        for name, digest in last.items():
            with store.get_object(OWNER, "plain", name) as r:
                assert sha(r.read()) == digest, name
        report = store.fsck(OWNER)
        assert report.ok and report.findings == [], report.problems
        store.gc(OWNER, grace_seconds=0)
        final = store.fsck(OWNER)
        assert final.ok and final.orphan_chunks == 0, (final.problems, final.orphan_chunks)
