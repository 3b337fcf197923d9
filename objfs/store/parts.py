"""The parts of a completed multipart upload: which bytes and checksum part N is.

GET/HEAD ``?partNumber=N`` and GetObjectAttributes read them from the
version (``ObjectVersion.parts`` and ``.part_checksums``, kept by
CompleteMultipartUpload); any other object has one part, itself.
"""

from __future__ import annotations

from objfs.errors import InvalidPart
from objfs.store.types import Checksum, ObjectVersion


def part_range(info: ObjectVersion, number: int) -> tuple[int, int] | None:
    """The inclusive byte range of part ``number`` of a version (GET/HEAD
    ``?partNumber=N``): a completed upload's part; for any other object part
    1 is the whole object (None: no range). ``InvalidPart`` for a part it
    does not have."""
    if not info.parts:
        if number != 1:
            raise InvalidPart(
                f"s3://{info.bucket}/{info.key} is not a multipart object: part 1 only"
            )
        return None
    if not 1 <= number <= len(info.parts):
        raise InvalidPart(
            f"s3://{info.bucket}/{info.key} has {len(info.parts)} parts, not part {number}"
        )
    first = sum(info.parts[: number - 1])
    return first, first + info.parts[number - 1] - 1


def part_checksum(info: ObjectVersion, number: int) -> Checksum | None:
    """Part ``number``'s checksum, in the object's algorithm and type (None: none kept)."""
    if info.checksum is None or not info.part_checksums:
        return info.checksum if not info.parts else None
    value = info.part_checksums[number - 1]
    return None if value is None else Checksum(info.checksum.algorithm, value, info.checksum.type)
