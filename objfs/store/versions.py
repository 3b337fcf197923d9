"""``Versions``: finding the version a request names, and S3's DELETE of one.

The two rules every group of requests shares: ``resolve`` (the version a
read, an amendment or a retention names, with S3's errors: NoSuchKey,
NoSuchVersion, a delete marker) and ``delete`` (DeleteObject in the
caller's transaction: a version for good, or a delete marker). Objects,
the mount's operations, multipart, tagging, lifecycle and Object Lock
call them; every removal goes through the committer (``commit.py``),
which checks Object Lock.

Built with the bucket lookup (``configs.info``: NoSuchBucket) and the
``VersionCommitter``. Invariant: called inside the caller's transaction
(``cur``), after the caller's request was checked; they check nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from objfs.errors import MethodNotAllowed, NoSuchKey, NoSuchVersion
from objfs.meta import queries as q
from objfs.meta.db import Cursor
from objfs.store import records as rec
from objfs.store.commit import DELETE_MARKER, VersionCommitter
from objfs.store.names import encode_key
from objfs.store.records import Col
from objfs.store.types import NULL_VERSION, BucketInfo, DeleteResult, Versioning


class Versions:
    """``resolve`` and ``delete``; see the module docstring."""

    def __init__(
        self, *, bucket_of: Callable[[Any, str], BucketInfo], committer: VersionCommitter
    ) -> None:
        self.bucket_of = bucket_of
        self.committer = committer

    def resolve(
        self, cur: Cursor, bucket: str, key: str, version_id: str | None
    ) -> tuple[tuple, bool]:
        """(version row, is_latest) for a read; errors as S3 gives them."""
        self.bucket_of(cur, bucket)
        raw = encode_key(key)
        latest = q.latest_seq(cur, bucket, raw)
        if version_id is None:
            row = q.get_latest(cur, bucket, raw) if latest is not None else None
            if row is None:
                raise NoSuchKey(f"no such key: s3://{bucket}/{key}", bucket=bucket, key=key)
            if row[Col.DM]:
                raise NoSuchKey(
                    f"s3://{bucket}/{key} is deleted (its latest version is a delete marker)",
                    bucket=bucket,
                    key=key,
                    delete_marker=True,
                    version_id=row[Col.VERSION_ID],
                )
            return row, True
        row = q.get_version(cur, bucket, raw, version_id)
        if row is None:
            raise NoSuchVersion(
                f"no version {version_id!r} of s3://{bucket}/{key}", bucket=bucket, key=key
            )
        if row[Col.DM]:
            raise MethodNotAllowed(
                f"version {version_id!r} of s3://{bucket}/{key} is a delete marker",
                delete_marker=True,
            )
        return row, row[Col.SEQ] == latest

    def delete(
        self,
        cur: Cursor,
        bucket: str,
        raw: bytes,
        key: str,
        version_id: str | None,
        *,
        bypass_governance: bool = False,
    ) -> DeleteResult:
        """S3's DELETE in the caller's transaction. With a version id the version
        goes for good unless its Object Lock holds (``ObjectLocked``);
        ``bypass_governance``: the caller may bypass GOVERNANCE retention."""
        info = self.bucket_of(cur, bucket)
        if version_id is not None:
            row = q.get_version(cur, bucket, raw, version_id)
            if row is None and rec.is_version_id(version_id):
                # Already gone (another request deleted it): S3 says deleted, and so
                # two clients emptying the same versions both succeed.
                return DeleteResult(key, version_id, False)
            if row is None:
                raise NoSuchVersion(f"no version {version_id!r} of s3://{bucket}/{key}")
            self.committer.drop(cur, row, bypass_governance=bypass_governance)
            q.refresh_latest(cur, bucket, raw)
            q.add_change(cur, bucket, raw)
            return DeleteResult(key, version_id, bool(row[Col.DM]))
        if info.versioning is Versioning.UNVERSIONED:
            row = q.get_version(cur, bucket, raw, NULL_VERSION)
            if row is not None:
                self.committer.drop(cur, row)
                # A bucket never versioned holds only the null version of a key:
                # none is left to become the latest.
                q.drop_latest(cur, bucket, raw)
                q.add_change(cur, bucket, raw)
            return DeleteResult(key, None, False)
        result = self.committer.commit(cur, bucket, raw, DELETE_MARKER)
        return DeleteResult(key, result.version_id, True)
