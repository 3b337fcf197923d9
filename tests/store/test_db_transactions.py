"""``Database.write`` inside another write of the same thread joins it.

The store checks a request inside the transaction that carries it out
(``requires(..., in_write=True)``): the method's own ``write`` then joins
the wrapper's, so both commit together or not at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from objfs.meta import queries as q
from objfs.meta.db import Database
from objfs.store import OWNER, Versioning


def _db(tmp_path: Path) -> Database:
    db = Database.create(tmp_path / "meta.db", {})
    with db.write() as cur:
        cur.execute("CREATE TABLE t (v INTEGER)")
    return db


def _values(db: Database) -> list[int]:
    with db.read() as cur:
        return [row[0] for row in cur.execute("SELECT v FROM t ORDER BY v")]


def test_a_nested_write_commits_with_the_outer_one(tmp_path: Path) -> None:
    db = _db(tmp_path)
    try:
        with db.write() as outer:
            outer.execute("INSERT INTO t VALUES (1)")
            with db.write() as inner:
                assert inner is outer
                inner.execute("INSERT INTO t VALUES (2)")
            other = Database.open(tmp_path / "meta.db")
            try:
                assert _values(other) == []  # not committed yet
            finally:
                other.close()
        assert _values(db) == [1, 2]
    finally:
        db.close()


def test_an_error_in_a_nested_write_rolls_back_both(tmp_path: Path) -> None:
    db = _db(tmp_path)
    try:
        with pytest.raises(ZeroDivisionError):
            with db.write() as outer:
                outer.execute("INSERT INTO t VALUES (1)")
                with db.write() as inner:
                    inner.execute("INSERT INTO t VALUES (2)")
                    1 / 0  # noqa: B018
        assert _values(db) == []
        with db.write() as cur:  # the next transaction is a fresh one
            cur.execute("INSERT INTO t VALUES (3)")
        assert _values(db) == [3]
    finally:
        db.close()


def test_a_durable_write_cannot_join_one_that_is_not(tmp_path: Path) -> None:
    db = _db(tmp_path)
    try:
        with pytest.raises(RuntimeError):
            with db.write(durable=False):
                with db.write(durable=True):
                    pass
    finally:
        db.close()


def test_a_remembered_read_lasts_until_the_transaction_writes(tmp_path: Path) -> None:
    db = _db(tmp_path)
    try:
        with db.write() as cur:
            db.remember(cur, "k", (1,))
            assert db.remembered(cur, "k") == (1,)
            assert db.remembered(cur, "other") is None
            cur.execute("INSERT INTO t VALUES (1)")  # a write: what was read may differ
            assert db.remembered(cur, "k") is None
            db.remember(cur, "k", (2,))
            assert db.remembered(cur, "k") == (2,)
        with db.write() as cur:  # another transaction: nothing carried over
            assert db.remembered(cur, "k") is None
        with db.read() as cur:
            assert db.remembered(cur, "k") is None
    finally:
        db.close()


def test_a_bucket_changed_in_the_request_transaction_is_read_again(store, make_bucket) -> None:
    bucket = make_bucket()
    with store.db.write() as cur:
        store.access.check(OWNER, "s3:PutObject", bucket, "k", None, {}, cur=cur)
        assert store.configs.info(cur, bucket).versioning is Versioning.UNVERSIONED
        q.update_bucket(cur, bucket, versioning=Versioning.ENABLED.value)
        assert store.configs.info(cur, bucket).versioning is Versioning.ENABLED
