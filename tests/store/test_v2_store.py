"""A store written before edited versions counted only their additions
(store format 2, every version counting all its references) keeps working.

``tests/data/v2-store`` was made by ``tests/data/make_v2_store.py`` with the
last format-2 code: versions edited in place (slices, inline pages), copies,
a rename, a delete marker, a multipart upload from a part copy and an open
upload holding a part copy. Opened by today's code it is upgraded to format 3
(its versions keep counting in full: no base), reads back, passes fsck, and
new edits on top of the old versions (which do lean on them) keep the counts
exact while the old versions are deleted.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from objfs.meta.db import FORMAT_VERSION
from objfs.store import OWNER, Store

from .test_refcount_chain import bases, chunk_files, counted_chunks, named_chunks

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
def v2_store(tmp_path: Path) -> Path:
    dest = tmp_path / "v2-store"
    shutil.copytree(DATA / "v2-store", dest)
    for path in [dest, *dest.rglob("*")]:  # git keeps no permission bits
        path.chmod(0o700 if path.is_dir() else 0o600)
    return dest


def _format(path: Path) -> int:
    db = sqlite3.connect(path / "meta.db")
    try:
        return int(db.execute("SELECT value FROM meta WHERE name = 'format_version'").fetchone()[0])
    finally:
        db.close()


def _read_all(store: Store, versions: list[dict]) -> None:
    for v in versions:
        data = store.get_object(OWNER, v["bucket"], v["key"], version_id=v["version_id"]).read()
        assert len(data) == v["size"] and hashlib.sha256(data).hexdigest() == v["sha256"], v


def test_a_v2_store_opens_upgraded_reads_and_passes_fsck(v2_store: Path) -> None:
    spec = json.loads((DATA / "v2-store.json").read_text())
    assert _format(v2_store) == 2
    with Store.open(v2_store) as store:
        assert _format(v2_store) == FORMAT_VERSION >= 4
        assert set(bases(store).values()) == {None}  # old versions count in full
        _read_all(store, spec["versions"])
        report = store.fsck(OWNER)
        assert report.findings == [] and report.ok, report.problems
        assert counted_chunks(store) == named_chunks(store)
        assert store.fsck(OWNER, repair=True).findings == []


def test_edits_on_a_v2_store_then_deleting_the_old_versions(v2_store: Path) -> None:
    spec = json.loads((DATA / "v2-store.json").read_text())
    left = list(spec["versions"])
    with Store.open(v2_store) as store:
        base = store.head_object(OWNER, "ver", "big.bin")
        w = store.open_writer(OWNER, "ver", "big.bin", base=base)
        model = bytearray(store.get_object(OWNER, "ver", "big.bin").read())
        for i in range(6):
            w.write(i * 40960, b"new!" * 1024)
            model[i * 40960 : i * 40960 + 4096] = b"new!" * 1024
            w.commit(OWNER)
        w.close()
        new = store.head_object(OWNER, "ver", "big.bin")
        assert bases(store)[new.version_id] is not None  # new versions lean on their base
        assert store.fsck(OWNER).findings == []
        # Every old version goes, oldest first for one key, newest first for another.
        old = [v for v in left if v["bucket"] == "ver"]
        order = sorted(old, key=lambda v: (v["key"] != "big.bin", v["version_id"]))
        for v in order:
            store.delete_object(OWNER, "ver", v["key"], version_id=v["version_id"])
            left.remove(v)
            assert counted_chunks(store) == named_chunks(store)
            assert store.fsck(OWNER).findings == []
            store.gc(OWNER, grace_seconds=0)
            _read_all(store, left)
            assert store.get_object(OWNER, "ver", "big.bin").read() == bytes(model)
        store.abort_multipart_upload(OWNER, "ver", "open.bin", spec["open_upload"])
        for v in store.key_versions(OWNER, "ver", "big.bin"):
            store.delete_object(OWNER, "ver", "big.bin", version_id=v.version_id)
        store.delete_object(OWNER, "flat", "moved.bin")
        for item in store.list_object_versions(OWNER, "ver").versions:
            store.delete_object(OWNER, "ver", item.key, version_id=item.version_id)
        assert counted_chunks(store) == set()
        assert store.fsck(OWNER, repair=True).ok
        store.gc(OWNER, grace_seconds=0)
        assert chunk_files(store) == 0
