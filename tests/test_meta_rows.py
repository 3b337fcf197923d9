"""objfs/meta returns typed rows: each NamedTuple names the columns of its
table, in order, and the queries hand back instances of it."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from objfs.meta import auth_queries as aq
from objfs.meta import kms_queries as kq
from objfs.meta import queries as q
from objfs.meta import rows
from objfs.meta.db import Cursor
from objfs.store import OWNER, Store
from objfs.store.records import Col


def columns(cur: Cursor, table: str) -> tuple[str, ...]:
    return tuple(row[1] for row in cur.execute(f"PRAGMA table_info({table})"))


@pytest.mark.parametrize(
    ("row_type", "table", "left_out"),
    [
        (rows.VersionRow, "versions", {"base_seq"}),
        (rows.BucketConfigRow, "buckets", set()),
        (rows.UploadRow, "uploads", set()),
        (rows.LeaseRow, "leases", set()),
        (rows.DomainRow, "domains", {"lookup", "created"}),
        (rows.KmsKeyRow, "kms_keys", set()),
        (rows.AuditRow, "kms_audit", set()),
        (rows.UserRow, "users", set()),
        (rows.AccessKeyRow, "access_keys", set()),
        (rows.MfaDeviceRow, "mfa_devices", set()),
        (rows.ChangeRow, "changes", set()),
    ],
)
def test_row_fields_are_the_table_columns_in_order(
    store: Store, row_type: type[NamedTuple], table: str, left_out: set[str]
) -> None:
    with store.db.write() as cur:
        aq.ensure_schema(cur)
        kq.ensure_schema(cur)
        wanted = tuple(c for c in columns(cur, table) if c not in left_out)
    assert row_type._fields == wanted


def test_col_indexes_name_the_version_row_fields() -> None:
    names = {
        "SEQ": "seq",
        "BUCKET": "bucket",
        "KEY": "key",
        "VERSION_ID": "version_id",
        "DM": "delete_marker",
        "SIZE": "size",
        "ETAG": "etag",
        "CREATED": "created",
        "CTYPE": "content_type",
        "UMETA": "user_meta",
        "SMETA": "sys_meta",
        "SSE": "sse",
        "KMS": "kms_key_id",
        "DOMAIN": "domain_id",
        "MANIFEST": "manifest",
        "HEADERS": "headers",
        "TAGS": "tags",
        "LOCK_MODE": "lock_mode",
        "LOCK_UNTIL": "lock_until",
        "LEGAL_HOLD": "legal_hold",
    }
    assert len(names) == len(rows.VersionRow._fields)
    for col, field in names.items():
        assert rows.VersionRow._fields[getattr(Col, col)] == field


def test_queries_return_typed_rows(store: Store, bucket: str) -> None:
    store.put_object(OWNER, bucket, "a/b", b"hello")
    with store.db.read() as cur:
        latest = q.get_latest(cur, bucket, b"a/b")
        assert isinstance(latest, rows.VersionRow)
        assert (latest.bucket, latest.key, latest.size) == (bucket, b"a/b", 5)
        assert latest == q.get_version(cur, bucket, b"a/b", latest.version_id)
        assert q.key_versions(cur, bucket, b"a/b") == [latest]
        listed = q.list_versions(cur, bucket, None, None, None, 10)
        assert listed == [latest] and isinstance(listed[0], rows.VersionRow)
        scan = q.scan_latest(cur, bucket, b"", True, None)
        scanned = list(scan)
        scan.close()
        assert [type(r) for r in scanned] == [rows.VersionRow]
        assert scanned[0].key == b"a/b" and scanned[0].manifest is None  # listings skip it
        brief = q.scan_latest_brief(cur, bucket, b"", True, None)
        (dir_row,) = list(brief)
        brief.close()
        assert dict(zip(rows.DIR_FIELDS, dir_row, strict=True))["key"] == b"a/b"
        found = q.get_bucket(cur, bucket)
        assert isinstance(found, rows.BucketRow) and found.name == bucket
        assert q.list_buckets(cur) == [found]
        config = q.get_bucket_config(cur, bucket)
        assert isinstance(config, rows.BucketConfigRow) and config[:8] == found
        assert q.get_latest(cur, bucket, b"missing") is None
