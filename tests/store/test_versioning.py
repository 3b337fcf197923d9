"""Versioning states, version ids, delete markers, null versions (S3-SEMANTICS.md "Versioning")."""

from __future__ import annotations

import pytest

from objfs.errors import (
    MethodNotAllowed,
    NoSuchKey,
    NoSuchVersion,
    ObjfsError,
)
from objfs.store import NULL_VERSION, Versioning

from .support import get_body


def versions_of(store, ctx, bucket, key):
    return [
        (v.version_id, v.is_delete_marker, v.is_latest)
        for v in store.key_versions(ctx, bucket, key)
    ]


def test_state_transitions(store, ctx, bucket):
    assert store.head_bucket(ctx, bucket).versioning == Versioning.UNVERSIONED
    store.set_bucket_versioning(ctx, bucket, Versioning.ENABLED)
    assert store.head_bucket(ctx, bucket).versioning == Versioning.ENABLED
    store.set_bucket_versioning(ctx, bucket, "Suspended")
    assert store.head_bucket(ctx, bucket).versioning == Versioning.SUSPENDED
    store.set_bucket_versioning(ctx, bucket, "Enabled")
    assert store.head_bucket(ctx, bucket).versioning == Versioning.ENABLED
    assert [b.versioning for b in store.list_buckets(ctx)] == [Versioning.ENABLED]


@pytest.mark.parametrize("via", ["Enabled", "Suspended"])
def test_cannot_return_to_unversioned(store, ctx, bucket, via):
    store.set_bucket_versioning(ctx, bucket, Versioning.ENABLED)
    store.set_bucket_versioning(ctx, bucket, via)
    for state in (Versioning.UNVERSIONED, "Unversioned"):
        with pytest.raises(ObjfsError) as exc:
            store.set_bucket_versioning(ctx, bucket, state)
        assert 400 <= exc.value.status < 500
        assert "\n" not in str(exc.value)
    assert store.head_bucket(ctx, bucket).versioning == via


def test_unknown_state_is_refused(store, ctx, bucket):
    with pytest.raises(ObjfsError) as exc:
        store.set_bucket_versioning(ctx, bucket, "Sometimes")
    assert exc.value.status == 400
    assert store.head_bucket(ctx, bucket).versioning == Versioning.UNVERSIONED


def test_enabled_put_makes_new_sortable_versions(store, ctx, vbucket):
    ids = [store.put_object(ctx, vbucket, "k", f"v{i}".encode()).version_id for i in range(20)]
    assert len(set(ids)) == 20 and NULL_VERSION not in ids
    assert ids == sorted(ids), "version ids must sort by creation order"
    assert get_body(store, ctx, vbucket, "k") == b"v19"
    listed = store.key_versions(ctx, vbucket, "k")
    assert [v.version_id for v in listed] == ids[::-1]
    for i, vid in enumerate(ids):
        assert get_body(store, ctx, vbucket, "k", version_id=vid) == f"v{i}".encode()
        head = store.head_object(ctx, vbucket, "k", version_id=vid)
        assert head.version_id == vid and head.is_latest == (i == 19)
    # ids are unique across keys too, and keep sorting
    other = store.put_object(ctx, vbucket, "other", b"x").version_id
    assert other > ids[-1]


def test_delete_adds_marker(store, ctx, vbucket):
    v1 = store.put_object(ctx, vbucket, "k", b"one").version_id
    res = store.delete_object(ctx, vbucket, "k")
    assert res.delete_marker and res.version_id not in (None, NULL_VERSION, v1)
    assert res.key == "k"
    with pytest.raises(NoSuchKey) as exc:
        store.get_object(ctx, vbucket, "k")
    assert exc.value.details.get("delete_marker") is True
    with pytest.raises(NoSuchKey) as exc:
        store.head_object(ctx, vbucket, "k")
    assert exc.value.details.get("delete_marker") is True
    assert versions_of(store, ctx, vbucket, "k") == [
        (res.version_id, True, True),
        (v1, False, False),
    ]
    assert get_body(store, ctx, vbucket, "k", version_id=v1) == b"one"
    assert store.list_objects(ctx, vbucket).contents == []
    marker = store.list_object_versions(ctx, vbucket).versions[0]
    assert marker.is_delete_marker and marker.is_latest and marker.size == 0


def test_missing_key_is_not_a_delete_marker(store, ctx, vbucket):
    with pytest.raises(NoSuchKey) as exc:
        store.get_object(ctx, vbucket, "never-written")
    assert not exc.value.details.get("delete_marker")


def test_get_marker_version_is_method_not_allowed(store, ctx, vbucket):
    store.put_object(ctx, vbucket, "k", b"one")
    marker = store.delete_object(ctx, vbucket, "k").version_id
    with pytest.raises(MethodNotAllowed) as exc:
        store.get_object(ctx, vbucket, "k", version_id=marker)
    assert exc.value.status == 405
    with pytest.raises(MethodNotAllowed):
        store.head_object(ctx, vbucket, "k", version_id=marker)


def test_unknown_version_id(store, ctx, vbucket):
    store.put_object(ctx, vbucket, "k", b"one")
    elsewhere = store.put_object(ctx, vbucket, "other", b"x").version_id
    with pytest.raises(NoSuchVersion) as exc:
        store.get_object(ctx, vbucket, "k", version_id=elsewhere)
    assert exc.value.status == 404
    with pytest.raises(NoSuchVersion):
        store.head_object(ctx, vbucket, "k", version_id=NULL_VERSION)


def test_delete_version_removes_it_for_good(store, ctx, vbucket):
    v1 = store.put_object(ctx, vbucket, "k", b"one").version_id
    v2 = store.put_object(ctx, vbucket, "k", b"two").version_id
    v3 = store.put_object(ctx, vbucket, "k", b"three").version_id
    res = store.delete_object(ctx, vbucket, "k", version_id=v2)
    assert res.version_id == v2 and not res.delete_marker
    assert versions_of(store, ctx, vbucket, "k") == [(v3, False, True), (v1, False, False)]
    with pytest.raises(NoSuchVersion):
        store.get_object(ctx, vbucket, "k", version_id=v2)
    # deleting the latest version promotes the previous one
    store.delete_object(ctx, vbucket, "k", version_id=v3)
    assert get_body(store, ctx, vbucket, "k") == b"one"
    assert versions_of(store, ctx, vbucket, "k") == [(v1, False, True)]
    store.delete_object(ctx, vbucket, "k", version_id=v1)
    assert store.key_versions(ctx, vbucket, "k") == []
    with pytest.raises(NoSuchKey) as exc:
        store.get_object(ctx, vbucket, "k")
    assert not exc.value.details.get("delete_marker")


def test_deleting_latest_marker_undeletes(store, ctx, vbucket):
    v1 = store.put_object(ctx, vbucket, "k", b"one").version_id
    m1 = store.delete_object(ctx, vbucket, "k").version_id
    m2 = store.delete_object(ctx, vbucket, "k").version_id  # a second marker on top
    assert versions_of(store, ctx, vbucket, "k") == [
        (m2, True, True),
        (m1, True, False),
        (v1, False, False),
    ]
    res = store.delete_object(ctx, vbucket, "k", version_id=m2)
    assert res.delete_marker and res.version_id == m2
    with pytest.raises(NoSuchKey):
        store.get_object(ctx, vbucket, "k")
    store.delete_object(ctx, vbucket, "k", version_id=m1)
    assert get_body(store, ctx, vbucket, "k") == b"one"
    assert [v.key for v in store.list_objects(ctx, vbucket).contents] == ["k"]


def test_delete_of_missing_key_in_versioned_bucket_adds_marker(store, ctx, vbucket):
    res = store.delete_object(ctx, vbucket, "ghost")
    assert res.delete_marker
    assert versions_of(store, ctx, vbucket, "ghost") == [(res.version_id, True, True)]


def test_unversioned_delete(store, ctx, bucket):
    store.put_object(ctx, bucket, "k", b"x")
    res = store.delete_object(ctx, bucket, "k")
    assert not res.delete_marker
    assert store.key_versions(ctx, bucket, "k") == []
    store.delete_object(ctx, bucket, "k")  # deleting what is not there is fine (204)
    assert store.list_object_versions(ctx, bucket).versions == []


def test_objects_from_before_enabling_keep_null(store, ctx, bucket):
    store.put_object(ctx, bucket, "k", b"old")
    assert store.head_object(ctx, bucket, "k").version_id == NULL_VERSION
    store.set_bucket_versioning(ctx, bucket, Versioning.ENABLED)
    assert store.head_object(ctx, bucket, "k").version_id == NULL_VERSION
    new = store.put_object(ctx, bucket, "k", b"new").version_id
    assert new != NULL_VERSION
    assert versions_of(store, ctx, bucket, "k") == [
        (new, False, True),
        (NULL_VERSION, False, False),
    ]
    assert get_body(store, ctx, bucket, "k", version_id=NULL_VERSION) == b"old"
    assert get_body(store, ctx, bucket, "k") == b"new"


def test_suspended_writes_replace_the_null_version(store, ctx, bucket):
    store.put_object(ctx, bucket, "k", b"null-1")
    store.set_bucket_versioning(ctx, bucket, Versioning.ENABLED)
    v1 = store.put_object(ctx, bucket, "k", b"v1").version_id
    store.set_bucket_versioning(ctx, bucket, Versioning.SUSPENDED)
    res = store.put_object(ctx, bucket, "k", b"null-2")
    assert res.version_id == NULL_VERSION
    # the old null version is gone, v1 stays, the new null is latest
    assert versions_of(store, ctx, bucket, "k") == [(NULL_VERSION, False, True), (v1, False, False)]
    assert get_body(store, ctx, bucket, "k", version_id=NULL_VERSION) == b"null-2"
    store.put_object(ctx, bucket, "k", b"null-3")
    assert versions_of(store, ctx, bucket, "k") == [(NULL_VERSION, False, True), (v1, False, False)]
    assert get_body(store, ctx, bucket, "k") == b"null-3"
    assert get_body(store, ctx, bucket, "k", version_id=v1) == b"v1"


def test_suspended_delete_makes_null_marker(store, ctx, bucket):
    store.set_bucket_versioning(ctx, bucket, Versioning.ENABLED)
    v1 = store.put_object(ctx, bucket, "k", b"v1").version_id
    store.set_bucket_versioning(ctx, bucket, Versioning.SUSPENDED)
    store.put_object(ctx, bucket, "k", b"null")
    res = store.delete_object(ctx, bucket, "k")
    assert res.delete_marker and res.version_id == NULL_VERSION
    # the null marker replaced the null version; v1 is untouched
    assert versions_of(store, ctx, bucket, "k") == [(NULL_VERSION, True, True), (v1, False, False)]
    with pytest.raises(NoSuchKey) as exc:
        store.get_object(ctx, bucket, "k")
    assert exc.value.details.get("delete_marker") is True
    # re-enabling: new versions stack above the null marker
    store.set_bucket_versioning(ctx, bucket, Versioning.ENABLED)
    v2 = store.put_object(ctx, bucket, "k", b"v2").version_id
    assert versions_of(store, ctx, bucket, "k") == [
        (v2, False, True),
        (NULL_VERSION, True, False),
        (v1, False, False),
    ]


def test_suspended_put_keeps_enabled_versions_of_other_keys(store, ctx, vbucket):
    a1 = store.put_object(ctx, vbucket, "a", b"a1").version_id
    b1 = store.put_object(ctx, vbucket, "b", b"b1").version_id
    store.set_bucket_versioning(ctx, vbucket, Versioning.SUSPENDED)
    store.put_object(ctx, vbucket, "a", b"a-null")
    assert versions_of(store, ctx, vbucket, "b") == [(b1, False, True)]
    assert versions_of(store, ctx, vbucket, "a") == [
        (NULL_VERSION, False, True),
        (a1, False, False),
    ]


def test_delete_objects_batch(store, ctx, vbucket):
    v1 = store.put_object(ctx, vbucket, "a", b"1").version_id
    store.put_object(ctx, vbucket, "b", b"2")
    results = store.delete_objects(ctx, vbucket, [("a", v1), ("b", None), ("c\ud800", None)])
    assert len(results) == 3
    assert results[0].version_id == v1 and not results[0].delete_marker
    assert results[1].delete_marker
    assert isinstance(results[2], ObjfsError)  # one bad item does not fail the batch
    assert store.key_versions(ctx, vbucket, "a") == []
    assert store.list_objects(ctx, vbucket).contents == []


def test_versioned_copy_and_multipart_make_versions(store, ctx, vbucket):
    v1 = store.put_object(ctx, vbucket, "src", b"data").version_id
    c = store.copy_object(
        ctx, vbucket, "src", vbucket, "src", metadata_directive="REPLACE", user_meta={"m": "1"}
    ).version_id
    uid = store.create_multipart_upload(ctx, vbucket, "src")
    part = store.upload_part(ctx, vbucket, "src", uid, 1, b"mp")
    m = store.complete_multipart_upload(ctx, vbucket, "src", uid, [(1, part.etag)]).version_id
    assert [v[0] for v in versions_of(store, ctx, vbucket, "src")] == [m, c, v1]
    assert v1 < c < m


def test_deleting_a_version_already_gone_succeeds_and_changes_nothing(store, ctx, vbucket):
    """S3 answers a delete of a version that no longer exists (two clients
    deleting the same versions) with success; a malformed id is still refused."""
    v1 = store.put_object(ctx, vbucket, "k", b"one").version_id
    v2 = store.put_object(ctx, vbucket, "k", b"two").version_id
    store.delete_object(ctx, vbucket, "k", version_id=v1)
    seq = store.change_seq(ctx)
    again = store.delete_object(ctx, vbucket, "k", version_id=v1)
    assert (again.key, again.version_id, again.delete_marker) == ("k", v1, False)
    [res] = store.delete_objects(ctx, vbucket, [("k", v1)])
    assert not isinstance(res, Exception) and res.version_id == v1
    assert store.change_seq(ctx) == seq
    assert versions_of(store, ctx, vbucket, "k") == [(v2, False, True)]
    with pytest.raises(NoSuchVersion):
        store.delete_object(ctx, vbucket, "k", version_id="not-a-version-id")
