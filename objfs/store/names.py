"""Validation of bucket names and object keys (S3's rules, one place).

Every rule a bucket name can break has its own message so the user learns
which one; keys are 1-1024 bytes of UTF-8.
"""

from __future__ import annotations

import re

from objfs.errors import InvalidArgument, InvalidBucketName, KeyTooLong
from objfs.store.limits import MAX_KEY_BYTES

_IPV4 = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
_ALLOWED = re.compile(r"^[a-z0-9.\-]+$")


def check_bucket_name(name: str) -> None:
    """Raise InvalidBucketName naming the first rule ``name`` breaks."""

    def bad(rule: str) -> InvalidBucketName:
        return InvalidBucketName(f"invalid bucket name {name!r}: {rule}", rule=rule)

    if not isinstance(name, str) or not 3 <= len(name) <= 63:
        raise bad("must be 3 to 63 characters long")
    if not _ALLOWED.match(name):
        raise bad("may contain only lowercase letters, digits, '.' and '-'")
    if not (name[0].isalnum() and name[-1].isalnum()):
        raise bad("must start and end with a letter or digit")
    if ".." in name:
        raise bad("must not contain two adjacent periods")
    if "-." in name or ".-" in name:
        raise bad("must not have a hyphen next to a period")
    if _IPV4.match(name):
        raise bad("must not be formatted as an IP address")
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            raise bad(f"must not start with {prefix!r}")
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            raise bad(f"must not end with {suffix!r}")


def encode_key(key: str) -> bytes:
    """The key as UTF-8 bytes (its sort order), after checking S3's limits."""
    if not isinstance(key, str) or not key:
        raise InvalidArgument("object key must not be empty")
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgument(f"object key is not valid UTF-8: {key!r}") from exc
    if len(raw) > MAX_KEY_BYTES:
        raise KeyTooLong(
            f"object key is {len(raw)} bytes; the limit is {MAX_KEY_BYTES} bytes of UTF-8"
        )
    return raw


def prefix_upper(prefix: bytes) -> bytes | None:
    """Smallest byte string greater than every string starting with ``prefix``.

    None when there is no such bound (empty prefix or all 0xff bytes).
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])
