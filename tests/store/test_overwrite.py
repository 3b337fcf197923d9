"""In-place edits through the mount's writer: small writes cost small data.

A 4 KiB write into a large versioned file keeps the unchanged parts of its
chunk as slices of the base chunk and stores only the written pages; what
the writer reads and commits always equals a plain byte-array model, over
many commits (slices of slices), truncation, unaligned writes and holes.
"""

from __future__ import annotations

import os
import random

from objfs.store import OWNER
from objfs.store.writer import MAX_PIECES, PAGE
from tests.meta.sql import meta_sql

from .support import chunk_dir_bytes

MiB = 1 << 20


def _meta_value(store, sql: str) -> int:
    db = meta_sql(store.path)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def inline_bytes(store) -> int:
    return _meta_value(store, "SELECT COALESCE(SUM(LENGTH(frame)), 0) FROM inline_chunks")


def new_data(store) -> int:
    return chunk_dir_bytes(store.path) + inline_bytes(store)


def test_small_overwrites_cost_small_data(store, ctx, vbucket):
    size = 16 * MiB
    model = bytearray(os.urandom(size))
    store.put_object(ctx, vbucket, "big", bytes(model))
    before = new_data(store)
    rng = random.Random(7)
    writes = 0
    for _round in range(5):
        base = store.head_object(ctx, vbucket, "big")
        w = store.open_writer(ctx, vbucket, "big", base=base)
        for _ in range(40):
            off = rng.randrange(size // PAGE) * PAGE
            data = os.urandom(PAGE)
            w.write(off, data)
            model[off : off + PAGE] = data
            writes += 1
            probe = rng.randrange(size - 10_000)
            assert w.read(probe, 10_000) == bytes(model[probe : probe + 10_000])
        w.commit(ctx)
        w.close()
        assert store.get_object(ctx, vbucket, "big").read() == bytes(model)
    grown = new_data(store) - before
    # ~4 KiB of sealed data per write (plus frame overhead), never a 1 MiB chunk.
    assert grown < writes * 8 * 1024, grown
    assert len(store.key_versions(ctx, vbucket, "big")) == 6
    report = store.fsck(OWNER)
    assert report.ok, report.problems


def test_random_edits_match_a_model(store, ctx, vbucket):
    rng = random.Random(11)
    size = 5 * MiB + 12_345
    model = bytearray(os.urandom(size))
    store.put_object(ctx, vbucket, "f", bytes(model))
    for _round in range(12):
        base = store.head_object(ctx, vbucket, "f")
        w = store.open_writer(ctx, vbucket, "f", base=base)
        for _ in range(60):
            op = rng.random()
            if op < 0.55:  # aligned pages
                n = PAGE * rng.randrange(1, 40)
                off = rng.randrange(max(1, len(model) // PAGE)) * PAGE
            elif op < 0.85:  # anything
                n = rng.randrange(1, 200_000)
                off = rng.randrange(len(model) + 1000)
            elif op < 0.93:
                cut = rng.randrange(len(model) + 3 * MiB)
                w.truncate(cut)
                if cut < len(model):
                    del model[cut:]
                else:
                    model.extend(bytes(cut - len(model)))
                continue
            else:
                lo = rng.randrange(len(model) + 1)
                hi = lo + rng.randrange(300_000)
                assert w.read(lo, hi - lo) == bytes(model[lo:hi])
                continue
            data = os.urandom(n) if rng.random() < 0.8 else bytes(n)
            w.write(off, data)
            if off > len(model):
                model.extend(bytes(off - len(model)))
            model[off : off + n] = data
        assert w.size == len(model)
        w.commit(ctx)
        w.close()
        assert store.get_object(ctx, vbucket, "f").read() == bytes(model), _round
        mid = len(model) // 3
        assert store.read_range(ctx, vbucket, "f", mid, 70_000) == bytes(model[mid : mid + 70_000])
    assert store.fsck(OWNER).ok


def test_fragmentation_is_bounded(store, ctx, vbucket):
    size = 2 * MiB
    model = bytearray(os.urandom(size))
    store.put_object(ctx, vbucket, "frag", bytes(model))
    for i in range(3):
        base = store.head_object(ctx, vbucket, "frag")
        w = store.open_writer(ctx, vbucket, "frag", base=base)
        for page in range(i, size // PAGE, 2):  # every other page: many pieces
            data = os.urandom(PAGE)
            w.write(page * PAGE, data)
            model[page * PAGE : (page + 1) * PAGE] = data
        w.commit(ctx)
        w.close()
    info = store.head_object(ctx, vbucket, "frag")
    with store.db.read() as cur:
        from objfs.meta import queries as q
        from objfs.store import records as rec
        from objfs.store.names import encode_key
        from objfs.store.records import Col

        row = q.get_version(cur, vbucket, encode_key("frag"), info.version_id)
        manifest = rec.unpack_manifest(row[Col.MANIFEST])
    assert len(manifest) <= 2 * MAX_PIECES
    assert store.get_object(ctx, vbucket, "frag").read() == bytes(model)


def test_page_edits_of_base_blocks_need_no_worker_thread(store, ctx, vbucket):
    """write_nowait takes whole-page writes into blocks the base holds (they go
    to the overlay, nothing is read), refuses what must read, and what it
    takes reads back and commits as ``write`` would."""
    size = 4 * MiB + 100
    model = bytearray(os.urandom(size))
    store.put_object(ctx, vbucket, "big", bytes(model))
    w = store.open_writer(ctx, vbucket, "big", base=store.head_object(ctx, vbucket, "big"))
    rng = random.Random(3)
    try:
        for _ in range(50):
            off = rng.randrange((4 * MiB) // PAGE) * PAGE
            data = os.urandom(PAGE * rng.choice([1, 1, 2]))
            if off + len(data) > 4 * MiB:
                continue
            assert w.write_nowait(off, data)
            model[off : off + len(data)] = data
        assert not w.write_nowait(5, b"x" * PAGE)  # not page aligned: reads the block
        assert not w.write_nowait(4 * MiB, b"y" * PAGE)  # the tail block is not whole
        assert w.read(0, size) == bytes(model)
        w.commit(ctx)
    finally:
        w.close()
    assert store.get_object(ctx, vbucket, "big").read() == bytes(model)
    assert store.fsck(OWNER).findings == []


def test_a_block_stored_whole_again_leaves_no_stray_inline_frame(store, ctx, vbucket):
    # More written pages in one block than MAX_PIECES: the writer seals the
    # pieces, finds too many, and stores the block whole. The pieces' frames
    # are named by no manifest: the commit must not keep them (a frame no
    # chunk row counts would never be collected).
    size = 4 * MiB
    model = bytearray(os.urandom(size))
    store.put_object(ctx, vbucket, "f", bytes(model))
    frames_before = _frame_rows(store)
    base = store.head_object(ctx, vbucket, "f")
    w = store.open_writer(ctx, vbucket, "f", base=base)
    for i in range(MAX_PIECES + 8):  # every other page of block 1: separate pieces
        off = MiB + 2 * i * PAGE
        data = os.urandom(PAGE)
        w.write(off, data)
        model[off : off + PAGE] = data
    w.commit(ctx)
    w.close()
    assert store.get_object(ctx, vbucket, "f").read() == bytes(model)
    assert _frame_rows(store) == frames_before
    report = store.fsck(OWNER)
    assert report.ok and not report.findings, report.findings


def _frame_rows(store) -> int:
    return _meta_value(store, "SELECT COUNT(*) FROM inline_chunks")
