"""Lifecycle rules in the store: validation as S3, and ``apply_lifecycle`` with injected time.

Versions are made now; a run "days later" passes ``now_ns``. Tags and Object
Lock state are set on the version rows directly (their own APIs are other
modules'): ``versions.tags`` and ``legal_hold``/``lock_mode``/``lock_until``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from objfs.errors import (
    AccessDenied,
    InvalidArgument,
    InvalidBucketState,
    InvalidRequest,
    InvalidStorageClass,
    MalformedXML,
    NoSuchLifecycleConfiguration,
)
from objfs.store import OWNER, RequestContext, Store
from objfs.store import records as rec
from objfs.store.expiry_rules import DAY_NS, expiration_header, next_midnight, parse_rules
from objfs.store.logformat import parse_lines

DAY = DAY_NS


def rule(**fields: object) -> dict[str, object]:
    out: dict[str, object] = {"ID": "r1", "Status": "Enabled", "Filter": {}}
    out.update(fields)
    return out


def later(days: float) -> int:
    return time.time_ns() + int(days * DAY)


def versions(store: Store, bucket: str, key: str) -> list[tuple[str, bool]]:
    """(version id, is delete marker) of every version of ``key``, newest first."""
    page = store.list_object_versions(OWNER, bucket, prefix=key)
    return [(v.version_id, v.is_delete_marker) for v in page.versions if v.key == key]


def set_row(store: Store, bucket: str, key: str, version_id: str, **cols: object) -> None:
    sets = ", ".join(f"{c} = ?" for c in cols)
    with store.db.write(durable=True) as cur:
        cur.execute(
            f"UPDATE versions SET {sets} WHERE bucket = ? AND key = ? AND version_id = ?",
            (*cols.values(), bucket, key.encode(), version_id),
        )


# -- validation ----------------------------------------------------------------------


def test_put_get_delete_round_trip(store: Store, ctx: RequestContext, bucket: str) -> None:
    with pytest.raises(NoSuchLifecycleConfiguration) as err:
        store.get_bucket_lifecycle(ctx, bucket)
    assert (err.value.status, err.value.code) == (404, "NoSuchLifecycleConfiguration")
    given = [
        {"ID": "a", "Expiration": {"Days": 31}, "Prefix": "logs/", "Status": "Enabled"},
        {
            "ID": "b",
            "Status": "Disabled",
            "Filter": {"And": {"Prefix": "t/", "Tags": [{"Key": "k", "Value": "v"}]}},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 3, "NewerNoncurrentVersions": 2},
        },
    ]
    store.put_bucket_lifecycle(ctx, bucket, given)
    assert store.get_bucket_lifecycle(ctx, bucket) == given  # given back as put
    store.delete_bucket_lifecycle(ctx, bucket)
    store.delete_bucket_lifecycle(ctx, bucket)  # none left: still fine, as S3
    with pytest.raises(NoSuchLifecycleConfiguration):
        store.get_bucket_lifecycle(ctx, bucket)


def test_a_rule_without_id_gets_one(store: Store, ctx: RequestContext, bucket: str) -> None:
    store.put_bucket_lifecycle(ctx, bucket, [{"Status": "Enabled", "Prefix": "", **_days(1)}])
    (got,) = store.get_bucket_lifecycle(ctx, bucket)
    assert got["ID"] and got["Prefix"] == ""


def _days(n: int) -> dict[str, object]:
    return {"Expiration": {"Days": n}}


@pytest.mark.parametrize(
    ("rules", "error"),
    [
        ([rule(ID="a" * 256, **_days(1))], InvalidArgument),
        ([rule(**_days(1)), rule(**_days(2))], InvalidArgument),  # the same ID twice
        ([rule(Status="enabled", **_days(1))], MalformedXML),
        ([rule(**_days(0))], InvalidArgument),
        ([rule(Expiration={"Date": "2020-01-01T12:00:00Z"})], InvalidArgument),
        ([rule(Expiration={"Date": "20200101"})], InvalidArgument),
        ([rule(Expiration={"Days": 1, "ExpiredObjectDeleteMarker": True})], MalformedXML),
        ([rule()], InvalidRequest),  # no action
        ([{"ID": "x", "Status": "Enabled", **_days(1)}], MalformedXML),  # no Filter/Prefix
        ([rule(Prefix="a", **_days(1))], MalformedXML),  # Filter and Prefix
        (
            [rule(Filter={"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}}, **_days(1))],
            MalformedXML,
        ),
        (
            [
                rule(
                    Filter={"Tag": {"Key": "k", "Value": "v"}},
                    Expiration={"ExpiredObjectDeleteMarker": True},
                )
            ],
            InvalidArgument,
        ),
        (
            [
                rule(
                    Filter={"Tag": {"Key": "k", "Value": "v"}},
                    AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1},
                )
            ],
            InvalidRequest,
        ),
        ([rule(NoncurrentVersionExpiration={"NoncurrentDays": 0})], InvalidArgument),
        (
            [
                rule(
                    NoncurrentVersionExpiration={
                        "NoncurrentDays": 1,
                        "NewerNoncurrentVersions": 101,
                    }
                )
            ],
            InvalidArgument,
        ),
        ([rule(Transitions=[{"Days": 30, "StorageClass": "GLACIER"}])], InvalidStorageClass),
        ([rule(Transitions=[{"Days": 30, "StorageClass": "TAPE"}])], MalformedXML),
        (
            [
                rule(
                    NoncurrentVersionTransitions=[
                        {"NoncurrentDays": 3, "StorageClass": "STANDARD_IA"}
                    ]
                )
            ],
            InvalidStorageClass,
        ),
        (
            [
                rule(
                    Filter={"And": {"ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 5}},
                    **_days(1),
                )
            ],
            InvalidArgument,
        ),
        ([], MalformedXML),
    ],
)
def test_invalid_configurations_get_s3s_error(
    store: Store, ctx: RequestContext, bucket: str, rules: list, error: type
) -> None:
    with pytest.raises(error) as err:
        store.put_bucket_lifecycle(ctx, bucket, rules)
    assert err.value.status == 400
    with pytest.raises(NoSuchLifecycleConfiguration):  # nothing was kept
        store.get_bucket_lifecycle(ctx, bucket)


def test_configuring_needs_permission(store: Store, make_bucket) -> None:
    b = make_bucket()
    store.create_user(OWNER, "alice")
    alice = RequestContext(store.user_identity("alice"), "cli")
    with pytest.raises(AccessDenied):
        store.put_bucket_lifecycle(alice, b, [rule(**_days(1))])
    with pytest.raises(AccessDenied):
        store.get_bucket_lifecycle(alice, b)
    with pytest.raises(AccessDenied):
        store.apply_lifecycle(alice, b)


def test_expiration_days_round_up_to_midnight_utc() -> None:
    (r,) = parse_rules([rule(**_days(2))])
    made = int(datetime(2026, 3, 1, 15, 30, tzinfo=UTC).timestamp()) * 10**9
    assert r.expiry_of(made) == int(datetime(2026, 3, 4, tzinfo=UTC).timestamp()) * 10**9
    assert next_midnight(made - made % DAY) == made - made % DAY  # midnight stays
    header = expiration_header((r.expiry_of(made), "r1"))  # type: ignore[arg-type]
    assert header == 'expiry-date="Wed, 04 Mar 2026 00:00:00 GMT", rule-id="r1"'


def test_lifecycle_expiration_announces_the_matching_rule(
    store: Store, ctx: RequestContext, bucket: str
) -> None:
    store.put_bucket_lifecycle(
        ctx,
        bucket,
        [
            rule(ID="logs", Filter={"Prefix": "logs/"}, **_days(7)),
            rule(ID="big", Filter={"ObjectSizeGreaterThan": 100}, **_days(1)),
            rule(ID="tagged", Filter={"Tag": {"Key": "tmp", "Value": "yes"}}, **_days(2)),
        ],
    )
    now = time.time_ns()
    assert store.lifecycle_expiration(ctx, bucket, "a", 10, {}, now) is None
    assert store.lifecycle_expiration(ctx, bucket, "logs/a", 10, {}, now)[1] == "logs"  # type: ignore[index]
    assert store.lifecycle_expiration(ctx, bucket, "logs/a", 500, {}, now)[1] == "big"  # type: ignore[index]
    assert store.lifecycle_expiration(ctx, bucket, "x", 1, {"tmp": "yes"}, now)[1] == "tagged"  # type: ignore[index]


def test_mfa_delete_bucket_refuses_lifecycle(store: Store, vbucket: str) -> None:
    with store.db.write(durable=True) as cur:
        cur.execute("UPDATE buckets SET mfa_delete = 1 WHERE name = ?", (vbucket,))
    with pytest.raises(InvalidBucketState):
        store.put_bucket_lifecycle(OWNER, vbucket, [rule(**_days(1))])


# -- execution -------------------------------------------------------------------------


def test_expiration_deletes_in_an_unversioned_bucket(
    store: Store, ctx: RequestContext, bucket: str
) -> None:
    for key in ("tmp/a", "tmp/b", "keep/c"):
        store.put_object(ctx, bucket, key, b"x")
    store.put_bucket_lifecycle(ctx, bucket, [rule(Filter={"Prefix": "tmp/"}, **_days(3))])
    assert store.apply_lifecycle(ctx, now_ns=later(1)).expired == 0  # not yet
    report = store.apply_lifecycle(ctx, now_ns=later(4))
    assert report.expired == 2
    assert [v.key for v in store.list_objects(ctx, bucket).contents] == ["keep/c"]
    assert store.apply_lifecycle(ctx, now_ns=later(4)).actions == []  # idempotent


def test_expiration_date_in_the_past_is_due_now(
    store: Store, ctx: RequestContext, bucket: str
) -> None:
    store.put_object(ctx, bucket, "old", b"x")
    store.put_bucket_lifecycle(ctx, bucket, [rule(Expiration={"Date": "2015-01-01"})])
    assert store.apply_lifecycle(ctx, bucket).expired == 1


def test_expiration_adds_a_delete_marker_in_a_versioned_bucket(
    store: Store, ctx: RequestContext, vbucket: str
) -> None:
    v1 = store.put_object(ctx, vbucket, "doc", b"one").version_id
    store.put_bucket_lifecycle(ctx, vbucket, [rule(**_days(1))])
    report = store.apply_lifecycle(ctx, now_ns=later(3))
    assert report.delete_markers_added == 1
    got = versions(store, vbucket, "doc")
    assert got[0][1] and got[1] == (v1, False)  # the data is kept, behind a marker
    # A second run: the marker is not alone (v1 is behind it): nothing more.
    assert store.apply_lifecycle(ctx, now_ns=later(3)).actions == []


def test_noncurrent_versions_expire_after_noncurrent_days_keeping_newer(
    store: Store, ctx: RequestContext, vbucket: str
) -> None:
    ids = [store.put_object(ctx, vbucket, "k", str(i).encode()).version_id for i in range(5)]
    store.put_object(ctx, vbucket, "other/k", b"x")
    store.put_object(ctx, vbucket, "other/k", b"y")
    store.put_bucket_lifecycle(
        ctx,
        vbucket,
        [
            rule(
                Filter={"Prefix": "k"},
                NoncurrentVersionExpiration={"NoncurrentDays": 2, "NewerNoncurrentVersions": 2},
            )
        ],
    )
    assert store.apply_lifecycle(ctx, now_ns=later(1)).noncurrent_expired == 0
    report = store.apply_lifecycle(ctx, now_ns=later(3))
    assert report.noncurrent_expired == 2  # 4 noncurrent, the 2 newest kept
    assert [v for v, _ in versions(store, vbucket, "k")] == ids[::-1][:3]
    assert len(versions(store, vbucket, "other/k")) == 2  # outside the filter


def test_expired_delete_marker_is_removed_once_alone(
    store: Store, ctx: RequestContext, vbucket: str
) -> None:
    store.put_object(ctx, vbucket, "gone", b"x")
    store.delete_object(ctx, vbucket, "gone")
    store.put_bucket_lifecycle(
        ctx,
        vbucket,
        [
            rule(ID="dm", Expiration={"ExpiredObjectDeleteMarker": True}),
            rule(ID="nc", NoncurrentVersionExpiration={"NoncurrentDays": 1}),
        ],
    )
    report = store.apply_lifecycle(ctx, now_ns=later(2))
    assert (report.noncurrent_expired, report.delete_markers_removed) == (1, 1)
    assert versions(store, vbucket, "gone") == []


def test_size_and_tag_filters(store: Store, ctx: RequestContext, bucket: str) -> None:
    store.put_object(ctx, bucket, "small", b"x" * 10)
    store.put_object(ctx, bucket, "big", b"x" * 3000)
    store.put_object(ctx, bucket, "tagged", b"x")
    store.put_object(ctx, bucket, "other-tag", b"x")
    set_row(store, bucket, "tagged", "null", tags=rec.pack_tags({"tmp": "yes", "a": "b"}))
    set_row(store, bucket, "other-tag", "null", tags=rec.pack_tags({"tmp": "no"}))
    store.put_bucket_lifecycle(
        ctx,
        bucket,
        [
            rule(ID="big", Filter={"ObjectSizeGreaterThan": 2000}, **_days(1)),
            rule(
                ID="tmp",
                Filter={"And": {"Prefix": "", "Tags": [{"Key": "tmp", "Value": "yes"}]}},
                **_days(1),
            ),
        ],
    )
    store.apply_lifecycle(ctx, now_ns=later(2))
    assert sorted(v.key for v in store.list_objects(ctx, bucket).contents) == ["other-tag", "small"]


def test_disabled_rules_do_nothing(store: Store, ctx: RequestContext, bucket: str) -> None:
    store.put_object(ctx, bucket, "a", b"x")
    store.put_bucket_lifecycle(ctx, bucket, [rule(Status="Disabled", **_days(1))])
    assert store.apply_lifecycle(ctx, now_ns=later(5)).actions == []


def test_incomplete_uploads_are_aborted(store: Store, ctx: RequestContext, bucket: str) -> None:
    old = store.create_multipart_upload(ctx, bucket, "up/a")
    store.create_multipart_upload(ctx, bucket, "keep/b")
    store.upload_part(ctx, bucket, "up/a", old, 1, b"x" * 100)
    store.put_bucket_lifecycle(
        ctx,
        bucket,
        [rule(Filter={"Prefix": "up/"}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 2})],
    )
    assert store.apply_lifecycle(ctx, now_ns=later(1)).uploads_aborted == 0
    assert store.apply_lifecycle(ctx, now_ns=later(3)).uploads_aborted == 1
    left = store.list_multipart_uploads(ctx, bucket)
    assert [u.key for u in left.uploads] == ["keep/b"]


def test_locked_versions_are_never_expired(store: Store, ctx: RequestContext, vbucket: str) -> None:
    ids = [store.put_object(ctx, vbucket, "k", str(i).encode()).version_id for i in range(3)]
    set_row(store, vbucket, "k", ids[0], legal_hold=1)
    set_row(store, vbucket, "k", ids[1], lock_mode="COMPLIANCE", lock_until=later(30))
    store.put_bucket_lifecycle(
        ctx, vbucket, [rule(NoncurrentVersionExpiration={"NoncurrentDays": 1})]
    )
    report = store.apply_lifecycle(ctx, now_ns=later(5))
    assert report.noncurrent_expired == 0 and report.kept_locked == 2
    assert len(versions(store, vbucket, "k")) == 3
    # A run dated after the retention date does not free the version: locks
    # are judged by the store's clock, never by the date a run is given.
    report = store.apply_lifecycle(ctx, now_ns=later(40))
    assert report.noncurrent_expired == 0 and report.kept_locked == 2
    # The retention date passes: that version may go now, the legal hold still keeps its own.
    store.clock = lambda: later(40) / 1e9  # type: ignore[method-assign]
    report = store.apply_lifecycle(ctx, now_ns=later(40))
    assert report.noncurrent_expired == 1 and report.kept_locked == 1
    assert [v for v, _ in versions(store, vbucket, "k")] == [ids[2], ids[0]]


def test_lifecycle_changes_are_in_the_access_log(store: Store, ctx: RequestContext) -> None:
    store.create_bucket(ctx, "src", versioning=True)
    store.create_bucket(ctx, "logs")
    store.put_bucket_logging(ctx, "src", "logs", "logs/")
    store.put_object(ctx, "src", "a", b"x")
    store.put_object(ctx, "src", "a", b"y")
    upload = store.create_multipart_upload(ctx, "src", "u")
    store.put_bucket_lifecycle(
        ctx,
        "src",
        [
            rule(
                **_days(1),
                NoncurrentVersionExpiration={"NoncurrentDays": 1},
                AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1},
            )
        ],
    )
    store.apply_lifecycle(ctx, "src", now_ns=later(3))
    store.flush_access_logs(ctx)
    quiet = ctx.with_options(log=False)
    records = []
    for v in store.list_objects(quiet, "logs").contents:
        with store.get_object(quiet, "logs", v.key) as reader:
            records += parse_lines(reader.read().decode())
    lifecycle = [
        (r.operation, r.key, r.requester) for r in records if r.operation.startswith("S3.")
    ]
    assert sorted(lifecycle) == [
        ("S3.CREATE.DELETEMARKER", "a", "AmazonS3"),
        ("S3.DELETE.UPLOAD", "u", "AmazonS3"),
        ("S3.EXPIRE.OBJECT", "a", "AmazonS3"),
    ]
    assert upload


def test_suspended_bucket_keeps_a_locked_null_version(
    store: Store, ctx: RequestContext, vbucket: str
) -> None:
    store.set_bucket_versioning(ctx, vbucket, "Suspended")
    store.put_object(ctx, vbucket, "n", b"null version")
    set_row(store, vbucket, "n", "null", legal_hold=1)
    store.put_bucket_lifecycle(ctx, vbucket, [rule(**_days(1))])
    report = store.apply_lifecycle(ctx, now_ns=later(3))
    assert (report.delete_markers_added, report.kept_locked) == (0, 1)
    assert versions(store, vbucket, "n") == [("null", False)]
    set_row(store, vbucket, "n", "null", legal_hold=0)  # released: the expiry happens
    assert store.apply_lifecycle(ctx, now_ns=later(3)).delete_markers_added == 1
    assert versions(store, vbucket, "n") == [("null", True)]  # S3: a null delete marker
