"""Regenerate ``tests/data/v2-store`` (historical record: run with objfs at
commit 05521fd, the last one writing store format 2, where every version
counts all of its chunk references).

    PYTHONPATH=<a checkout of 05521fd> .venv/bin/python tests/data/make_v2_store.py

It writes a small store (64 KiB chunks) whose objects were edited in place by
the mount's writer (manifests of slices and inline pages, several versions
sharing chunks), copied, renamed, deleted (a delete marker), assembled by a
multipart upload with a part copy, and one upload left open with a part copy
(its part holds references), plus ``v2-store.json`` (sha256 and size of every
version, the open upload). The master key is the store's own ``keys/`` file.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
from pathlib import Path

from objfs.store import OWNER, Store
from objfs.store.types import SystemMeta

HERE = Path(__file__).resolve().parent
DEST = HERE / "v2-store"
PAGE = 4096


def edit(store: Store, bucket: str, key: str, model: bytearray, rnd: random.Random) -> None:
    """Three commits of one writer, each a few page writes and an unaligned one."""
    w = store.open_writer(OWNER, bucket, key, base=store.head_object(OWNER, bucket, key))
    for _ in range(3):
        for _ in range(5):
            off = rnd.randrange(len(model) // PAGE) * PAGE
            data = rnd.randbytes(PAGE)
            w.write(off, data)
            model[off : off + PAGE] = data
        off = rnd.randrange(len(model) - 100)
        w.write(off, b"x" * 100)
        model[off : off + 100] = b"x" * 100
        w.commit(OWNER)
    w.close()


def main() -> int:
    if DEST.exists():
        shutil.rmtree(DEST)
    rnd = random.Random(20)
    store = Store.init(DEST, chunk_size=64 << 10)
    store.create_bucket(OWNER, "ver", versioning=True)
    store.create_bucket(OWNER, "flat")
    big = bytearray(rnd.randbytes(5 * 65536 + 777))
    store.put_object(OWNER, "ver", "big.bin", bytes(big))
    edit(store, "ver", "big.bin", big, rnd)
    flat = bytearray(rnd.randbytes(3 * 65536 + 10))
    store.put_object(OWNER, "flat", "edited.bin", bytes(flat))
    edit(store, "flat", "edited.bin", flat, rnd)
    store.rename(OWNER, "flat", "edited.bin", "moved.bin")
    versions = store.key_versions(OWNER, "ver", "big.bin")
    store.copy_object(
        OWNER, "ver", "big.bin", "ver", "copy.bin", src_version_id=versions[1].version_id
    )
    store.copy_object(OWNER, "ver", "big.bin", "ver", "big.bin", sys_meta=SystemMeta(mode=0o100600))
    store.put_object(OWNER, "ver", "gone.txt", b"deleted later\n")
    store.delete_object(OWNER, "ver", "gone.txt")
    done = store.create_multipart_upload(OWNER, "ver", "mp.bin")
    part = store.upload_part_copy(
        OWNER, "ver", "mp.bin", done, 1, "ver", "big.bin", src_version_id=versions[2].version_id
    )
    store.complete_multipart_upload(OWNER, "ver", "mp.bin", done, [(1, part.etag)])
    open_upload = store.create_multipart_upload(OWNER, "ver", "open.bin")
    store.upload_part_copy(
        OWNER, "ver", "open.bin", open_upload, 1, "ver", "big.bin",
        src_version_id=versions[-1].version_id, src_range=(1000, 200_000),
    )  # fmt: skip
    expected = []
    keys = [("ver", k) for k in ("big.bin", "copy.bin", "gone.txt", "mp.bin")]
    for bucket, key in [*keys, ("flat", "moved.bin")]:
        if True:
            for v in store.key_versions(OWNER, bucket, key):
                if v.is_delete_marker:
                    continue
                data = store.get_object(OWNER, bucket, v.key, version_id=v.version_id).read()
                expected.append(
                    {
                        "bucket": bucket,
                        "key": v.key,
                        "version_id": v.version_id,
                        "size": len(data),
                        "sha256": hashlib.sha256(data).hexdigest(),
                    }
                )
    assert store.fsck(OWNER).ok
    store.close()
    (HERE / "v2-store.json").write_text(
        json.dumps({"open_upload": open_upload, "versions": expected}, indent=1) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
