"""POSIX system metadata in the store: file types, times, rdev, S3 names, old records."""

from __future__ import annotations

import stat

import msgpack
import pytest

from objfs.store import Store, SystemMeta, TimesUpdate
from objfs.store import records as rec
from objfs.store.sysmeta import file_type, from_s3_meta, is_special, to_s3_meta

FAR_FUTURE = (1 << 40) * 1_000_000_000 + 7  # 64-bit seconds, past int64 nanoseconds
BEFORE_1970 = -86_400 * 365 * 1_000_000_000 - 123_456_789


@pytest.mark.parametrize(
    ("meta", "kind"),
    [
        (SystemMeta(), "file"),
        (SystemMeta(mode=0o100644), "file"),
        (SystemMeta(mode=0o777, symlink="t"), "symlink"),
        (SystemMeta(mode=stat.S_IFIFO | 0o644), "fifo"),
        (SystemMeta(mode=stat.S_IFSOCK | 0o755), "socket"),
        (SystemMeta(mode=stat.S_IFCHR | 0o600, rdev=0x0103), "char-device"),
        (SystemMeta(mode=stat.S_IFBLK | 0o660, rdev=0x0801), "block-device"),
    ],
)
def test_file_type(meta: SystemMeta, kind: str) -> None:
    assert file_type(meta) == kind
    assert is_special(meta) == (kind not in ("file", "symlink"))


def test_records_round_trip_every_field_and_extreme_times() -> None:
    meta = SystemMeta(
        mode=stat.S_IFCHR | 0o620,
        uid=1,
        gid=2,
        mtime_ns=FAR_FUTURE,
        atime_ns=BEFORE_1970,
        ctime_ns=1_700_000_000_123_456_789,
        rdev=(4 << 8) | 1,
    )
    assert rec.unpack_sys_meta(rec.pack_sys_meta(meta)) == meta


def test_old_records_read_with_atime_and_ctime_of_mtime() -> None:
    old = msgpack.packb({"mode": 0o100644, "mtime_ns": 5}, use_bin_type=True)
    meta = rec.unpack_sys_meta(old)
    assert meta.atime_ns is None and meta.ctime_ns is None and meta.rdev is None
    assert meta.times(99) == (5, 5, 5)
    assert SystemMeta().times(99) == (99, 99, 99)


def test_s3_names_round_trip() -> None:
    meta = SystemMeta(
        mode=stat.S_IFBLK | 0o640,
        uid=0,
        gid=6,
        mtime_ns=-1_500_000_000,
        atime_ns=FAR_FUTURE,
        ctime_ns=1,
        rdev=2049,
    )
    headers = to_s3_meta(meta)
    assert headers["x-amz-meta-mode"] == str(stat.S_IFBLK | 0o640)
    assert headers["x-amz-meta-mtime"] == "-1.500000000"
    assert headers["x-amz-meta-rdev"] == "2049"
    assert from_s3_meta(headers) == meta
    # s3fs writes whole seconds; any case; junk is "not set"
    assert from_s3_meta({"X-Amz-Meta-Mtime": "1700000000", "x-amz-meta-uid": "x"}) == SystemMeta(
        mtime_ns=1_700_000_000_000_000_000
    )


def test_special_file_objects_are_versioned_and_amended(
    store: Store, ctx: object, vbucket: str
) -> None:
    fifo = SystemMeta(mode=stat.S_IFIFO | 0o644, uid=1, gid=1, mtime_ns=10)
    v1 = store.put_object(ctx, vbucket, "p", b"", sys_meta=fifo)
    dev = SystemMeta(mode=stat.S_IFCHR | 0o600, rdev=0x0501, mtime_ns=20)
    store.put_object(ctx, vbucket, "p", b"", sys_meta=dev)
    versions = store.key_versions(ctx, vbucket, "p")
    assert [file_type(v.sys_meta) for v in versions] == ["char-device", "fifo"]
    assert versions[0].sys_meta.rdev == 0x0501 and versions[1].version_id == v1.version_id
    assert all(v.size == 0 for v in versions)


def test_amend_times_changes_only_times_and_makes_no_version(
    store: Store, ctx: object, vbucket: str
) -> None:
    store.put_object(ctx, vbucket, "a", b"x", sys_meta=SystemMeta(mode=0o100600, mtime_ns=1))
    store.put_object(ctx, vbucket, "d/", b"", sys_meta=SystemMeta(mode=0o40755))
    store.put_object(ctx, vbucket, "gone", b"x")
    store.delete_object(ctx, vbucket, "gone")
    out = store.amend_times(
        ctx,
        vbucket,
        [
            TimesUpdate("a", atime_ns=FAR_FUTURE),
            TimesUpdate("d/", mtime_ns=BEFORE_1970, ctime_ns=3),
            TimesUpdate("gone", atime_ns=4),
            TimesUpdate("missing", atime_ns=4),
        ],
    )
    assert set(out) == {"a", "d/"}
    a = store.head_object(ctx, vbucket, "a")
    assert a.sys_meta == SystemMeta(mode=0o100600, mtime_ns=1, atime_ns=FAR_FUTURE)
    assert len(store.key_versions(ctx, vbucket, "a")) == 1
    d = store.head_object(ctx, vbucket, "d/")
    assert d.sys_meta.times(0) == (BEFORE_1970, BEFORE_1970, 3)
    assert d.sys_meta.mode == 0o40755


def test_dir_stats_counts_direct_subdirectories(store: Store, ctx: object, bucket: str) -> None:
    for key in ["top/", "top/a", "top/b/x", "top/b/y/z", "top/c/", "top/d/e/f", "topx/q", "u"]:
        store.put_object(ctx, bucket, key, b"1")
    stats = store.dir_stats(ctx, bucket, "top/")
    assert stats.subdirs == 3  # b, c, d
    a = store.head_object(ctx, bucket, "top/a")
    assert stats.newest_ns == a.last_modified_ns  # the marker itself is no child
    root = store.dir_stats(ctx, bucket, "")
    assert root.subdirs == 2 and root.newest_ns is not None  # top/, topx/ and the key u
    assert store.dir_stats(ctx, bucket, "nothing/").subdirs == 0
