"""WAL checkpoints run in a background thread, not inside a request's COMMIT.

``objfs/meta/db.py`` (module docstring): commits only count; every
``CHECKPOINT_EVERY`` commits one thread folds the WAL into ``meta.db``;
SQLite's own in-commit checkpoint is only the backstop.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from objfs.meta import db as dbmod
from objfs.store import OWNER, Store


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "objfs-checkpoint" and t.is_alive()]


def test_meta_db_is_updated_in_the_background_while_requests_only_append(
    store_path: Path,
) -> None:
    store = Store.open(store_path)
    try:
        store.create_bucket(OWNER, "ckpt")
        conn = store.db.conn()
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == (
            dbmod.AUTOCHECKPOINT_PAGES
        )
        main_file = store_path / "meta.db"
        before = main_file.stat()
        for i in range(3 * dbmod.CHECKPOINT_EVERY):
            store.put_object(OWNER, "ckpt", f"k{i:04d}", b"x" * 100)
            store.delete_object(OWNER, "ckpt", f"k{i:04d}")
        # Far fewer WAL pages than the backstop: only the background thread
        # writes pages back into meta.db.
        deadline = time.monotonic() + 10
        while main_file.stat().st_mtime_ns == before.st_mtime_ns:
            assert time.monotonic() < deadline, "no background checkpoint reached meta.db"
            time.sleep(0.02)
        assert _checkpoint_threads()
    finally:
        store.close()
    assert not _checkpoint_threads()  # close() ends it
    with Store.open(store_path) as again:
        assert again.list_objects(OWNER, "ckpt").contents == []


def test_close_while_the_checkpointer_waits_ends_it_and_keeps_every_commit(
    store_path: Path,
) -> None:
    store = Store.open(store_path)
    store.create_bucket(OWNER, "ckpt")
    for i in range(dbmod.CHECKPOINT_EVERY + 1):
        store.put_object(OWNER, "ckpt", f"k{i:04d}", str(i).encode())
    assert _checkpoint_threads()
    store.close()
    assert not _checkpoint_threads()
    with Store.open(store_path) as again:
        for i in range(dbmod.CHECKPOINT_EVERY + 1):
            assert again.get_object(OWNER, "ckpt", f"k{i:04d}").read() == str(i).encode()


def test_a_stream_of_commits_on_the_event_loop_keeps_the_wal_short(store_path: Path) -> None:
    """Commits in ``nowait()`` scopes never checkpoint inside COMMIT, and the
    background thread's RESTART lets the WAL start over even though commits
    never pause (a PASSIVE checkpoint alone never rewinds it)."""
    rows, blob = 3000, b"y" * 6000  # two pages or more a commit: > 6,000 WAL pages in all
    store = Store.open(store_path)
    try:
        db = store.db
        with db.write() as cur:
            cur.execute("CREATE TABLE scratch (n INTEGER, data BLOB)")
        fell_back = 0
        for n in range(rows):
            try:
                with db.nowait(), db.write() as cur:
                    cur.execute("INSERT INTO scratch VALUES (?, ?)", (n, blob))
            except dbmod.WouldBlock:  # the RESTART holds writers off: wait, as the mount does
                fell_back += 1
                with db.write() as cur:
                    cur.execute("INSERT INTO scratch VALUES (?, ?)", (n, blob))
        assert db.conn().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        page = db.conn().execute("PRAGMA page_size").fetchone()[0]
        wal = (store_path / "meta.db-wal").stat().st_size
        # Without the RESTART the WAL reaches the backstop's 8,192 pages.
        assert wal < dbmod.AUTOCHECKPOINT_PAGES * page // 2, (wal, fell_back)
        assert db.conn().execute("SELECT count(*) FROM scratch").fetchone()[0] == rows
    finally:
        store.close()
