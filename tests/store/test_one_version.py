"""One store call, one version: a range and a copy source's conditions are
resolved and checked on the version the call reads, whatever writes happen
meanwhile (S3-SEMANTICS.md: ranges; CopyObject's x-amz-copy-source-if-*).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from objfs.errors import InvalidRange, PreconditionFailed
from objfs.store import SSERequest

A = b"A" * 5000
B = b"B" * 7000


@pytest.mark.parametrize(
    ("spec", "first", "length"),
    [
        ((None, 700), 4300, 700),  # the last 700 bytes
        ((None, 9000), 0, 5000),  # a suffix longer than the object: all of it
        ((1900, None), 1900, 3100),  # from 1900 to the end
        ((0, 9999), 0, 5000),  # a last byte past the end: clipped
        ((10, 19), 10, 10),
    ],
)
def test_open_and_suffix_ranges_resolve_on_the_version_read(  # type: ignore[no-untyped-def]
    store, ctx, bucket, spec, first, length
) -> None:
    store.put_object(ctx, bucket, "k", A)
    with store.get_object(ctx, bucket, "k", range=spec) as reader:
        assert (reader.start, reader.length, reader.info.size) == (first, length, 5000)
        assert reader.read() == A[first : first + length]


@pytest.mark.parametrize("spec", [(None, 0), (5000, None), (6000, 7000)])
def test_unsatisfiable_ranges_are_invalid_range(store, ctx, bucket, spec) -> None:  # type: ignore[no-untyped-def]
    store.put_object(ctx, bucket, "k", A)
    with pytest.raises(InvalidRange):
        store.get_object(ctx, bucket, "k", range=spec)


class _OverwriteOnFirstRead:
    """The store's own chunk store, with one hook: the first chunk read (the
    copy reading its source) first has ``write`` run to completion on
    another thread, as a concurrent client would."""

    def __init__(self, inner: Any, write: Any) -> None:
        self._inner = inner
        self._write = write
        self.done: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def read(self, *args: Any, **kwargs: Any) -> Any:
        if not self.done:
            writer = threading.Thread(target=lambda: self.done.append(self._write()))
            writer.start()
            writer.join()
        return self._inner.read(*args, **kwargs)


def test_copy_conditions_hold_for_the_version_copied(store, ctx, vbucket) -> None:  # type: ignore[no-untyped-def]
    a = store.put_object(ctx, vbucket, "src", A, sse=SSERequest(mode="none"))
    # The copy is re-encrypted (another domain), so it reads the source's
    # chunks: at that moment B replaces A as the latest version.
    # (the chunk store the copy reads through: its collaborator's, store/objects.py)
    hook = _OverwriteOnFirstRead(
        store.objects.chunks,
        lambda: store.put_object(ctx, vbucket, "src", B, sse=SSERequest(mode="none")),
    )
    store.objects.chunks = hook
    try:
        out = store.copy_object(
            ctx, vbucket, "src", vbucket, "dst", if_match=a.etag, sse=SSERequest(mode="AES256")
        )
    finally:
        store.objects.chunks = hook._inner
    assert hook.done and store.head_object(ctx, vbucket, "src").size == len(B)
    assert out.etag == a.etag  # the version the condition held for, not B
    with store.get_object(ctx, vbucket, "dst") as reader:
        assert reader.read() == A


def test_copy_conditions_fail_as_s3_answers_them(store, ctx, bucket) -> None:  # type: ignore[no-untyped-def]
    a = store.put_object(ctx, bucket, "src", A)
    info = store.head_object(ctx, bucket, "src")
    later = info.last_modified_ns + 10 * 10**9
    earlier = info.last_modified_ns - 10 * 10**9
    failing = [
        {"if_match": '"0000"'},
        {"if_none_match": f'"{a.etag}"'},  # 412 for a copy, where a GET says 304
        {"if_modified_since_ns": later},
        {"if_unmodified_since_ns": earlier},
        {"if_none_match": f'"{a.etag}"', "if_modified_since_ns": earlier},
    ]
    for conditions in failing:
        with pytest.raises(PreconditionFailed):
            store.copy_object(ctx, bucket, "src", bucket, "dst", **conditions)
    # S3: an If-Match that holds wins over an If-Unmodified-Since that fails
    out = store.copy_object(
        ctx, bucket, "src", bucket, "dst", if_match=a.etag, if_unmodified_since_ns=earlier
    )
    assert out.etag == a.etag
    out = store.copy_object(
        ctx, bucket, "src", bucket, "dst2", if_none_match='"0000"', if_modified_since_ns=earlier
    )
    assert out.etag == a.etag


def test_part_copy_conditions_hold_for_the_version_copied(store, ctx, vbucket) -> None:  # type: ignore[no-untyped-def]
    a = store.put_object(ctx, vbucket, "src", A, sse=SSERequest(mode="none"))
    # The upload is encrypted, the source not: the part is read (and re-encrypted).
    upload_id = store.create_multipart_upload(ctx, vbucket, "dst", sse=SSERequest(mode="AES256"))
    with pytest.raises(PreconditionFailed):
        store.upload_part_copy(ctx, vbucket, "dst", upload_id, 1, vbucket, "src", if_match='"00"')
    hook = _OverwriteOnFirstRead(
        store.chunks, lambda: store.put_object(ctx, vbucket, "src", B, sse=SSERequest(mode="none"))
    )
    store.multipart.chunks = hook  # the chunk store the part copy reads (multipart.py)
    try:
        part = store.upload_part_copy(
            ctx,
            vbucket,
            "dst",
            upload_id,
            1,
            vbucket,
            "src",
            if_match=a.etag,
        )
    finally:
        store.multipart.chunks = hook._inner
    assert hook.done and part.etag == a.etag and part.size == len(A)
