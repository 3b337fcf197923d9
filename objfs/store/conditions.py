"""S3's request conditions on an object version: If-Match, If-None-Match,
If-Modified-Since, If-Unmodified-Since, and their precedence.

Adapters only parse the headers (``If-*`` of a GET/HEAD,
``x-amz-copy-source-if-*`` of a copy or part copy) into the store call's
``if_*`` arguments; the store checks them here, on the version it reads or
copies, in the same call (one version, whatever writes race it). The
conditions of a write on the key's current object (PutObject,
CompleteMultipartUpload) are checked in the committing transaction
(``objects.check_write_conditions``) with ``etag_matches``.
"""

from __future__ import annotations

from objfs.errors import NotModified, PreconditionFailed
from objfs.store.types import ObjectVersion


def etag_matches(condition: str, etag: str) -> bool:
    wanted = [c.strip().strip('"') for c in condition.split(",")]
    return "*" in wanted or etag in wanted


def check_read_conditions(
    info: ObjectVersion,
    if_match: str | None,
    if_none_match: str | None,
    if_modified_since_ns: int | None,
    if_unmodified_since_ns: int | None,
) -> None:
    """RFC 7232 precedence, as S3 applies it to GET and HEAD."""
    modified_s = info.last_modified_ns // 1_000_000_000
    if if_match is not None:
        if not etag_matches(if_match, info.etag):
            raise PreconditionFailed("If-Match does not match the object's ETag")
    elif if_unmodified_since_ns is not None and modified_s > if_unmodified_since_ns // 10**9:
        raise PreconditionFailed("object was modified after If-Unmodified-Since")
    # A 304 carries the validators of what the client has (RFC 9110 15.4.5): the version.
    if if_none_match is not None:
        if etag_matches(if_none_match, info.etag):
            raise NotModified("If-None-Match matches the object's ETag", version=info)
    elif if_modified_since_ns is not None and modified_s <= if_modified_since_ns // 10**9:
        raise NotModified("object not modified since If-Modified-Since", version=info)


def check_copy_conditions(
    info: ObjectVersion,
    if_match: str | None,
    if_none_match: str | None,
    if_modified_since_ns: int | None,
    if_unmodified_since_ns: int | None,
) -> None:
    """A copy source's conditions: the same precedence as a GET's (an If-Match
    that holds overrides If-Unmodified-Since; an If-None-Match overrides
    If-Modified-Since), but S3 answers every failure 412, never 304."""
    try:
        check_read_conditions(
            info, if_match, if_none_match, if_modified_since_ns, if_unmodified_since_ns
        )
    except NotModified as err:
        raise PreconditionFailed(f"copy source: {err}") from None


__all__ = ["check_copy_conditions", "check_read_conditions", "etag_matches"]
