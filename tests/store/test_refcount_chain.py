"""Reference counts of edited versions (store format 3, objfs/store/refcount.py).

A version made by editing another one counts only the references it adds to
its base. Whatever is deleted, in whatever order, the counts stay exact: the
chunks with a live count are exactly those the remaining versions and parts
name, every remaining version reads back its bytes (also after gc), fsck
finds nothing, and once everything is gone gc leaves no chunk behind.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
from pathlib import Path

import msgpack
import pytest

from objfs.store import OWNER, Store
from objfs.store.writer import PAGE

CHUNK = 64 << 10
SIZE = 4 * CHUNK + 5000  # four whole chunks and a tail


def _db(store: Store) -> sqlite3.Connection:
    return sqlite3.connect(store.path / "meta.db")


def named_chunks(store: Store) -> set[bytes]:
    """Every chunk a version or an upload part names (read from meta.db)."""
    db = _db(store)
    try:
        blobs = [
            r[0] for r in db.execute("SELECT manifest FROM versions WHERE manifest IS NOT NULL")
        ]
        blobs += [r[0] for r in db.execute("SELECT manifest FROM parts")]
    finally:
        db.close()
    return {e[0] for blob in blobs for e in msgpack.unpackb(blob) if e[0] is not None}


def counted_chunks(store: Store) -> set[bytes]:
    db = _db(store)
    try:
        return {r[0] for r in db.execute("SELECT chunk_id FROM chunks WHERE refs > 0")}
    finally:
        db.close()


def bases(store: Store) -> dict[str, str | None]:
    """version id -> its base's version id."""
    db = _db(store)
    try:
        rows = db.execute(
            "SELECT v.version_id, b.version_id FROM versions v "
            "LEFT JOIN versions b ON b.seq = v.base_seq"
        ).fetchall()
    finally:
        db.close()
    return dict(rows)


def chunk_files(store: Store) -> int:
    return sum(1 for p in (store.path / "chunks").rglob("*") if p.is_file())


def check(store: Store, bucket: str, expect: dict[tuple[str, str], bytes]) -> None:
    """The invariants after any change: exact counts, fsck clean, data intact across gc."""
    assert counted_chunks(store) == named_chunks(store)
    report = store.fsck(OWNER)
    assert report.findings == [], report.problems
    for round_ in range(2):
        for (key, vid), data in expect.items():
            got = store.get_object(OWNER, bucket, key, version_id=vid).read()
            assert got == data, (key, vid, round_)
        store.gc(OWNER, grace_seconds=0)


def edit(writer, model: bytearray, rng: random.Random, n: int) -> None:
    for i in range(n):
        if i % 4 == 3:  # unaligned: the block is read and stored whole
            off = rng.randrange(len(model) - 300)
            data = rng.randbytes(300)
        else:
            off = rng.randrange(len(model) // PAGE) * PAGE
            data = rng.randbytes(min(PAGE, len(model) - off))
        writer.write(off, data)
        model[off : off + len(data)] = data


def build_chain(store: Store, bucket: str, seed: int) -> dict[str, bytes]:
    """v0 put; v1, v2 committed by one writer (v2 based on v1); v3 by a writer
    opened on v1 (a second child of v1); v4 a copy of v2 under the same key.
    Returns version id -> bytes, oldest first."""
    rng = random.Random(seed)
    model = bytearray(rng.randbytes(SIZE))
    out: dict[str, bytes] = {}
    out[store.put_object(OWNER, bucket, "f", bytes(model)).version_id] = bytes(model)
    w = store.open_writer(OWNER, bucket, "f", base=store.head_object(OWNER, bucket, "f"))
    edit(w, model, rng, 12)
    v1 = w.commit(OWNER).version_id
    out[v1] = bytes(model)
    v1_model = bytearray(model)
    edit(w, model, rng, 12)
    w.truncate(SIZE - 3000)
    del model[SIZE - 3000 :]
    w.write(SIZE - 3000, b"grown again" * 100)
    model += b"grown again" * 100
    out[w.commit(OWNER).version_id] = bytes(model)
    w.close()
    v2 = list(out)[-1]
    w = store.open_writer(
        OWNER,
        bucket,
        "f",
        base=store.head_object(OWNER, bucket, "f", version_id=v1),
        if_latest=False,  # a second child of v1 (the mount's edits are refused this)
    )
    edit(w, v1_model, rng, 8)
    out[w.commit(OWNER).version_id] = bytes(v1_model)
    w.close()
    from objfs.store.types import SystemMeta

    copied = store.copy_object(
        OWNER, bucket, "f", bucket, "f", src_version_id=v2, sys_meta=SystemMeta(mode=0o100600)
    )
    out[copied.version_id] = out[v2]
    return out


@pytest.fixture
def small_store(tmp_path: Path):
    s = Store.init(tmp_path / "s", chunk_size=CHUNK)
    try:
        yield s
    finally:
        s.close()


def test_an_edited_version_counts_only_what_it_adds(small_store):
    store = small_store
    store.create_bucket(OWNER, "bkt", versioning=True)
    versions = build_chain(store, "bkt", 1)
    ids = list(versions)
    links = bases(store)
    assert links[ids[0]] is None
    assert links[ids[1]] == ids[0] and links[ids[2]] == ids[1] and links[ids[3]] == ids[1]
    assert links[ids[4]] == ids[2]  # a copy in the same domain adds nothing
    check(store, "bkt", {("f", v): d for v, d in versions.items()})


def _delete_in_order(store: Store, order: list[int], seed: int) -> None:
    bucket = f"bkt{seed}"
    store.create_bucket(OWNER, bucket, versioning=True)
    versions = build_chain(store, bucket, seed)
    ids = list(versions)
    left = {("f", v): d for v, d in versions.items()}
    check(store, bucket, left)
    for i in order:
        store.delete_object(OWNER, bucket, "f", version_id=ids[i])
        del left[("f", ids[i])]
        check(store, bucket, left)


@pytest.mark.parametrize("order", list(itertools.permutations(range(5))))
def test_deleting_an_edited_chain_in_any_order_keeps_counts_exact(small_store, order):
    store = small_store
    _delete_in_order(store, list(order), sum(i * 10**k for k, i in enumerate(order)))
    assert counted_chunks(store) == set()
    store.gc(OWNER, grace_seconds=0)
    assert chunk_files(store) == 0
    db = _db(store)
    try:
        assert db.execute("SELECT COUNT(*) FROM inline_chunks").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == 0
    finally:
        db.close()


def test_unversioned_edits_replace_their_base(small_store):
    store = small_store
    store.create_bucket(OWNER, "ubk")
    rng = random.Random(5)
    model = bytearray(rng.randbytes(SIZE))
    store.put_object(OWNER, "ubk", "f", bytes(model))
    w = store.open_writer(OWNER, "ubk", "f", base=store.head_object(OWNER, "ubk", "f"))
    for _ in range(4):
        edit(w, model, rng, 10)
        w.commit(OWNER)
        assert set(bases(store).values()) == {None}  # the base was replaced: nothing to lean on
        check(store, "ubk", {("f", "null"): bytes(model)})
    w.close()
    store.rename(OWNER, "ubk", "f", "g")
    check(store, "ubk", {("g", "null"): bytes(model)})
    store.delete_object(OWNER, "ubk", "g")
    check(store, "ubk", {})
    assert counted_chunks(store) == set()


def test_copies_renames_and_part_copies_of_an_edited_chain(small_store):
    store = small_store
    store.create_bucket(OWNER, "vbk", versioning=True)
    store.create_bucket(OWNER, "other")  # unversioned
    versions = build_chain(store, "vbk", 9)
    ids = list(versions)
    expect: dict[tuple[str, str], bytes] = {("f", v): d for v, d in versions.items()}
    # A copy into another bucket leans on its source; renames in both buckets.
    store.copy_object(OWNER, "vbk", "f", "other", "c", src_version_id=ids[2])
    store.rename(OWNER, "other", "c", "d")
    store.copy_object(OWNER, "vbk", "f", "vbk", "g", src_version_id=ids[3])
    expect[("g", store.head_object(OWNER, "vbk", "g").version_id)] = versions[ids[3]]
    # A multipart upload copying ranges of edited versions (parts count in full).
    upload = store.create_multipart_upload(OWNER, "vbk", "mp")
    p1 = store.upload_part_copy(
        OWNER, "vbk", "mp", upload, 1, "vbk", "f", src_version_id=ids[1], src_range=(0, SIZE - 1)
    )
    p2 = store.upload_part_copy(OWNER, "vbk", "mp", upload, 2, "vbk", "f", src_version_id=ids[3])
    check(store, "vbk", expect)
    for i in (1, 0, 3):
        store.delete_object(OWNER, "vbk", "f", version_id=ids[i])
        del expect[("f", ids[i])]
        check(store, "vbk", expect)
        assert store.get_object(OWNER, "other", "d").read() == versions[ids[2]]
    # Parts but the last are 5 MiB at least: part 2 is left out (its references go).
    assert p2.etag
    done = store.complete_multipart_upload(OWNER, "vbk", "mp", upload, [(1, p1.etag)])
    expect[("mp", done.version_id)] = versions[ids[1]]
    check(store, "vbk", expect)
    for key, vid in list(expect):
        store.delete_object(OWNER, "vbk", key, version_id=vid)
        del expect[(key, vid)]
        check(store, "vbk", expect)
    assert store.get_object(OWNER, "other", "d").read() == versions[ids[2]]
    store.delete_object(OWNER, "other", "d")
    assert counted_chunks(store) == set()
    store.gc(OWNER, grace_seconds=0)
    assert chunk_files(store) == 0


def test_an_aborted_upload_of_part_copies_releases_its_references(small_store):
    store = small_store
    store.create_bucket(OWNER, "vbk", versioning=True)
    versions = build_chain(store, "vbk", 3)
    ids = list(versions)
    upload = store.create_multipart_upload(OWNER, "vbk", "mp")
    store.upload_part_copy(OWNER, "vbk", "mp", upload, 1, "vbk", "f", src_version_id=ids[2])
    for vid in ids:
        store.delete_object(OWNER, "vbk", "f", version_id=vid)
    assert counted_chunks(store) == named_chunks(store) != set()
    assert store.fsck(OWNER).findings == []
    store.abort_multipart_upload(OWNER, "vbk", "mp", upload)
    assert counted_chunks(store) == set()
    store.gc(OWNER, grace_seconds=0)
    assert chunk_files(store) == 0


def test_fsck_checks_and_repairs_base_links_and_edit_counts(small_store):
    store = small_store
    store.create_bucket(OWNER, "bkt", versioning=True)
    versions = build_chain(store, "bkt", 4)
    ids = list(versions)
    expect = {("f", v): d for v, d in versions.items()}
    db = _db(store)
    try:  # a dangling base, as a bug could leave it
        db.execute("UPDATE versions SET base_seq = 999999 WHERE version_id = ?", (ids[3],))
        db.commit()
    finally:
        db.close()
    report = store.fsck(OWNER)
    kinds = {f.kind for f in report.findings}
    assert "base-link" in kinds and not report.ok
    assert any(f.version == ids[3] for f in report.findings if f.kind == "base-link")
    report = store.fsck(OWNER, repair=True)
    assert report.ok and "base-link" in {f.kind for f in report.findings}
    assert bases(store)[ids[3]] is None
    check(store, "bkt", expect)
    # A count an edit added, lost: found and put back.
    db = _db(store)
    try:
        cid = next(iter(counted_chunks(store) & named_chunks(store)))
        db.execute("UPDATE chunks SET refs = 0 WHERE chunk_id = ?", (cid,))
        db.commit()
    finally:
        db.close()
    report = store.fsck(OWNER)
    assert [f.kind for f in report.findings] == ["refcount"]
    assert store.fsck(OWNER, repair=True).ok
    check(store, "bkt", expect)
    for vid in ids:
        store.delete_object(OWNER, "bkt", "f", version_id=vid)
        del expect[("f", vid)]
        check(store, "bkt", expect)
    assert counted_chunks(store) == set()


def test_a_writer_whose_base_went_away_counts_in_full(small_store):
    """The base is checked in the commit's transaction: deleted (or replaced
    by another writer's "null" version) meanwhile, the commit counts all it names."""
    store = small_store
    store.create_bucket(OWNER, "vbk", versioning=True)
    store.create_bucket(OWNER, "ubk")
    rng = random.Random(8)
    for bucket in ("vbk", "ubk"):
        model = bytearray(rng.randbytes(SIZE))
        first = store.put_object(OWNER, bucket, "f", bytes(model)).version_id
        base = store.head_object(OWNER, bucket, "f")
        # if_latest=False: the mount's writers are refused this commit
        # (test_mount_api); a writer that may make it must count right.
        w = store.open_writer(OWNER, bucket, "f", base=base, if_latest=False)
        edit(w, model, rng, 6)
        if bucket == "vbk":
            store.delete_object(OWNER, bucket, "f", version_id=first)
        else:  # another writer replaces the null version first
            other = store.open_writer(OWNER, bucket, "f", base=base)
            other.write(0, b"other" * 100)
            other.commit(OWNER)
            other.close()
        vid = w.commit(OWNER).version_id
        w.close()
        assert bases(store)[vid] is None
        check(store, bucket, {("f", vid): bytes(model)})
        store.delete_object(OWNER, bucket, "f", version_id=vid)
        check(store, bucket, {})
    assert counted_chunks(store) == set()
