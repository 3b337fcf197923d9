"""ListObjectsV2 and ListObjectVersions.

Results come in UTF-8 byte order (keys are stored as BLOBs). With a
delimiter, the first key found under a folded prefix produces the
CommonPrefixes entry and the scan then *seeks* to the first key past that
prefix: listing a directory costs its entries, not the subtrees beneath.
Continuation tokens carry the exact resume position, so a page never repeats
a common prefix of the page before.

``Listing`` is a collaborator of the ``Store`` (``store.listing``; its
requests are delegated by facade/listing.py): it reads the database only,
in one snapshot per request, and changes nothing. Dependencies: the
database, the bucket configurations (a bucket's record or NoSuchBucket; its
Object Ownership), the authorization data (the listed owners) and the seam
(its decorators). A request never calls another request of the class: an
``iter_objects`` page is not nested in ``iter_objects`` but its own
request, made while the caller walks the generator (see there).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gc
from collections.abc import Iterator
from typing import Any

import msgpack

from objfs.auth import ownership
from objfs.errors import InvalidArgument
from objfs.meta import queries as q
from objfs.meta.db import Cursor, Database
from objfs.store import records as rec
from objfs.store.access import Need, requires
from objfs.store.authorizer import AccessControl
from objfs.store.configs import BucketConfigs
from objfs.store.names import prefix_upper
from objfs.store.records import Col
from objfs.store.seam import Seam
from objfs.store.types import (
    NULL_VERSION,
    DirectoryListing,
    ListedFile,
    ListResult,
    ObjectVersion,
    Owner,
    RequestContext,
    SystemMeta,
    VersionListResult,
)

MAX_KEYS = 1000
_BATCH = 256


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a bulk loop allocates.

    Building a listing of 100,000 entries allocates several objects per
    entry, all of them kept: the collector would walk them again and again
    (a third of the time, measured with py-spy) to find no garbage. Only
    the caller that found the collector on turns it back on.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _token(cursor: bytes, inclusive: bool) -> str:
    return base64.urlsafe_b64encode(msgpack.packb([cursor, inclusive])).decode()


def _untoken(token: str) -> tuple[bytes, bool]:
    try:
        cursor, inclusive = msgpack.unpackb(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(cursor, bytes):
            raise ValueError
        return cursor, bool(inclusive)
    except Exception as exc:  # noqa: BLE001 - any garbage is the caller's mistake
        raise InvalidArgument("the continuation token is not valid") from exc


def _scope(
    prefix: str, delimiter: str | None, max_keys: int
) -> tuple[int, bytes, bytes | None, bytes | None]:
    """Checked page size, prefix and delimiter as bytes, and the prefix's upper bound."""
    if max_keys < 0:
        raise InvalidArgument("max-keys must not be negative")
    raw_prefix = prefix.encode("utf-8")
    delim = delimiter.encode("utf-8") if delimiter else None
    return min(max_keys, MAX_KEYS), raw_prefix, delim, prefix_upper(raw_prefix)


def _fold(key: bytes, prefix: bytes, delimiter: bytes | None) -> bytes | None:
    if not delimiter:
        return None
    idx = key.find(delimiter, len(prefix))
    return None if idx < 0 else key[: idx + len(delimiter)]


def _after_marker(
    marker: bytes, prefix: bytes, delimiter: bytes | None
) -> tuple[bytes | None, bool]:
    """Where a listing resumes after ``marker`` (a v1 marker, a start-after, a
    key-marker): (cursor, inclusive); cursor None is past every key.

    A marker that is one of this listing's common prefixes (ListObjects v1's
    NextMarker, ListObjectVersions' NextKeyMarker) stands for every key under
    it: resuming just after the marker itself would fold the next key into
    the same prefix and name it again, page after page, for ever."""
    if _fold(marker, prefix, delimiter) == marker:
        return prefix_upper(marker), True
    return marker, False


def _version_time(version_id: str) -> int:
    """The creation time (ns) a version id carries (``records.new_version_id``)."""
    try:
        raw = base64.b32hexdecode(version_id.upper() + "======")
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 16 or len(version_id) != 26:
        raise InvalidArgument("Invalid version id specified")
    return int.from_bytes(raw[:8], "big")


def _after_version(cur: Cursor, bucket: str, key: bytes, version_id: str) -> int | None:
    """The seq a version listing resumes below (``list_versions``: seq < it)
    after version ``version_id`` of ``key``; None: at the key's first version.

    The version may be gone since the page that named it: emptying a bucket
    page by page (boto3's ``object_versions.delete()``) deletes each page
    before asking for the next. The listing then goes on with the key's
    versions older than it (ids sort by creation time; a null version by its
    write time); a deleted "null" leaves no position, so the key's versions
    are listed from its newest (some may come again, none is lost)."""
    row = q.get_version(cur, bucket, key, version_id)
    if row is not None:
        return int(row[Col.SEQ])
    if version_id == NULL_VERSION:
        return None
    when = _version_time(version_id)
    for row in q.key_versions(cur, bucket, key):  # newest first
        vid = row[Col.VERSION_ID]
        if (row[Col.CREATED] < when) if vid == NULL_VERSION else (vid < version_id):
            return int(row[Col.SEQ]) + 1
    return -1  # every version left is newer: on to the next key


class Listing:
    """ListObjects(V2), ListObjectVersions and the mount's listings; see the
    module docstring. Built with the database, the bucket configurations, the
    authorization data and the seam."""

    def __init__(
        self, *, db: Database, configs: BucketConfigs, access: AccessControl, seam: Seam
    ) -> None:
        self.db = db
        self.configs = configs
        self.access = access
        self.seam = seam

    @requires(Need("s3:ListBucket", key=None))
    def list_objects(
        self,
        ctx: RequestContext,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = MAX_KEYS,
        start_after: str | None = None,
        continuation_token: str | None = None,
        fetch_owner: bool = False,
    ) -> ListResult:
        max_keys, raw_prefix, delim, upper = _scope(prefix, delimiter, max_keys)
        cursor: bytes | None  # None: past every key
        if continuation_token:
            cursor, inclusive = _untoken(continuation_token)
        elif start_after and start_after.encode("utf-8") >= raw_prefix:
            cursor, inclusive = _after_marker(start_after.encode("utf-8"), raw_prefix, delim)
        else:
            cursor, inclusive = raw_prefix, True
        contents: list[ObjectVersion] = []
        prefixes: list[str] = []
        truncated = False
        next_token = None
        with self.db.read() as cur:
            self.configs.info(cur, bucket)
            done = max_keys == 0 or cursor is None
            while not done:
                assert cursor is not None
                rows = q.scan_latest(cur, bucket, cursor, inclusive, upper)
                seeked = False
                for row in rows:
                    key = row[Col.KEY]
                    folded = _fold(key, raw_prefix, delim)
                    if len(contents) + len(prefixes) == max_keys:
                        truncated, done = True, True
                        next_token = _token(cursor, inclusive)
                        break
                    if folded is not None:
                        prefixes.append(folded.decode("utf-8"))
                        seek = prefix_upper(folded)
                        if seek is None:
                            done = True
                        else:
                            cursor, inclusive = seek, True
                        seeked = True
                        break
                    contents.append(rec.version_from_row(row, is_latest=True))
                    cursor, inclusive = key, False
                else:
                    if not seeked:
                        done = True
                rows.close()
            owners = self._listing_owners(cur, bucket, contents) if fetch_owner else {}
        return ListResult(
            contents=contents,
            common_prefixes=prefixes,
            is_truncated=truncated,
            next_continuation_token=next_token,
            key_count=len(contents) + len(prefixes),
            owners=owners,
        )

    @requires(Need("s3:ListBucket", key=None))
    def iter_objects(
        self,
        ctx: RequestContext,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        start_after: str | None = None,
    ) -> Iterator[ObjectVersion | str]:
        """Every entry of a listing, page after page (str = common prefix)."""
        token = None
        # Not a nested request: this body runs as the caller walks the generator,
        # after the decorated call returned, so each page is a request of its own
        # (but inside a caller's request), checked (with its s3:max-keys) but not
        # logged: the call above is the one logged request.
        pages = ctx.with_options(log=False)
        while True:
            page = self.list_objects(
                pages,
                bucket,
                prefix=prefix,
                delimiter=delimiter,
                start_after=start_after,
                continuation_token=token,
            )
            # Within a page, merge keys and prefixes back into byte order.
            merged: list[Any] = [*page.contents, *page.common_prefixes]
            merged.sort(key=lambda e: (e if isinstance(e, str) else e.key).encode("utf-8"))
            yield from merged
            if not page.is_truncated:
                return
            token = page.next_continuation_token

    @requires(Need("s3:ListBucket", key=None))
    def list_directory(
        self, ctx: RequestContext, bucket: str, prefix: str, *, delimiter: str = "/"
    ) -> DirectoryListing:
        """Everything directly under ``prefix`` at once, for a file system's readdir.

        The same entries as ``iter_objects(prefix=, delimiter=)`` (one
        request: checked and logged once), read in one snapshot by one query
        (plus one probe per common prefix, which it seeks past), and each
        key returned as a compact ``ListedFile`` rather than an
        ``ObjectVersion``: a directory of 100,000 keys costs one row read
        and one small tuple per key.
        """
        if not delimiter:
            raise InvalidArgument("list_directory needs a delimiter")
        raw_prefix = prefix.encode("utf-8")
        delim = delimiter.encode("utf-8")
        upper = prefix_upper(raw_prefix)
        start = len(raw_prefix)
        entries: list[ListedFile | str] = []
        append = entries.append
        subdirs = 0
        newest: int | None = None
        # Records written by one mount often carry the same attributes: decode each once.
        metas: dict[bytes | None, SystemMeta] = {None: rec.unpack_sys_meta(None)}
        new = tuple.__new__
        shared: Any = {}.setdefault
        cursor, inclusive = raw_prefix, True
        with self.db.read() as cur, gc_paused():
            self.configs.info(cur, bucket)
            while True:
                rows = q.scan_latest_brief(cur, bucket, cursor, inclusive, upper)
                seek = None
                for key, vid, seq, size, etag, created, ctype, smeta, sse, kms, umeta in rows:
                    cut = key.find(delim, start)
                    if cut >= 0:
                        folded = key[: cut + len(delim)]
                        append(folded.decode("utf-8"))
                        subdirs += 1
                        seek = prefix_upper(folded)
                        break
                    meta = metas.get(smeta)
                    if meta is None:
                        meta = metas[smeta] = rec.unpack_sys_meta(smeta)
                    if (newest is None or created > newest) and len(key) > start:
                        newest = created  # a key other than the prefix (a directory marker)
                    # One copy of the strings most keys share: the tuple is all
                    # the listing holds per key while the caller walks it.
                    vid = shared(vid, vid)
                    ctype = shared(ctype, ctype)
                    sse = shared(sse, sse)
                    append(
                        new(
                            ListedFile,
                            (
                                bucket,
                                key.decode("utf-8"),
                                vid,
                                seq,
                                size,
                                etag,
                                created,
                                ctype,
                                meta,
                                sse,
                                kms,
                                umeta,
                            ),
                        )  # fmt: skip
                    )
                rows.close()
                if seek is None:
                    break
                cursor, inclusive = seek, True
        return DirectoryListing(entries, subdirs, newest)

    @requires(Need("s3:ListBucketVersions", key=None))
    def list_object_versions(
        self,
        ctx: RequestContext,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = MAX_KEYS,
        key_marker: str | None = None,
        version_id_marker: str | None = None,
        fetch_owner: bool = False,
    ) -> VersionListResult:
        max_keys, raw_prefix, delim, upper = _scope(prefix, delimiter, max_keys)
        versions: list[ObjectVersion] = []
        prefixes: list[str] = []
        truncated = False
        next_key = next_vid = None
        with self.db.read() as cur:
            self.configs.info(cur, bucket)
            after_key: bytes | None = raw_prefix
            after_seq: int | None = None
            inclusive = True
            if key_marker:
                marker = key_marker.encode("utf-8")
                inclusive = False
                after_key = marker
                if version_id_marker:
                    after_seq = _after_version(cur, bucket, marker, version_id_marker)
                    if after_seq is None:  # a "null" version since deleted
                        inclusive = True
                else:
                    after_key, inclusive = _after_marker(marker, raw_prefix, delim)
                if after_key is not None and after_key < raw_prefix:
                    after_key, after_seq, inclusive = raw_prefix, None, True
            latest: dict[bytes, int | None] = {}
            done = max_keys == 0 or after_key is None
            last: tuple[bytes, str | None] | None = None
            while not done:
                rows = q.list_versions(
                    cur, bucket, after_key, after_seq, upper, _BATCH, inclusive=inclusive
                )
                if not rows:
                    break
                for row in rows:
                    key = row[Col.KEY]
                    if len(versions) + len(prefixes) == max_keys:
                        truncated, done = True, True
                        if last is not None:
                            next_key, next_vid = last[0].decode("utf-8"), last[1]
                        break
                    folded = _fold(key, raw_prefix, delim)
                    if folded is not None:
                        prefixes.append(folded.decode("utf-8"))
                        last = (folded, None)
                        seek = prefix_upper(folded)
                        after_key, after_seq, inclusive = seek, None, True
                        done = seek is None
                        break
                    if key not in latest:
                        latest = {key: q.latest_seq(cur, bucket, key)}
                    versions.append(
                        rec.version_from_row(row, is_latest=row[Col.SEQ] == latest[key])
                    )
                    last = (key, row[Col.VERSION_ID])
                    after_key, after_seq, inclusive = key, row[Col.SEQ], False
                else:
                    if len(rows) < _BATCH:
                        done = True
            owners = self._listing_owners(cur, bucket, versions) if fetch_owner else {}
        return VersionListResult(
            versions=versions,
            common_prefixes=prefixes,
            is_truncated=truncated,
            next_key_marker=next_key,
            next_version_id_marker=next_vid,
            owners=owners,
        )

    def _listing_owners(
        self, cur: Cursor, bucket: str, versions: list[ObjectVersion]
    ) -> dict[tuple[str, str], Owner]:
        """The owner of each listed version, read in the listing's transaction: its
        creator when another principal wrote it, else the bucket's owner (as
        GetObjectAcl says: with BucketOwnerEnforced, always the bucket's owner)."""
        bucket_owner = self.access.canonical_id_of(cur, self.configs.info(cur, bucket).owner)
        enforced = self.configs.get(cur, bucket).get("ownership") == ownership.ENFORCED
        names: dict[str, str] = {}
        out: dict[tuple[str, str], Owner] = {}
        for v in versions:
            acl = self.access.object_acl(
                cur, bucket, v.key, v.version_id, bucket_owner, enforced=enforced
            )
            owner_id = acl.owner_id or bucket_owner
            if owner_id not in names:
                names[owner_id] = self.access.display_name_of(cur, owner_id)
            out[(v.key, v.version_id)] = Owner(owner_id, names[owner_id])
        return out

    @requires(Need("s3:ListBucketVersions", key=None))
    def key_versions(self, ctx: RequestContext, bucket: str, key: str) -> list[ObjectVersion]:
        """Every version and delete marker of one key, newest first."""
        raw = key.encode("utf-8")
        with self.db.read() as cur:
            self.configs.info(cur, bucket)
            rows = q.key_versions(cur, bucket, raw)
        return [rec.version_from_row(row, is_latest=i == 0) for i, row in enumerate(rows)]

    @requires(Need("s3:ListBucket", key=None))
    def prefix_exists(
        self, ctx: RequestContext, bucket: str, prefix: str, *, exclude_marker: bool = False
    ) -> bool:
        """Whether a live (not deleted) key starts with ``prefix``.

        ``exclude_marker``: ignore the key equal to ``prefix`` itself (a
        directory marker), as rmdir needs.
        """
        raw = prefix.encode("utf-8")
        with self.db.read() as cur:
            self.configs.info(cur, bucket)
            return q.prefix_has_live_key(
                cur, bucket, raw, prefix_upper(raw), raw if exclude_marker else None
            )
