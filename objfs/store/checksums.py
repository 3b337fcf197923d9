"""S3's additional checksums: the algorithms, and the checksum of a multipart object.

A single PUT's checksum is the one its body was verified against (the HTTP
adapter checks the digest as the data flows). A multipart upload names its
algorithm and type at creation; each part keeps its own checksum, and
completing computes the object's from them:

- COMPOSITE (SHA1, SHA256, CRC32, CRC32C): the digest of the concatenated
  binary part digests, base64, then ``-N`` for N parts;
- FULL_OBJECT (CRC32, CRC32C, CRC64NVME): the CRC of the whole object, from
  the part CRCs and sizes (a CRC of A+B follows from CRC(A), CRC(B), len(B)).

Invariant: a stored checksum names one of ``ALGORITHMS``; a FULL_OBJECT one
is never a SHA.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Sequence

from awscrt import checksums as crt

from objfs.errors import BadDigest, InvalidPart, InvalidRequest
from objfs.store.types import Checksum

# name -> (digest size in bytes, combine(crc1, crc2, len2) for CRCs)
ALGORITHMS: dict[str, tuple[int, Callable[[int, int, int], int] | None]] = {
    "CRC32": (4, crt.combine_crc32),
    "CRC32C": (4, crt.combine_crc32c),
    "CRC64NVME": (8, crt.combine_crc64nvme),
    "SHA1": (20, None),
    "SHA256": (32, None),
}
TYPES = ("COMPOSITE", "FULL_OBJECT")


def upload_checksum(algorithm: str | None, type_: str | None) -> Checksum | None:
    """The checksum a CreateMultipartUpload asks for (no value yet), S3's defaults
    and refusals: CRC64NVME is FULL_OBJECT only, SHAs are COMPOSITE only."""
    if algorithm is None:
        if type_ is not None:
            raise InvalidRequest("x-amz-checksum-type needs x-amz-checksum-algorithm")
        return None
    algorithm = algorithm.upper()
    if algorithm not in ALGORITHMS:
        raise InvalidRequest(f"checksum algorithm {algorithm!r} is not supported")
    if type_ is None:
        type_ = "FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE"
    type_ = type_.upper()
    if type_ not in TYPES:
        raise InvalidRequest(f"checksum type {type_!r} is not COMPOSITE or FULL_OBJECT")
    if (algorithm == "CRC64NVME" and type_ != "FULL_OBJECT") or (
        algorithm.startswith("SHA") and type_ != "COMPOSITE"
    ):
        raise InvalidRequest(f"the {type_} checksum type cannot be used with {algorithm}")
    return Checksum(algorithm, None, type_)


def _raw(value: str, size: int) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise InvalidPart("a part's checksum is not a valid digest")
    return raw


def object_checksum(upload: Checksum, parts: Sequence[tuple[str | None, int]]) -> Checksum | None:
    """The object's checksum from its parts' (checksum value, size), in order;
    None when a part has none (it was uploaded without the upload's algorithm)."""
    if any(value is None for value, _ in parts):
        return None
    size, combine = ALGORITHMS[upload.algorithm]
    digests = [_raw(value, size) for value, _ in parts if value is not None]  # all are
    if upload.type == "COMPOSITE":
        name = upload.algorithm.lower()
        if combine is None:
            digest = hashlib.new(name, b"".join(digests)).digest()
        else:
            digest = _crc(upload.algorithm, b"".join(digests))
        value = f"{base64.b64encode(digest).decode()}-{len(parts)}"
    else:
        assert combine is not None
        crc = int.from_bytes(digests[0], "big")
        for digest, (_, length) in zip(digests[1:], parts[1:], strict=True):
            crc = combine(crc, int.from_bytes(digest, "big"), length)
        value = base64.b64encode(crc.to_bytes(size, "big")).decode()
    return Checksum(upload.algorithm, value, upload.type)


class Hasher:
    """The running checksum of a stream in one of ``ALGORITHMS`` (a copied part's)."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._crc = {"CRC32": crt.crc32, "CRC32C": crt.crc32c, "CRC64NVME": crt.crc64nvme}.get(
            algorithm
        )
        self._sha = None if self._crc else hashlib.new(algorithm.lower())
        self._value = 0

    def update(self, data: bytes) -> None:
        # One of the two is set: _sha exactly when the algorithm is no CRC.
        if self._sha is not None:
            self._sha.update(data)
        elif self._crc is not None:
            self._value = self._crc(data, self._value)

    def value(self) -> str:
        if self._sha is not None:
            raw = self._sha.digest()
        else:
            raw = self._value.to_bytes(ALGORITHMS[self.algorithm][0], "big")
        return base64.b64encode(raw).decode()


def _crc(algorithm: str, data: bytes) -> bytes:
    fn = {"CRC32": crt.crc32, "CRC32C": crt.crc32c, "CRC64NVME": crt.crc64nvme}[algorithm]
    return fn(data).to_bytes(ALGORITHMS[algorithm][0], "big")


def check_expected(computed: Checksum | None, expected: tuple[str, str] | None) -> None:
    """A CompleteMultipartUpload's ``x-amz-checksum-ALGO`` must be the object's."""
    if expected is None:
        return
    algorithm, value = expected
    if computed is None or computed.algorithm != algorithm.upper() or computed.value != value:
        raise BadDigest(
            f"The {algorithm.upper()} you specified did not match the calculated checksum."
        )
