"""gc of a store whose chunks are in S3 (store/chunkgc.py), against a real SeaweedFS.

gc decides from database rows and leases, never from the objects' times: a
dead chunk's object goes only after its row is gone and the grace passed; a
writer that deduplicates onto, or PUTs, a chunk while gc works on it never
loses an acknowledged version (each interleaving driven by gc's step hooks,
then a randomized stress of two "nodes" on one store); a writer killed -9
mid-write leaves objects that gc frees once its lease expired.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from objfs.errors import ChunkInCollection, NoSuchKey
from objfs.meta import gc_queries as gq
from objfs.store import OWNER, Store
from objfs.store import records as rec

OBJFS = Path(sys.executable).with_name("objfs")
BODY = os.urandom(40_000)  # past the inline limit: one chunk, an object in the bucket


@pytest.fixture
def aws_env(tmp_path: Path, seaweedfs: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """SeaweedFS's admin key in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, nothing else."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "OBJFS_CHUNK_CACHE", "OBJFS_LEASE")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # An idle node's lease holds what died after its last renewal (a quarter
    # of this): short leases keep the tests short.
    monkeypatch.setenv("OBJFS_LEASE_SECONDS", "2")
    yield


@pytest.fixture
def store(tmp_path: Path, seaweedfs: Any, s3_bucket: str, aws_env: None) -> Iterator[Store]:
    url = f"s3://{s3_bucket}/gc?endpoint={seaweedfs.endpoint}&region={seaweedfs.region}"
    with Store.init(tmp_path / "s", chunks_url=url) as made:
        made.create_bucket(OWNER, "data")
        yield made


def objects(store: Store) -> set[str]:
    return {name for name, _ in store.chunks.backend.iterate()}


def doomed(store: Store) -> dict[str, str]:
    with store.db.read() as cur:
        rows = cur.execute("SELECT chunk_id, state FROM doomed_chunks").fetchall()
    return {cid.hex(): state for cid, state in rows}


def chunk_row(store: Store, name: str) -> tuple[int, int | None] | None:
    with store.db.read() as cur:
        row = cur.execute(
            "SELECT refs, dead_since FROM chunks WHERE chunk_id = ?", (bytes.fromhex(name),)
        ).fetchone()
    return None if row is None else (row[0], row[1])


def read(store: Store, key: str) -> bytes:
    with store.get_object(OWNER, "data", key) as reader:
        return reader.read()


def elsewhere(action: Any) -> Any:
    """``action()`` on a thread of its own (a request inside gc's is another
    request, as it would be from another client), its outcome returned or raised."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append((True, action()))
        except BaseException as exc:  # noqa: BLE001 - raised below
            out.append((False, exc))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    ok, value = out[0]
    if not ok:
        raise value
    return value


def on_step(store: Store, step: str, action: Any) -> None:
    """Run ``action()`` (on a thread) once, when the next gc of ``store`` reaches ``step``."""
    done = []

    def hook(name: str) -> None:
        if name == step and not done:
            done.append(name)
            elsewhere(action)

    store.maintenance.row_gc.hook = hook


def test_a_dead_chunk_goes_only_after_its_row_and_the_grace(store: Store) -> None:
    store.put_object(OWNER, "data", "k", BODY)
    (name,) = objects(store)
    store.delete_object(OWNER, "data", "k")
    row = chunk_row(store, name)
    assert row is not None and row[0] == 0 and row[1] is not None  # dead since the delete
    report = store.gc(OWNER, grace_seconds=2)
    assert report.chunks_removed == 0 and objects(store) == {name}
    assert chunk_row(store, name) is not None and not doomed(store)  # dead, inside the grace
    time.sleep(2.1)
    report = store.gc(OWNER, grace_seconds=2)
    # Past the grace: the row is gone, the object doomed but still there.
    assert report.chunks_removed == 0 and report.doomed == 1
    assert chunk_row(store, name) is None and doomed(store) == {name: gq.DOOMED}
    assert objects(store) == {name}
    time.sleep(2.1)
    report = store.gc(OWNER, grace_seconds=2)
    assert report.chunks_removed == 1 and report.bytes_freed > len(BODY)
    assert objects(store) == set() and doomed(store) == {}  # no lease: tombstone dropped too
    assert store.fsck(OWNER).ok


def test_a_put_while_the_chunk_is_doomed_rescues_it(store: Store) -> None:
    store.put_object(OWNER, "data", "a", BODY)
    (name,) = objects(store)
    store.delete_object(OWNER, "data", "a")
    # Between gc's doom and its claim, a put of the same data: no row to
    # dedup onto, so it PUTs; its commit takes the doomed row back.
    on_step(store, "doomed", lambda: store.put_object(OWNER, "data", "b", BODY))
    report = store.gc(OWNER, grace_seconds=0)
    assert report.chunks_removed == 0
    assert doomed(store) == {} and chunk_row(store, name) == (1, None)
    assert read(store, "b") == BODY
    assert store.gc(OWNER, grace_seconds=0).chunks_removed == 0
    assert read(store, "b") == BODY and store.fsck(OWNER).ok


def test_a_part_upload_while_the_chunk_is_doomed_rescues_it(store: Store) -> None:
    """A multipart part takes its references in its own commit: the same rescue."""
    store.put_object(OWNER, "data", "a", BODY)
    (name,) = objects(store)
    store.delete_object(OWNER, "data", "a")
    upload = store.create_multipart_upload(OWNER, "data", "mp")
    parts = []
    on_step(
        store,
        "doomed",
        lambda: parts.append(store.upload_part(OWNER, "data", "mp", upload, 1, BODY)),
    )
    assert store.gc(OWNER, grace_seconds=0).chunks_removed == 0
    assert doomed(store) == {} and chunk_row(store, name) == (1, None)
    store.complete_multipart_upload(OWNER, "data", "mp", upload, [(1, parts[0].etag)])
    assert store.gc(OWNER, grace_seconds=0).chunks_removed == 0
    assert read(store, "mp") == BODY and store.fsck(OWNER).ok


def test_a_dedup_onto_a_dead_row_that_gc_dooms_is_rescued(store: Store) -> None:
    store.put_object(OWNER, "data", "a", BODY)
    (name,) = objects(store)
    store.delete_object(OWNER, "data", "a")
    time.sleep(1.1)  # dead for longer than the lease margin before the write begins
    seen = []
    known = store.chunks.known
    assert known is not None

    def known_then_gc(chunk_id: bytes) -> bool:
        hit = known(chunk_id)
        if hit and not seen:  # the dedup hit on the dead row, then gc runs
            seen.append(elsewhere(lambda: store.gc(OWNER, grace_seconds=0)))
        return hit

    store.chunks.known = known_then_gc
    puts: list[str] = []
    real_put = store.chunks.backend.put
    store.chunks.backend.put = lambda n, data: puts.append(n) or real_put(n, data)  # type: ignore[method-assign]
    store.put_object(OWNER, "data", "b", BODY)
    store.chunks.backend.put = real_put  # type: ignore[method-assign]
    # gc doomed the dead row (the write's lease began after it died) but did
    # not claim it (the lease did not end); the commit rescued it.
    assert seen[0].chunks_removed == 0 and seen[0].doomed == 1
    assert puts == []  # a dedup hit on the dead row: no PUT
    assert doomed(store) == {} and chunk_row(store, name) == (1, None)
    assert store.gc(OWNER, grace_seconds=0).chunks_removed == 0
    assert read(store, "b") == BODY and store.fsck(OWNER).ok


def test_a_commit_while_gc_deletes_the_chunk_fails_retryably(store: Store) -> None:
    store.put_object(OWNER, "data", "a", BODY)
    (name,) = objects(store)
    store.delete_object(OWNER, "data", "a")
    errors: list[Exception] = []

    def put() -> None:
        try:
            store.put_object(OWNER, "data", "b", BODY)
        except ChunkInCollection as exc:
            errors.append(exc)

    on_step(store, "claimed", put)  # claimed: its DELETE may be on the wire
    report = store.gc(OWNER, grace_seconds=0)
    assert report.chunks_removed == 1
    assert len(errors) == 1 and "retry" in str(errors[0])
    assert errors[0].status == 503 and errors[0].code == "SlowDown"
    with pytest.raises(NoSuchKey):
        read(store, "b")  # not acknowledged, not there
    store.put_object(OWNER, "data", "b", BODY)  # the retry
    assert read(store, "b") == BODY and objects(store) == {name}
    assert store.fsck(OWNER).ok


def test_a_put_before_the_delete_and_a_commit_after_it_fails(store: Store) -> None:
    """The race that loses data without the protocol: a writer PUTs the frame,
    gc DELETEs the object, the writer commits a version naming it."""
    store.put_object(OWNER, "data", "a", BODY)
    store.delete_object(OWNER, "data", "a")
    stored, go = threading.Event(), threading.Event()
    real_put = store.chunks.backend.put
    outcome: list[BaseException | None] = []

    def put_then_wait(name: str, data: Any) -> None:
        real_put(name, data)
        stored.set()
        assert go.wait(30)

    store.chunks.backend.put = put_then_wait  # type: ignore[method-assign]

    def writer() -> None:
        try:
            store.put_object(OWNER, "data", "b", BODY)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            outcome.append(exc)

    thread = threading.Thread(target=writer)

    def start_writer() -> None:
        thread.start()
        assert stored.wait(30)  # its PUT is in before gc's DELETE

    def let_it_commit() -> None:
        go.set()
        thread.join(30)

    hooks = {"claimed": start_writer, "marked": let_it_commit}
    store.maintenance.row_gc.hook = lambda step: hooks.pop(step, lambda: None)()
    report = store.gc(OWNER, grace_seconds=0)
    store.chunks.backend.put = real_put  # type: ignore[method-assign]
    assert report.chunks_removed == 1
    assert isinstance(outcome[0], ChunkInCollection)
    with pytest.raises(NoSuchKey):
        read(store, "b")
    assert store.fsck(OWNER).ok


def test_a_put_after_the_delete_is_taken_from_the_tombstone(store: Store) -> None:
    store.put_object(OWNER, "data", "a", BODY)
    (name,) = objects(store)
    store.delete_object(OWNER, "data", "a")
    seen: list[dict[str, str]] = []

    def put() -> None:
        seen.append(doomed(store))
        store.put_object(OWNER, "data", "b", BODY)

    on_step(store, "marked", put)  # the DELETE returned; the tombstone is there
    assert store.gc(OWNER, grace_seconds=0).chunks_removed == 1
    assert seen == [{name: gq.DELETED}]
    assert doomed(store) == {} and chunk_row(store, name) == (1, None)
    assert read(store, "b") == BODY and objects(store) == {name}
    assert store.fsck(OWNER).ok


def chunk_name(store: Store, key: str) -> str:
    with store.db.read() as cur:
        (blob,) = cur.execute(
            "SELECT manifest FROM versions WHERE key = ?", (key.encode(),)
        ).fetchone()
    (ref,) = rec.unpack_manifest(blob)
    return ref.chunk_id.hex()


def claimed_then_killed(store: Store, bodies: list[bytes]) -> set[str]:
    """Chunks of ``bodies``, put, deleted, doomed and claimed by a gc of
    ``store`` that then dies before its DELETEs: their names."""
    before = objects(store)
    for i, body in enumerate(bodies):
        store.put_object(OWNER, "data", f"gone{i}", body)
        store.delete_object(OWNER, "data", f"gone{i}")
    names = objects(store) - before
    time.sleep(1.6)  # dead before the other node's lease was last renewed
    assert store.gc(OWNER, grace_seconds=0).doomed == len(bodies)  # doomed, not claimed yet
    time.sleep(1.6)

    def die(step: str) -> None:
        if step == "claimed":
            raise KeyboardInterrupt

    store.maintenance.row_gc.hook = die
    try:
        with pytest.raises(KeyboardInterrupt):
            store.gc(OWNER, grace_seconds=0)
    finally:
        store.maintenance.row_gc.hook = None
    assert {n: doomed(store)[n] for n in names} == dict.fromkeys(names, gq.DELETING)
    assert objects(store) >= names
    return names


def test_two_gcs_on_two_nodes_delete_once_and_a_killed_gc_is_taken_over(
    store: Store, tmp_path: Path
) -> None:
    other = Store.open(tmp_path / "s")
    try:
        for i in range(3):
            store.put_object(OWNER, "data", f"k{i}", BODY + bytes([i]))
            store.delete_object(OWNER, "data", f"k{i}")
        inner = []
        on_step(store, "claimed", lambda: inner.append(other.gc(OWNER, grace_seconds=0)))
        first = store.gc(OWNER, grace_seconds=0)
        # The other node ran while this one held its claims: it took none of them.
        assert inner[0].chunks_removed == 0 and first.chunks_removed == 3
        assert objects(store) == set()

        # A gc that dies between its claim and its DELETEs leaves rows in
        # ``deleting``: nobody else takes them while its lease lives, its own
        # next pass does.
        js = claimed_then_killed(store, [BODY + bytes([9, i]) for i in range(2)])
        with pytest.raises(ChunkInCollection):  # its gc lives: the DELETE may come
            elsewhere(lambda: other.put_object(OWNER, "data", "again", BODY + bytes([9, 0])))
        assert other.gc(OWNER, grace_seconds=0).chunks_removed == 0
        assert store.gc(OWNER, grace_seconds=0).chunks_removed == 2
        assert not objects(store) & js

        # Once the dead gc's lease is gone, the other node takes its rows
        # over, and a write of the same data takes the object back (no DELETE
        # comes any more).
        ks = claimed_then_killed(store, [BODY + bytes([8, i]) for i in range(2)])
        store.leases.close()  # as its expiry would
        other.put_object(OWNER, "data", "again", BODY + bytes([8, 0]))
        assert other.gc(OWNER, grace_seconds=0).chunks_removed == 1
        assert objects(store) & ks == {chunk_name(other, "again")}
        assert read(other, "again") == BODY + bytes([8, 0])
        assert other.fsck(OWNER).ok
    finally:
        other.close()


@pytest.mark.slow
def test_stress_two_nodes_identical_bodies_deletes_and_gc(store: Store, tmp_path: Path) -> None:
    """Puts of a few identical bodies, deletes and gc with no grace, on threads
    of two Store objects over one store: every acknowledged version reads back."""
    other = Store.open(tmp_path / "s")
    nodes = [store, other]
    # Enough bodies that a dead chunk stays dead past the lease margin, few
    # enough that threads and nodes put the same one at once.
    bodies = [os.urandom(20_000 + i) for i in range(200)]
    expect: dict[str, bytes | None] = {}
    retried = [0]
    freed = [0]
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        rng = random.Random(n)
        node = nodes[n % 2]
        keys = [f"w{n}-{i}" for i in range(5)]
        try:
            while not stop.is_set():
                key = rng.choice(keys)
                if rng.random() < 0.35:
                    node.delete_object(OWNER, "data", key)
                    expect[key] = None
                    continue
                body = rng.choice(bodies)
                while True:
                    try:
                        node.put_object(OWNER, "data", key, body)
                        break
                    except ChunkInCollection:
                        retried[0] += 1
                expect[key] = body
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def collector() -> None:
        i = 0
        try:
            while not stop.is_set():
                freed[0] += nodes[i % 2].gc(OWNER, grace_seconds=0).chunks_removed
                i += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        threads += [threading.Thread(target=collector) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(8)
        stop.set()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert freed[0] > 0  # gc did delete objects while the writers ran
        for node in nodes:
            for key, body in expect.items():
                if body is None:
                    with pytest.raises(NoSuchKey):
                        read(node, key)
                else:
                    assert read(node, key) == body, key
        report = store.fsck(OWNER)
        assert report.ok, report.problems
        other.close()
        # Two passes: an object PUT again while gc deleted it (its commit was
        # refused) has a tombstone that the first pass drops, the second frees it.
        store.gc(OWNER, grace_seconds=0)
        store.gc(OWNER, grace_seconds=0)
        with store.db.read() as cur:
            rows = {r[0].hex() for r in cur.execute("SELECT chunk_id FROM chunks").fetchall()}
        assert objects(store) == rows  # no orphan left, no row without its object
        for key, body in expect.items():
            if body is not None:
                assert read(store, key) == body
        assert store.fsck(OWNER).ok
        print(f"stress: freed {freed[0]}, retried {retried[0]} commits")
    finally:
        stop.set()
        other.close()


WRITER = textwrap.dedent(
    """
    import os, sys, time
    from objfs.store import OWNER, Store

    class Stalls:
        # 3 MiB of data, then nothing: the put is mid-write for good.
        def __init__(self):
            self.left = 3 << 20
        def read(self, n=-1):
            if self.left <= 0:
                print("stalled", flush=True)
                time.sleep(3600)
            n = self.left if n is None or n < 0 else min(n, self.left)
            self.left -= n
            return os.urandom(n)

    store = Store.open(sys.argv[1])
    store.put_object(OWNER, "data", "acked", bytes.fromhex(sys.argv[2]))
    store.put_object(OWNER, "data", "big", Stalls(), size_hint=8 << 20)
    """
)


def test_a_writer_killed_mid_write_is_collected_after_its_lease(
    store: Store, tmp_path: Path
) -> None:
    env = dict(os.environ, OBJFS_LEASE_SECONDS="1")
    acked = os.urandom(40_000)  # one chunk, an object (hex on the command line)
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path / "s"), acked.hex()],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "stalled"  # "acked" was acknowledged
        kept = {chunk_name(store, "acked")}
        deadline = time.monotonic() + 30
        while len(objects(store) - kept) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert read(store, "acked") == acked  # acknowledged before the kill: readable here
    left = objects(store) - kept
    assert len(left) >= 2  # the killed writer's uploaded chunks, no row names them
    report = store.gc(OWNER, grace_seconds=0)
    assert report.chunks_removed == 0 and report.held == len(left)
    assert f"pid {proc.pid}" in (report.held_by or "")
    time.sleep(1.5)  # its lease expires
    report = store.gc(OWNER, grace_seconds=0)
    assert report.leases_expired == 1 and report.chunks_removed == len(left)
    assert objects(store) == kept
    assert read(store, "acked") == acked and store.fsck(OWNER).ok


def test_cli_gc_says_what_it_freed(store: Store, tmp_path: Path) -> None:
    store.put_object(OWNER, "data", "a", BODY)
    store.put_object(OWNER, "data", "b", BODY[::-1])
    store.delete_object(OWNER, "data", "a")
    store.leases.close()  # its lease would hold what died after it was renewed
    # The chunk store's key in a profile: AWS_ACCESS_KEY_ID would be the objfs user.
    creds = tmp_path / "aws-credentials"
    creds.write_text(
        f"[seaweed]\naws_access_key_id = {os.environ['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {os.environ['AWS_SECRET_ACCESS_KEY']}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OBJFS_"))}
    env.update(
        OBJFS_RESERVE="64K",
        AWS_PROFILE="seaweed",
        AWS_SHARED_CREDENTIALS_FILE=str(creds),
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    done = subprocess.run(
        [str(OBJFS), "--store", str(tmp_path / "s"), "gc", "--grace", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "gc: removed 1 unreferenced chunk(s), freed 39." in done.stdout, done.stdout
    assert len(objects(store)) == 1 and read(store, "b") == BODY[::-1]
