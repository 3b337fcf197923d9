"""PUT / GET / HEAD / copy / conditional requests (S3-SEMANTICS.md "Objects and multipart").

Ranges are ``(first, last)`` inclusive, as HTTP's ``bytes=first-last``.
"""

from __future__ import annotations

import hashlib
import io

import pytest

from objfs.errors import (
    InvalidRange,
    InvalidRequest,
    NoSuchKey,
    NotModified,
    PreconditionFailed,
)
from objfs.store import OWNER, SystemMeta

from .support import (
    EMPTY_MD5,
    MiB,
    chunk_files,
    get_body,
    get_digest,
    md5,
    pattern_md5,
    pattern_stream,
    rand_bytes,
)


def test_put_get_head_bytes(store, ctx, bucket):
    body = b"hello, objfs"
    res = store.put_object(ctx, bucket, "greeting.txt", body)
    assert res.etag == md5(body) and res.size == len(body) and res.version_id == "null"
    with store.get_object(ctx, bucket, "greeting.txt") as reader:
        assert reader.info.size == len(body) and reader.info.etag == md5(body)
        assert reader.start == 0 and reader.length == len(body)
        assert reader.read() == body
    head = store.head_object(ctx, bucket, "greeting.txt")
    assert (head.key, head.size, head.etag, head.is_latest) == ("greeting.txt", 12, md5(body), True)
    assert head.last_modified_ns > 0


def test_put_from_file_object_and_overwrite(store, ctx, bucket):
    store.put_object(ctx, bucket, "k", io.BytesIO(b"first version"))
    store.put_object(ctx, bucket, "k", io.BytesIO(b"second"))
    assert get_body(store, ctx, bucket, "k") == b"second"
    assert store.head_object(ctx, bucket, "k").size == 6


def test_missing_key(store, ctx, bucket):
    with pytest.raises(NoSuchKey) as exc:
        store.get_object(ctx, bucket, "missing")
    assert exc.value.status == 404 and exc.value.code == "NoSuchKey"
    with pytest.raises(NoSuchKey):
        store.head_object(ctx, bucket, "missing")


def test_zero_byte_object(store, ctx, bucket):
    res = store.put_object(ctx, bucket, "empty", b"")
    assert res.etag == EMPTY_MD5 and res.size == 0
    assert get_body(store, ctx, bucket, "empty") == b""
    assert store.head_object(ctx, bucket, "empty").size == 0
    assert store.read_range(ctx, bucket, "empty", 0, 10) == b""
    with store.get_object(ctx, bucket, "empty") as reader:
        assert list(reader) in ([], [b""])
    store.put_object(ctx, bucket, "empty-stream", io.BytesIO(b""))
    assert store.head_object(ctx, bucket, "empty-stream").etag == EMPTY_MD5


@pytest.mark.parametrize("size", [1, MiB - 1, MiB, MiB + 1, 3 * MiB + 12345])
def test_sizes_around_chunk_boundaries(store, ctx, bucket, size):
    body = rand_bytes(size, size)
    res = store.put_object(ctx, bucket, "obj", body)
    assert res.etag == md5(body) and res.size == size
    assert get_body(store, ctx, bucket, "obj") == body
    with store.get_object(ctx, bucket, "obj") as reader:
        pieces = list(reader)
    assert b"".join(pieces) == body
    assert all(0 < len(p) <= store.chunk_size for p in pieces)


def test_put_streams_64_mib_from_generator(store, ctx, bucket):
    size = 64 * MiB + 777
    res = store.put_object(ctx, bucket, "big", pattern_stream(size, seed=5))
    expected = pattern_md5(size, seed=5)
    assert res.etag == expected and res.size == size
    assert get_digest(store, ctx, bucket, "big") == (expected, size)
    assert store.head_object(ctx, bucket, "big").size == size


def test_byte_ranges(store, ctx, bucket):
    body = rand_bytes(2 * MiB + 100, 1)
    store.put_object(ctx, bucket, "r", body)
    n = len(body)
    cases = [
        (0, 0),  # first byte
        (n - 1, n - 1),  # last byte
        (MiB - 1, MiB),  # across a chunk boundary
        (12345, 2 * MiB + 7),  # middle, several chunks
        (0, n - 1),  # everything
        (n - 10, n + 5000),  # end beyond the object is clamped (as S3)
    ]
    for first, last in cases:
        expected = body[first : last + 1]
        with store.get_object(ctx, bucket, "r", range=(first, last)) as reader:
            assert reader.start == first and reader.length == len(expected)
            assert reader.read() == expected, (first, last)
        assert store.read_range(ctx, bucket, "r", first, len(expected)) == expected


def test_read_partial_pieces(store, ctx, bucket):
    body = rand_bytes(MiB + 999, 2)
    store.put_object(ctx, bucket, "r", body)
    with store.get_object(ctx, bucket, "r", range=(10, MiB + 500)) as reader:
        got = b""
        while piece := reader.read(4097):
            got += piece
    assert got == body[10 : MiB + 501]


@pytest.mark.parametrize("first_last", [(100, 100), (100, 200), (5000, 6000)])
def test_range_beyond_size_is_invalid_range(store, ctx, bucket, first_last):
    store.put_object(ctx, bucket, "r", rand_bytes(100, 3))
    with pytest.raises(InvalidRange) as exc:
        store.get_object(ctx, bucket, "r", range=first_last)
    assert exc.value.status == 416


def test_content_type_user_and_system_metadata(store, ctx, bucket):
    sys_meta = SystemMeta(mode=0o100640, uid=1000, gid=100, mtime_ns=1_700_000_000_123_456_789)
    store.put_object(
        ctx,
        bucket,
        "doc.json",
        b"{}",
        content_type="application/json",
        user_meta={"colour": "blue", "x": ""},
        sys_meta=sys_meta,
    )
    head = store.head_object(ctx, bucket, "doc.json")
    assert head.content_type == "application/json"
    assert head.user_meta == {"colour": "blue", "x": ""}
    assert head.sys_meta == sys_meta
    with store.get_object(ctx, bucket, "doc.json") as reader:
        assert reader.info.user_meta == {"colour": "blue", "x": ""}
        assert reader.info.sys_meta == sys_meta
    listed = store.list_objects(ctx, bucket).contents[0]
    assert listed.sys_meta == sys_meta and listed.size == 2


def test_defaults_without_metadata(store, ctx, bucket):
    store.put_object(ctx, bucket, "plain", b"x")
    head = store.head_object(ctx, bucket, "plain")
    assert head.content_type == "binary/octet-stream"
    assert head.user_meta == {}
    assert head.sys_meta == SystemMeta()


def test_symlink_sys_meta_round_trips(store, ctx, bucket):
    meta = SystemMeta(mode=0o120777, symlink="../target/\u00e9")
    store.put_object(ctx, bucket, "link", b"", sys_meta=meta)
    assert store.head_object(ctx, bucket, "link").sys_meta.symlink == "../target/\u00e9"


# --- copy ---------------------------------------------------------------------


def test_copy_keeps_metadata_by_default(store, ctx, bucket):
    meta = SystemMeta(mode=0o100600, uid=1, gid=2, mtime_ns=3)
    body = rand_bytes(3 * MiB, 4)
    store.put_object(
        ctx, bucket, "src", body, content_type="text/x-src", user_meta={"a": "1"}, sys_meta=meta
    )
    res = store.copy_object(ctx, bucket, "src", bucket, "dst")
    assert res.etag == md5(body) and res.size == len(body)
    head = store.head_object(ctx, bucket, "dst")
    assert head.content_type == "text/x-src" and head.user_meta == {"a": "1"}
    assert head.sys_meta == meta
    assert get_body(store, ctx, bucket, "dst") == body
    assert get_body(store, ctx, bucket, "src") == body


def test_copy_replace_swaps_metadata(store, ctx, bucket):
    store.put_object(ctx, bucket, "src", b"data", content_type="text/a", user_meta={"a": "1"})
    store.copy_object(
        ctx,
        bucket,
        "src",
        bucket,
        "dst",
        metadata_directive="REPLACE",
        content_type="text/b",
        user_meta={"b": "2"},
    )
    head = store.head_object(ctx, bucket, "dst")
    assert head.content_type == "text/b" and head.user_meta == {"b": "2"}
    assert get_body(store, ctx, bucket, "dst") == b"data"
    assert store.head_object(ctx, bucket, "src").user_meta == {"a": "1"}


def test_copy_of_a_specific_version(store, ctx, vbucket):
    v1 = store.put_object(ctx, vbucket, "src", b"version one")
    store.put_object(ctx, vbucket, "src", b"version two")
    store.copy_object(ctx, vbucket, "src", vbucket, "dst", src_version_id=v1.version_id)
    assert get_body(store, ctx, vbucket, "dst") == b"version one"
    store.copy_object(ctx, vbucket, "src", vbucket, "dst")
    assert get_body(store, ctx, vbucket, "dst") == b"version two"
    assert len(store.key_versions(ctx, vbucket, "dst")) == 2


def test_copy_shares_chunks(store, ctx, bucket, make_bucket):
    store.put_object(ctx, bucket, "src", pattern_stream(8 * MiB, seed=11))
    before = chunk_files(store.path)
    assert len(before) >= 8
    store.copy_object(ctx, bucket, "src", bucket, "dst")
    other = make_bucket("other-bucket")
    store.copy_object(ctx, bucket, "src", other, "far/away")
    after = chunk_files(store.path)
    # O(metadata): not one byte of chunk data was written
    assert after == before
    expected = (pattern_md5(8 * MiB, seed=11), 8 * MiB)
    assert get_digest(store, ctx, bucket, "dst") == expected
    assert get_digest(store, ctx, other, "far/away") == expected
    # the shared chunks outlive the source
    store.delete_object(ctx, bucket, "src")
    store.gc(OWNER, grace_seconds=0)
    assert get_digest(store, ctx, other, "far/away") == expected


def test_copy_of_missing_or_deleted_source(store, ctx, vbucket):
    with pytest.raises(NoSuchKey):
        store.copy_object(ctx, vbucket, "nope", vbucket, "dst")
    store.put_object(ctx, vbucket, "src", b"x")
    marker = store.delete_object(ctx, vbucket, "src")
    with pytest.raises(NoSuchKey):
        store.copy_object(ctx, vbucket, "src", vbucket, "dst")
    # S3: the source may not name a delete marker by version id (400)
    with pytest.raises(InvalidRequest):
        store.copy_object(ctx, vbucket, "src", vbucket, "dst", src_version_id=marker.version_id)
    with pytest.raises(NoSuchKey):
        store.head_object(ctx, vbucket, "dst")


def test_copy_onto_itself(store, ctx, bucket):
    store.put_object(ctx, bucket, "self", b"x", user_meta={"a": "1"})
    # S3 refuses a self-copy that changes nothing ...
    with pytest.raises(InvalidRequest):
        store.copy_object(ctx, bucket, "self", bucket, "self")
    # ... and allows one that replaces the metadata.
    store.copy_object(
        ctx, bucket, "self", bucket, "self", metadata_directive="REPLACE", user_meta={"a": "2"}
    )
    head = store.head_object(ctx, bucket, "self")
    assert head.user_meta == {"a": "2"}
    assert get_body(store, ctx, bucket, "self") == b"x"


# --- conditional requests -----------------------------------------------------


def test_put_if_none_match_star(store, ctx, vbucket):
    store.put_object(ctx, vbucket, "k", b"first", if_none_match="*")
    with pytest.raises(PreconditionFailed) as exc:
        store.put_object(ctx, vbucket, "k", b"second", if_none_match="*")
    assert exc.value.status == 412
    assert get_body(store, ctx, vbucket, "k") == b"first"
    assert len(store.key_versions(ctx, vbucket, "k")) == 1
    # a delete marker as latest means "does not exist"
    store.delete_object(ctx, vbucket, "k")
    store.put_object(ctx, vbucket, "k", b"third", if_none_match="*")
    assert get_body(store, ctx, vbucket, "k") == b"third"


def test_put_if_match(store, ctx, bucket):
    first = store.put_object(ctx, bucket, "k", b"first")
    with pytest.raises(PreconditionFailed):
        store.put_object(ctx, bucket, "k", b"x", if_match=md5(b"other"))
    assert get_body(store, ctx, bucket, "k") == b"first"
    store.put_object(ctx, bucket, "k", b"second", if_match=first.etag)
    assert get_body(store, ctx, bucket, "k") == b"second"


def test_get_if_match_and_if_none_match(store, ctx, bucket):
    res = store.put_object(ctx, bucket, "k", b"body")
    other = md5(b"other")
    assert get_body(store, ctx, bucket, "k", if_match=res.etag) == b"body"
    assert get_body(store, ctx, bucket, "k", if_match=f'"{res.etag}"') == b"body"
    assert get_body(store, ctx, bucket, "k", if_match="*") == b"body"
    with pytest.raises(PreconditionFailed):
        store.get_object(ctx, bucket, "k", if_match=other)
    with pytest.raises(NotModified) as exc:
        store.get_object(ctx, bucket, "k", if_none_match=res.etag)
    assert exc.value.status == 304
    with pytest.raises(NotModified):
        store.head_object(ctx, bucket, "k", if_none_match=res.etag)
    assert get_body(store, ctx, bucket, "k", if_none_match=other) == b"body"
    with pytest.raises(PreconditionFailed):
        store.head_object(ctx, bucket, "k", if_match=other)


def test_get_if_modified_and_unmodified_since(store, ctx, bucket):
    store.put_object(ctx, bucket, "k", b"body")
    lm = store.head_object(ctx, bucket, "k").last_modified_ns
    sec = 10**9
    assert get_body(store, ctx, bucket, "k", if_modified_since_ns=lm - sec) == b"body"
    with pytest.raises(NotModified):
        store.get_object(ctx, bucket, "k", if_modified_since_ns=lm + sec)
    with pytest.raises(NotModified):
        store.get_object(ctx, bucket, "k", if_modified_since_ns=lm)  # not *after* lm
    with pytest.raises(NotModified):
        store.head_object(ctx, bucket, "k", if_modified_since_ns=lm + sec)
    assert get_body(store, ctx, bucket, "k", if_unmodified_since_ns=lm + sec) == b"body"
    assert get_body(store, ctx, bucket, "k", if_unmodified_since_ns=lm) == b"body"
    with pytest.raises(PreconditionFailed):
        store.get_object(ctx, bucket, "k", if_unmodified_since_ns=lm - sec)
    with pytest.raises(PreconditionFailed):
        store.head_object(ctx, bucket, "k", if_unmodified_since_ns=lm - sec)


def test_condition_precedence_as_s3(store, ctx, bucket):
    # S3 (RFC 7232): If-Match true wins over If-Unmodified-Since false;
    # If-None-Match false wins over If-Modified-Since true (-> 304).
    res = store.put_object(ctx, bucket, "k", b"body")
    lm = store.head_object(ctx, bucket, "k").last_modified_ns
    sec = 10**9
    assert (
        get_body(store, ctx, bucket, "k", if_match=res.etag, if_unmodified_since_ns=lm - sec)
        == b"body"
    )
    with pytest.raises(NotModified):
        store.get_object(ctx, bucket, "k", if_none_match=res.etag, if_modified_since_ns=lm - sec)


def test_etag_is_md5_of_body(store, ctx, bucket):
    for i, body in enumerate([b"a", b"abc" * 1000, rand_bytes(MiB + 3, 9)]):
        res = store.put_object(ctx, bucket, f"k{i}", io.BytesIO(body))
        assert res.etag == hashlib.md5(body).hexdigest()
        assert store.head_object(ctx, bucket, f"k{i}").etag == res.etag
