"""Keys: 1-1024 bytes of UTF-8, any characters, UTF-8 byte order (S3-SEMANTICS.md "Keys")."""

from __future__ import annotations

import pytest

from objfs.errors import KeyTooLong, NoSuchKey, ObjfsError

from .support import get_body

# Deliberately mixed: '/' (0x2f) sorts before '0' (0x30); 'Z' before 'a';
# U+FF61 sorts before U+1F600 in UTF-8 (and code points) but after it in UTF-16.
ORDER_KEYS = [
    "a",
    "a/b",
    "a0",
    "\u00e9",
    "\U0001f600",
    "Z",
    "\uff61",
    "a\x01",
    "A",
    "~",
    "a b",
    "a-",
    "\u00e9/x",
    "e\u0301",  # e + combining acute: a different key from U+00E9 (no normalisation)
]


def utf8_sorted(keys):
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def test_listing_is_utf8_byte_order(store, ctx, bucket):
    for i, key in enumerate(ORDER_KEYS):
        store.put_object(ctx, bucket, key, f"body-{i}".encode())
    listed = [v.key for v in store.list_objects(ctx, bucket).contents]
    assert listed == utf8_sorted(ORDER_KEYS)
    # Sanity of the fixture: UTF-16 order would differ, so this test can fail.
    assert listed != sorted(ORDER_KEYS, key=lambda k: k.encode("utf-16-be"))
    versions = [v.key for v in store.list_object_versions(ctx, bucket).versions]
    assert versions == utf8_sorted(ORDER_KEYS)
    iterated = [v.key for v in store.iter_objects(ctx, bucket)]
    assert iterated == utf8_sorted(ORDER_KEYS)


@pytest.mark.parametrize(
    "key",
    [
        "x",
        "a" * 1024,
        "\u00e9" * 512,  # 1024 bytes, 512 characters
        "\U0001f600" * 256,  # 1024 bytes of 4-byte characters
        "dir/" * 255 + "last",  # 1024 bytes
        "//double//slash//",
        "/leading",
        "trailing/",
        ".",
        "..",
        "a/./b/../c",
        "sp ace and\ttab",
        "\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb.txt",
        "\u0645\u0631\u062d\u0628\u0627",
        "e\u0301",
        "\x01control",
        "%2F-not-decoded",
        "new\nline",
    ],
)
def test_unusual_keys_round_trip(store, ctx, bucket, key):
    body = key.encode("utf-8")[:100] + b"!"
    store.put_object(ctx, bucket, key, body)
    assert get_body(store, ctx, bucket, key) == body
    head = store.head_object(ctx, bucket, key)
    assert head.key == key
    assert [v.key for v in store.list_objects(ctx, bucket).contents] == [key]
    store.delete_object(ctx, bucket, key)
    with pytest.raises(NoSuchKey):
        store.head_object(ctx, bucket, key)


@pytest.mark.parametrize(
    "key",
    ["a" * 1025, "\u00e9" * 512 + "a", "\U0001f600" * 256 + "x", "\u00e9" * 1000],
)
def test_key_over_1024_bytes_is_key_too_long(store, ctx, bucket, key):
    assert len(key.encode()) > 1024
    with pytest.raises(KeyTooLong) as exc:
        store.put_object(ctx, bucket, key, b"x")
    assert exc.value.code == "KeyTooLongError"
    assert "\n" not in str(exc.value)
    assert store.list_objects(ctx, bucket).contents == []
    with pytest.raises(KeyTooLong):
        store.create_multipart_upload(ctx, bucket, key)


def test_key_length_counts_bytes_not_characters(store, ctx, bucket):
    # 512 two-byte characters = 1024 bytes: allowed; one more byte is not.
    store.put_object(ctx, bucket, "\u00e9" * 512, b"ok")
    with pytest.raises(KeyTooLong):
        store.put_object(ctx, bucket, "\u00e9" * 512 + "!", b"no")


def test_empty_key_is_refused(store, ctx, bucket):
    with pytest.raises(ObjfsError) as exc:
        store.put_object(ctx, bucket, "", b"x")
    assert exc.value.status == 400
    assert str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(ObjfsError):
        store.get_object(ctx, bucket, "")
    assert store.list_objects(ctx, bucket).contents == []


def test_key_that_is_not_utf8_is_refused_cleanly(store, ctx, bucket):
    # A lone surrogate cannot be encoded as UTF-8: a clear error, not a
    # UnicodeEncodeError traceback from deep inside.
    with pytest.raises(ObjfsError) as exc:
        store.put_object(ctx, bucket, "bad\ud800key", b"x")
    assert exc.value.status == 400
    assert store.list_objects(ctx, bucket).contents == []


def test_keys_differing_only_in_case_or_normalisation_are_distinct(store, ctx, bucket):
    keys = ["Key", "key", "KEY", "\u00e9", "e\u0301"]
    for key in keys:
        store.put_object(ctx, bucket, key, key.encode())
    for key in keys:
        assert get_body(store, ctx, bucket, key) == key.encode()
    assert len(store.list_objects(ctx, bucket).contents) == len(keys)


def test_a_key_can_be_both_an_object_and_a_prefix(store, ctx, bucket):
    store.put_object(ctx, bucket, "a", b"file")
    store.put_object(ctx, bucket, "a/b", b"child")
    store.put_object(ctx, bucket, "a/", b"")
    assert get_body(store, ctx, bucket, "a") == b"file"
    assert get_body(store, ctx, bucket, "a/b") == b"child"
    res = store.list_objects(ctx, bucket, delimiter="/")
    assert [v.key for v in res.contents] == ["a"]
    assert res.common_prefixes == ["a/"]
    res = store.list_objects(ctx, bucket, prefix="a/", delimiter="/")
    assert [v.key for v in res.contents] == ["a/", "a/b"]


def test_prefix_exists(store, ctx, vbucket):
    store.put_object(ctx, vbucket, "dir/sub/file", b"x")
    store.put_object(ctx, vbucket, "gone/file", b"x")
    store.delete_object(ctx, vbucket, "gone/file")  # only a delete marker is latest
    assert store.prefix_exists(ctx, vbucket, "dir/")
    assert store.prefix_exists(ctx, vbucket, "dir/sub/")
    assert store.prefix_exists(ctx, vbucket, "di")
    assert not store.prefix_exists(ctx, vbucket, "dir/sub/file/")
    assert not store.prefix_exists(ctx, vbucket, "gone/")
    assert not store.prefix_exists(ctx, vbucket, "other/")
