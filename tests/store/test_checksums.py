"""The checksum of a multipart object from its parts' (objfs/store/checksums.py),
against known answers: three 5 MiB parts of 'A', 'B' and 'C' (the values the
S3 conformance suite expects of S3)."""

from __future__ import annotations

import base64
import hashlib
import zlib

import crc32c
import pytest
from awscrt import checksums as crt

from objfs.errors import BadDigest, InvalidRequest
from objfs.store import OWNER, Checksum, SSERequest
from objfs.store.checksums import check_expected, object_checksum, upload_checksum

SIZE = 5 << 20
BODIES = [c * SIZE for c in (b"A", b"B", b"C")]


def _b64(value: int, size: int) -> str:
    return base64.b64encode(value.to_bytes(size, "big")).decode()


def _parts(fn, size: int) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return [(_b64(fn(b), size), len(b)) for b in BODIES]


@pytest.mark.parametrize(
    ("algorithm", "fn", "size", "want"),
    [
        ("CRC32", zlib.crc32, 4, "WgDhBQ=="),
        ("CRC32C", crc32c.crc32c, 4, "xU+Krw=="),
        ("CRC64NVME", crt.crc64nvme, 8, "i+6LR0y3eFo="),
    ],
)
def test_full_object_crc_of_parts(algorithm, fn, size, want):
    got = object_checksum(Checksum(algorithm, None, "FULL_OBJECT"), _parts(fn, size))
    assert got == Checksum(algorithm, want, "FULL_OBJECT")
    assert want == _b64(fn(b"".join(BODIES)), size)  # the CRC of the whole object


def test_composite_sha256_of_parts():
    parts = [(base64.b64encode(hashlib.sha256(b).digest()).decode(), len(b)) for b in BODIES]
    got = object_checksum(Checksum("SHA256", None, "COMPOSITE"), parts)
    assert got is not None and got.value == "uWBwpe1dxI4Vw8Gf0X9ynOdw/SS6VBzfWm9giiv1sf4=-3"
    check_expected(got, ("sha256", got.value))
    with pytest.raises(BadDigest):
        check_expected(got, ("SHA256", "bad"))


def test_a_part_without_checksum_leaves_the_object_without():
    assert (
        object_checksum(Checksum("CRC32", None, "COMPOSITE"), [("AAAAAA==", 1), (None, 1)]) is None
    )


def test_upload_checksum_defaults_and_refusals():
    assert upload_checksum("sha256", None) == Checksum("SHA256", None, "COMPOSITE")
    assert upload_checksum("CRC64NVME", None) == Checksum("CRC64NVME", None, "FULL_OBJECT")
    assert upload_checksum(None, None) is None
    for algorithm, kind in (("SHA1", "FULL_OBJECT"), ("CRC64NVME", "COMPOSITE"), ("MD5", None)):
        with pytest.raises(InvalidRequest):
            upload_checksum(algorithm, kind)


def test_a_copied_part_gets_the_uploads_checksum_also_when_re_encrypted(store, make_bucket):
    bucket = make_bucket()
    data = b"copied" * 1000
    want = base64.b64encode(crt.crc64nvme(data).to_bytes(8, "big")).decode()
    for mode in ("AES256", "none"):  # the upload's own domain, then another one
        store.put_object(OWNER, bucket, "src", data, sse=SSERequest(mode=mode))
        upload = store.create_multipart_upload(
            OWNER, bucket, "mp", checksum=upload_checksum("CRC64NVME", None)
        )
        part = store.upload_part_copy(OWNER, bucket, "mp", upload, 1, bucket, "src")
        assert part.checksum == Checksum("CRC64NVME", want, "FULL_OBJECT"), mode
        done = store.complete_multipart_upload(OWNER, bucket, "mp", upload, [(1, part.etag)])
        assert done.checksum == Checksum("CRC64NVME", want, "FULL_OBJECT")
