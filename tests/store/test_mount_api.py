"""The calls the mount relies on: metadata amends, rename, random-access writers."""

from __future__ import annotations

import random
import threading
import time

import pytest

from objfs.errors import ConditionalRequestConflict, NoSuchKey
from objfs.store import Store, SystemMeta

from .support import MiB, chunk_files, get_body, md5, rand_bytes

# --- update_sys_meta / update_user_meta -----------------------------------


def test_update_sys_meta_amends_in_place(store, ctx, vbucket):
    put = store.put_object(ctx, vbucket, "f", b"content", sys_meta=SystemMeta(mode=0o100644, uid=1))
    new_meta = SystemMeta(mode=0o100600, uid=1000, gid=1000, mtime_ns=123)
    out = store.update_sys_meta(ctx, vbucket, "f", new_meta)
    assert out.sys_meta == new_meta and out.version_id == put.version_id
    head = store.head_object(ctx, vbucket, "f")
    assert head.sys_meta == new_meta
    assert head.version_id == put.version_id and head.etag == put.etag
    assert len(store.key_versions(ctx, vbucket, "f")) == 1
    assert get_body(store, ctx, vbucket, "f") == b"content"


def test_update_sys_meta_of_older_version(store, ctx, vbucket):
    v1 = store.put_object(ctx, vbucket, "f", b"1").version_id
    store.put_object(ctx, vbucket, "f", b"2")
    store.update_sys_meta(ctx, vbucket, "f", SystemMeta(mode=0o100400), version_id=v1)
    assert store.head_object(ctx, vbucket, "f", version_id=v1).sys_meta.mode == 0o100400
    assert store.head_object(ctx, vbucket, "f").sys_meta.mode is None
    assert len(store.key_versions(ctx, vbucket, "f")) == 2


def test_update_user_meta_amends_in_place(store, ctx, vbucket):
    put = store.put_object(ctx, vbucket, "f", b"content", user_meta={"a": "1"})
    out = store.update_user_meta(ctx, vbucket, "f", {"b": "2"})
    assert out.user_meta == {"b": "2"} and out.version_id == put.version_id
    head = store.head_object(ctx, vbucket, "f")
    assert head.user_meta == {"b": "2"} and head.etag == put.etag
    assert len(store.key_versions(ctx, vbucket, "f")) == 1


def test_update_meta_of_missing_or_deleted_key(store, ctx, vbucket):
    with pytest.raises(NoSuchKey):
        store.update_sys_meta(ctx, vbucket, "missing", SystemMeta(mode=0o100600))
    store.put_object(ctx, vbucket, "gone", b"x")
    store.delete_object(ctx, vbucket, "gone")
    with pytest.raises(NoSuchKey):
        store.update_user_meta(ctx, vbucket, "gone", {"a": "b"})


# --- rename ------------------------------------------------------------------


def test_rename_unversioned(store, ctx, bucket):
    store.put_object(
        ctx, bucket, "src", b"source", user_meta={"u": "1"}, sys_meta=SystemMeta(mode=0o100700)
    )
    store.put_object(ctx, bucket, "dst", b"old target")
    store.rename(ctx, bucket, "src", "dst")
    assert get_body(store, ctx, bucket, "dst") == b"source"
    head = store.head_object(ctx, bucket, "dst")
    assert head.user_meta == {"u": "1"} and head.sys_meta.mode == 0o100700
    with pytest.raises(NoSuchKey):
        store.head_object(ctx, bucket, "src")
    assert [v.key for v in store.list_objects(ctx, bucket).contents] == ["dst"]
    assert [v.key for v in store.list_object_versions(ctx, bucket).versions] == ["dst"]


def test_rename_versioned_leaves_marker_and_keeps_history(store, ctx, vbucket):
    s1 = store.put_object(ctx, vbucket, "src", b"source").version_id
    d1 = store.put_object(ctx, vbucket, "dst", b"old target").version_id
    store.rename(ctx, vbucket, "src", "dst")
    src_versions = store.key_versions(ctx, vbucket, "src")
    assert src_versions[0].is_delete_marker and src_versions[0].is_latest
    assert [v.version_id for v in src_versions[1:]] == [s1]
    with pytest.raises(NoSuchKey) as exc:
        store.get_object(ctx, vbucket, "src")
    assert exc.value.details.get("delete_marker") is True
    dst_versions = store.key_versions(ctx, vbucket, "dst")
    assert len(dst_versions) == 2 and dst_versions[1].version_id == d1
    assert get_body(store, ctx, vbucket, "dst") == b"source"
    assert get_body(store, ctx, vbucket, "dst", version_id=d1) == b"old target"


def test_rename_missing_source(store, ctx, bucket):
    store.put_object(ctx, bucket, "dst", b"keep")
    with pytest.raises(NoSuchKey):
        store.rename(ctx, bucket, "nope", "dst")
    assert get_body(store, ctx, bucket, "dst") == b"keep"


def test_rename_costs_no_chunk_data(store, ctx, bucket):
    store.put_object(ctx, bucket, "src", rand_bytes(4 * MiB, 1))
    before = chunk_files(store.path)
    store.rename(ctx, bucket, "src", "moved/here")
    assert chunk_files(store.path) == before
    assert md5(get_body(store, ctx, bucket, "moved/here")) == md5(rand_bytes(4 * MiB, 1))


def test_rename_prefix(store, ctx, bucket):
    layout = {
        "a/x": b"1",
        "a/y/z": b"2",
        "a/": b"",
        "ab": b"not under a/",
        "b/x": b"old",
        "b/keep": b"k",
    }
    for key, body in layout.items():
        store.put_object(ctx, bucket, key, body)
    store.rename_prefix(ctx, bucket, "a/", "b/")
    listed = {v.key: get_body(store, ctx, bucket, v.key) for v in store.iter_objects(ctx, bucket)}
    assert listed == {
        "ab": b"not under a/",
        "b/": b"",
        "b/x": b"1",
        "b/y/z": b"2",
        "b/keep": b"k",
    }


def test_rename_prefix_versioned(store, ctx, vbucket):
    store.put_object(ctx, vbucket, "old/1", b"1")
    store.put_object(ctx, vbucket, "old/2", b"2")
    store.rename_prefix(ctx, vbucket, "old/", "new/")
    assert [v.key for v in store.list_objects(ctx, vbucket).contents] == ["new/1", "new/2"]
    for key in ("old/1", "old/2"):
        versions = store.key_versions(ctx, vbucket, key)
        assert versions[0].is_delete_marker and len(versions) == 2
    assert not store.prefix_exists(ctx, vbucket, "old/")


def test_rename_prefix_is_atomic_to_readers(store_path, store, ctx, bucket):
    n = 300
    for i in range(n):
        store.put_object(ctx, bucket, f"src/{i:04d}", b"x")
    observer = Store.open(store_path)
    stop = threading.Event()
    mixed: list[tuple[int, int]] = []
    seen: list[tuple[int, int]] = []
    looked = threading.Condition()

    def watch() -> None:
        while not stop.is_set():
            keys = [v.key for v in observer.list_objects(ctx, bucket, max_keys=1000).contents]
            src = sum(k.startswith("src/") for k in keys)
            dst = sum(k.startswith("dst/") for k in keys)
            with looked:
                seen.append((src, dst))
                looked.notify_all()
            if (src, dst) not in ((n, 0), (0, n)):
                mixed.append((src, dst))

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        with looked:  # the watcher is looking before the rename starts ...
            assert looked.wait_for(lambda: len(seen) >= 1, timeout=60)
        store.rename_prefix(ctx, bucket, "src/", "dst/")
        with looked:  # ... and looks again after it
            assert looked.wait_for(lambda: seen[-1] == (0, n), timeout=60)
    finally:
        stop.set()
        thread.join()
        observer.close()
    assert not mixed, f"a reader saw a half-done rename: {mixed[:3]}"
    assert seen[0] == (n, 0)
    assert len(store.list_objects(ctx, bucket, prefix="dst/").contents) == n


# --- open_writer ---------------------------------------------------------------


def test_writer_random_ops_match_bytearray_model(store, ctx, vbucket):
    rng = random.Random(2024)
    chunk = store.chunk_size
    model = bytearray()
    w = store.open_writer(ctx, vbucket, "file", base=None)
    committed: list[tuple[str, bytes]] = []
    try:
        for step in range(120):
            op = rng.random()
            if op < 0.55:
                offset = rng.randint(0, max(0, len(model) + chunk // 2))
                if rng.random() < 0.2:
                    offset = rng.choice([chunk - 1, chunk, 2 * chunk - 3])
                data = rng.randbytes(rng.choice([1, 7, 4096, rng.randint(1, chunk + 10)]))
                w.write(offset, data)
                if offset > len(model):
                    model.extend(bytes(offset - len(model)))
                model[offset : offset + len(data)] = data
            elif op < 0.7:
                size = rng.randint(0, len(model) + 2 * chunk)
                w.truncate(size)
                if size < len(model):
                    del model[size:]
                else:
                    model.extend(bytes(size - len(model)))
            elif op < 0.85:
                offset = rng.randint(0, len(model) + 10)
                n = rng.randint(0, chunk + 100)
                assert w.read(offset, n) == bytes(model[offset : offset + n]), step
            else:
                res = w.commit(ctx)
                # (the ETag of a writer commit need not be an MD5: computing one
                # would read the whole object back for a one-byte edit)
                assert res.size == len(model)
                assert not w.dirty
                committed.append((res.version_id, bytes(model)))
            assert w.size == len(model), step
        res = w.commit(ctx)
        committed.append((res.version_id, bytes(model)))
    finally:
        w.close()
    assert len(committed) >= 5
    assert get_body(store, ctx, vbucket, "file") == bytes(model)
    for vid, body in committed:
        assert get_body(store, ctx, vbucket, "file", version_id=vid) == body
    assert len({vid for vid, _ in committed}) == len(committed)


def test_writer_write_nowait_matches_write(store, ctx, bucket):
    """write_nowait (the mount's no-thread-hop path) writes exactly what write
    would, or nothing and says so: sequential 1 MiB writes, aligned or not,
    go without waiting; a partial write into base data or a stored block does not."""
    chunk = store.chunk_size
    body = rand_bytes(3 * chunk + 100, 7)
    store.put_object(ctx, bucket, "f", body)
    w = store.open_writer(ctx, bucket, "f", base=store.head_object(ctx, bucket, "f"))
    model = bytearray(body)
    rng = random.Random(7)
    try:
        assert not w.write_nowait(10, b"x" * 100)  # needs block 0 of the base
        assert bytes(w.read(0, len(model))) == body  # refused: nothing written
        whole = rand_bytes(chunk, 8)
        assert w.write_nowait(chunk, whole)  # a whole block: no base read
        model[chunk : 2 * chunk] = whole
        offset = len(model) + 5000  # appends past the end, off the block grid
        taken = 0
        for _ in range(40):
            data = rng.randbytes(chunk)
            if w.write_nowait(offset, data):
                taken += 1
            else:
                w.write(offset, data)
            model.extend(bytes(offset - len(model)))
            model[offset : offset + chunk] = data
            offset += chunk
        # The first max_dirty blocks never wait (later ones may, for the pool).
        assert taken >= 10
        # Block 2 was evicted (stored) long ago: a partial write must load it.
        assert not w.write_nowait(2 * chunk + 1, b"y")
        w.write(2 * chunk + 1, b"y")
        model[2 * chunk + 1] = ord("y")
        assert w.size == len(model)
        assert w.read(0, len(model)) == bytes(model)
        w.commit(ctx)
    finally:
        w.close()
    assert get_body(store, ctx, bucket, "f") == bytes(model)


def test_writer_straddling_appends_match_model(store, ctx, bucket):
    """Block-sized writes off the block grid (the kernel's writeback sends
    them) are kept as views of the callers' bytes until sealed: reads, edits
    and truncates in the middle of such a block, mutable buffers changed after
    the write, and blocks evicted while half filled all keep the file exact."""
    chunk = store.chunk_size
    rng = random.Random(11)
    w = store.open_writer(ctx, bucket, "f", base=None)
    model = bytearray()
    try:
        offset = 3 * 4096
        w.write(0, b"\0" * offset)  # a hole-ish start, then off-grid appends
        model.extend(bytes(offset))
        for step in range(40):
            n = rng.choice([chunk, chunk, chunk - 4096, 2 * chunk + 8192, 4096])
            data: bytes | bytearray | memoryview = rng.randbytes(n)
            kind = step % 5
            if kind == 1:
                data = bytearray(data)
            elif kind == 2:
                data = memoryview(bytearray(data))
            w.write(offset, data)
            model[offset : offset + n] = bytes(data)
            if isinstance(data, (bytearray, memoryview)):
                data[:8] = b"CHANGED!"  # the writer kept a copy, not a view
            offset += n
            what = rng.random()
            if what < 0.15:  # read back, including the block being filled
                start = rng.randint(0, len(model) - 1)
                assert w.read(start, chunk + 10) == bytes(model[start : start + chunk + 10]), step
            elif what < 0.25:  # an edit inside the block being filled (not an append)
                at = max(0, offset - rng.randint(1, 4096))
                w.write(at, b"edit")
                model[at : at + 4] = b"edit"
                offset = max(offset, at + 4)
            elif what < 0.3:  # truncate inside the block being filled
                offset -= rng.randint(1, 1000)
                w.truncate(offset)
                del model[offset:]
            assert w.size == len(model), step
        assert w.read(0, len(model)) == bytes(model)
        w.commit(ctx)
    finally:
        w.close()
    assert get_body(store, ctx, bucket, "f") == bytes(model)


def test_writer_pool_wait_names_what_a_refused_write_waits_for(store, ctx, bucket):
    """A sequential writer outrunning the chunk pool: write_nowait refuses,
    pool_wait hands out a block being stored, and once it is done the write
    goes through without a worker thread. Nothing in flight: nothing to wait for."""
    chunk = store.chunk_size
    w = store.open_writer(ctx, bucket, "f", base=None)
    model = bytearray()
    waited = 0
    try:
        assert w.pool_wait() is None
        for i in range(w.max_dirty + 40):
            data = rand_bytes(chunk, 100 + i)
            while not w.write_nowait(i * chunk, data):
                pending = w.pool_wait()
                assert pending is not None  # refused only because the pool is full
                pending.result()
                waited += 1
            model += data
        w.commit(ctx)
        assert w.pool_wait() is None
    finally:
        w.close()
    assert get_body(store, ctx, bucket, "f") == bytes(model)


def test_sequential_writer_stores_blocks_it_moved_past(store_path, store, ctx, bucket):
    """A full block a sequential stream has moved past is stored while the
    pool has room (not held until max_dirty later blocks push it out), on or
    off the block grid; the last block stays in memory until the commit."""
    chunk = store.chunk_size
    for name, start in (("aligned", 0), ("straddling", 12288)):
        had = len(chunk_files(store_path))
        w = store.open_writer(ctx, bucket, name, base=None)
        model = bytearray(start)
        try:
            if start:
                w.write(0, bytes(start))
            for i in range(6):
                data = rand_bytes(chunk, 200 + i)
                assert w.write_nowait(start + i * chunk, data)
                model += data
                while (pending := w.pool_wait()) is not None:
                    pending.result()
            deadline = time.monotonic() + 30  # the pool may still be writing the last ones
            while (
                stored := len(chunk_files(store_path)) - had
            ) < 5 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert stored >= 5, (name, stored)  # not one file before commit with max_dirty=16
            w.commit(ctx)
        finally:
            w.close()
        assert get_body(store, ctx, bucket, name) == bytes(model)


def test_writer_on_base_is_copy_on_write(store, ctx, vbucket):
    body = rand_bytes(3 * MiB + 5, 3)
    base_put = store.put_object(ctx, vbucket, "f", body, sys_meta=SystemMeta(mode=0o100644))
    base = store.head_object(ctx, vbucket, "f")
    before = chunk_files(store.path)
    w = store.open_writer(ctx, vbucket, "f", base=base)
    assert w.size == len(body) and not w.dirty
    assert w.read(MiB - 2, 4) == body[MiB - 2 : MiB + 2]
    w.write(MiB + 10, b"EDIT")
    assert w.dirty
    res = w.commit(ctx)
    w.close()
    expected = bytearray(body)
    expected[MiB + 10 : MiB + 14] = b"EDIT"
    assert get_body(store, ctx, vbucket, "f") == bytes(expected)
    assert get_body(store, ctx, vbucket, "f", version_id=base_put.version_id) == body
    assert res.version_id != base_put.version_id
    new_files = set(chunk_files(store.path)) - set(before)
    assert len(new_files) <= 1, "a 4-byte edit must cost at most one chunk"


def test_writer_truncate_option_and_holes(store, ctx, bucket):
    store.put_object(ctx, bucket, "f", rand_bytes(2 * MiB, 4))
    base = store.head_object(ctx, bucket, "f")
    before = chunk_files(store.path)
    w = store.open_writer(ctx, bucket, "f", base=base, truncate=True)
    assert w.size == 0
    hole = 40 * MiB
    w.truncate(hole)  # extend: a hole of zeros
    w.write(hole, b"tail")
    res = w.commit(ctx)
    w.close()
    assert res.size == hole + 4
    new_files = set(chunk_files(store.path)) - set(before)
    assert len(new_files) <= 1, "a hole must not be stored as chunks of zeros"
    assert store.read_range(ctx, bucket, "f", 0, 16) == bytes(16)
    assert store.read_range(ctx, bucket, "f", 20 * MiB, 4096) == bytes(4096)
    assert store.read_range(ctx, bucket, "f", hole - 2, 6) == b"\0\0tail"
    with store.get_object(ctx, bucket, "f") as reader:
        total = sum(len(p) for p in reader)
    assert total == hole + 4


def test_writer_write_past_end_makes_a_hole(store, ctx, bucket):
    w = store.open_writer(ctx, bucket, "sparse", base=None)
    w.write(10 * MiB + 3, b"x")
    assert w.size == 10 * MiB + 4
    assert w.read(5 * MiB, 8) == bytes(8)
    w.commit(ctx)
    w.close()
    assert store.read_range(ctx, bucket, "sparse", 10 * MiB, 4) == b"\0\0\0x"


def test_writer_close_discards_uncommitted(store, ctx, bucket):
    store.put_object(ctx, bucket, "f", b"original")
    w = store.open_writer(ctx, bucket, "f", base=store.head_object(ctx, bucket, "f"))
    w.write(0, b"CHANGED!")
    w.close()
    assert get_body(store, ctx, bucket, "f") == b"original"
    w = store.open_writer(ctx, bucket, "new", base=None)
    w.write(0, b"never committed")
    w.close()
    with pytest.raises(NoSuchKey):
        store.head_object(ctx, bucket, "new")


def test_writer_commit_takes_metadata(store, ctx, bucket):
    w = store.open_writer(ctx, bucket, "f", base=None)
    w.write(0, b"abc")
    meta = SystemMeta(mode=0o100755, uid=5, gid=6, mtime_ns=7)
    w.commit(ctx, sys_meta=meta, content_type="text/plain", user_meta={"a": "b"})
    w.write(3, b"def")  # the writer stays usable after a commit
    w.commit(ctx, sys_meta=meta)
    w.close()
    head = store.head_object(ctx, bucket, "f")
    assert head.sys_meta == meta and head.size == 6
    assert get_body(store, ctx, bucket, "f") == b"abcdef"


def test_two_writers_editing_one_version_the_second_commit_is_refused(store, ctx, vbucket):
    """Two edits of one version: the first commits; the second would undo it
    (its base is no longer the latest), so the store refuses it and keeps
    the first (issue 19: nothing acknowledged is lost)."""
    base = store.put_object(ctx, vbucket, "f", b"0123456789")
    head = store.head_object(ctx, vbucket, "f")
    first = store.open_writer(ctx, vbucket, "f", base=head)
    second = store.open_writer(ctx, vbucket, "f", base=head)
    first.write(0, b"AA")
    second.write(8, b"ZZ")
    r1 = first.commit(ctx)
    with pytest.raises(ConditionalRequestConflict, match="changed since this edit began"):
        second.commit(ctx)
    first.close()
    second.close()
    assert get_body(store, ctx, vbucket, "f") == b"AA23456789"
    assert [v.version_id for v in store.key_versions(ctx, vbucket, "f")] == [
        r1.version_id,
        base.version_id,
    ]


@pytest.mark.parametrize("versioned", [False, True])
def test_an_edit_of_a_replaced_version_is_refused_and_the_newer_data_stays(
    store, ctx, bucket, vbucket, versioned
):
    """The mount's edit of a version that another interface replaced since
    (append after a PUT): refused in the commit's transaction, whatever the
    bucket's versioning; the PUT's data stays the latest."""
    b = vbucket if versioned else bucket
    store.put_object(ctx, b, "f", b"line1\n")
    seen = store.head_object(ctx, b, "f")
    store.put_object(ctx, b, "f", b"line1\nline2\n")  # acknowledged elsewhere
    with pytest.raises(ConditionalRequestConflict):
        writer = store.open_writer(ctx, b, "f", base=seen)
        try:
            writer.write(6, b"line3\n")
            writer.commit(ctx)
        finally:
            writer.close()
    assert get_body(store, ctx, b, "f") == b"line1\nline2\n"
    # A rewrite from scratch (truncate) does not depend on the base: it replaces.
    writer = store.open_writer(ctx, b, "f", base=seen, truncate=True)
    writer.write(0, b"new\n")
    writer.commit(ctx)
    writer.close()
    assert get_body(store, ctx, b, "f") == b"new\n"


def test_a_writer_edits_on_after_its_own_commit_but_not_after_a_put(store, ctx, bucket):
    store.put_object(ctx, bucket, "f", b"abc")
    writer = store.open_writer(ctx, bucket, "f", base=store.head_object(ctx, bucket, "f"))
    writer.write(3, b"d")
    writer.commit(ctx)
    writer.write(4, b"e")
    writer.commit(ctx)  # its own last commit is the base: fine
    assert get_body(store, ctx, bucket, "f") == b"abcde"
    store.put_object(ctx, bucket, "f", b"other")
    writer.write(5, b"f")
    with pytest.raises(ConditionalRequestConflict):
        writer.commit(ctx)
    writer.close()
    assert get_body(store, ctx, bucket, "f") == b"other"
