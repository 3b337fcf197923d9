"""gc and fsck on a live store: writer leases, structured findings, format upgrade.

objfs/store/maintenance.py and objfs/store/leases.py: a chunk stored for a
commit that has not happened yet is never taken by gc or ``fsck --repair``,
whatever the grace period; a crashed writer's chunks go once its lease
expires; fsck repairs from the state it holds the lock on.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from objfs.errors import StoreFormatError
from objfs.meta.db import FORMAT_VERSION
from objfs.store import OWNER, Store
from tests.meta.sql import meta_sql

from .support import GenStream, MiB, chunk_files, get_body, rand_bytes, wait_leases_expired

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def other(store_path: Path, store: Store) -> Iterator[Store]:
    """A second handle on the store: another process as far as leases go."""
    handle = Store.open(store_path)
    try:
        yield handle
    finally:
        handle.close()


def real_chunks(store_path: Path) -> set[str]:
    return {p for p in chunk_files(store_path) if not os.path.basename(p).startswith(".")}


def test_gc_spares_the_chunks_of_a_put_in_flight(store, other, ctx, bucket):
    blocks = [rand_bytes(MiB, 100 + i) for i in range(8)]
    reports = []

    def body() -> Iterator[bytes]:
        for i, block in enumerate(blocks):
            if i == 6:  # earlier chunks are on disk, referenced by nothing yet
                assert len(real_chunks(store.path)) >= 3
                reports.append(other.gc(OWNER, grace_seconds=0))
                reports.append(other.fsck(OWNER, repair=True))
            yield block

    store.put_object(ctx, bucket, "k", GenStream(body()))
    assert get_body(store, ctx, bucket, "k") == b"".join(blocks)
    assert reports[0].chunks_removed == 0 and reports[1].chunks_removed == 0
    assert store.fsck(OWNER).ok


def test_gc_spares_the_chunks_of_an_open_writer(store, other, ctx, bucket):
    writer = store.open_writer(ctx, bucket, "w", base=None)
    blocks = [rand_bytes(MiB, 200 + i) for i in range(24)]  # > max_dirty: 8 chunks stored
    for i, block in enumerate(blocks):
        writer.write(i * MiB, block)
    writer.read(0, 1)  # waits for nothing, but the stored blocks are on disk by now
    time.sleep(0.2)
    assert len(real_chunks(store.path)) >= 4
    assert other.gc(OWNER, grace_seconds=0).chunks_removed == 0
    assert other.fsck(OWNER, repair=True).chunks_removed == 0
    writer.commit(ctx)
    writer.close()
    assert get_body(store, ctx, bucket, "w") == b"".join(blocks)
    assert store.fsck(OWNER).ok


def test_a_write_deduping_onto_a_dead_chunk_keeps_it(store, other, ctx, bucket):
    shared = rand_bytes(MiB, 300)
    store.put_object(ctx, bucket, "old", shared)
    store.delete_object(ctx, bucket, "old")  # its chunk is dead: refs 0, file still there
    time.sleep(1.5)  # dead since before the writer's lease (and its margin) began:
    # a candidate for gc, kept only because the writer touches it

    def body() -> Iterator[bytes]:
        yield shared  # dedups onto the dead chunk (a touch, no new file)
        for i in range(4):
            if i == 3:  # the first chunk is settled (at most 3 in flight)
                store.gc(OWNER, grace_seconds=0)
            yield rand_bytes(MiB, 301 + i)

    other.put_object(ctx, bucket, "new", GenStream(body()))
    assert get_body(store, ctx, bucket, "new")[:MiB] == shared
    assert store.fsck(OWNER).ok


def test_gc_collects_once_writers_are_done(store, other, ctx, bucket):
    store.put_object(ctx, bucket, "k", rand_bytes(3 * MiB, 400))
    writer = store.open_writer(ctx, bucket, "w", base=None)
    for i in range(20):
        writer.write(i * MiB, rand_bytes(MiB, 410 + i))
    writer.close()  # abandoned: its stored chunks are orphans now
    time.sleep(0.3)  # a block being stored when it closed lands
    store.delete_object(ctx, bucket, "k")
    assert store.gc(OWNER, grace_seconds=0).chunks_removed >= 3
    assert real_chunks(store.path) == set()


KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from objfs.store import OWNER, Store
    store = Store.open(sys.argv[1])
    w = store.open_writer(OWNER, "test-bucket", "doomed", base=None)
    for i in range(24):
        w.write(i << 20, os.urandom(1 << 20))
    time.sleep(0.5)
    print("READY", flush=True)
    time.sleep(600)
    """
)


def test_a_killed_writers_chunks_go_after_its_lease_expires(store_path, store, ctx, bucket):
    env = dict(os.environ, OBJFS_LEASE_SECONDS="2")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(store_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout.readline().strip() == "READY", child.stderr.read()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    left = real_chunks(store_path)
    assert len(left) >= 4
    [lease] = [
        lease for lease in store.writer_leases(OWNER) if lease.lease_id != store.leases.lease_id
    ]
    if lease.live:  # the dead writer's lease still holds: nothing of it goes
        assert store.gc(OWNER, grace_seconds=0).chunks_removed == 0
        assert real_chunks(store_path) == left
    wait_leases_expired(store, timeout=10)
    report = store.gc(OWNER, grace_seconds=0)
    assert report.chunks_removed == len(left) and report.leases_expired == 1
    assert real_chunks(store_path) == set()
    assert store.writer_leases(OWNER) == []  # the expired row is gone too
    assert store.fsck(OWNER).ok


def test_a_closed_store_leaves_no_lease(store_path, ctx, bucket):
    with Store.open(store_path) as s:
        s.put_object(ctx, bucket, "k", b"x")
        assert [lease.live for lease in s.writer_leases(OWNER)] == [True]
    with Store.open(store_path) as s:
        assert s.writer_leases(OWNER) == []


# --- fsck: findings, and repair from the state it writes -----------------------


def _set_refs(store_path: Path, refs: int) -> bytes:
    """Corrupt one chunk's reference count (as a bug or a bad disk would)."""
    db = meta_sql(store_path)
    try:
        chunk_id = db.execute("SELECT chunk_id FROM chunks LIMIT 1").fetchone()[0]
        db.execute("UPDATE chunks SET refs = ? WHERE chunk_id = ?", (refs, chunk_id))
        db.commit()
    finally:
        db.close()
    return chunk_id


def test_fsck_findings_are_records(store, ctx, vbucket):
    vid = store.put_object(ctx, vbucket, "dir/a", rand_bytes(2 * MiB, 500)).version_id
    chunk_id = _set_refs(store.path, 7)
    victim = next(p for p in (store.path / "chunks").rglob("*") if p.name == chunk_id.hex())
    data = bytearray(victim.read_bytes())
    data[100] ^= 1
    victim.write_bytes(bytes(data))
    report = store.fsck(OWNER)
    by_kind = {f.kind: f for f in report.findings}
    assert set(by_kind) == {"refcount", "damaged-chunk"}, report.findings
    assert by_kind["refcount"].chunk == chunk_id.hex() and not by_kind["refcount"].repaired
    damaged = by_kind["damaged-chunk"]
    assert (damaged.bucket, damaged.key, damaged.version, damaged.chunk) == (
        vbucket,
        "dir/a",
        vid,
        chunk_id.hex(),
    )
    repaired = store.fsck(OWNER, repair=True)
    kinds = {(f.kind, f.repaired) for f in repaired.findings}
    assert kinds == {("refcount", True), ("damaged-chunk", False)}
    assert not repaired.ok and repaired.damaged_objects == [(vbucket, "dir/a", vid)]
    assert {f.kind for f in store.fsck(OWNER).findings} == {"damaged-chunk"}


def test_fsck_repair_counts_from_the_state_it_writes(store, other, ctx, bucket):
    """A commit between fsck's check and its repair must not be undone.

    The count is wrong (7); while fsck verifies data, another process commits
    a second object sharing the chunk. Written from the earlier snapshot the
    count would be 1 and the chunk would be lost when either object goes.
    """
    body = rand_bytes(MiB, 600)
    store.put_object(ctx, bucket, "a", body)
    _set_refs(store.path, 7)
    done = []

    def progress(i: int, total: int) -> None:
        if not done:
            done.append(other.put_object(ctx, bucket, "b", body))  # dedups: 2 references

    report = store.fsck(OWNER, repair=True, progress=progress)
    assert done and report.ok
    assert store.fsck(OWNER).ok, store.fsck(OWNER).problems
    store.delete_object(ctx, bucket, "a")
    store.gc(OWNER, grace_seconds=0)
    assert get_body(store, ctx, bucket, "b") == body


@pytest.mark.parametrize("how", ["delete", "overwrite"])
def test_fsck_does_not_call_a_version_gone_meanwhile_damaged(
    store_path, store, other, ctx, bucket, how
):
    """Deleted, or replaced by a new ``null`` version (same version id) in an
    unversioned bucket, and its chunks collected while fsck reads them."""
    with Store.open(store_path) as writer:  # closed: no lease holds the chunks back
        writer.put_object(ctx, bucket, "gone", rand_bytes(2 * MiB, 700))
        writer.put_object(ctx, bucket, "kept", rand_bytes(MiB, 701))
    removed = []

    def progress(i: int, total: int) -> None:
        if i == 1:
            if how == "delete":
                other.delete_object(ctx, bucket, "gone")
            else:
                other.put_object(ctx, bucket, "gone", b"small now")
            removed.append(other.gc(OWNER, grace_seconds=0).chunks_removed)

    report = store.fsck(OWNER, progress=progress)
    assert removed == [2] and report.ok, report.problems
    assert report.chunks_checked == 3


# --- the format ---------------------------------------------------------------


def test_a_format_1_store_is_upgraded_on_open(store_path, ctx):
    with Store.open(store_path) as s:
        s.create_bucket(ctx, "old")
        s.put_object(ctx, "old", "k", b"from before leases")
    db = sqlite3.connect(store_path / "meta.db")
    try:  # what objfs before writer leases left on disk
        db.execute("DROP TABLE leases")
        db.execute("UPDATE meta SET value = 1 WHERE name = 'format_version'")
        db.commit()
    finally:
        db.close()
    with Store.open(store_path) as s:
        assert s.db.get_meta("format_version") == FORMAT_VERSION >= 4
        assert get_body(s, ctx, "old", "k") == b"from before leases"
        s.put_object(ctx, "old", "k", b"after")
        assert s.gc(OWNER, grace_seconds=0).chunks_removed == 1
        assert s.fsck(OWNER).ok
    with Store.open(store_path) as s:  # upgraded once, opens as it is
        assert get_body(s, ctx, "old", "k") == b"after"


def test_a_newer_format_is_refused(store_path):
    db = meta_sql(store_path)
    try:
        db.execute(
            "UPDATE meta SET value = ? WHERE name = 'format_version'",
            (db.value(FORMAT_VERSION + 1),),
        )
        db.commit()
    finally:
        db.close()
    with pytest.raises(StoreFormatError, match="newer"):
        Store.open(store_path)


def test_a_repaired_latest_pointer_is_announced(store, ctx, vbucket):
    store.put_object(ctx, vbucket, "k", b"v1")
    store.put_object(ctx, vbucket, "k", b"v2")
    db = meta_sql(store.path)
    try:  # the pointer names the first version, as a bug or a torn disk could leave it
        db.execute(
            "UPDATE objects SET seq = (SELECT MIN(seq) FROM versions WHERE key = ?) WHERE key = ?",
            (b"k", b"k"),
        )
        db.commit()
    finally:
        db.close()
    assert get_body(store, ctx, vbucket, "k") == b"v1"
    [finding] = store.fsck(OWNER).findings
    assert (finding.kind, finding.bucket, finding.key, finding.repaired) == (
        "stale-latest",
        vbucket,
        "k",
        False,
    )
    seq = store.change_seq(OWNER)
    [finding] = store.fsck(OWNER, repair=True).findings
    assert finding.kind == "stale-latest" and finding.repaired
    assert get_body(store, ctx, vbucket, "k") == b"v2"
    _, changes = store.changes_since(OWNER, seq)
    assert [(c.bucket, c.key) for c in changes] == [(vbucket, "k")]  # mounts re-read it
    assert store.fsck(OWNER).ok
