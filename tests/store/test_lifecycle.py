"""Creating and opening a store (DESIGN.md "Data model": init, refusals, format version)."""

from __future__ import annotations

import pytest

from objfs.errors import ObjfsError, StoreFormatError, StoreNotFound
from objfs.meta.db import FORMAT_VERSION
from objfs.store import OWNER, Store
from tests.meta.sql import meta_sql

from .support import KiB, MiB, get_body, rand_bytes


def test_init_creates_layout_and_reopens(tmp_path):
    path = tmp_path / "s"
    store = Store.init(path)
    try:
        assert store.path == path
        assert store.chunk_size == MiB
        store.create_bucket(OWNER, "keep")
        store.put_object(OWNER, "keep", "k", b"persisted")
    finally:
        store.close()
    assert (path / "meta.db").is_file() and (path / "chunks").is_dir() and (path / "keys").is_dir()
    reopened = Store.open(path)
    try:
        assert get_body(reopened, OWNER, "keep", "k") == b"persisted"
    finally:
        reopened.close()


def test_init_refuses_an_existing_store_and_a_non_empty_dir(tmp_path, store_path):
    with pytest.raises(ObjfsError) as exc:
        Store.init(store_path)
    assert "\n" not in str(exc.value)
    other = tmp_path / "busy"
    other.mkdir()
    (other / "precious.txt").write_text("do not clobber")
    with pytest.raises(ObjfsError):
        Store.init(other)
    assert (other / "precious.txt").read_text() == "do not clobber"
    Store.open(store_path).close()  # the refused init left the store intact


def test_open_refuses_what_is_not_a_store(tmp_path):
    with pytest.raises(StoreNotFound) as exc:
        Store.open(tmp_path / "missing")
    assert str(exc.value) and "\n" not in str(exc.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreNotFound):
        Store.open(tmp_path / "empty")
    assert not (tmp_path / "empty" / "meta.db").exists(), "open must not create a store"


def test_open_refuses_a_newer_format(store_path):
    # Reaches into the schema only to fake a store written by a future objfs.
    db = meta_sql(store_path)
    with db:
        changed = db.execute(
            "UPDATE meta SET value = ? WHERE name = 'format_version'",
            (db.value(FORMAT_VERSION + 1),),
        ).rowcount
    db.close()
    assert changed == 1
    with pytest.raises(StoreFormatError) as exc:
        Store.open(store_path)
    assert "\n" not in str(exc.value)


def test_custom_chunk_size(tmp_path):
    store = Store.init(tmp_path / "s", chunk_size=64 * KiB)
    try:
        assert store.chunk_size == 64 * KiB
        store.create_bucket(OWNER, "small-chunks")
        body = rand_bytes(300 * KiB + 1, 1)
        store.put_object(OWNER, "small-chunks", "k", body)
        with store.get_object(OWNER, "small-chunks", "k") as reader:
            pieces = list(reader)
        assert b"".join(pieces) == body and max(map(len, pieces)) <= 64 * KiB
    finally:
        store.close()
    reopened = Store.open(tmp_path / "s")
    try:
        assert reopened.chunk_size == 64 * KiB
    finally:
        reopened.close()


@pytest.mark.parametrize("size", [0, 1000, 3 * MiB, 128 << 20])
def test_bad_chunk_size_is_refused(tmp_path, size):
    with pytest.raises(ObjfsError) as exc:
        Store.init(tmp_path / "s", chunk_size=size)
    assert exc.value.status == 400
    assert not (tmp_path / "s" / "meta.db").exists()
