"""ListObjectsV2 and ListObjectVersions against a reference model (S3-SEMANTICS.md "Keys and listing").

The reference functions below are S3's documented rules written as plainly
as possible; the store's pages, concatenated, must equal them.
"""

from __future__ import annotations

import random

import pytest

from objfs.errors import InvalidArgument, ObjfsError
from objfs.store import OWNER

FAST = OWNER.with_options(durable=False)


def b(key: str) -> bytes:
    return key.encode("utf-8")


def ref_list(keys, prefix="", delimiter=None, start_after=None):
    """Expected ListObjectsV2 entries: ("k", key) or ("p", common prefix), in order."""
    out: list[tuple[str, str]] = []
    for key in sorted(set(keys), key=b):
        if not key.startswith(prefix):
            continue
        if start_after is not None and b(key) <= b(start_after):
            continue
        if delimiter:
            at = key.find(delimiter, len(prefix))
            if at >= 0:
                common = key[: at + len(delimiter)]
                if out and out[-1] == ("p", common):
                    continue
                if common == start_after:
                    continue  # a marker that is a common prefix stands for all under it
                out.append(("p", common))
                continue
        out.append(("k", key))
    return out


def list_pages(store, bucket, max_keys, **kw):
    """All pages of list_objects; returns (entries in order, pages)."""
    entries: list[tuple[str, str]] = []
    pages = []
    token = None
    while True:
        page = store.list_objects(FAST, bucket, max_keys=max_keys, continuation_token=token, **kw)
        pages.append(page)
        assert page.key_count == len(page.contents) + len(page.common_prefixes)
        assert page.key_count <= max_keys
        merged = [("k", v.key) for v in page.contents] + [("p", p) for p in page.common_prefixes]
        merged.sort(key=lambda e: b(e[1]))
        assert [v.key for v in page.contents] == sorted((v.key for v in page.contents), key=b)
        assert page.common_prefixes == sorted(page.common_prefixes, key=b)
        if entries and merged:
            assert b(merged[0][1]) > b(entries[-1][1]), "pages overlap or go backwards"
        entries.extend(merged)
        if not page.is_truncated:
            assert page.next_continuation_token is None
            break
        assert page.next_continuation_token
        assert page.key_count > 0, "a truncated page must carry something"
        token = page.next_continuation_token
        assert len(pages) < 10_000
    return entries, pages


def random_keys(rng: random.Random, n: int) -> list[str]:
    alphabet = ["a", "b", "/", "-", "0", "\u00e9", "//", "z"]
    keys = set()
    while len(keys) < n:
        keys.add("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))))
    return sorted(keys)


@pytest.fixture
def listing_keys(store, bucket):
    keys = random_keys(random.Random(1234), 160)
    for key in keys:
        store.put_object(FAST, bucket, key, b"")
    return keys


def test_list_matches_reference_for_every_paging(store, bucket, listing_keys):
    keys = listing_keys
    prefixes = ["", "a", "a/", "/", "\u00e9", "b-", "zz-no-match"]
    delimiters = [None, "/", "-", "//", "a/", "\u00e9"]
    starts = [None, "a", "a/", "b/zzz", "\u00e9", keys[len(keys) // 2]]
    rng = random.Random(99)
    checked = 0
    for prefix in prefixes:
        for delimiter in delimiters:
            for start_after in starts:
                expected = ref_list(keys, prefix, delimiter, start_after)
                for max_keys in (rng.choice([1, 2, 3]), rng.choice([5, 17]), 1000):
                    got, pages = list_pages(
                        store,
                        bucket,
                        max_keys,
                        prefix=prefix,
                        delimiter=delimiter,
                        start_after=start_after,
                    )
                    ctx_msg = (prefix, delimiter, start_after, max_keys)
                    assert got == expected, ctx_msg
                    prefixes_seen = [e[1] for e in got if e[0] == "p"]
                    assert len(prefixes_seen) == len(set(prefixes_seen)), ctx_msg
                    if expected:
                        assert all(p.key_count > 0 for p in pages), ctx_msg
                    checked += 1
    assert checked == len(prefixes) * len(delimiters) * len(starts) * 3


def test_iter_objects_matches_reference(store, bucket, listing_keys):
    for prefix, delimiter, start_after in [
        ("", None, None),
        ("", "/", None),
        ("a", "/", "a-"),
        ("", "//", "b"),
    ]:
        got = []
        for item in store.iter_objects(
            FAST, bucket, prefix=prefix, delimiter=delimiter, start_after=start_after
        ):
            got.append(("p", item) if isinstance(item, str) else ("k", item.key))
        assert got == ref_list(listing_keys, prefix, delimiter, start_after)


def test_list_directory_matches_iter_objects(store, bucket, listing_keys):
    """The mount's one-shot listing: the same entries as ``iter_objects``, in one call."""
    for prefix in ["", "a", "a/", "/", "\u00e9", "b-", "zz-no-match"]:
        for delimiter in ["/", "-", "//"]:
            got = store.list_directory(FAST, bucket, prefix, delimiter=delimiter)
            items = [("p", e) if isinstance(e, str) else ("k", e.key) for e in got.entries]
            assert items == ref_list(listing_keys, prefix, delimiter), (prefix, delimiter)
            assert got.subdirs == sum(1 for kind, _ in items if kind == "p")
            if got.subdirs == len(items):
                assert got.newest_ns is None


def test_dir_stats_agrees_with_list_directory(store, ctx, bucket, listing_keys):
    """Sub-directories and the newest direct child (the marker not counted), two ways."""
    store.put_object(ctx, bucket, "a/", b"")  # a directory marker: newer than all, not counted
    for prefix in ["", "a/", "/", "b/", "a//", "zz-no-match/"]:
        listed = store.list_directory(ctx, bucket, prefix)
        stats = store.dir_stats(ctx, bucket, prefix)
        assert (stats.subdirs, stats.newest_ns) == (listed.subdirs, listed.newest_ns), prefix
        children = [e for e in listed.entries if not isinstance(e, str) and e.key != prefix]
        want = max((e.last_modified_ns for e in children), default=None)
        assert stats.newest_ns == want, prefix


def test_list_directory_entries_carry_the_latest_version(store, ctx, vbucket):
    from objfs.store import SystemMeta

    meta = SystemMeta(mode=0o100640, uid=7, gid=8, mtime_ns=5)
    store.put_object(ctx, vbucket, "d/k", b"old")
    store.put_object(
        ctx, vbucket, "d/k", b"hello", content_type="text/plain", sys_meta=meta,
        user_meta={"a": "b"},
    )  # fmt: skip
    store.put_object(ctx, vbucket, "d/gone", b"1")
    store.delete_object(ctx, vbucket, "d/gone")
    store.put_object(ctx, vbucket, "d/", b"")  # the directory marker is listed, like S3
    store.put_object(ctx, vbucket, "d/sub/x", b"1")
    store.delete_object(ctx, vbucket, "d/sub/x")  # a prefix of deleted keys only: not listed
    got = store.list_directory(ctx, vbucket, "d/")
    assert [e if isinstance(e, str) else e.key for e in got.entries] == ["d/", "d/k"]
    listed = got.entries[1]
    head = store.head_object(ctx, vbucket, "d/k")
    assert listed.version() == head
    assert listed.user_meta == {"a": "b"} and listed.sys_meta == meta
    assert got.subdirs == 0
    assert got.newest_ns == listed.last_modified_ns  # the marker "d/" is not a child


def test_list_directory_needs_a_delimiter(store, ctx, bucket):
    with pytest.raises(InvalidArgument):
        store.list_directory(ctx, bucket, "", delimiter="")


def test_list_contents_are_latest_versions_with_metadata(store, ctx, bucket):
    store.put_object(ctx, bucket, "k1", b"hello", content_type="text/plain")
    store.put_object(ctx, bucket, "k2", b"")
    res = store.list_objects(ctx, bucket)
    assert [v.key for v in res.contents] == ["k1", "k2"]
    first = res.contents[0]
    assert first.size == 5 and first.etag == "5d41402abc4b2a76b9719d911017c592"
    assert first.is_latest and not first.is_delete_marker and first.bucket == bucket
    assert not res.is_truncated and res.next_continuation_token is None
    assert res.key_count == 2


def test_list_hides_deleted_keys_in_versioned_bucket(store, ctx, vbucket):
    store.put_object(ctx, vbucket, "keep", b"1")
    store.put_object(ctx, vbucket, "gone", b"1")
    store.put_object(ctx, vbucket, "dir/gone", b"1")
    store.delete_object(ctx, vbucket, "gone")
    store.delete_object(ctx, vbucket, "dir/gone")
    res = store.list_objects(ctx, vbucket, delimiter="/")
    assert [v.key for v in res.contents] == ["keep"]
    assert res.common_prefixes == []  # a prefix of only deleted keys is not listed


def test_common_prefix_page_boundaries(store, ctx, bucket):
    # a-b < a/... < a0 in byte order: a common prefix sits between two keys.
    keys = ["a-b"] + [f"a/{i:03d}" for i in range(50)] + ["a0", "b/1", "b/2", "c"]
    for key in keys:
        store.put_object(FAST, bucket, key, b"")
    got, pages = list_pages(store, bucket, 1, delimiter="/")
    assert got == [("k", "a-b"), ("p", "a/"), ("k", "a0"), ("p", "b/"), ("k", "c")]
    assert len(pages) == 5
    assert [p.is_truncated for p in pages] == [True, True, True, True, False]


def test_max_keys_zero(store, ctx, bucket):
    store.put_object(ctx, bucket, "k", b"")
    res = store.list_objects(ctx, bucket, max_keys=0)
    assert res.contents == [] and res.common_prefixes == [] and res.key_count == 0


def test_negative_max_keys_is_invalid(store, ctx, bucket):
    with pytest.raises(InvalidArgument):
        store.list_objects(ctx, bucket, max_keys=-1)


def test_max_keys_is_capped_at_1000(store, bucket):
    keys = [f"k{i:05d}" for i in range(1100)]
    for key in keys:
        store.put_object(FAST, bucket, key, b"")
    res = store.list_objects(FAST, bucket, max_keys=5000)
    assert len(res.contents) == 1000 and res.key_count == 1000 and res.is_truncated
    default = store.list_objects(FAST, bucket)
    assert [v.key for v in default.contents] == keys[:1000] and default.is_truncated
    rest = store.list_objects(
        FAST, bucket, max_keys=5000, continuation_token=default.next_continuation_token
    )
    assert [v.key for v in rest.contents] == keys[1000:] and not rest.is_truncated
    assert len(list(store.iter_objects(FAST, bucket))) == 1100


def test_bad_continuation_token_is_a_clean_error(store, ctx, bucket):
    store.put_object(ctx, bucket, "k", b"")
    with pytest.raises(ObjfsError) as exc:
        store.list_objects(ctx, bucket, continuation_token="not a token \u00e9!")
    assert exc.value.status == 400


def test_list_sees_keys_added_between_pages(store, ctx, bucket):
    for key in ["a", "c", "e"]:
        store.put_object(ctx, bucket, key, b"")
    page = store.list_objects(ctx, bucket, max_keys=2)
    assert [v.key for v in page.contents] == ["a", "c"]
    store.put_object(ctx, bucket, "b", b"")  # behind the cursor: not seen
    store.put_object(ctx, bucket, "d", b"")  # ahead of the cursor: seen
    rest = store.list_objects(ctx, bucket, continuation_token=page.next_continuation_token)
    assert [v.key for v in rest.contents] == ["d", "e"]


# --- ListObjectVersions -------------------------------------------------------


def ref_versions(model, prefix="", delimiter=None, key_marker=None, version_id_marker=None):
    """Expected version entries ("v", key, vid, is_latest, is_marker) / ("p", prefix).

    ``model``: key -> list of (version_id, is_marker), newest first.
    """
    out: list[tuple] = []
    for key in sorted(model, key=b):
        if not key.startswith(prefix) or not model[key]:
            continue
        if key_marker is not None:
            if b(key) < b(key_marker):
                continue
            if key == key_marker and version_id_marker is None:
                continue
        if delimiter:
            at = key.find(delimiter, len(prefix))
            if at >= 0:
                common = key[: at + len(delimiter)]
                if not (out and out[-1] == ("p", common)):
                    out.append(("p", common))
                continue
        versions = model[key]
        start = 0
        if key == key_marker and version_id_marker is not None:
            ids = [vid for vid, _ in versions]
            start = ids.index(version_id_marker) + 1
        for i, (vid, marker) in enumerate(versions):
            if i >= start:
                out.append(("v", key, vid, i == 0, marker))
    return out


def version_pages(store, bucket, max_keys, **kw):
    entries: list[tuple] = []
    key_marker = version_id_marker = None
    pages = 0
    while True:
        page = store.list_object_versions(
            FAST,
            bucket,
            max_keys=max_keys,
            key_marker=key_marker,
            version_id_marker=version_id_marker,
            **kw,
        )
        pages += 1
        assert len(page.versions) + len(page.common_prefixes) <= max_keys
        page_keys = [v.key for v in page.versions]
        assert page_keys == sorted(page_keys, key=b)
        merged = [
            ("v", v.key, v.version_id, v.is_latest, v.is_delete_marker) for v in page.versions
        ]
        merged += [("p", p) for p in page.common_prefixes]
        # keys ascending; versions of one key keep their (newest first) order
        merged.sort(key=lambda e: b(e[1]))
        entries.extend(merged)
        if not page.is_truncated:
            break
        assert page.next_key_marker is not None
        key_marker, version_id_marker = page.next_key_marker, page.next_version_id_marker
        assert pages < 10_000
    return entries


@pytest.fixture
def version_model(store, vbucket):
    rng = random.Random(7)
    model: dict[str, list[tuple[str, bool]]] = {}
    for key in random_keys(rng, 40):
        history: list[tuple[str, bool]] = []
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.25:
                res = store.delete_object(FAST, vbucket, key)
                assert res.delete_marker
                history.insert(0, (res.version_id, True))
            else:
                res = store.put_object(FAST, vbucket, key, rng.randbytes(rng.randint(0, 20)))
                history.insert(0, (res.version_id, False))
        model[key] = history
    return model


def test_versions_match_reference_for_every_paging(store, vbucket, version_model):
    for prefix in ["", "a", "a/"]:
        for delimiter in [None, "/", "-"]:
            expected = ref_versions(version_model, prefix, delimiter)
            for max_keys in (1, 2, 3, 7, 1000):
                got = version_pages(store, vbucket, max_keys, prefix=prefix, delimiter=delimiter)
                assert got == expected, (prefix, delimiter, max_keys)


def test_versions_newest_first_with_is_latest(store, ctx, vbucket, version_model):
    for key, history in version_model.items():
        listed = store.key_versions(ctx, vbucket, key)
        assert [(v.version_id, v.is_delete_marker) for v in listed] == history
        assert [v.is_latest for v in listed] == [True] + [False] * (len(history) - 1)
        seqs = [v.seq for v in listed]
        assert seqs == sorted(seqs, reverse=True)


def test_version_markers(store, vbucket, version_model):
    keys = sorted(version_model, key=b)
    multi = next(k for k in keys if len(version_model[k]) >= 2)
    # key-marker alone: start after every version of that key
    got = store.list_object_versions(FAST, vbucket, key_marker=multi).versions
    exp = ref_versions(version_model, key_marker=multi)
    assert [("v", v.key, v.version_id, v.is_latest, v.is_delete_marker) for v in got] == exp
    assert all(v.key != multi for v in got)
    # key-marker + version-id-marker: start after that version of that key
    first_vid = version_model[multi][0][0]
    got = store.list_object_versions(
        FAST, vbucket, key_marker=multi, version_id_marker=first_vid
    ).versions
    exp = ref_versions(version_model, key_marker=multi, version_id_marker=first_vid)
    assert [("v", v.key, v.version_id, v.is_latest, v.is_delete_marker) for v in got] == exp
    assert got[0].key == multi and got[0].version_id == version_model[multi][1][0]


def test_unversioned_bucket_lists_null_versions(store, ctx, bucket):
    store.put_object(ctx, bucket, "k", b"1")
    store.put_object(ctx, bucket, "k", b"22")
    res = store.list_object_versions(ctx, bucket)
    assert [(v.key, v.version_id, v.is_latest, v.size) for v in res.versions] == [
        ("k", "null", True, 2)
    ]
    assert not res.is_truncated


def test_continuation_token_wins_over_start_after(store, ctx, bucket):
    for key in ["a", "b", "c", "d", "e"]:
        store.put_object(ctx, bucket, key, b"")
    page = store.list_objects(ctx, bucket, max_keys=2, start_after="a")
    assert [v.key for v in page.contents] == ["b", "c"]
    # S3 ignores start-after once a continuation token is given
    rest = store.list_objects(
        ctx, bucket, start_after="a", continuation_token=page.next_continuation_token
    )
    assert [v.key for v in rest.contents] == ["d", "e"]


def test_version_key_marker_need_not_exist(store, vbucket, version_model):
    for marker in ["a/zzz-not-a-key", "", "\uffff", "0"]:
        got = store.list_object_versions(FAST, vbucket, key_marker=marker or None).versions
        exp = ref_versions(version_model, key_marker=marker or None)
        assert [("v", v.key, v.version_id, v.is_latest, v.is_delete_marker) for v in got] == exp[
            :1000
        ], marker


def test_version_id_marker_of_a_deleted_version(store, ctx, bucket):
    """Paging on after the marker's version was deleted (a bucket emptied page by
    page): the key's older versions follow, nothing is lost; a marker that is
    no version id at all is S3's InvalidArgument."""
    store.put_object(ctx, bucket, "k", b"old null")
    store.set_bucket_versioning(ctx, bucket, "Enabled")
    v1 = store.put_object(ctx, bucket, "k", b"1").version_id
    v2 = store.put_object(ctx, bucket, "k", b"2").version_id
    v3 = store.put_object(ctx, bucket, "k", b"3").version_id
    last = store.put_object(ctx, bucket, "l", b"").version_id

    def after(vid):
        page = store.list_object_versions(ctx, bucket, key_marker="k", version_id_marker=vid)
        return [(v.key, v.version_id) for v in page.versions]

    assert after(v2) == [("k", v1), ("k", "null"), ("l", last)]
    store.delete_object(ctx, bucket, "k", version_id=v2)
    assert after(v2) == [("k", v1), ("k", "null"), ("l", last)]
    store.delete_object(ctx, bucket, "k", version_id=v1)
    assert after(v1) == [("k", "null"), ("l", last)]
    store.delete_object(ctx, bucket, "k", version_id="null")
    # A deleted null version leaves no position: the key's versions come again.
    assert after("null") == [("k", v3), ("l", last)]
    for bad in ("not-a-version", "x" * 26):
        with pytest.raises(InvalidArgument):
            after(bad)
