"""S3 Object Lock in the store (store/objectlock.py): configuration, retention,
legal hold, and the one rule that a locked version is never removed.

The store's ``clock`` is set by the tests (seconds), so retention expires
without waiting.
"""

from __future__ import annotations

import json
import time

import pytest

from objfs.errors import (
    AccessDenied,
    InvalidArgument,
    InvalidBucketState,
    InvalidRequest,
    InvalidRetentionPeriod,
    NoSuchObjectLockConfiguration,
    ObjectLockConfigurationNotFoundError,
    ObjectLocked,
)
from objfs.store import OWNER, ObjectLockConfig, ObjectLockState, RequestContext, Store, Versioning

T0 = 1_800_000_000.0
S = 10**9
DAY = 86400


@pytest.fixture
def clock(store: Store) -> list[float]:
    now = [T0]
    store.clock = lambda: now[0]
    return now


@pytest.fixture
def locked(store: Store, clock: list[float]) -> str:
    store.create_bucket(OWNER, "vault", object_lock=True)
    return "vault"


def ns(seconds_from_t0: float) -> int:
    return int((T0 + seconds_from_t0) * S)


def user(store: Store, name: str, *actions: str) -> RequestContext:
    store.create_user(OWNER, name)
    key = store.create_access_key(OWNER, name)
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    store.put_user_policy(
        OWNER, name, "p", json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    return RequestContext(store.authenticate(key.info.key_id, key.secret), "cli")


# -- the bucket's configuration ------------------------------------------------------------


def test_lock_bucket_is_versioned_for_good(store: Store, locked: str) -> None:
    assert store.head_bucket(OWNER, locked).versioning is Versioning.ENABLED
    with pytest.raises(InvalidBucketState):
        store.set_bucket_versioning(OWNER, locked, "Suspended")
    assert store.get_object_lock_configuration(OWNER, locked) == ObjectLockConfig()


def test_configuration_needs_versioning_enabled(store: Store, clock: list[float]) -> None:
    store.create_bucket(OWNER, "plain")
    with pytest.raises(ObjectLockConfigurationNotFoundError):
        store.get_object_lock_configuration(OWNER, "plain")
    with pytest.raises(InvalidBucketState):
        store.put_object_lock_configuration(OWNER, "plain", ObjectLockConfig("GOVERNANCE", 1))
    store.set_bucket_versioning(OWNER, "plain", "Enabled")
    store.put_object_lock_configuration(OWNER, "plain", ObjectLockConfig("GOVERNANCE", 1))
    assert store.get_object_lock_configuration(OWNER, "plain").days == 1
    with pytest.raises(InvalidBucketState):
        store.set_bucket_versioning(OWNER, "plain", "Suspended")


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (ObjectLockConfig("GOVERNANCE", 0), InvalidRetentionPeriod),
        (ObjectLockConfig("GOVERNANCE", None, -1), InvalidRetentionPeriod),
        (ObjectLockConfig("GOVERNANCE", 1, 1), InvalidArgument),
        (ObjectLockConfig("governance", 1), InvalidArgument),
        (ObjectLockConfig("COMPLIANCE"), InvalidArgument),
    ],
)
def test_bad_configuration_refused(store: Store, locked: str, config, error) -> None:
    with pytest.raises(error):
        store.put_object_lock_configuration(OWNER, locked, config)


def test_default_retention_applies_to_new_versions(store: Store, locked: str) -> None:
    store.put_object_lock_configuration(OWNER, locked, ObjectLockConfig("COMPLIANCE", 2))
    v = store.put_object(OWNER, locked, "a", b"x").version_id
    head = store.head_object(OWNER, locked, "a")
    assert head.lock == ObjectLockState("COMPLIANCE", ns(2 * DAY), False)
    # the request's own retention wins over the default
    until = ns(60)
    store.put_object(OWNER, locked, "b", b"y", lock=ObjectLockState("GOVERNANCE", until))
    assert store.head_object(OWNER, locked, "b").lock.until_ns == until
    with pytest.raises(ObjectLocked):
        store.delete_object(OWNER, locked, "a", version_id=v, bypass_governance=True)


def test_lock_headers_need_a_lock_bucket(store: Store, clock: list[float]) -> None:
    store.create_bucket(OWNER, "plain", versioning=True)
    with pytest.raises(InvalidRequest):
        store.put_object(OWNER, "plain", "a", b"x", lock=ObjectLockState(legal_hold=True))
    store.put_object(OWNER, "plain", "a", b"x")
    with pytest.raises(InvalidRequest):
        store.put_object_retention(OWNER, "plain", "a", "GOVERNANCE", ns(60))
    with pytest.raises(InvalidRequest):
        store.get_object_legal_hold(OWNER, "plain", "a")


def test_retain_until_in_the_past_refused(store: Store, locked: str) -> None:
    with pytest.raises(InvalidArgument):
        store.put_object(OWNER, locked, "a", b"x", lock=ObjectLockState("GOVERNANCE", ns(-1)))
    with pytest.raises(InvalidArgument):
        store.put_object(OWNER, locked, "a", b"x", lock=ObjectLockState("GOVERNANCE", None))


# -- retention -------------------------------------------------------------------------------


def test_governance_blocks_delete_until_bypass(store: Store, locked: str) -> None:
    v = store.put_object(OWNER, locked, "a", b"x").version_id
    with pytest.raises(NoSuchObjectLockConfiguration):
        store.get_object_retention(OWNER, locked, "a")
    store.put_object_retention(OWNER, locked, "a", "GOVERNANCE", ns(3600))
    assert store.get_object_retention(OWNER, locked, "a").until_ns == ns(3600)
    with pytest.raises(ObjectLocked) as err:
        store.delete_object(OWNER, locked, "a", version_id=v)
    assert err.value.code == "AccessDenied" and err.value.status == 403
    # a delete without a version id makes a delete marker, as in S3
    marker = store.delete_object(OWNER, locked, "a")
    assert marker.delete_marker
    store.delete_object(OWNER, locked, "a", version_id=marker.version_id)
    store.delete_object(OWNER, locked, "a", version_id=v, bypass_governance=True)
    assert store.list_object_versions(OWNER, locked).versions == []


def test_retention_expires(store: Store, locked: str, clock: list[float]) -> None:
    v = store.put_object(
        OWNER, locked, "a", b"x", lock=ObjectLockState("COMPLIANCE", ns(10))
    ).version_id
    with pytest.raises(ObjectLocked):
        store.delete_object(OWNER, locked, "a", version_id=v, bypass_governance=True)
    clock[0] = T0 + 11
    store.delete_object(OWNER, locked, "a", version_id=v)


def test_compliance_only_extends(store: Store, locked: str) -> None:
    store.put_object(OWNER, locked, "a", b"x", lock=ObjectLockState("COMPLIANCE", ns(100)))
    for mode, until in (("COMPLIANCE", ns(50)), ("GOVERNANCE", ns(200)), (None, None)):
        with pytest.raises(ObjectLocked):
            store.put_object_retention(OWNER, locked, "a", mode, until, bypass_governance=True)
    store.put_object_retention(OWNER, locked, "a", "COMPLIANCE", ns(200))
    assert store.get_object_retention(OWNER, locked, "a").until_ns == ns(200)


def test_governance_shorten_needs_bypass(store: Store, locked: str) -> None:
    store.put_object(OWNER, locked, "a", b"x", lock=ObjectLockState("GOVERNANCE", ns(100)))
    with pytest.raises(ObjectLocked):
        store.put_object_retention(OWNER, locked, "a", "GOVERNANCE", ns(50))
    with pytest.raises(ObjectLocked):
        store.put_object_retention(OWNER, locked, "a", "COMPLIANCE", ns(100))
    store.put_object_retention(OWNER, locked, "a", "GOVERNANCE", ns(150))  # extending: fine
    store.put_object_retention(OWNER, locked, "a", None, None, bypass_governance=True)
    with pytest.raises(NoSuchObjectLockConfiguration):
        store.get_object_retention(OWNER, locked, "a")


def test_bypass_needs_the_permission(store: Store, locked: str) -> None:
    bob = user(
        store,
        "bob",
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObjectVersion",
        "s3:PutObjectRetention",
    )
    store.put_bucket_policy(
        OWNER,
        locked,
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "*"},
                        "Action": [
                            "s3:PutObject",
                            "s3:DeleteObjectVersion",
                            "s3:PutObjectRetention",
                        ],
                        "Resource": f"arn:aws:s3:::{locked}/*",
                    }
                ],
            }
        ),
    )
    # The owner's object: bob may delete versions and set retention, not bypass.
    # (A user's own object is theirs to bypass on: the resource-owner rule.)
    v = store.put_object(
        OWNER, locked, "a", b"x", lock=ObjectLockState("GOVERNANCE", ns(100))
    ).version_id
    with pytest.raises(ObjectLocked):
        store.delete_object(bob, locked, "a", version_id=v, bypass_governance=True)
    with pytest.raises(AccessDenied):
        store.put_object_retention(bob, locked, "a", "GOVERNANCE", ns(10), bypass_governance=True)
    store.delete_object(OWNER, locked, "a", version_id=v, bypass_governance=True)


# -- legal hold ------------------------------------------------------------------------------


def test_legal_hold_blocks_everyone(store: Store, locked: str) -> None:
    v = store.put_object(OWNER, locked, "a", b"x", lock=ObjectLockState(legal_hold=True)).version_id
    assert store.get_object_legal_hold(OWNER, locked, "a") is True
    with pytest.raises(ObjectLocked):
        store.delete_object(OWNER, locked, "a", version_id=v, bypass_governance=True)
    results = store.delete_objects(OWNER, locked, [("a", v)], bypass_governance=True)
    assert isinstance(results[0], ObjectLocked)
    store.put_object_legal_hold(OWNER, locked, "a", False)
    assert store.get_object_legal_hold(OWNER, locked, "a") is False
    store.delete_object(OWNER, locked, "a", version_id=v)


def test_delete_objects_mixed(store: Store, locked: str) -> None:
    v1 = store.put_object(
        OWNER, locked, "a", b"x", lock=ObjectLockState("GOVERNANCE", ns(100))
    ).version_id
    v2 = store.put_object(OWNER, locked, "b", b"y").version_id
    results = store.delete_objects(OWNER, locked, [("a", v1), ("b", v2)])
    assert isinstance(results[0], ObjectLocked)
    assert not isinstance(results[1], Exception)
    results = store.delete_objects(OWNER, locked, [("a", v1)], bypass_governance=True)
    assert not isinstance(results[0], Exception)


# -- multipart and copy --------------------------------------------------------------------


def test_multipart_lock_applies_at_complete(store: Store, locked: str) -> None:
    upload = store.create_multipart_upload(
        OWNER, locked, "big", lock=ObjectLockState("GOVERNANCE", ns(100), True)
    )
    part = store.upload_part(OWNER, locked, "big", upload, 1, b"abc")
    result = store.complete_multipart_upload(OWNER, locked, "big", upload, [(1, part.etag)])
    head = store.head_object(OWNER, locked, "big")
    assert head.lock == ObjectLockState("GOVERNANCE", ns(100), True)
    with pytest.raises(ObjectLocked):
        store.delete_object(OWNER, locked, "big", version_id=result.version_id)


def test_copy_takes_the_requests_lock_not_the_sources(store: Store, locked: str) -> None:
    store.put_object(OWNER, locked, "a", b"x", lock=ObjectLockState("COMPLIANCE", ns(100)))
    store.copy_object(OWNER, locked, "a", locked, "b")
    assert not store.head_object(OWNER, locked, "b").lock
    store.copy_object(OWNER, locked, "a", locked, "c", lock=ObjectLockState(legal_hold=True))
    assert store.head_object(OWNER, locked, "c").lock.legal_hold


# -- maintenance never drops a locked version ------------------------------------------------


def test_gc_and_fsck_keep_locked_versions(store: Store, locked: str) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB: a chunk file, not inline
    v = store.put_object(
        OWNER, locked, "a", data, lock=ObjectLockState("COMPLIANCE", ns(100))
    ).version_id
    store.delete_object(OWNER, locked, "a")  # a delete marker on top
    store.gc(OWNER, grace_seconds=0)
    report = store.fsck(OWNER, repair=True)
    assert report.ok, report.problems
    with store.get_object(OWNER, locked, "a", version_id=v) as reader:
        assert reader.read() == data
    assert store.head_object(OWNER, locked, "a", version_id=v).lock.mode == "COMPLIANCE"


def test_policy_condition_on_retention(store: Store, locked: str) -> None:
    """A bucket policy can demand a minimum retention (s3:object-lock-remaining-retention-days)."""
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObjectRetention",
        "Resource": f"arn:aws:s3:::{locked}/*",
        "Condition": {"NumericLessThan": {"s3:object-lock-remaining-retention-days": "10"}},
    }
    store.put_bucket_policy(
        OWNER, locked, json.dumps({"Version": "2012-10-17", "Statement": [deny]})
    )
    store.put_object(OWNER, locked, "a", b"x")
    soon = time.time_ns() + 2 * DAY * S
    later = time.time_ns() + 30 * DAY * S
    store.clock = time.time
    with pytest.raises(AccessDenied):
        store.put_object_retention(OWNER, locked, "a", "GOVERNANCE", soon)
    store.put_object_retention(OWNER, locked, "a", "GOVERNANCE", later)


def test_locked_version_keeps_its_metadata_tags_stay_settable(store: Store, locked: str) -> None:
    store.put_object(
        OWNER, locked, "m", b"x", user_meta={"a": "1"}, lock=ObjectLockState(legal_hold=True)
    )
    with pytest.raises(ObjectLocked):
        store.update_user_meta(OWNER, locked, "m", {"a": "2"})
    assert store.head_object(OWNER, locked, "m").user_meta == {"a": "1"}
    store.put_object_tagging(OWNER, locked, "m", {"t": "1"})  # S3: tags are not locked
    store.put_object_legal_hold(OWNER, locked, "m", False)
    assert store.update_user_meta(OWNER, locked, "m", {"a": "2"}).user_meta == {"a": "2"}
