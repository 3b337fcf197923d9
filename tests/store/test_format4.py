"""Store format 4: versions are numbered from the change feed, inline frames
are found through their chunk row.

What it must keep: seqs only grow and are never reused (a deleted version's
seq is not given again); a commit or delete writes no ``sqlite_sequence``;
``inline_chunks`` has no index of its own, a dedup hit stores no second
frame and gc drops the frame with its chunk; a format 3 store (numbered by
AUTOINCREMENT, frames indexed by chunk id) is upgraded in place and keeps
working; fsck finds and repairs an unlinked or orphan frame and a change
sequence behind the newest version.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from objfs.meta.db import FORMAT_VERSION
from objfs.store import OWNER, Store, SystemMeta

from .support import get_body

FAST = OWNER.with_options(durable=False)
META = SystemMeta(mode=0o100644, uid=0, gid=0)


def _sql(path: Path, *statements: str) -> list:
    """Run statements on the closed store's database (to fake damage or an old layout)."""
    db = sqlite3.connect(path / "meta.db")
    try:
        out = []
        for statement in statements:
            out = db.execute(statement).fetchall()
        db.commit()
        return out
    finally:
        db.close()


def test_seqs_come_from_the_change_feed_and_are_never_reused(store, make_bucket):
    bucket = make_bucket()
    first = store.commit_small(FAST, bucket, "k", b"one", sys_meta=META)
    assert first.seq == store.change_seq(OWNER)  # its commit's change
    store.delete_object(FAST, bucket, "k")  # unversioned: the row goes
    again = store.commit_small(FAST, bucket, "k", b"two", sys_meta=META)
    assert again.seq > first.seq
    put = store.put_object(FAST, bucket, "k2", b"three")
    assert put.seq > again.seq == store.head_object(OWNER, bucket, "k").seq
    assert store.change_seq(OWNER) >= put.seq
    with store.db.read() as cur:
        names = [
            row[0]
            for row in cur.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
        ]
        used = dict(cur.execute("SELECT name, seq FROM sqlite_sequence")) if names else {}
    assert "versions" not in used and "changes" not in used


def test_inline_frames_are_found_through_their_chunk_row(store, make_bucket, store_path):
    bucket = make_bucket()
    with store.db.read() as cur:
        assert cur.execute("PRAGMA index_list(inline_chunks)").fetchall() == []
    data = os.urandom(4096)
    store.commit_small(FAST, bucket, "a", data, sys_meta=META)
    store.commit_small(FAST, bucket, "b", data, sys_meta=META)  # the same chunk: dedup
    assert get_body(store, FAST, bucket, "a") == get_body(store, FAST, bucket, "b") == data
    with store.db.read() as cur:
        assert cur.execute("SELECT COUNT(*) FROM inline_chunks").fetchone()[0] == 1
        linked = cur.execute(
            "SELECT COUNT(*) FROM chunks c JOIN inline_chunks i ON i.rowid = c.inline_row"
        ).fetchone()[0]
    assert linked == 1
    store.delete_object(FAST, bucket, "a")
    store.delete_object(FAST, bucket, "b")
    assert store.gc(OWNER, grace_seconds=0).chunks_removed == 1
    with store.db.read() as cur:
        assert cur.execute("SELECT COUNT(*) FROM inline_chunks").fetchone()[0] == 0
    # Committed again after gc: a frame again, found again.
    store.commit_small(FAST, bucket, "c", data, sys_meta=META)
    assert get_body(store, FAST, bucket, "c") == data
    assert store.fsck(OWNER).ok


def test_a_dead_chunk_taken_up_again_keeps_its_frame(store, make_bucket):
    bucket = make_bucket()
    data = os.urandom(3000)
    store.commit_small(FAST, bucket, "a", data, sys_meta=META)
    store.delete_object(FAST, bucket, "a")  # refs 0, not collected yet
    store.commit_small(FAST, bucket, "b", data, sys_meta=META)
    assert get_body(store, FAST, bucket, "b") == data
    with store.db.read() as cur:
        assert cur.execute("SELECT COUNT(*) FROM inline_chunks").fetchone()[0] == 1
    assert store.gc(OWNER, grace_seconds=0).chunks_removed == 0
    assert get_body(store, FAST, bucket, "b") == data
    assert store.fsck(OWNER).ok


def _as_format_3(path: Path, *, changes_behind: int) -> None:
    """Rewrite a closed store's tables as format 3 left them: AUTOINCREMENT
    numbering (its sequence of changes ``changes_behind`` behind the newest
    version), frames indexed by chunk id, no ``chunks.inline_row``."""
    top = _sql(path, "SELECT MAX(seq) FROM versions")[0][0]
    _sql(
        path,
        "CREATE TABLE changes3 (seq INTEGER PRIMARY KEY AUTOINCREMENT, bucket TEXT NOT NULL, "
        "key BLOB NOT NULL)",
        f"INSERT INTO changes3 SELECT * FROM changes WHERE seq <= {top - changes_behind}",
        "DROP TABLE changes",
        "ALTER TABLE changes3 RENAME TO changes",
        "CREATE TABLE inline3 (chunk_id BLOB PRIMARY KEY, frame BLOB NOT NULL)",
        "INSERT INTO inline3 SELECT chunk_id, frame FROM inline_chunks",
        "DROP TABLE inline_chunks",
        "ALTER TABLE inline3 RENAME TO inline_chunks",
        "CREATE TABLE chunks3 (chunk_id BLOB PRIMARY KEY, domain_id BLOB NOT NULL, "
        "refs INTEGER NOT NULL, length INTEGER NOT NULL, dead_since INTEGER) WITHOUT ROWID",
        "INSERT INTO chunks3 SELECT chunk_id, domain_id, refs, length, dead_since FROM chunks",
        "DROP TABLE chunks",
        "ALTER TABLE chunks3 RENAME TO chunks",
        "CREATE INDEX chunks_dead ON chunks(dead_since) WHERE refs = 0",
        "UPDATE meta SET value = 3 WHERE name = 'format_version'",
    )


def test_a_format_3_store_is_upgraded_in_place(store_path):
    small = {f"d/f{i}": os.urandom(100 + 500 * i) for i in range(8)}
    with Store.open(store_path) as s:
        s.create_bucket(OWNER, "old", versioning=True)
        for key, data in small.items():
            s.put_object(OWNER, "old", key, data)
        s.put_object(OWNER, "old", "d/f0", b"newer")  # an older version of d/f0 stays
        small["d/f0"] = b"newer"
        top = s.head_object(OWNER, "old", "d/f0").seq
    _as_format_3(store_path, changes_behind=5)
    with Store.open(store_path) as s:
        assert int(s.db.get_meta("format_version")) == FORMAT_VERSION >= 4
        for key, data in small.items():
            assert get_body(s, OWNER, "old", key) == data
        assert s.fsck(OWNER).ok  # the sequence was moved past the newest version
        new = s.commit_small(FAST, "old", "d/new", b"after the upgrade", sys_meta=META)
        assert new.seq > top
        assert s.change_seq(OWNER) == new.seq
        s.delete_object(OWNER, "old", "d/f1")  # a delete marker: a version too
        assert get_body(s, OWNER, "old", "d/new") == b"after the upgrade"
        report = s.fsck(OWNER)
        assert report.ok, report.findings
    with Store.open(store_path) as s:  # upgraded once, opens as it is
        assert get_body(s, OWNER, "old", "d/f2") == small["d/f2"]


def test_an_upgraded_store_takes_over_a_frame_no_chunk_row_names(store_path):
    data = b"orphaned before the upgrade" * 10
    with Store.open(store_path) as s:
        s.create_bucket(OWNER, "old")
        s.put_object(OWNER, "old", "k", data)
    _as_format_3(store_path, changes_behind=0)
    _sql(store_path, "DELETE FROM chunks")  # its frame stays, indexed by chunk id
    with Store.open(store_path) as s:
        s.commit_small(FAST, "old", "k2", data, sys_meta=META)  # the same chunk id
        assert get_body(s, OWNER, "old", "k2") == data
        with s.db.read() as cur:
            assert cur.execute("SELECT COUNT(*) FROM inline_chunks").fetchone()[0] == 1


def test_fsck_relinks_drops_and_moves_the_sequence(store_path):
    with Store.open(store_path) as s:
        s.create_bucket(OWNER, "bkt")
        s.put_object(OWNER, "bkt", "a", b"small a")
        s.put_object(OWNER, "bkt", "b", b"small b")
    _sql(
        store_path,
        "UPDATE chunks SET inline_row = NULL WHERE inline_row = (SELECT MIN(inline_row) FROM chunks)",
        "INSERT INTO inline_chunks(chunk_id, frame) VALUES (x'00', x'00')",
        "DELETE FROM changes WHERE seq >= (SELECT MAX(seq) FROM versions)",
    )
    with Store.open(store_path) as s:
        found = {f.kind for f in s.fsck(OWNER).findings}
        assert {"inline-link", "orphan-inline", "change-sequence"} <= found
        report = s.fsck(OWNER, repair=True)
        assert all(f.repaired for f in report.findings)
        assert s.fsck(OWNER).ok
        assert get_body(s, OWNER, "bkt", "a") == b"small a"
        assert get_body(s, OWNER, "bkt", "b") == b"small b"
        s.put_object(OWNER, "bkt", "c", b"after the repair")
        assert get_body(s, OWNER, "bkt", "c") == b"after the repair"
