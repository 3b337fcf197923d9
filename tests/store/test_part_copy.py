"""UploadPartCopy shares the source's chunks (S3-SEMANTICS.md "Objects and
multipart"; objfs/store/multipart.py): a part copied from a version in the
same encryption domain is a slice of its manifest, not a second copy of its
bytes. What is checked here: the chunk directory barely grows, every byte
reads back exactly (ranges at odd offsets, across holes, inline chunks and
part boundaries), ETags are S3's, and references keep shared chunks alive
through source deletion, abort, replacement and gc, with fsck clean.
"""

from __future__ import annotations

import hashlib

import pytest

from objfs.errors import InvalidRequest
from objfs.store import OWNER, SSERequest

from .support import KiB, MiB, chunk_dir_bytes, chunk_files, get_body, md5, rand_bytes

PART = 5 * MiB


def _source(size: int, seed: int) -> bytes:
    """Incompressible bytes, no MiB equal to another (nothing dedups by accident)."""
    return b"".join(
        rand_bytes(min(MiB, size - i), seed * 1000 + i // MiB) for i in range(0, size, MiB)
    )


def _check_clean(store) -> None:  # type: ignore[no-untyped-def]
    report = store.fsck(OWNER)
    assert report.ok and not report.findings, report.problems


def _compose(store, ctx, bucket, key, pieces):  # type: ignore[no-untyped-def]
    """Complete an upload of part copies: ``pieces`` is [(src_key, range or None)]."""
    uid = store.create_multipart_upload(ctx, bucket, key)
    parts = []
    for number, (src, src_range) in enumerate(pieces, 1):
        part = store.upload_part_copy(
            ctx, bucket, key, uid, number, bucket, src, src_range=src_range
        )
        parts.append((number, part.etag))
    return uid, store.complete_multipart_upload(ctx, bucket, key, uid, parts)


def test_part_copies_share_chunks_and_read_back_exactly(store, ctx, bucket):
    src = _source(12 * MiB + 37, 1)  # a 37-byte tail: an inline chunk
    store.put_object(ctx, bucket, "src", src)
    before = chunk_dir_bytes(store.path)
    pieces = [
        ("src", None),
        ("src", (MiB + 3, MiB + 3 + PART + 11)),  # odd offsets: slices at both edges
        ("src", (7, 7 + PART - 1)),
        ("src", (12 * MiB - 5, len(src) - 1)),  # the last chunk's end and the inline tail
    ]
    _, result = _compose(store, ctx, bucket, "big", pieces)
    want = b"".join(src if r is None else src[r[0] : r[1] + 1] for _, r in pieces)
    assert result.size == len(want)
    assert chunk_dir_bytes(store.path) - before == 0  # nothing stored: every chunk is shared
    assert get_body(store, ctx, bucket, "big") == want
    size = len(src)
    ends = [size, size + PART + 12, size + 2 * PART + 12]  # part boundaries
    for first, last in [
        (0, 0),
        (size - 3, size + 2),
        (ends[1] - 1, ends[1] + 1),
        (ends[2] - MiB - 1, ends[2] + MiB + 1),
        (MiB - 1, 3 * MiB + 1),
        (len(want) - 40, len(want) - 1),
    ]:
        assert get_body(store, ctx, bucket, "big", range=(first, last)) == want[first : last + 1]
    _check_clean(store)


def test_part_etags_are_md5_of_the_part_bytes(store, ctx, bucket):
    src = _source(6 * MiB + 5, 2)
    put = store.put_object(ctx, bucket, "src", src)
    assert put.etag == md5(src)
    uid = store.create_multipart_upload(ctx, bucket, "dst")
    whole = store.upload_part_copy(ctx, bucket, "dst", uid, 1, bucket, "src")
    assert whole.etag == md5(src)  # the source's ETag, reused
    full = store.upload_part_copy(
        ctx, bucket, "dst", uid, 2, bucket, "src", src_range=(0, len(src) - 1)
    )
    assert full.etag == md5(src)
    ranged = store.upload_part_copy(
        ctx, bucket, "dst", uid, 3, bucket, "src", src_range=(9, MiB + 10)
    )
    assert (ranged.etag, ranged.size) == (md5(src[9 : MiB + 11]), MiB + 2)
    done = store.complete_multipart_upload(
        ctx, bucket, "dst", uid, [(1, whole.etag), (2, full.etag), (3, ranged.etag)]
    )
    want = hashlib.md5(
        b"".join(bytes.fromhex(e) for e in (whole.etag, full.etag, ranged.etag))
    ).hexdigest()
    assert done.etag == f"{want}-3"
    # A multipart source has an "-N" ETag: a part copy of it hashes its bytes.
    uid = store.create_multipart_upload(ctx, bucket, "again")
    part = store.upload_part_copy(ctx, bucket, "again", uid, 1, bucket, "dst")
    body = src + src + src[9 : MiB + 11]
    assert (part.etag, part.size) == (md5(body), len(body))
    store.complete_multipart_upload(ctx, bucket, "again", uid, [(1, part.etag)])
    assert get_body(store, ctx, bucket, "again") == body


def test_holes_and_inline_chunks_are_shared_as_they_are(store, ctx, bucket):
    src = bytes(2 * MiB) + _source(MiB + 100, 3) + bytes(3 * MiB)  # zero MiBs are holes
    store.put_object(ctx, bucket, "src", src)
    small = rand_bytes(3 * KiB, 4)  # an inline chunk
    store.put_object(ctx, bucket, "small", small)
    before = chunk_files(store.path)
    pieces = [
        ("src", (MiB - 1, MiB - 1 + PART)),  # hole, data, the MiB+100 tail, hole
        ("src", (MiB - 2, len(src) - 1)),
        ("small", (1, 2 * KiB)),  # a slice of an inline chunk
    ]
    _, result = _compose(store, ctx, bucket, "mixed", pieces)
    sources = {"src": src, "small": small}
    want = b"".join(sources[s] if r is None else sources[s][r[0] : r[1] + 1] for s, r in pieces)
    assert result.size == len(want)
    assert chunk_files(store.path) == before
    assert get_body(store, ctx, bucket, "mixed") == want
    for first in (0, PART - 3, PART + 1, 2 * PART + 1, len(want) - 3 * KiB - 2):
        assert (
            get_body(store, ctx, bucket, "mixed", range=(first, first + 9999))
            == (want[first : first + 10000])
        )
    store.delete_object(ctx, bucket, "small")
    store.delete_object(ctx, bucket, "src")
    store.gc(OWNER, grace_seconds=0)
    assert get_body(store, ctx, bucket, "mixed") == want
    _check_clean(store)


def test_deleting_the_source_version_keeps_the_composed_object(store, ctx, vbucket):
    src = _source(7 * MiB + 1, 5)
    v = store.put_object(ctx, vbucket, "src", src)
    pieces = [("src", None), ("src", (0, PART - 1)), ("src", (PART, len(src) - 1))]
    _, result = _compose(store, ctx, vbucket, "composed", pieces)
    grown = chunk_dir_bytes(store.path)
    store.delete_object(ctx, vbucket, "src", version_id=v.version_id)  # for good
    report = store.gc(OWNER, grace_seconds=0)
    assert report.chunks_removed == 0  # the composed object names every chunk
    assert chunk_dir_bytes(store.path) == grown
    assert get_body(store, ctx, vbucket, "composed") == src + src
    assert result.size == 2 * len(src)
    _check_clean(store)
    # Once the composed object goes too, the chunks are free.
    store.delete_object(ctx, vbucket, "composed", version_id=result.version_id)
    store.gc(OWNER, grace_seconds=0)
    assert chunk_dir_bytes(store.path) == 0
    _check_clean(store)


def test_parts_keep_chunks_through_source_delete_abort_and_replace(store, ctx, bucket):
    src = _source(6 * MiB, 6)
    store.put_object(ctx, bucket, "src", src)
    src_files = chunk_files(store.path)
    other = _source(PART, 7)
    store.put_object(ctx, bucket, "other", other)
    before = chunk_files(store.path)
    # Abort: the source still names its chunks, nothing is freed.
    uid = store.create_multipart_upload(ctx, bucket, "aborted")
    store.upload_part_copy(ctx, bucket, "aborted", uid, 1, bucket, "src")
    store.upload_part_copy(ctx, bucket, "aborted", uid, 2, bucket, "src", src_range=(3, 99))
    store.abort_multipart_upload(ctx, bucket, "aborted", uid)
    assert store.gc(OWNER, grace_seconds=0).chunks_removed == 0
    assert chunk_files(store.path) == before
    assert get_body(store, ctx, bucket, "src") == src
    _check_clean(store)
    # An upload in progress keeps a deleted source's chunks until it completes.
    uid = store.create_multipart_upload(ctx, bucket, "pending")
    p1 = store.upload_part_copy(ctx, bucket, "pending", uid, 1, bucket, "src")
    p2 = store.upload_part_copy(ctx, bucket, "pending", uid, 2, bucket, "other")
    p2 = store.upload_part_copy(  # replaces part 2: "other" is no longer named by it
        ctx, bucket, "pending", uid, 2, bucket, "src", src_range=(MiB + 1, 2 * MiB)
    )
    store.delete_object(ctx, bucket, "src")
    store.delete_object(ctx, bucket, "other")
    store.gc(OWNER, grace_seconds=0)
    assert chunk_files(store.path) == src_files  # "other"'s chunks went, the source's stay
    _check_clean(store)
    store.complete_multipart_upload(ctx, bucket, "pending", uid, [(1, p1.etag), (2, p2.etag)])
    assert get_body(store, ctx, bucket, "pending") == src + src[MiB + 1 : 2 * MiB + 1]
    assert chunk_files(store.path) == src_files
    _check_clean(store)


def test_chunks_are_shared_only_within_one_encryption_domain(store, ctx, bucket):
    src = _source(PART + 20, 8)
    store.put_object(ctx, bucket, "src", src)  # the bucket default: SSE-S3
    key_a, key_b = bytes(range(32)), bytes(range(1, 33))
    store.put_object(ctx, bucket, "ssec", src, sse=SSERequest(customer_key=key_a))
    kms_a, kms_b = (
        SSERequest(mode="aws:kms", kms_key_id=store.kms_create_key(ctx).key_id) for _ in "ab"
    )
    store.put_object(ctx, bucket, "kms", src, sse=kms_a)
    # A different range each time: a real copy must not dedup onto an earlier one.
    for at, (dst_sse, src_key, src_sse, shared) in enumerate(
        [
            (None, "src", None, True),  # both SSE-S3: one domain
            (SSERequest(mode="none"), "src", None, False),
            (kms_a, "src", None, False),
            (kms_a, "kms", None, True),
            (kms_b, "kms", None, False),
            (None, "kms", None, False),
            (SSERequest(customer_key=key_a), "src", None, False),
            (SSERequest(customer_key=key_a), "ssec", SSERequest(customer_key=key_a), True),
            (SSERequest(customer_key=key_b), "ssec", SSERequest(customer_key=key_a), False),
            (None, "ssec", SSERequest(customer_key=key_a), False),
        ],
        1,
    ):
        before = chunk_dir_bytes(store.path)
        uid = store.create_multipart_upload(ctx, bucket, "dst", sse=dst_sse)
        part_sse = dst_sse if dst_sse is not None and dst_sse.customer_key else None
        part = store.upload_part_copy(
            ctx, bucket, "dst", uid, 1, bucket, src_key, src_sse=src_sse, sse=part_sse,
            src_range=(at, at + PART),
        )  # fmt: skip
        assert part.etag == md5(src[at : at + PART + 1])
        grown = chunk_dir_bytes(store.path) - before
        assert (grown == 0) if shared else (grown >= PART), (dst_sse, src_key, grown)
        store.complete_multipart_upload(ctx, bucket, "dst", uid, [(1, part.etag)], sse=part_sse)
        assert get_body(store, ctx, bucket, "dst", sse=part_sse) == src[at : at + PART + 1]
    _check_clean(store)


def test_a_composed_object_over_5_gib_and_the_copy_source_limit(store, ctx, bucket):
    src = _source(64 * MiB, 9)
    store.put_object(ctx, bucket, "src", src)
    before = chunk_dir_bytes(store.path)
    _, result = _compose(store, ctx, bucket, "huge", [("src", None)] * 81)
    assert result.size == 81 * 64 * MiB > 5 << 30
    assert chunk_dir_bytes(store.path) == before
    size = result.size
    for first in (0, 64 * MiB - 2, 40 * 64 * MiB - 7, size - 10):
        got = get_body(store, ctx, bucket, "huge", range=(first, first + 9))
        want = (src + src)[first % (64 * MiB) :][:10][: size - first]
        assert got == want
    # CopyObject of it shares the chunks as well (its ETag stays the "-81" one).
    copied = store.copy_object(ctx, bucket, "huge", bucket, "huge-copy")
    assert (copied.size, copied.etag) == (size, result.etag)
    assert chunk_dir_bytes(store.path) == before
    got = get_body(store, ctx, bucket, "huge-copy", range=(size - 64 * MiB - 3, size - 64 * MiB))
    assert got == src[-3:] + src[:1]
    uid = store.create_multipart_upload(ctx, bucket, "dst")
    with pytest.raises(InvalidRequest, match="maximum allowable size"):
        store.upload_part_copy(ctx, bucket, "dst", uid, 1, bucket, "huge")
    with pytest.raises(InvalidRequest):
        store.upload_part_copy(
            ctx, bucket, "dst", uid, 1, bucket, "huge", src_range=(1, (5 << 30) + 1)
        )
    assert store.list_parts(ctx, bucket, "dst", uid) == []
    # A range of the big one at an odd offset: a slice of its slices.
    part = store.upload_part_copy(
        ctx, bucket, "dst", uid, 1, bucket, "huge", src_range=(64 * MiB - 5, 64 * MiB + 4)
    )
    store.complete_multipart_upload(ctx, bucket, "dst", uid, [(1, part.etag)])
    assert get_body(store, ctx, bucket, "dst") == src[-5:] + src[:5]
    assert chunk_dir_bytes(store.path) == before
    _check_clean(store)
