"""S3's standard object headers and checksums in the store (format 5).

What it must keep: the headers given on a PUT, a copy under REPLACE or a
multipart upload are the version's; a COPY copy, a rename and a completed
upload carry them; a mount edit keeps the headers but not the checksum (the
data changed); a format 4 store (no headers columns) is upgraded in place
and its versions read as having none.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from objfs.meta.db import FORMAT_VERSION
from objfs.store import OWNER, Checksum, ObjectHeaders, Store

from .support import get_body

H = ObjectHeaders(cache_control="no-cache", content_language="en", expires="x")


def test_put_copy_rename_keep_headers(store, make_bucket):
    bucket = make_bucket()
    crc = Checksum("CRC32", "AAAAAA==")
    store.put_object(OWNER, bucket, "a", b"data", headers=H, checksum=crc)
    info = store.head_object(OWNER, bucket, "a")
    assert info.headers == H and info.checksum == crc
    store.copy_object(OWNER, bucket, "a", bucket, "b")
    assert store.head_object(OWNER, bucket, "b").headers == H
    new = ObjectHeaders(content_disposition="inline")
    store.copy_object(OWNER, bucket, "a", bucket, "c", metadata_directive="REPLACE", headers=new)
    copied = store.head_object(OWNER, bucket, "c")
    assert copied.headers == new and copied.checksum == crc  # the same data, the same sum
    store.rename(OWNER, bucket, "a", "d")
    moved = store.head_object(OWNER, bucket, "d")
    assert moved.headers == H and moved.checksum == crc
    store.put_object(OWNER, bucket, "d", b"again")
    again = store.head_object(OWNER, bucket, "d")
    assert not again.headers and again.checksum is None


def test_multipart_upload_keeps_headers(store, make_bucket):
    bucket = make_bucket()
    upload = store.create_multipart_upload(OWNER, bucket, "mp", headers=H)
    part = store.upload_part(OWNER, bucket, "mp", upload, 1, b"x" * 10)
    store.complete_multipart_upload(OWNER, bucket, "mp", upload, [(1, part.etag)])
    assert store.head_object(OWNER, bucket, "mp").headers == H


def _as_format_4(path: Path) -> None:
    db = sqlite3.connect(path / "meta.db")
    try:
        for statement in (
            "ALTER TABLE versions DROP COLUMN headers",
            "ALTER TABLE uploads DROP COLUMN headers",
            "ALTER TABLE parts DROP COLUMN checksum",
            "UPDATE meta SET value = 4 WHERE name = 'format_version'",
        ):
            db.execute(statement)
        db.commit()
    finally:
        db.close()


def test_a_format_4_store_is_upgraded_in_place(store_path):
    with Store.open(store_path) as s:
        s.create_bucket(OWNER, "old")
        s.put_object(OWNER, "old", "k", b"before")
        upload = s.create_multipart_upload(OWNER, "old", "mp")
        s.upload_part(OWNER, "old", "mp", upload, 1, b"part")
    _as_format_4(store_path)
    with Store.open(store_path) as s:
        assert int(s.db.get_meta("format_version")) == FORMAT_VERSION >= 5
        info = s.head_object(OWNER, "old", "k")
        assert not info.headers and info.checksum is None
        assert get_body(s, OWNER, "old", "k") == b"before"
        etag = s.list_parts(OWNER, "old", "mp", upload)[0].etag
        s.complete_multipart_upload(OWNER, "old", "mp", upload, [(1, etag)])
        assert get_body(s, OWNER, "old", "mp") == b"part"
        s.put_object(OWNER, "old", "k2", b"after", headers=H)
        assert s.head_object(OWNER, "old", "k2").headers == H
