"""Large and destructive tests: dedup of big versions, SIGKILL mid-put, bounded memory.

All marked slow (they still run in CI); each keeps to a minute or two on 2 cores.
Children are real processes running the store API on a real store directory.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from objfs.store import OWNER, Store

from .support import (
    KiB,
    MiB,
    chunk_dir_bytes,
    chunk_files,
    get_digest,
    pattern_md5,
    pattern_stream,
    wait_leases_expired,
)

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["OBJFS_LEASE_SECONDS"] = "2"  # a killed child's leftovers are gc's after 2 s
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# --- dedup -----------------------------------------------------------------------


def test_versions_of_a_big_file_share_chunks(store, ctx, vbucket):
    size = 256 * MiB
    rng = random.Random(42)
    spots = sorted(rng.randrange(0, size // (4 * KiB)) * 4 * KiB for _ in range(9))
    first = store.put_object(ctx, vbucket, "disk.img", pattern_stream(size, seed=3))
    after_first = chunk_dir_bytes(store.path)
    assert after_first >= size  # incompressible data: really stored once
    versions = [(first.version_id, {})]
    for i, spot in enumerate(spots):
        patch = {spot: bytes([i + 1]) * (4 * KiB)}
        res = store.put_object(
            ctx, vbucket, "disk.img", pattern_stream(size, seed=3, patches=patch)
        )
        versions.append((res.version_id, patch))
    growth = chunk_dir_bytes(store.path) - after_first
    print(f"\n9 more versions of {size >> 20} MiB grew the chunk dir by {growth / MiB:.1f} MiB")
    assert growth < 30 * MiB, growth
    assert len(store.key_versions(ctx, vbucket, "disk.img")) == 10
    for vid, patch in (versions[0], versions[5], versions[-1]):
        expected = (pattern_md5(size, seed=3, patches=patch), size)
        assert get_digest(store, ctx, vbucket, "disk.img", version_id=vid) == expected


# --- SIGKILL mid-put ----------------------------------------------------------------

CRASH_CHILD = textwrap.dedent(
    """
    import hashlib, random, sys
    from objfs.store import OWNER, Store

    MiB = 1 << 20
    path, iteration = sys.argv[1], int(sys.argv[2])
    rng = random.Random(iteration)
    base = random.Random(1000 + iteration).randbytes(MiB)

    def big(size, digest):
        for n in range(size // MiB):
            block = n.to_bytes(8, "big") + iteration.to_bytes(8, "big") + base[16:]
            digest.update(block)
            yield block

    class Stream:
        def __init__(self, pieces):
            self.pieces, self.buf = pieces, b""
        def read(self, n=-1):
            while not self.buf:
                self.buf = next(self.pieces, b"")
                if not self.buf:
                    return b""
            if n is None or n < 0:
                n = len(self.buf)
            out, self.buf = self.buf[:n], self.buf[n:]
            return out

    store = Store.open(path)
    print("READY", flush=True)
    n = 0
    while True:
        for _ in range(3):
            data = rng.randbytes(rng.choice([0, 1, 4096, 300_000, MiB + 17, 3 * MiB]))
            key = f"it{iteration:02d}/small{n}"
            print("TRY", key, hashlib.md5(data).hexdigest(), "-", flush=True)
            res = store.put_object(OWNER, "crash", key, data)
            print("DONE", key, hashlib.md5(data).hexdigest(), res.etag, flush=True)
            n += 1
        digest = hashlib.md5()
        key = f"it{iteration:02d}/big{n}"
        res = store.put_object(OWNER, "crash", key, Stream(big(512 * MiB, digest)))
        print("DONE", key, digest.hexdigest(), res.etag, flush=True)
        n += 1
    """
)


# Kills per engine: the client side (chunks, then one commit) is the same
# code on both; PostgreSQL's own durability is its server's, so its run takes
# fewer rounds (CI's time budget: each round is up to 8 s).
SIGKILL_ROUNDS = {"sqlite": 20, "postgresql": 8}


def test_sigkill_mid_put_loses_nothing_acknowledged(store_path, ctx, meta_engine):
    store = Store.open(store_path)
    store.create_bucket(ctx, "crash")
    store.close()
    rng = random.Random(20260101)
    done: dict[str, str] = {}
    started = time.monotonic()
    for iteration in range(SIGKILL_ROUNDS[meta_engine]):
        proc = subprocess.Popen(
            [sys.executable, "-c", CRASH_CHILD, str(store_path), str(iteration)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        try:
            assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
            time.sleep(rng.uniform(0.05, 8.0))  # small puts, mid-512 MiB, and after it
            proc.send_signal(signal.SIGKILL)
            # Read the rest through the same buffered stream readline used:
            # communicate() would read the raw pipe and lose lines already
            # buffered (on a loaded machine, DONE lines of puts that happened).
            proc.wait(timeout=60)
            out, err = proc.stdout.read(), proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == -signal.SIGKILL, err
        this_round = {}
        in_flight: dict[str, str] = {}  # a small put tried, its DONE not printed
        for line in out.splitlines():
            tag, key, digest, etag = line.split()
            if tag == "TRY":
                in_flight = {key: digest}
                continue
            assert tag == "DONE" and digest == etag
            this_round[key] = digest
            in_flight = {}
        done.update(this_round)

        store = Store.open(store_path)
        try:
            report = store.fsck(OWNER)
            assert report.ok, report.problems
            assert report.damaged_objects == []
            wait_leases_expired(store)  # until then, its leftovers are a writer's in flight
            repaired = store.fsck(OWNER, repair=True)
            assert repaired.ok, repaired.problems
            left = chunk_files(store_path)
            assert not [p for p in left if os.path.basename(p).startswith(".tmp-")]
            store.gc(OWNER, grace_seconds=0)
            assert chunk_files(store_path) == left, "fsck --repair left orphans behind"
            # every acknowledged put of this round reads back byte-identical ...
            for key, digest in this_round.items():
                assert get_digest(store, ctx, "crash", key)[0] == digest, key
            # ... and earlier rounds' small objects survived this crash too
            for key, digest in done.items():
                if "/small" in key:
                    assert store.head_object(ctx, "crash", key).etag == digest, key
            # The small put in flight may have committed before the kill (its DONE
            # never printed): then it is whole, and counts as done from now on.
            for key, digest in in_flight.items():
                listed = {v.key for v in store.iter_objects(ctx, "crash")}
                if key in listed:
                    assert get_digest(store, ctx, "crash", key)[0] == digest, key
                    done[key] = digest
            # big objects are verified once, then dropped to keep the store small
            for key in [k for k in this_round if "/big" in k]:
                store.delete_object(ctx, "crash", key)
            listed = {v.key for v in store.iter_objects(ctx, "crash")}
            assert listed == {k for k in done if "/small" in k}
        finally:
            store.close()
    store = Store.open(store_path)
    try:
        for key, digest in done.items():
            if "/small" in key:
                assert get_digest(store, ctx, "crash", key)[0] == digest, key
        for item in list(store.iter_objects(ctx, "crash")):
            store.delete_object(ctx, "crash", item.key)
        store.gc(OWNER, grace_seconds=0)
        assert chunk_files(store_path) == {}, "chunks leaked across 20 crashes"
        assert store.fsck(OWNER).ok
    finally:
        store.close()
    bigs = sum("/big" in key for key in done)
    print(
        f"\n20 kills, {len(done)} acknowledged puts ({bigs} of 512 MiB) verified "
        f"in {time.monotonic() - started:.0f} s"
    )
    assert len(done) > 20


# --- memory ---------------------------------------------------------------------------

MEMORY_CHILD = textwrap.dedent(
    """
    import hashlib, io, random, sys
    from objfs.store import OWNER, Store

    MiB = 1 << 20
    SIZE = 2048 * MiB
    base = random.Random(7).randbytes(MiB)
    digest = hashlib.md5()

    class Stream(io.RawIOBase):
        def __init__(self):
            self.block_no, self.pending = 0, memoryview(b"")
        def readable(self):
            return True
        def readinto(self, buf):
            if not self.pending:
                if self.block_no * MiB >= SIZE:
                    return 0
                block = self.block_no.to_bytes(8, "big") + base[8:]
                digest.update(block)
                self.block_no += 1
                self.pending = memoryview(block)
            n = min(len(buf), len(self.pending))
            buf[:n] = self.pending[:n]
            self.pending = self.pending[n:]
            return n

    store = Store.init(sys.argv[1])
    store.create_bucket(OWNER, "mem")
    res = store.put_object(OWNER, "mem", "huge", Stream())
    assert res.size == SIZE and res.etag == digest.hexdigest(), (res, digest.hexdigest())
    back = hashlib.md5()
    with open("/dev/null", "wb") as sink, store.get_object(OWNER, "mem", "huge") as reader:
        for piece in reader:
            back.update(piece)
            sink.write(piece)
    assert back.hexdigest() == res.etag
    store.close()
    with open("/proc/self/status") as status:
        hwm = next(line for line in status if line.startswith("VmHWM:"))
    print(int(hwm.split()[1]) // 1024)
    """
)


def test_2_gib_put_and_get_stay_under_150_mib(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=600,
        env=child_env(),
    )
    assert proc.returncode == 0, proc.stderr
    peak_mib = int(proc.stdout.split()[-1])
    print(f"\npeak RSS for a 2 GiB put + get: {peak_mib} MiB")
    assert peak_mib < 150, peak_mib
