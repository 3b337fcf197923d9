"""An object over 5 GiB composed with UploadPartCopy from a 64 MiB one, with boto3
(issue 8): the parts share the source's chunks, so time and disk stay small,
and every range reads back byte-exact.

Speed is not asserted (measured figures are printed: run with ``-s``); the
disk growth is, since sharing is the point: a 5 GiB object that costs
5 GiB of chunks would be a copy.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

MiB = 1 << 20
GiB = 1 << 30
SRC = 64 * MiB


def disk_bytes(root: Path) -> int:
    """Bytes allocated under ``root`` (the store: chunks, database, WAL, keys)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_blocks * 512
            except FileNotFoundError:
                continue
    return total


def test_compose_over_5_gib_from_a_64_mib_object(alice, bkt, s3env, record_property):
    started = time.monotonic()
    src = os.urandom(SRC)
    alice.put_object(Bucket=bkt, Key="src", Body=src)
    src_etag = f'"{hashlib.md5(src).hexdigest()}"'
    before = disk_bytes(s3env["store"])
    uid = alice.create_multipart_upload(Bucket=bkt, Key="huge")["UploadId"]
    # 80 parts of the whole source, then one range at odd offsets (slices of
    # the chunks at both edges; its ETag is the MD5 of those bytes).
    first, last = 1_000_003, SRC - 8
    pieces = [None] * 80 + [(first, last)]
    parts = []
    seconds = []
    for number, rng in enumerate(pieces, 1):
        part_started = time.monotonic()
        extra = {"CopySourceRange": f"bytes={rng[0]}-{rng[1]}"} if rng else {}
        result = alice.upload_part_copy(
            Bucket=bkt,
            Key="huge",
            UploadId=uid,
            PartNumber=number,
            CopySource={"Bucket": bkt, "Key": "src"},
            **extra,
        )["CopyPartResult"]
        parts.append({"PartNumber": number, "ETag": result["ETag"]})
        seconds.append(time.monotonic() - part_started)
    tail = src[first : last + 1]
    assert [p["ETag"] for p in parts[:80]] == [src_etag] * 80
    assert parts[80]["ETag"] == f'"{hashlib.md5(tail).hexdigest()}"'
    done = alice.complete_multipart_upload(
        Bucket=bkt, Key="huge", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    md5s = [hashlib.md5(src).digest()] * 80 + [hashlib.md5(tail).digest()]
    etag = f'"{hashlib.md5(b"".join(md5s)).hexdigest()}-81"'
    assert done["ETag"] == etag
    size = 80 * SRC + len(tail)
    assert size > 5 * GiB

    head = alice.head_object(Bucket=bkt, Key="huge")
    assert (head["ContentLength"], head["ETag"]) == (size, etag)
    listed = alice.list_objects_v2(Bucket=bkt, Prefix="huge")["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed] == [("huge", size, etag)]

    def expect(lo: int, hi: int) -> bytes:
        """Bytes [lo, hi] of the composed object, from the source."""
        out = bytearray()
        for pos in range(lo, hi + 1):
            out.append(src[pos % SRC] if pos < 80 * SRC else tail[pos - 80 * SRC])
        return bytes(out)

    ranges = [(0, 999), (SRC - 500, SRC + 499), (41 * SRC - 1, 41 * SRC + 4095)]
    ranges += [(80 * SRC - 777, 80 * SRC + 1234), (size - 3000, size - 1)]
    for lo, hi in ranges:
        body = alice.get_object(Bucket=bkt, Key="huge", Range=f"bytes={lo}-{hi}")
        assert body["ContentRange"] == f"bytes {lo}-{hi}/{size}"
        assert body["Body"].read() == expect(lo, hi), (lo, hi)
    end = alice.get_object(Bucket=bkt, Key="huge", Range="bytes=-100")["Body"].read()
    assert end == tail[-100:]
    # A whole 64 MiB stretch across a part boundary, streamed.
    lo = 40 * SRC - 3 * MiB - 5
    got = alice.get_object(Bucket=bkt, Key="huge", Range=f"bytes={lo}-{lo + SRC - 1}")
    assert got["Body"].read() == src[lo % SRC :] + src[: lo % SRC]

    # The composed object is too big to be one part copy's source, as on S3.
    uid = alice.create_multipart_upload(Bucket=bkt, Key="again")["UploadId"]
    with pytest.raises(ClientError) as exc:
        alice.upload_part_copy(
            Bucket=bkt,
            Key="again",
            UploadId=uid,
            PartNumber=1,
            CopySource={"Bucket": bkt, "Key": "huge"},
        )
    err = exc.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InvalidRequest",
        400,
    )
    alice.abort_multipart_upload(Bucket=bkt, Key="again", UploadId=uid)

    grown = disk_bytes(s3env["store"]) - before
    assert grown < 64 * MiB, grown  # 5 GiB of data shared, not copied
    elapsed = time.monotonic() - started
    figures = {
        "total_s": round(elapsed, 2),
        "whole_part_copy_ms_avg": round(1000 * sum(seconds[:80]) / 80, 1),
        "whole_part_copy_ms_max": round(1000 * max(seconds[:80]), 1),
        "ranged_part_copy_ms": round(1000 * seconds[80], 1),  # reads 63 MiB for its MD5
        "store_growth_bytes": grown,
    }
    for name, value in figures.items():
        record_property(name, value)
    print(f"\ncompose {size} bytes from {SRC}: {figures}")
