"""Multipart uploads (S3-SEMANTICS.md "Objects and multipart")."""

from __future__ import annotations

import hashlib

import pytest

from objfs.errors import (
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    NoSuchKey,
    NoSuchUpload,
)
from objfs.store import OWNER

from .support import MiB, chunk_dir_bytes, chunk_files, get_body, get_digest, md5, rand_bytes

PART = 5 * MiB


def multipart_etag(parts: list[bytes]) -> str:
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


def test_complete_assembles_parts_with_s3_etag(store, ctx, bucket):
    parts = [rand_bytes(PART, 1), rand_bytes(PART + 3, 2), rand_bytes(1234, 3)]
    uid = store.create_multipart_upload(
        ctx, bucket, "big/file", content_type="video/mp4", user_meta={"m": "1"}
    )
    infos = [
        store.upload_part(ctx, bucket, "big/file", uid, n, body)
        for n, body in enumerate(parts, start=1)
    ]
    assert [i.etag for i in infos] == [md5(p) for p in parts]
    assert [i.size for i in infos] == [len(p) for p in parts]
    res = store.complete_multipart_upload(
        ctx, bucket, "big/file", uid, [(i.part_number, i.etag) for i in infos]
    )
    assert res.etag == multipart_etag(parts)
    assert res.size == sum(map(len, parts))
    head = store.head_object(ctx, bucket, "big/file")
    assert head.etag == res.etag and head.content_type == "video/mp4"
    assert head.user_meta == {"m": "1"}
    assert get_digest(store, ctx, bucket, "big/file") == (
        md5(b"".join(parts)),
        sum(map(len, parts)),
    )
    # ranges across part boundaries
    whole = b"".join(parts)
    assert store.read_range(ctx, bucket, "big/file", PART - 5, 10) == whole[PART - 5 : PART + 5]


def test_single_small_part_is_allowed(store, ctx, bucket):
    uid = store.create_multipart_upload(ctx, bucket, "k")
    info = store.upload_part(ctx, bucket, "k", uid, 1, b"tiny")
    res = store.complete_multipart_upload(ctx, bucket, "k", uid, [(1, info.etag)])
    assert res.etag == multipart_etag([b"tiny"])
    assert get_body(store, ctx, bucket, "k") == b"tiny"


def test_chosen_subset_of_parts(store, ctx, bucket):
    bodies = {1: rand_bytes(PART, 4), 3: rand_bytes(PART, 5), 7: b"tail"}
    uid = store.create_multipart_upload(ctx, bucket, "k")
    etags = {
        n: store.upload_part(ctx, bucket, "k", uid, n, body).etag for n, body in bodies.items()
    }
    store.upload_part(ctx, bucket, "k", uid, 5, rand_bytes(PART, 6))  # uploaded, not chosen
    store.complete_multipart_upload(
        ctx, bucket, "k", uid, [(1, etags[1]), (3, etags[3]), (7, etags[7])]
    )
    assert get_body(store, ctx, bucket, "k") == bodies[1] + bodies[3] + bodies[7]


@pytest.mark.parametrize("number", [0, -1, 10001])
def test_part_number_out_of_range(store, ctx, bucket, number):
    uid = store.create_multipart_upload(ctx, bucket, "k")
    with pytest.raises(InvalidArgument) as exc:
        store.upload_part(ctx, bucket, "k", uid, number, b"x")
    assert exc.value.status == 400
    assert store.list_parts(ctx, bucket, "k", uid) == []


def test_part_numbers_1_and_10000_are_valid(store, ctx, bucket):
    uid = store.create_multipart_upload(ctx, bucket, "k")
    first = store.upload_part(ctx, bucket, "k", uid, 1, rand_bytes(PART, 7))
    last = store.upload_part(ctx, bucket, "k", uid, 10000, b"end")
    assert [p.part_number for p in store.list_parts(ctx, bucket, "k", uid)] == [1, 10000]
    store.complete_multipart_upload(ctx, bucket, "k", uid, [(1, first.etag), (10000, last.etag)])
    assert store.head_object(ctx, bucket, "k").size == PART + 3


def test_small_part_that_is_not_last_is_entity_too_small(store, ctx, bucket):
    uid = store.create_multipart_upload(ctx, bucket, "k")
    a = store.upload_part(ctx, bucket, "k", uid, 1, rand_bytes(PART - 1, 8))
    c = store.upload_part(ctx, bucket, "k", uid, 2, rand_bytes(PART, 9))
    with pytest.raises(EntityTooSmall) as exc:
        store.complete_multipart_upload(ctx, bucket, "k", uid, [(1, a.etag), (2, c.etag)])
    assert exc.value.status == 400
    with pytest.raises(NoSuchKey):
        store.head_object(ctx, bucket, "k")
    # the upload is still open and can be completed correctly
    a2 = store.upload_part(ctx, bucket, "k", uid, 1, rand_bytes(PART, 10))
    store.complete_multipart_upload(ctx, bucket, "k", uid, [(1, a2.etag), (2, c.etag)])
    assert store.head_object(ctx, bucket, "k").size == 2 * PART


def test_parts_out_of_order_or_repeated(store, ctx, bucket):
    uid = store.create_multipart_upload(ctx, bucket, "k")
    one = store.upload_part(ctx, bucket, "k", uid, 1, rand_bytes(PART, 11))
    two = store.upload_part(ctx, bucket, "k", uid, 2, b"last")
    with pytest.raises(InvalidPartOrder):
        store.complete_multipart_upload(ctx, bucket, "k", uid, [(2, two.etag), (1, one.etag)])
    # A number listed again: the last entry counts, as S3 (the s3-tests case
    # test_multipart_resend_first_finishes_last), whatever the first named.
    again = store.upload_part(ctx, bucket, "k", uid, 1, rand_bytes(PART, 12))
    store.complete_multipart_upload(
        ctx, bucket, "k", uid, [(1, one.etag), (1, again.etag), (2, two.etag)]
    )
    with store.get_object(ctx, bucket, "k") as obj:
        assert obj.read() == rand_bytes(PART, 12) + b"last"


def test_invalid_part(store, ctx, bucket):
    uid = store.create_multipart_upload(ctx, bucket, "k")
    one = store.upload_part(ctx, bucket, "k", uid, 1, rand_bytes(PART, 12))
    with pytest.raises(InvalidPart):  # wrong etag
        store.complete_multipart_upload(ctx, bucket, "k", uid, [(1, md5(b"nope"))])
    with pytest.raises(InvalidPart):  # never uploaded
        store.complete_multipart_upload(ctx, bucket, "k", uid, [(1, one.etag), (2, one.etag)])
    with pytest.raises(InvalidPart):  # no parts at all
        store.complete_multipart_upload(ctx, bucket, "k", uid, [])
    with pytest.raises(NoSuchKey):
        store.head_object(ctx, bucket, "k")


def test_reupload_replaces_part(store, ctx, bucket):
    uid = store.create_multipart_upload(ctx, bucket, "k")
    old = store.upload_part(ctx, bucket, "k", uid, 1, b"old body")
    new = store.upload_part(ctx, bucket, "k", uid, 1, b"new body!")
    parts = store.list_parts(ctx, bucket, "k", uid)
    assert [(p.part_number, p.etag, p.size) for p in parts] == [(1, new.etag, 9)]
    with pytest.raises(InvalidPart):
        store.complete_multipart_upload(ctx, bucket, "k", uid, [(1, old.etag)])
    store.complete_multipart_upload(ctx, bucket, "k", uid, [(1, new.etag)])
    assert get_body(store, ctx, bucket, "k") == b"new body!"


def test_upload_invisible_until_complete(store, ctx, vbucket):
    store.put_object(ctx, vbucket, "k", b"old")
    uid = store.create_multipart_upload(ctx, vbucket, "k")
    part = store.upload_part(ctx, vbucket, "k", uid, 1, b"new")
    uid2 = store.create_multipart_upload(ctx, vbucket, "fresh")
    part2 = store.upload_part(ctx, vbucket, "fresh", uid2, 1, b"fresh")
    assert get_body(store, ctx, vbucket, "k") == b"old"
    assert [v.key for v in store.list_objects(ctx, vbucket).contents] == ["k"]
    assert len(store.list_object_versions(ctx, vbucket).versions) == 1
    with pytest.raises(NoSuchKey):
        store.head_object(ctx, vbucket, "fresh")
    assert not store.prefix_exists(ctx, vbucket, "fr")
    res = store.complete_multipart_upload(ctx, vbucket, "k", uid, [(1, part.etag)])
    store.complete_multipart_upload(ctx, vbucket, "fresh", uid2, [(1, part2.etag)])
    assert get_body(store, ctx, vbucket, "k") == b"new"
    versions = store.key_versions(ctx, vbucket, "k")
    assert versions[0].version_id == res.version_id and len(versions) == 2
    assert get_body(store, ctx, vbucket, "fresh") == b"fresh"


def test_no_such_upload_after_complete_or_abort(store, ctx, bucket):
    uid = store.create_multipart_upload(ctx, bucket, "k")
    part = store.upload_part(ctx, bucket, "k", uid, 1, b"x")
    done = store.complete_multipart_upload(ctx, bucket, "k", uid, [(1, part.etag)])
    aborted = store.create_multipart_upload(ctx, bucket, "k")
    store.abort_multipart_upload(ctx, bucket, "k", aborted)
    for dead in (uid, aborted, "no-such-upload-id"):
        with pytest.raises(NoSuchUpload) as exc:
            store.upload_part(ctx, bucket, "k", dead, 1, b"x")
        assert exc.value.status == 404
        if dead == uid:  # completing again answers as the first time (S3: a retried Complete)
            again = store.complete_multipart_upload(ctx, bucket, "k", dead, [(1, part.etag)])
            assert (again.etag, again.version_id, again.seq) == (
                done.etag,
                done.version_id,
                done.seq,
            )
        else:
            with pytest.raises(NoSuchUpload):
                store.complete_multipart_upload(ctx, bucket, "k", dead, [(1, part.etag)])
        with pytest.raises(NoSuchUpload):
            store.list_parts(ctx, bucket, "k", dead)
        with pytest.raises(NoSuchUpload):
            store.abort_multipart_upload(ctx, bucket, "k", dead)
    assert get_body(store, ctx, bucket, "k") == b"x"


def test_upload_id_is_bound_to_its_key(store, ctx, bucket):
    uid = store.create_multipart_upload(ctx, bucket, "k")
    with pytest.raises(NoSuchUpload):
        store.upload_part(ctx, bucket, "other-key", uid, 1, b"x")


def test_list_parts_and_uploads(store, ctx, bucket):
    assert store.list_multipart_uploads(ctx, bucket).uploads == []
    a = store.create_multipart_upload(ctx, bucket, "dir/a")
    b = store.create_multipart_upload(ctx, bucket, "dir/b")
    c = store.create_multipart_upload(ctx, bucket, "other")
    a2 = store.create_multipart_upload(ctx, bucket, "dir/a")  # two uploads, one key
    uploads = store.list_multipart_uploads(ctx, bucket).uploads
    assert sorted((u.key, u.upload_id) for u in uploads) == sorted(
        [("dir/a", a), ("dir/b", b), ("other", c), ("dir/a", a2)]
    )
    assert [u.key for u in uploads] == sorted(u.key for u in uploads)
    assert all(u.bucket == bucket and u.initiated_ns > 0 for u in uploads)
    assert {
        u.upload_id for u in store.list_multipart_uploads(ctx, bucket, prefix="dir/").uploads
    } == {
        a,
        b,
        a2,
    }
    for n in (3, 1, 2):
        store.upload_part(ctx, bucket, "dir/a", a, n, bytes([n]) * n)
    parts = store.list_parts(ctx, bucket, "dir/a", a)
    assert [(p.part_number, p.size, p.etag) for p in parts] == [
        (n, n, md5(bytes([n]) * n)) for n in (1, 2, 3)
    ]
    assert all(p.last_modified_ns > 0 for p in parts)
    assert store.list_parts(ctx, bucket, "dir/a", a2) == []
    store.abort_multipart_upload(ctx, bucket, "dir/b", b)
    store.complete_multipart_upload(
        ctx, bucket, "dir/a", a, [(p.part_number, p.etag) for p in parts[2:]]
    )
    assert {u.upload_id for u in store.list_multipart_uploads(ctx, bucket).uploads} == {c, a2}


def test_abort_frees_chunks(store, ctx, bucket):
    store.put_object(ctx, bucket, "keep", rand_bytes(2 * MiB, 20))
    before = chunk_files(store.path)
    uid = store.create_multipart_upload(ctx, bucket, "k")
    store.upload_part(ctx, bucket, "k", uid, 1, rand_bytes(PART, 21))
    store.upload_part(ctx, bucket, "k", uid, 2, rand_bytes(3 * MiB, 22))
    assert chunk_dir_bytes(store.path) >= sum(before.values()) + 8 * MiB
    store.abort_multipart_upload(ctx, bucket, "k", uid)
    store.gc(OWNER, grace_seconds=0)  # abort may free at once or leave it to gc
    assert chunk_files(store.path) == before
    assert store.list_multipart_uploads(ctx, bucket).uploads == []
    assert get_digest(store, ctx, bucket, "keep")[1] == 2 * MiB


def test_replaced_part_chunks_are_freed(store, ctx, bucket):
    before = chunk_files(store.path)
    uid = store.create_multipart_upload(ctx, bucket, "k")
    store.upload_part(ctx, bucket, "k", uid, 1, rand_bytes(3 * MiB, 30))
    final = store.upload_part(ctx, bucket, "k", uid, 1, rand_bytes(2 * MiB, 31))
    store.complete_multipart_upload(ctx, bucket, "k", uid, [(1, final.etag)])
    store.gc(OWNER, grace_seconds=0)
    grown = chunk_dir_bytes(store.path) - sum(before.values())
    assert 2 * MiB <= grown < 3 * MiB, grown
    assert get_body(store, ctx, bucket, "k") == rand_bytes(2 * MiB, 31)


def test_complete_accepts_quoted_etags(store, ctx, bucket):
    # S3 clients send the part ETags of CompleteMultipartUpload with quotes.
    uid = store.create_multipart_upload(ctx, bucket, "k")
    one = store.upload_part(ctx, bucket, "k", uid, 1, rand_bytes(PART, 40))
    two = store.upload_part(ctx, bucket, "k", uid, 2, b"end")
    store.complete_multipart_upload(ctx, bucket, "k", uid, [(1, f'"{one.etag}"'), (2, two.etag)])
    assert store.head_object(ctx, bucket, "k").size == PART + 3


def _all_pages(store, ctx, bucket, **kw):  # type: ignore[no-untyped-def]
    """Every page with S3's markers: (uploads, prefixes) in order, and the page count."""
    uploads, prefixes, pages = [], [], 0
    key_marker = upload_id_marker = None
    while True:
        page = store.list_multipart_uploads(
            ctx, bucket, key_marker=key_marker, upload_id_marker=upload_id_marker, **kw
        )
        pages += 1
        uploads += [(u.key, u.upload_id) for u in page.uploads]
        prefixes += page.common_prefixes
        if not page.is_truncated:
            assert page.next_key_marker is None and page.next_upload_id_marker is None
            return uploads, prefixes, pages
        key_marker, upload_id_marker = page.next_key_marker, page.next_upload_id_marker


def test_list_multipart_uploads_pages(store, ctx, bucket):
    made = []
    for key in ("a", "b/1", "b/2", "c", "c", "c", "d/x/1", "e"):
        made.append((key, store.create_multipart_upload(ctx, bucket, key)))
    everything = [(u.key, u.upload_id) for u in store.list_multipart_uploads(ctx, bucket).uploads]
    assert everything == made  # keys in order, "c"'s three in the order they began
    for size in (1, 2, 3, 7, 8, 1000):
        uploads, prefixes, pages = _all_pages(store, ctx, bucket, max_uploads=size)
        assert uploads == made and prefixes == []
        assert pages == max(1, -(-len(made) // size))
    # a page that ends inside key "c" continues with the rest of "c"
    first = store.list_multipart_uploads(ctx, bucket, max_uploads=4)
    assert first.is_truncated and (first.next_key_marker, first.next_upload_id_marker) == made[3]
    # delimiter: b/ and d/ roll up, each counting as one entry of a page
    uploads, prefixes, _ = _all_pages(store, ctx, bucket, delimiter="/")
    assert prefixes == ["b/", "d/"] and [k for k, _ in uploads] == ["a", "c", "c", "c", "e"]
    for size in (1, 2, 3):
        assert _all_pages(store, ctx, bucket, delimiter="/", max_uploads=size)[:2] == (
            uploads,
            prefixes,
        )
    page = store.list_multipart_uploads(ctx, bucket, delimiter="/", max_uploads=2)
    assert page.common_prefixes == ["b/"] and page.next_key_marker == "b/"
    assert page.next_upload_id_marker is None
    after = store.list_multipart_uploads(ctx, bucket, delimiter="/", key_marker="b/")
    assert [u.key for u in after.uploads][:1] == ["c"] and after.common_prefixes == ["d/"]
    # prefix with delimiter
    under = store.list_multipart_uploads(ctx, bucket, prefix="d/", delimiter="/")
    assert under.uploads == [] and under.common_prefixes == ["d/x/"]
    assert _all_pages(store, ctx, bucket, prefix="b/", max_uploads=1)[0] == made[1:3]
    # key marker alone: keys after it (all of its own uploads skipped)
    rest = store.list_multipart_uploads(ctx, bucket, key_marker="c")
    assert [u.key for u in rest.uploads] == ["d/x/1", "e"]
    # key and upload-id markers: the uploads of that key after that upload
    rest = store.list_multipart_uploads(ctx, bucket, key_marker="c", upload_id_marker=made[3][1])
    assert [(u.key, u.upload_id) for u in rest.uploads] == made[4:]


def test_list_multipart_uploads_bad_max(store, ctx, bucket):
    with pytest.raises(InvalidArgument):
        store.list_multipart_uploads(ctx, bucket, max_uploads=-1)
