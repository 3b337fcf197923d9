"""WAL checkpoints run in a background thread, not inside a request's COMMIT.

``objfs/meta/db.py`` (module docstring): commits only count; every
``CHECKPOINT_EVERY`` commits one thread folds the WAL into ``meta.db``;
SQLite's own in-commit checkpoint is only the backstop.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

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


def _wal_generation(wal: Path) -> bytes:
    """The WAL header's checkpoint sequence number and salts: they change each
    time a writer starts the WAL over from its beginning (and only then)."""
    with open(wal, "rb") as f:
        return f.read(32)[12:24]


def _wait(check, what: str, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    """A bound for a hung test, not a timing assertion: a loaded machine only waits longer."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_stream_of_commits_on_the_event_loop_keeps_the_wal_short(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits in ``nowait()`` scopes never checkpoint inside COMMIT, and once
    the WAL holds ``RESTART_PAGES`` the background thread's checkpoint makes
    it start over although commits never pause (a PASSIVE checkpoint alone
    never rewinds it), so it is written over from its beginning, not grown.

    Deterministic on a loaded machine: the test wakes the background thread
    itself once the WAL is past the threshold (instead of every
    ``CHECKPOINT_EVERY`` commits) while another thread keeps committing, and
    asserts that the WAL starts over, not how far it grew meanwhile: that
    depends on how soon the thread is scheduled (it once reached 18.5 MB on
    a busy 2-core CI machine against a 16.8 MB bound)."""
    monkeypatch.setattr(dbmod, "CHECKPOINT_EVERY", 10**9)  # only the test wakes the thread
    blob = b"y" * 6000  # two pages or more a commit
    store = Store.open(store_path)
    db = store.db
    wal = store_path / "meta.db-wal"
    with db.write() as cur:
        cur.execute("CREATE TABLE scratch (n INTEGER, data BLOB)")
    page = db.conn().execute("PRAGMA page_size").fetchone()[0]
    stop = threading.Event()
    state = {"committed": 0, "fell_back": 0, "autocheckpoint": None}
    errors: list[BaseException] = []

    def stream() -> None:  # the mount's event loop: nowait commits, back to back
        try:
            n = 0
            while not stop.is_set():
                try:
                    with db.nowait(), db.write() as cur:
                        cur.execute("INSERT INTO scratch VALUES (?, ?)", (n, blob))
                except dbmod.WouldBlock:  # the RESTART holds writers off: wait, as the mount does
                    state["fell_back"] += 1
                    with db.write() as cur:
                        cur.execute("INSERT INTO scratch VALUES (?, ?)", (n, blob))
                n += 1
                state["committed"] = n
            state["autocheckpoint"] = db.conn().execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def frames() -> int:
        return max(0, wal.stat().st_size - 32) // (page + 24) if wal.exists() else 0

    writer = threading.Thread(target=stream)
    writer.start()
    try:
        _wait(lambda: frames() >= dbmod.RESTART_PAGES or bool(errors), "the WAL to fill")
        assert not errors
        # No checkpoint inside a COMMIT: without the background thread the WAL
        # only grows (no start-over while the stream goes on).
        before = _wal_generation(wal)
        grown = frames()
        _wait(lambda: frames() >= grown + 100, "more commits")
        assert _wal_generation(wal) == before
        # The background thread, woken past the threshold, makes it start over.
        db._ask_checkpoint()
        _wait(lambda: _wal_generation(wal) != before, "the WAL to start over")
        # From there it is written over from its beginning: it does not grow.
        size, mark = wal.stat().st_size, state["committed"]
        _wait(lambda: state["committed"] >= mark + 50, "commits after the restart")
        assert wal.stat().st_size == size, (size, wal.stat().st_size, state)
    finally:
        stop.set()
        writer.join()
        try:
            assert not errors, errors
            assert state["autocheckpoint"] == 0
            count = db.conn().execute("SELECT count(*) FROM scratch").fetchone()[0]
            assert count == state["committed"]
        finally:
            store.close()
