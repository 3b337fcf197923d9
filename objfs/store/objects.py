"""Objects: read, write, copy, delete, amend metadata — S3's rules for versions.

``Objects`` is a collaborator of the ``Store`` (see core.py for the
invariants every call keeps), its requests delegated by
``objfs/store/facade/objects.py``. Every new version is committed through
its ``committer`` (store/commit.py); the version a request names is
``versions``' (store/versions.py); the Object Lock checks are
``lock_rules``' (store/objectlock.py). Conditional requests follow RFC 7232
precedence as S3 applies it.

Invariants:
- only the outermost call is a request: POST Object (``post_object``) is
  PutObject's write, ``_put``, with its own check and access-log record
  (``REST.POST.OBJECT``), not a call of the ``put_object`` request;
- a write's chunks are covered by this process's writer lease (``leased``)
  from before they are stored until the commit references them.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from objfs.auth.acl import AclSpec
from objfs.chunks.store import ChunkStore
from objfs.errors import (
    AccessDenied,
    InvalidArgument,
    InvalidRequest,
    MethodNotAllowed,
    NoSuchKey,
    ObjfsError,
    PreconditionFailed,
)
from objfs.meta import queries as q
from objfs.meta.db import Cursor, Database
from objfs.store import records as rec
from objfs.store.access import Need, requires
from objfs.store.chunking import ChunkedBody, Readable, store_stream
from objfs.store.commit import NewVersion, VersionCommitter
from objfs.store.conditions import check_copy_conditions, check_read_conditions, etag_matches
from objfs.store.configs import BucketConfigs
from objfs.store.domains import Domains, ssec_not_applicable
from objfs.store.extents import ExtentsCache
from objfs.store.leases import Leases, leased
from objfs.store.limits import MAX_PUT_SIZE
from objfs.store.mfa import MFACodes
from objfs.store.names import encode_key
from objfs.store.objectlock import LockRules
from objfs.store.parts import part_range
from objfs.store.ranges import RangeSpec
from objfs.store.reader import ObjectReader
from objfs.store.records import Col
from objfs.store.seam import Seam
from objfs.store.space import Space, frees_space
from objfs.store.tagging import request_tags
from objfs.store.types import (
    NO_LOCK,
    Checksum,
    DeleteResult,
    ObjectHeaders,
    ObjectLockState,
    ObjectVersion,
    PutResult,
    RequestContext,
    SSERequest,
    SystemMeta,
)
from objfs.store.usermeta import check_user_meta
from objfs.store.versions import Versions


class Objects:
    """The object requests; see the module docstring.

    Built with the database, the chunk store and its chunk size (a write's
    body is cut and stored here), the free-space guard and the writer lease
    (``leased``, ``frees_space``), the seam (the decorators; the checks a
    request makes inside, as a copy's of the source's tags), the bucket
    configurations (``configs.lookup``/``info``: NoSuchBucket), the committer
    (new versions, metadata amended in place), the manifest cache, the
    encryption domains, the ``Versions`` (the version a request names; S3's
    DELETE), the Object Lock checks and the MFA-delete checks."""

    def __init__(
        self,
        *,
        db: Database,
        chunks: ChunkStore,
        chunk_size: int,
        space: Space,
        leases: Leases,
        seam: Seam,
        configs: BucketConfigs,
        committer: VersionCommitter,
        extents: ExtentsCache,
        domains: Domains,
        versions: Versions,
        lock_rules: LockRules,
        mfa_codes: MFACodes,
    ) -> None:
        self.db = db
        self.chunks = chunks
        self.chunk_size = chunk_size
        self.space = space
        self.leases = leases
        self.seam = seam
        self.configs = configs
        self.committer = committer
        self.extents = extents
        self.domains = domains
        self.versions = versions
        self.lock_rules = lock_rules
        self.mfa_codes = mfa_codes

    # -- reading versions ------------------------------------------------------

    @requires(Need(lambda a: "s3:GetObjectVersion" if a.get("version_id") else "s3:GetObject"))
    def head_object(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        sse: SSERequest | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since_ns: int | None = None,
        if_unmodified_since_ns: int | None = None,
        part_number: int | None = None,
    ) -> ObjectVersion:
        """``part_number``: the caller reads that part (``?partNumber=N``): a part
        the version does not have is InvalidPart, before any SSE-C key check."""
        with self.db.read() as cur:
            row, latest = self.versions.resolve(cur, bucket, key, version_id)
        info = rec.version_from_row(row, is_latest=latest)
        check_read_conditions(
            info, if_match, if_none_match, if_modified_since_ns, if_unmodified_since_ns
        )
        if part_number is not None:
            part_range(info, part_number)
        if info.sse == "SSE-C":
            self.domains.domain(row[Col.DOMAIN], sse.customer_key if sse else None)
        elif sse is not None and sse.customer_key is not None and not info.is_delete_marker:
            raise ssec_not_applicable()
        return info

    @requires(Need(lambda a: "s3:GetObjectVersion" if a.get("version_id") else "s3:GetObject"))
    def get_object(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        range: RangeSpec | None = None,  # noqa: A002 - S3's own word
        sse: SSERequest | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since_ns: int | None = None,
        if_unmodified_since_ns: int | None = None,
        part_number: int | None = None,
    ) -> ObjectReader:
        """A reader of one version: the conditions are checked, and the range
        (``(A, B)``, open ``(A, None)`` or suffix ``(None, N)``) or the part
        (``part_number``, as ``head_object``: InvalidPart for a part it does
        not have) resolved, on the very version it reads, whatever writes
        happen meanwhile."""
        if range is not None and part_number is not None:
            raise InvalidRequest("Cannot specify both Range header and partNumber query parameter")
        with self.db.read() as cur:
            row, latest = self.versions.resolve(cur, bucket, key, version_id)
        info = rec.version_from_row(row, is_latest=latest)
        check_read_conditions(
            info, if_match, if_none_match, if_modified_since_ns, if_unmodified_since_ns
        )
        if part_number is not None:
            range = part_range(info, part_number)  # noqa: A001
        domain = self.domains.domain(
            row[Col.DOMAIN], sse.customer_key if sse else None, ctx, bucket, key
        )
        return ObjectReader(self.chunks, domain, info, self.extents.of(row), range)

    @requires(Need(lambda a: "s3:GetObjectVersion" if a.get("version_id") else "s3:GetObject"))
    def read_range(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        offset: int,
        length: int,
        *,
        version_id: str | None = None,
        sse: SSERequest | None = None,
        readahead: bool = False,
    ) -> bytes:
        """Bytes [offset, offset+length) clipped to the object's size.

        ``readahead``: the caller reads sequentially, so the chunk after the
        range is decoded in the background. Only such callers should ask: a
        random reader would pay for a chunk it never reads.
        """
        with self.db.read() as cur:
            row, latest = self.versions.resolve(cur, bucket, key, version_id)
        size = row[Col.SIZE]
        if offset >= size or length <= 0:
            return b""
        domain = self.domains.domain(
            row[Col.DOMAIN], sse.customer_key if sse else None, ctx, bucket, key
        )
        info = rec.version_from_row(row, is_latest=latest)
        end = min(size, offset + length) - 1
        extents = self.extents.of(row)
        with ObjectReader(self.chunks, domain, info, extents, (offset, end)) as reader:
            data = reader.read()
        if readahead and end + 1 < size:
            # Sequential readers come back for what follows: decode it now,
            # on the chunk pool, while this answer travels back.
            for ref, _, _ in extents.pieces(end + 1, end + 2):
                if ref.chunk_id is not None:
                    self.chunks.prefetch(domain, ref.chunk_id)
        return data

    # -- writing versions ------------------------------------------------------

    @requires("s3:PutObject")
    @leased  # its chunks are covered until the commit references them
    def put_object(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        body: Readable | bytes | bytearray | memoryview,
        *,
        content_type: str | None = None,
        user_meta: dict[str, str] | None = None,
        sys_meta: SystemMeta | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        sse: SSERequest | None = None,
        size_hint: int | None = None,
        headers: ObjectHeaders | None = None,
        checksum: Checksum | Callable[[], Checksum | None] | None = None,
        acl: AclSpec | None = None,
        tags: Mapping[str, str] | None = None,
        lock: ObjectLockState = NO_LOCK,
    ) -> PutResult:
        """``checksum``: the body's additional checksum, or a function that gives
        it once the body has been read (a trailer's, verified by the reader).
        ``tags``: the new version's tag set (``x-amz-tagging``; needs
        ``s3:PutObjectTagging`` too, as S3). ``lock``: the Object Lock
        retention and legal hold asked for (store/objectlock.py; none: the
        bucket's default retention)."""
        return self._put(
            ctx,
            bucket,
            key,
            body,
            content_type=content_type,
            user_meta=user_meta,
            sys_meta=sys_meta,
            if_match=if_match,
            if_none_match=if_none_match,
            sse=sse,
            size_hint=size_hint,
            headers=headers,
            checksum=checksum,
            acl=acl,
            tags=tags,
            lock=lock,
        )

    @requires("s3:PutObject")  # checked on ``put_args`` by name, as put_object (access.py)
    @leased  # its chunks are covered until the commit references them
    def post_object(
        self, ctx: RequestContext, bucket: str, key: str, body: Readable, **put_args: Any
    ) -> PutResult:
        """PutObject sent as an HTML form (POST Object, ``objfs/s3api/post.py``):
        the same write with the same arguments and checks; only the access log
        tells it apart (S3's ``REST.POST.OBJECT``)."""
        return self._put(ctx, bucket, key, body, **put_args)

    def _put(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        body: Readable | bytes | bytearray | memoryview,
        *,
        content_type: str | None = None,
        user_meta: dict[str, str] | None = None,
        sys_meta: SystemMeta | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        sse: SSERequest | None = None,
        size_hint: int | None = None,
        headers: ObjectHeaders | None = None,
        checksum: Checksum | Callable[[], Checksum | None] | None = None,
        acl: AclSpec | None = None,
        tags: Mapping[str, str] | None = None,
        lock: ObjectLockState = NO_LOCK,
    ) -> PutResult:
        """PutObject's write (``put_object``, ``post_object``): the request's
        check and the writer lease are the caller's."""
        raw = encode_key(key)
        check_user_meta(user_meta)  # before the body is read: refuse a big PUT up front
        tags = request_tags(self.seam, ctx, bucket, key, tags)
        info = self.configs.lookup(bucket)
        self.lock_rules.check_request(ctx, bucket, key, lock)
        if if_match is not None or if_none_match is not None:
            with self.db.read() as cur:
                check_write_conditions(cur, bucket, raw, key, if_match, if_none_match)
        domain, label, kms = self.domains.write_domain(info, sse, ctx, key)
        stored = store_stream(
            self.chunks,
            domain,
            ChunkedBody(body, self.chunk_size),
            limit=MAX_PUT_SIZE,
            inline=True,
        )
        if callable(checksum):
            checksum = checksum()
        if ctx.durable:
            self.committer.make_durable(stored.manifest, stored.inline)
        with self.db.write(durable=ctx.durable) as cur:
            if if_match is not None or if_none_match is not None:
                check_write_conditions(cur, bucket, raw, key, if_match, if_none_match)
            return self.committer.commit(
                cur,
                bucket,
                raw,
                NewVersion(
                    manifest=stored.manifest,
                    size=stored.size,
                    etag=stored.md5.hexdigest(),
                    content_type=content_type or "binary/octet-stream",
                    user_meta=user_meta,
                    sys_meta=sys_meta,
                    sse=label,
                    kms_key_id=kms,
                    domain_id=domain.domain_id,
                    inline=stored.inline,
                    headers=headers,
                    checksum=checksum,
                    acl=acl,
                    tags=tags,
                    lock=lock,
                ),
            )

    @requires(
        Need(
            lambda a: "s3:GetObjectVersion" if a.get("src_version_id") else "s3:GetObject",
            bucket="src_bucket",
            key="src_key",
            version="src_version_id",
        ),
        Need("s3:PutObject", bucket="dst_bucket", key="dst_key", version=None),
    )
    @leased  # its chunks are covered until the commit references them
    def copy_object(
        self,
        ctx: RequestContext,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        *,
        src_version_id: str | None = None,
        metadata_directive: str | None = None,
        content_type: str | None = None,
        user_meta: dict[str, str] | None = None,
        sys_meta: SystemMeta | None = None,
        sse: SSERequest | None = None,
        src_sse: SSERequest | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since_ns: int | None = None,
        if_unmodified_since_ns: int | None = None,
        headers: ObjectHeaders | None = None,
        acl: AclSpec | None = None,
        tagging_directive: str | None = None,
        tags: Mapping[str, str] | None = None,
        lock: ObjectLockState = NO_LOCK,
    ) -> PutResult:
        """Copy a version; shares chunks when the encryption domain stays the same.

        ``lock``: the copy's Object Lock (a copy does not take the source's).

        The ``if_*`` conditions are the source's (``x-amz-copy-source-if-*``):
        checked on the version copied, which the commit then verifies is
        still there; one that fails is ``PreconditionFailed``. ``metadata_directive``
        None is COPY (the request named none: no ``s3:x-amz-metadata-directive``).
        ``headers``: the standard headers of the copy under REPLACE (COPY
        keeps the source's); the checksum always goes with the data.
        ``tagging_directive``: COPY (None: the default) gives the copy the
        source's tags, REPLACE the ``tags`` given (none without)."""
        metadata_directive = metadata_directive or "COPY"
        if metadata_directive not in ("COPY", "REPLACE"):
            raise InvalidArgument("metadata directive must be COPY or REPLACE")
        tagging_directive = tagging_directive or "COPY"
        if tagging_directive not in ("COPY", "REPLACE"):
            raise InvalidArgument("Unknown tagging directive.")
        if tagging_directive == "REPLACE":
            tags = request_tags(self.seam, ctx, dst_bucket, dst_key, tags)
        if metadata_directive == "REPLACE":
            check_user_meta(user_meta)  # before any data is copied
        dst_raw = encode_key(dst_key)
        dst_info = self.configs.lookup(dst_bucket)
        self.lock_rules.check_request(ctx, dst_bucket, dst_key, lock)
        if (
            (src_bucket, src_key) == (dst_bucket, dst_key)
            and metadata_directive == "COPY"
            and sse is None
            and sys_meta is None
        ):
            raise InvalidRequest(
                "copying an object onto itself must change its metadata or encryption "
                "(use the REPLACE metadata directive)"
            )
        with self.db.read() as cur:
            try:
                row, _ = self.versions.resolve(cur, src_bucket, src_key, src_version_id)
            except MethodNotAllowed:
                raise InvalidRequest(
                    "the source of a copy may not be a delete marker named by version id"
                ) from None
        check_copy_conditions(
            rec.version_from_row(row, is_latest=False),
            if_match,
            if_none_match,
            if_modified_since_ns,
            if_unmodified_since_ns,
        )
        src_domain = self.domains.domain(
            row[Col.DOMAIN], src_sse.customer_key if src_sse else None, ctx, src_bucket, src_key
        )
        # As S3: the copy is encrypted as the request or the destination
        # bucket's default says. Same domain -> chunks are shared, O(metadata).
        want_domain, label, kms = self.domains.write_domain(dst_info, sse, ctx, dst_key)
        if metadata_directive == "COPY":
            content_type = row[Col.CTYPE]
            user_meta = rec.unpack_user_meta(row[Col.UMETA])
            sys_meta = rec.unpack_sys_meta(row[Col.SMETA]) if sys_meta is None else sys_meta
        src_headers, checksum = rec.unpack_headers(row[Col.HEADERS])
        if metadata_directive == "COPY":
            headers = src_headers
        if tagging_directive == "COPY":
            tags = rec.unpack_tags(row[Col.TAGS])
            if tags:  # as S3: copying tags reads them (s3:GetObjectTagging on the source)
                self.seam.check(
                    ctx,
                    "s3:GetObjectVersionTagging" if src_version_id else "s3:GetObjectTagging",
                    src_bucket,
                    src_key,
                    src_version_id,
                    {"s3:VersionId": src_version_id} if src_version_id else {},
                )
        manifest = rec.unpack_manifest(row[Col.MANIFEST])
        if want_domain.domain_id != src_domain.domain_id:
            info = rec.version_from_row(row, is_latest=False)
            with ObjectReader(self.chunks, src_domain, info, manifest, None) as reader:
                stored = store_stream(
                    self.chunks, want_domain, ChunkedBody(reader, self.chunk_size)
                )
            manifest = stored.manifest
        if ctx.durable:
            self.committer.make_durable(manifest)
        with self.db.write(durable=ctx.durable) as cur:
            # The source may have been removed (or, as version "null", replaced)
            # since we read it: its references keep the shared chunks alive.
            still = q.get_version(cur, row[Col.BUCKET], row[Col.KEY], row[Col.VERSION_ID])
            if still is None or still[Col.SEQ] != row[Col.SEQ]:
                raise NoSuchKey(
                    f"s3://{src_bucket}/{src_key} was deleted or replaced during the copy: retry it"
                )
            return self.committer.commit(
                cur,
                dst_bucket,
                dst_raw,
                NewVersion(
                    manifest=manifest,
                    size=row[Col.SIZE],
                    etag=row[Col.ETAG],
                    content_type=content_type or "binary/octet-stream",
                    user_meta=user_meta,
                    sys_meta=sys_meta,
                    sse=label,
                    kms_key_id=kms,
                    domain_id=want_domain.domain_id,
                    headers=headers,
                    checksum=checksum,
                    acl=acl,
                    # COPY or REPLACE above made it a dict (the parameter is a Mapping)
                    tags=cast(dict[str, str] | None, tags),
                    lock=lock,
                ),
                # Same domain: the same chunks, so the copy adds no references.
                base=(row[Col.SEQ], manifest),
            )

    # -- deleting ----------------------------------------------------------------

    @frees_space  # works on a full disk (store/space.py)
    @requires(
        Need(lambda a: "s3:DeleteObjectVersion" if a.get("version_id") else "s3:DeleteObject"),
        in_write=True,  # checked in the delete's own transaction (the mount's rm -r)
    )
    def delete_object(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        bypass_governance: bool = False,
    ) -> DeleteResult:
        """``bypass_governance``: S3's ``x-amz-bypass-governance-retention``; a
        version under GOVERNANCE retention goes if the caller also holds
        ``s3:BypassGovernanceRetention`` (a locked version: ``ObjectLocked``)."""
        raw = encode_key(key)
        with self.db.write(durable=ctx.durable) as cur:
            bypass = False
            if version_id is not None:
                what = f"delete version {version_id} of s3://{bucket}/{key} permanently"
                self.mfa_codes.delete_guard(cur, ctx, self.configs.info(cur, bucket), what)
                bypass = bypass_governance and self.lock_rules.may_bypass(
                    ctx, cur, bucket, key, version_id
                )
            return self.versions.delete(cur, bucket, raw, key, version_id, bypass_governance=bypass)

    @frees_space  # works on a full disk (store/space.py)
    @requires()  # each item is checked on its own (DeleteObject or DeleteObjectVersion)
    def delete_objects(
        self,
        ctx: RequestContext,
        bucket: str,
        items: Sequence[tuple[str, str | None]],
        *,
        bypass_governance: bool = False,
    ) -> list[DeleteResult | ObjfsError]:
        """``bypass_governance``: as ``delete_object``'s, for each version named."""
        results: list[DeleteResult | ObjfsError | None] = []
        mfa_keys = self.seam.mfa_condition_keys(ctx)
        for key, version_id in items:  # S3 checks each key on its own
            action = "s3:DeleteObjectVersion" if version_id else "s3:DeleteObject"
            extra = {"s3:VersionId": version_id} if version_id else {}
            extra.update(mfa_keys)
            try:
                self.seam.check(ctx, action, bucket, key, version_id, extra)
                results.append(None)
            except AccessDenied as err:
                results.append(err)
        with self.db.write(durable=ctx.durable) as cur:
            info = self.configs.info(cur, bucket)
            versions = sum(1 for i, (_, v) in enumerate(items) if v and results[i] is None)
            if versions:  # one code for the request; without it the whole request fails, as S3
                what = f"delete {versions} version(s) permanently"
                self.mfa_codes.delete_guard(cur, ctx, info, what)
            for i, (key, version_id) in enumerate(items):
                if results[i] is not None:
                    continue
                try:
                    bypass = (
                        bypass_governance
                        and version_id is not None
                        and self.lock_rules.may_bypass(ctx, cur, bucket, key, version_id)
                    )
                    results[i] = self.versions.delete(
                        cur, bucket, encode_key(key), key, version_id, bypass_governance=bypass
                    )
                except ObjfsError as err:
                    results[i] = err
        return results  # type: ignore[return-value]

    # -- metadata in place ---------------------------------------------------------

    @requires(Need("s3:PutObject", version=None))
    def update_sys_meta(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        sys_meta: SystemMeta,
        *,
        version_id: str | None = None,
    ) -> ObjectVersion:
        """Amend POSIX attributes of a version in place: no new version."""
        with self.db.write(durable=ctx.durable) as cur:
            row, latest = self.versions.resolve(cur, bucket, key, version_id)
            row = self.committer.amend(cur, row, sys_meta=rec.pack_sys_meta(sys_meta))
        return rec.version_from_row(row, is_latest=latest)

    @requires("s3:PutObject")
    def update_user_meta(
        self, ctx: RequestContext, bucket: str, key: str, user_meta: dict[str, str]
    ) -> ObjectVersion:
        """Replace the user metadata of the latest version in place; refused
        (``ObjectLocked``) while the version is under Object Lock, whose S3
        metadata, as its data, stays as written."""
        with self.db.write(durable=ctx.durable) as cur:
            row, latest = self.versions.resolve(cur, bucket, key, None)
            self.lock_rules.check_not_locked(row)
            row = self.committer.amend(cur, row, user_meta=rec.pack_user_meta(user_meta))
        return rec.version_from_row(row, is_latest=latest)


def check_write_conditions(
    cur: Cursor, bucket: str, raw: bytes, key: str, if_match: str | None, if_none_match: str | None
) -> None:
    """If-Match / If-None-Match of a write (PutObject, CompleteMultipartUpload)
    on the key's current object, in the caller's transaction."""
    row = q.get_latest(cur, bucket, raw)
    live = None if row is None or row[Col.DM] else row  # the current object, if any
    if if_none_match is not None:  # '*': no object at all; an ETag: not that object
        if live is not None and etag_matches(if_none_match, live[Col.ETAG]):
            raise PreconditionFailed(
                f"s3://{bucket}/{key} exists and If-None-Match matches its ETag"
            )
    if if_match is not None:
        if live is None:
            raise NoSuchKey(f"no such key: s3://{bucket}/{key} (If-Match)")
        if not etag_matches(if_match, live[Col.ETAG]):
            raise PreconditionFailed("If-Match does not match the current ETag")


def guess_content_type(key: str) -> str:
    return mimetypes.guess_type(key, strict=False)[0] or "binary/octet-stream"


def md5_of_parts(part_md5s: Sequence[bytes]) -> str:
    """S3's multipart ETag: md5 of the concatenated binary part md5s, then -N."""
    return f"{hashlib.md5(b''.join(part_md5s)).hexdigest()}-{len(part_md5s)}"
