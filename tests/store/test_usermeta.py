"""User metadata's 2 KB (S3-SEMANTICS.md "Objects"): one rule for every way metadata is written.

S3 counts the UTF-8 bytes of each name and value; 2048 bytes pass, one more
is ``MetadataTooLarge`` (HTTP 400; ENOSPC on the mount's setxattr). Nothing
is committed by a refused write.
"""

from __future__ import annotations

import errno

import pytest

from objfs.errors import MetadataTooLarge
from objfs.store.usermeta import MAX_USER_META_BYTES, check_user_meta, user_meta_size


def _meta(total: int, *, name: str = "n") -> dict[str, str]:
    return {name: "v" * (total - len(name.encode()))}


def test_size_counts_utf8_names_and_values():
    assert user_meta_size({"a": "bc", "d\u00e9": "\u20ac"}) == 3 + 3 + 3
    check_user_meta(_meta(MAX_USER_META_BYTES))
    with pytest.raises(MetadataTooLarge) as caught:
        check_user_meta({"k": "\u00e9" * 1024})  # 1 + 2048 bytes
    assert caught.value.status == 400 and caught.value.code == "MetadataTooLarge"
    assert caught.value.errno == errno.ENOSPC
    assert "2049 bytes" in str(caught.value)


def test_put_object(store, ctx, bucket):
    store.put_object(ctx, bucket, "ok", b"x", user_meta=_meta(2048))
    assert store.head_object(ctx, bucket, "ok").user_meta == _meta(2048)
    with pytest.raises(MetadataTooLarge):
        store.put_object(ctx, bucket, "big", b"x", user_meta=_meta(2049))
    with pytest.raises(MetadataTooLarge):
        store.put_object(ctx, bucket, "ok", b"new", user_meta={"a": "1" * 1500, "b": "2" * 600})
    assert store.list_objects(ctx, bucket).key_count == 1
    assert store.head_object(ctx, bucket, "ok").size == 1


def test_copy_replace_and_in_place_update(store, ctx, bucket):
    store.put_object(ctx, bucket, "src", b"data", user_meta={"a": "1"})
    with pytest.raises(MetadataTooLarge):
        store.copy_object(
            ctx, bucket, "src", bucket, "dst", metadata_directive="REPLACE", user_meta=_meta(3000)
        )
    with pytest.raises(MetadataTooLarge):
        store.update_user_meta(ctx, bucket, "src", {"a": "1", **_meta(2048, name="b")})
    assert store.head_object(ctx, bucket, "src").user_meta == {"a": "1"}
    assert store.list_objects(ctx, bucket).key_count == 1
    updated = store.update_user_meta(ctx, bucket, "src", _meta(2048))
    assert updated.user_meta == _meta(2048)


def test_multipart_upload(store, ctx, bucket):
    with pytest.raises(MetadataTooLarge):
        store.create_multipart_upload(ctx, bucket, "mp", user_meta=_meta(2049))
    assert store.list_multipart_uploads(ctx, bucket).uploads == []


def test_mount_writer_commit(store, ctx, bucket):
    """The mount's writes commit through ``ObjectWriter.commit``: same rule."""
    writer = store.open_writer(ctx, bucket, "file", base=None)
    writer.write(0, b"hello")
    with pytest.raises(MetadataTooLarge):
        writer.commit(ctx, user_meta=_meta(4096))
    writer.close()
    assert store.list_objects(ctx, bucket).key_count == 0
