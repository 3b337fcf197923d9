"""``RequestContext.nowait``: a call that would wait is refused, before it changes anything.

The mount runs short metadata calls (an unlink's delete) on its event loop
thread with ``nowait`` and asks again in a worker thread on ``WouldBlock``
(objfs/fs/runner.py). So the refusal must leave no trace: nothing changed,
no access-log record (the retry is the one request), and a durable call or
one whose record would be a second write is refused up front.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from objfs.errors import AccessDenied, NoSuchKey
from objfs.meta.pg import PgDatabase
from objfs.store import OWNER, RequestContext, Store, WouldBlock
from objfs.store.logformat import parse_lines

FAST = OWNER.with_options(durable=False)
NOWAIT = FAST.with_options(nowait=True)
QUIET = FAST.with_options(log=False)


@contextmanager
def write_lock_held(store_path: Path) -> Iterator[None]:
    """Another writer (a connection of its own, as another process would) holds meta.db
    (or, on a PostgreSQL store, the store's write lock: another node writing)."""
    if (store_path / "meta.url").exists():
        node = PgDatabase.open_url((store_path / "meta.url").read_text().strip())
        try:
            with node.write():
                yield
        finally:
            node.close()
        return
    other = sqlite3.connect(store_path / "meta.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def records(store: Store) -> list[tuple[str, str | None, int]]:
    store.flush_access_logs(OWNER)
    out = []
    for v in store.list_objects(QUIET, "logs").contents:
        with store.get_object(QUIET, "logs", v.key) as reader:
            out += [
                (r.operation, r.key, r.http_status) for r in parse_lines(reader.read().decode())
            ]
    return out


def test_a_nowait_delete_is_done_at_once_when_nothing_waits(
    store: Store, bucket: str, vbucket: str
) -> None:
    store.put_object(FAST, bucket, "k", b"data")
    store.delete_object(NOWAIT, bucket, "k")
    with pytest.raises(NoSuchKey):
        store.head_object(FAST, bucket, "k")
    assert store.list_object_versions(FAST, bucket).versions == []
    # versioned: a delete marker, as without nowait
    store.put_object(FAST, vbucket, "k", b"data")
    result = store.delete_object(NOWAIT, vbucket, "k")
    assert result.delete_marker and result.version_id not in (None, "null")
    assert [v.is_delete_marker for v in store.key_versions(FAST, vbucket, "k")] == [True, False]


def test_a_nowait_delete_refuses_to_wait_for_another_writer_and_changes_nothing(
    store: Store, store_path: Path, bucket: str
) -> None:
    store.put_object(FAST, bucket, "k", b"data")
    seq = store.change_seq(OWNER)
    with write_lock_held(store_path):
        with pytest.raises(WouldBlock):
            store.delete_object(NOWAIT, bucket, "k")
        # Reads go on meanwhile (WAL), and see the object untouched.
        assert store.head_object(FAST, bucket, "k").size == 4
    assert store.change_seq(OWNER) == seq
    # The same call that may wait does it, once the lock is free.
    store.delete_object(FAST, bucket, "k")
    with pytest.raises(NoSuchKey):
        store.head_object(FAST, bucket, "k")


def test_a_waiting_retry_goes_through_once_the_other_writer_commits(
    store: Store, store_path: Path, bucket: str
) -> None:
    store.put_object(FAST, bucket, "k", b"data")
    done = threading.Event()
    with write_lock_held(store_path):
        with pytest.raises(WouldBlock):
            store.delete_object(NOWAIT, bucket, "k")
        waiter = threading.Thread(
            target=lambda: (store.delete_object(FAST, bucket, "k"), done.set())
        )
        waiter.start()
        assert not done.wait(0.3)  # the retry waits for the lock...
    waiter.join(10)
    assert done.is_set()  # ...and deletes once it is free
    with pytest.raises(NoSuchKey):
        store.head_object(FAST, bucket, "k")


def test_a_durable_nowait_call_is_refused_up_front(store: Store, bucket: str) -> None:
    store.put_object(FAST, bucket, "k", b"data")
    with pytest.raises(WouldBlock):  # its commit would wait for an fsync
        store.delete_object(OWNER.with_options(nowait=True), bucket, "k")
    assert store.head_object(FAST, bucket, "k").size == 4


def test_nowait_on_a_logging_bucket_is_refused_unlogged_and_the_retry_logged_once(
    store: Store,
) -> None:
    store.create_bucket(OWNER, "src")
    store.create_bucket(OWNER, "logs")
    store.put_bucket_logging(OWNER, "src", "logs", "")
    store.put_object(FAST, "src", "k", b"data")
    with pytest.raises(WouldBlock):  # its record would be a second write
        store.delete_object(NOWAIT, "src", "k")
    assert store.head_object(QUIET, "src", "k").size == 4
    store.delete_object(FAST, "src", "k")
    # a refusal by policy, asked with nowait: also left to the retry to log
    store.create_user(OWNER, "mallory")
    mallory = RequestContext(store.user_identity("mallory"), "mount", durable=False)
    with pytest.raises(WouldBlock):
        store.delete_object(mallory.with_options(nowait=True), "src", "k")
    with pytest.raises(AccessDenied):
        store.delete_object(mallory, "src", "k")
    assert records(store) == [
        ("REST.PUT.OBJECT", "k", 200),
        ("REST.DELETE.OBJECT", "k", 204),
        ("REST.DELETE.OBJECT", "k", 403),
    ]


def test_a_nowait_refusal_by_policy_on_an_unlogged_bucket_is_plain_access_denied(
    store: Store, bucket: str
) -> None:
    store.put_object(FAST, bucket, "k", b"data")
    store.create_user(OWNER, "mallory")
    mallory = RequestContext(store.user_identity("mallory"), "mount", durable=False)
    with pytest.raises(AccessDenied):
        store.delete_object(mallory.with_options(nowait=True), bucket, "k")
    assert store.head_object(FAST, bucket, "k").size == 4
