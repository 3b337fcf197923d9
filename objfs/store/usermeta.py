"""User metadata (``x-amz-meta-*``, the mount's ``user.*`` xattrs, ``--meta``): S3's size rule.

S3 limits an object's user-defined metadata to 2 KB, measured as the sum of
the UTF-8 lengths of every name (without the ``x-amz-meta-`` prefix) and
value. The store applies the rule wherever user metadata is written (a PUT,
a copy that replaces metadata, a multipart upload, an in-place update), so
the HTTP API, the CLI and the mount meet the same limit through this code;
adapters only translate ``MetadataTooLarge`` (HTTP 400, ENOSPC on setxattr).

Invariant: no stored version or upload carries more than
``MAX_USER_META_BYTES`` of user metadata.
"""

from __future__ import annotations

from collections.abc import Mapping

from objfs.errors import MetadataTooLarge
from objfs.store.limits import MAX_USER_META_BYTES


def user_meta_size(meta: Mapping[str, str] | None) -> int:
    """Bytes S3 counts: UTF-8 names plus UTF-8 values."""
    if not meta:
        return 0
    return sum(len(k.encode("utf-8")) + len(v.encode("utf-8")) for k, v in meta.items())


def check_user_meta(meta: Mapping[str, str] | None) -> None:
    """``MetadataTooLarge`` when ``meta`` is over S3's 2 KB."""
    size = user_meta_size(meta)
    if size > MAX_USER_META_BYTES:
        raise MetadataTooLarge(
            f"Your metadata headers exceed the maximum allowed metadata size: user metadata "
            f"is {size} bytes (names and values, UTF-8), at most {MAX_USER_META_BYTES} allowed"
        )
