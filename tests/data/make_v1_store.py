"""Regenerate ``tests/data/v1-store`` (historical record: run with objfs at
commit ac8eb08, the last one writing chunk format v1 and store format 1).

    .venv/bin/python tests/data/make_v1_store.py

It writes a small store (64 KiB chunks) with plaintext, SSE-S3, SSE-KMS and
SSE-C objects, several versions, a delete marker, a hole and compressible
data, plus ``expected.json`` (sha256 and size of every version) and the
SSE-C customer key. The master key is the store's own ``keys/`` file.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
from pathlib import Path

from objfs.store import OWNER, SSERequest, Store

HERE = Path(__file__).resolve().parent
DEST = HERE / "v1-store"
SSEC_KEY = bytes(range(32))


def main() -> int:
    if DEST.exists():
        shutil.rmtree(DEST)
    rnd = random.Random(10)
    store = Store.init(DEST, chunk_size=64 << 10)
    ctx = OWNER
    store.create_bucket(ctx, "plain")
    store.set_bucket_encryption(ctx, "plain", "none")
    store.create_bucket(ctx, "sse", versioning=True)
    kms = store.kms_create_key(ctx, "v1 test key")
    store.create_bucket(ctx, "kms")
    store.set_bucket_encryption(ctx, "kms", "aws:kms", kms.key_id)
    text = b"".join(b"line %d of a compressible text object\n" % i for i in range(5000))
    rand = rnd.randbytes(150_000)
    holey = rnd.randbytes(10_000) + bytes(200_000) + rnd.randbytes(5_000)
    objects = [
        ("plain", "small.txt", b"hello, v1 store\n", None),
        ("plain", "dir/text.log", text, None),
        ("plain", "random.bin", rand, None),
        ("sse", "doc.txt", b"first version\n", None),
        ("sse", "doc.txt", b"second version, longer\n" * 100, None),
        ("sse", "big.bin", rand + text, None),
        ("sse", "holes.bin", holey, None),
        ("sse", "gone.txt", b"deleted later\n", None),
        ("kms", "secret.txt", text[:20_000], None),
        ("plain", "ssec.bin", rand[:70_000], SSERequest(customer_key=SSEC_KEY)),
    ]
    expected = []
    for bucket, key, data, sse in objects:
        res = store.put_object(ctx, bucket, key, data, sse=sse)
        expected.append(
            {
                "bucket": bucket,
                "key": key,
                "version_id": res.version_id,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "ssec": sse is not None,
            }
        )
    store.delete_object(ctx, "sse", "gone.txt")
    store.close()
    (HERE / "v1-store.json").write_text(
        json.dumps({"ssec_key_hex": SSEC_KEY.hex(), "versions": expected}, indent=1) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
