"""Damaged chunks are detected, never returned; fsck names them; orphans are cleaned.

DESIGN.md "On-disk invariants" 1 and 2. The only on-disk knowledge used: chunk
files live under ``chunks/`` and temporary files start with ``.tmp-``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from objfs.errors import IntegrityError, NoSuchKey, ObjfsError
from objfs.store import OWNER

from .support import GenStream, MiB, chunk_dir_bytes, chunk_files, get_body, rand_bytes


def real_chunks(store_path: Path) -> list[Path]:
    root = Path(store_path) / "chunks"
    return sorted(
        root / rel for rel in chunk_files(store_path) if not os.path.basename(rel).startswith(".")
    )


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
        return
    if how == "remove":
        path.unlink()
        return
    at = {"first": 0, "middle": len(data) // 2, "last": len(data) - 1}[how]
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def read_checked(store, ctx, bucket, key, body: bytes) -> None:
    """Read the object; every byte returned before an error must be right."""
    got = bytearray()
    try:
        with store.get_object(ctx, bucket, key) as reader:
            for piece in reader:
                got += piece
                assert bytes(got) == body[: len(got)], "damaged data was returned"
    finally:
        assert bytes(got) == body[: len(got)]


@pytest.mark.parametrize("how", ["first", "middle", "last", "truncate", "remove"])
def test_damaged_chunk_is_detected_and_reported(store, ctx, vbucket, how):
    body = rand_bytes(3 * MiB, 1)
    vid = store.put_object(ctx, vbucket, "dir/photo.jpg", body).version_id
    store.put_object(ctx, vbucket, "healthy", b"fine")
    photo_files = [f for f in real_chunks(store.path) if f.stat().st_size > 100]
    assert len(photo_files) == 3  # three 1 MiB chunks (the 4-byte object is tiny)
    victim = photo_files[1]
    damage(victim, how)

    with pytest.raises(IntegrityError) as exc:
        read_checked(store, ctx, vbucket, "dir/photo.jpg", body)
    assert exc.value.status == 500 and "\n" not in str(exc.value)
    # Damage is bounded: the other chunks still read, only one MiB fails.
    failures = 0
    for i in range(3):
        try:
            got = store.read_range(ctx, vbucket, "dir/photo.jpg", i * MiB, MiB)
        except IntegrityError:
            failures += 1
        else:
            assert got == body[i * MiB : (i + 1) * MiB]
    assert failures == 1
    assert get_body(store, ctx, vbucket, "healthy") == b"fine"

    report = store.fsck(OWNER)
    assert not report.ok and report.problems
    assert any(
        o[0] == vbucket and o[1] == "dir/photo.jpg" and o[2] == vid for o in report.damaged_objects
    ), report.damaged_objects
    assert all(o[1] != "healthy" for o in report.damaged_objects)

    repaired = store.fsck(OWNER, repair=True)
    # Not silently dropped: still reported, still listed, still refusing to lie.
    assert not repaired.ok
    assert any(o[:3] == (vbucket, "dir/photo.jpg", vid) for o in repaired.damaged_objects)
    assert [v.key for v in store.list_objects(ctx, vbucket).contents] == [
        "dir/photo.jpg",
        "healthy",
    ]
    with pytest.raises(IntegrityError):
        read_checked(store, ctx, vbucket, "dir/photo.jpg", body)
    assert not store.fsck(OWNER).ok


def test_fsck_clean_store(store, ctx, vbucket):
    store.put_object(ctx, vbucket, "a", rand_bytes(2 * MiB + 5, 2))
    store.put_object(ctx, vbucket, "a", b"second")
    store.copy_object(ctx, vbucket, "a", vbucket, "b")
    store.delete_object(ctx, vbucket, "a")
    uid = store.create_multipart_upload(ctx, vbucket, "mp")
    store.upload_part(ctx, vbucket, "mp", uid, 1, rand_bytes(MiB, 3))
    report = store.fsck(OWNER)
    assert report.ok and report.problems == [] and report.damaged_objects == []
    assert store.fsck(OWNER, repair=True).ok


class Boom(Exception):
    pass


def failing_pieces(good: int):
    block = rand_bytes(MiB, 9)
    sent = 0
    while sent < good:
        yield block[: min(MiB, good - sent)]
        sent += MiB
    raise Boom("the client went away")


def test_failed_put_commits_nothing_and_leaves_no_orphans(store, ctx, vbucket):
    store.put_object(ctx, vbucket, "k", b"previous")
    before = chunk_files(store.path)
    with pytest.raises((Boom, ObjfsError)):
        store.put_object(ctx, vbucket, "k", GenStream(failing_pieces(5 * MiB)))
    assert get_body(store, ctx, vbucket, "k") == b"previous"
    assert len(store.key_versions(ctx, vbucket, "k")) == 1
    with pytest.raises((Boom, ObjfsError)):
        store.put_object(ctx, vbucket, "new", GenStream(failing_pieces(3 * MiB)))
    with pytest.raises(NoSuchKey):
        store.head_object(ctx, vbucket, "new")
    # Whatever the failed puts left behind, fsck --repair (or gc) removes it.
    report = store.fsck(OWNER, repair=True)
    assert report.ok and report.damaged_objects == []
    store.gc(OWNER, grace_seconds=0)
    assert chunk_files(store.path) == before
    assert store.fsck(OWNER).ok


def test_gc_keeps_young_orphans_and_removes_old_ones(store, ctx, bucket):
    with pytest.raises((Boom, ObjfsError)):
        store.put_object(ctx, bucket, "k", GenStream(failing_pieces(4 * MiB)))
    left = chunk_dir_bytes(store.path)
    store.gc(OWNER)  # default grace: an in-flight write's chunks are never raced
    assert chunk_dir_bytes(store.path) == left
    store.gc(OWNER, grace_seconds=0)
    assert chunk_files(store.path) == {}


def test_gc_frees_deleted_versions(store, ctx, vbucket):
    v1 = store.put_object(ctx, vbucket, "k", rand_bytes(3 * MiB, 5)).version_id
    store.put_object(ctx, vbucket, "keep", rand_bytes(MiB, 6))
    before = chunk_dir_bytes(store.path)
    store.delete_object(ctx, vbucket, "k")  # a marker: the data must stay
    store.gc(OWNER, grace_seconds=0)
    assert chunk_dir_bytes(store.path) == before
    assert get_body(store, ctx, vbucket, "k", version_id=v1) == rand_bytes(3 * MiB, 5)
    store.delete_object(ctx, vbucket, "k", version_id=v1)  # gone for good
    report = store.gc(OWNER, grace_seconds=0)
    after = chunk_dir_bytes(store.path)
    assert before - after >= 3 * MiB
    assert report.chunks_removed == 3
    # the contract's GcReport.bytes_freed (on-disk or logical: within framing overhead)
    assert abs(report.bytes_freed - (before - after)) < 64 * 1024
    assert get_body(store, ctx, vbucket, "keep") == rand_bytes(MiB, 6)
    assert store.fsck(OWNER).ok
