"""The CLI on a live store: interrupted transfers, multipart uploads under gc,
fsck's findings as JSON.

Every process here is a real ``objfs`` command; signals stand in for a user
pressing Ctrl-C, a machine pausing a process, or a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from objfs.store import OWNER, Store

OBJFS = Path(sys.executable).with_name("objfs")
CHUNK = 64 << 10
MiB = 1 << 20


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("OBJFS_")}
    out["LC_ALL"] = "C.UTF-8"
    out.update(extra)
    return out


def objfs(store: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OBJFS), "--store", str(store), *args],
        capture_output=True,
        text=True,
        env=env(**extra),
        timeout=300,
    )


def start(store: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(OBJFS), "--store", str(store), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**extra),
    )


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    with Store.init(path, chunk_size=CHUNK) as store:
        store.create_bucket(OWNER, "plain")
    return path


def chunk_names(store: Path) -> set[str]:
    return {p.name for p in (store / "chunks").rglob("*") if p.is_file()} - {
        p.name for p in (store / "chunks").rglob(".*")
    }


def wait_for(check, what: str, timeout: float = 60.0, proc=None) -> object:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the command ended first ({proc.returncode})")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


# -- an interrupted get -----------------------------------------------------------


@pytest.fixture
def big_object(store_dir: Path) -> bytes:
    body = os.urandom(96 * MiB)
    with Store.open(store_dir) as store:
        store.put_object(OWNER, "plain", "big", body)
    return body


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
@pytest.mark.parametrize("existed", [True, False])
def test_an_interrupted_get_leaves_the_destination_untouched(
    store_dir: Path, big_object: bytes, tmp_path: Path, how: signal.Signals, existed: bool
) -> None:
    dest = tmp_path / "out" / "copy.bin"
    dest.parent.mkdir()
    if existed:
        dest.write_bytes(b"the user's own file, not to be clobbered")
    original = dest.read_bytes() if existed else None
    get = start(store_dir, "get", "s3://plain/big", str(dest))

    def started() -> bool:
        """Bytes arrived somewhere in the directory (a temporary file or the target)."""
        for path in dest.parent.iterdir():
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if path != dest and size > 0:
                return True
            if path == dest and (original is None or size != len(original)):
                return True
        return False

    wait_for(started, "the download to start", proc=get)
    get.send_signal(how)
    get.communicate(timeout=60)
    assert get.returncode != 0, "the download finished before it was interrupted"
    if existed:
        assert dest.read_bytes() == b"the user's own file, not to be clobbered"
    else:
        assert not dest.exists()
    if how == signal.SIGINT:  # a Ctrl-C cleans up its temporary file
        assert [p.name for p in dest.parent.iterdir()] == (["copy.bin"] if existed else [])
    done = objfs(store_dir, "get", "s3://plain/big", str(dest))
    assert done.returncode == 0, done.stderr
    assert hashlib.md5(dest.read_bytes()).digest() == hashlib.md5(big_object).digest()


# -- multipart uploads under gc -----------------------------------------------------

PARTS = {"OBJFS_MULTIPART_THRESHOLD": str(8 * MiB), "OBJFS_MULTIPART_PART_SIZE": str(5 * MiB)}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.bin"
    path.write_bytes(os.urandom(60 * MiB))  # 12 parts of 5 MiB
    return path


def _uploads(store: Path) -> list[tuple[str, int]]:
    with Store.open(store) as s:
        return [
            (u.upload_id, len(s.list_parts(OWNER, "plain", u.key, u.upload_id)))
            for u in s.list_multipart_uploads(OWNER, "plain").uploads
        ]


def _orphans(store: Path) -> int:
    with Store.open(store) as s:
        return s.fsck(OWNER).orphan_chunks


def test_a_multipart_upload_in_progress_survives_gc(store_dir: Path, source: Path) -> None:
    put = start(store_dir, "put", str(source), "s3://plain/big", **PARTS)
    try:
        # Paused with parts stored and a part half written (chunks that only
        # its lease protects: orphans to anyone who ignores leases).
        for _ in range(50):
            wait_for(lambda: any(n >= 2 for _, n in _uploads(store_dir)), "two parts", proc=put)
            put.send_signal(signal.SIGSTOP)
            if _orphans(store_dir) > 0:
                break
            put.send_signal(signal.SIGCONT)
            time.sleep(0.05)
        else:
            pytest.fail("never caught the upload with a part in flight")
        before = chunk_names(store_dir)
        in_flight = _orphans(store_dir)
        uploads = _uploads(store_dir)
        for _ in range(3):
            gc = objfs(store_dir, "gc", "--grace", "0", "--json")
            assert gc.returncode == 0 and json.loads(gc.stdout)["chunks_removed"] == 0, gc
            fsck = objfs(store_dir, "fsck", "--repair", "--json")
            assert fsck.returncode == 0, fsck.stdout + fsck.stderr
            report = json.loads(fsck.stdout)
            assert report["findings"] == [] and report["chunks_removed"] == 0
        assert chunk_names(store_dir) == before and _orphans(store_dir) == in_flight > 0
        assert _uploads(store_dir) == uploads
    finally:
        put.send_signal(signal.SIGCONT)
    out, err = put.communicate(timeout=300)
    assert put.returncode == 0, err
    assert _uploads(store_dir) == []
    got = objfs(store_dir, "get", "s3://plain/big", str(source.with_suffix(".back")))
    assert got.returncode == 0, got.stderr
    assert source.with_suffix(".back").read_bytes() == source.read_bytes()
    with Store.open(store_dir) as s:
        assert s.head_object(OWNER, "plain", "big").etag.endswith("-12")
        assert s.fsck(OWNER).ok
        s.gc(OWNER, grace_seconds=0)
        assert s.fsck(OWNER).orphan_chunks == 0


def test_an_aborted_multipart_upload_is_collected(store_dir: Path, source: Path) -> None:
    kept = os.urandom(3 * MiB)
    with Store.open(store_dir) as s:
        s.put_object(OWNER, "plain", "kept", kept)
    baseline = chunk_names(store_dir)
    put = start(store_dir, "put", str(source), "s3://plain/big", **PARTS)
    wait_for(lambda: any(n >= 2 for _, n in _uploads(store_dir)), "two parts", proc=put)
    put.send_signal(signal.SIGINT)  # Ctrl-C: the CLI aborts the upload
    put.communicate(timeout=60)
    assert put.returncode != 0
    assert _uploads(store_dir) == []
    assert len(chunk_names(store_dir)) > len(baseline)  # the parts' chunks, now garbage
    gc = objfs(store_dir, "gc", "--grace", "0", "--json")
    assert gc.returncode == 0 and json.loads(gc.stdout)["chunks_removed"] > 0, gc
    assert chunk_names(store_dir) == baseline
    with Store.open(store_dir) as s:
        assert s.fsck(OWNER).ok
        with s.get_object(OWNER, "plain", "kept") as r:
            assert r.read() == kept


# -- fsck --json ------------------------------------------------------------------


def test_fsck_json_findings(store_dir: Path) -> None:
    with Store.open(store_dir) as s:
        s.put_object(OWNER, "plain", "a", os.urandom(3 * CHUNK))
        s.put_object(OWNER, "plain", "b", os.urandom(CHUNK))
    db = sqlite3.connect(store_dir / "meta.db")
    try:
        ids = [r[0] for r in db.execute("SELECT chunk_id FROM chunks ORDER BY chunk_id")]
        db.execute("UPDATE chunks SET refs = 5 WHERE chunk_id = ?", (ids[0],))
        db.commit()
    finally:
        db.close()
    victim = next(p for p in (store_dir / "chunks").rglob(ids[1].hex()))
    data = bytearray(victim.read_bytes())
    data[-1] ^= 1
    victim.write_bytes(bytes(data))

    first = objfs(store_dir, "fsck", "--json")
    assert first.returncode == 1
    report = json.loads(first.stdout)
    kinds = sorted((f["kind"], f["repaired"]) for f in report["findings"])
    assert kinds == [("damaged-chunk", False), ("refcount", False)]
    damaged = next(f for f in report["findings"] if f["kind"] == "damaged-chunk")
    assert damaged["bucket"] == "plain" and damaged["key"] in ("a", "b")
    assert damaged["version"] == "null" and damaged["chunk"] == ids[1].hex()
    refcount = next(f for f in report["findings"] if f["kind"] == "refcount")
    assert refcount["chunk"] == ids[0].hex() and refcount["bucket"] is None

    fixed = objfs(store_dir, "fsck", "--repair", "--json")
    assert fixed.returncode == 1  # damaged data stays a problem
    kinds = sorted((f["kind"], f["repaired"]) for f in json.loads(fixed.stdout)["findings"])
    assert kinds == [("damaged-chunk", False), ("refcount", True)]
    text = objfs(store_dir, "fsck")
    assert text.returncode == 1
    assert f"problem: [damaged-chunk] chunk {ids[1].hex()} is damaged" in text.stdout
    assert "refcount" not in text.stdout


def test_fsck_says_which_writer_lease_keeps_unreferenced_chunks(store_dir: Path) -> None:
    """Chunks a writer in flight stored are unreferenced until it commits: fsck
    (and ``fsck --repair``, whose gc must keep them) says why they stay."""
    with Store.open(store_dir) as s:
        writer = s.open_writer(OWNER, "plain", "in-flight", base=None)
        try:
            writer.write(0, os.urandom(4 * CHUNK))
            writer.read(0, 1)  # stored as chunks, not committed
            held = f"held by the writer lease of pid {os.getpid()} "
            for args in (["fsck"], ["fsck", "--repair"]):
                done = objfs(store_dir, *args)
                assert done.returncode == 0, done.stdout + done.stderr
                line = next(x for x in done.stdout.splitlines() if "unreferenced" in x)
                assert held in line and " until " in line, line
            report = json.loads(objfs(store_dir, "fsck", "--repair", "--json").stdout)
            assert report["chunks_removed"] == 0 and report["orphans_held"] > 0
            assert report["orphans_held_by"].startswith(held), report
            gc = objfs(store_dir, "gc", "--grace", "0")
            assert gc.returncode == 0 and held in gc.stdout, gc.stdout
        finally:
            writer.close()
