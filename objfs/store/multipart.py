"""Multipart uploads with S3's rules.

Parts are stored as chunks right away and hold references, so an upload in
progress survives restarts and gc (a part being stored is covered by the
writer lease until its row holds the references: store/leases.py); it is
invisible to reads and listings until completed. Completing moves the chosen parts' references to the new
version and drops the others; aborting drops them all.

A part copied from a version in the same encryption domain shares that
version's chunks (its manifest is a slice of the source's, format 2): a
5 GiB part costs a manifest and a reference per chunk, not 5 GiB.

``Multipart`` is a collaborator of the ``Store`` (core.py, which keeps
its API as the delegates of facade/multipart.py's ``MultipartFacade``),
built with explicit dependencies; see its docstring. Other groups use
the module's ``drop_upload`` (a bucket's deletion, lifecycle), not the
class.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from objfs.auth import ownership
from objfs.auth.acl import AclSpec
from objfs.chunks.store import ChunkStore
from objfs.errors import (
    AccessDenied,
    EntityTooSmall,
    InternalError,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    InvalidRequest,
    MethodNotAllowed,
    NoSuchKey,
    NoSuchUpload,
)
from objfs.meta import auth_queries as aq
from objfs.meta import queries as q
from objfs.meta.db import Database
from objfs.store import checksums
from objfs.store import records as rec
from objfs.store.access import Need, requires
from objfs.store.authorizer import AccessControl, decode_config
from objfs.store.chunkgc import rescue
from objfs.store.chunking import ChunkedBody, store_stream
from objfs.store.commit import NewVersion, VersionCommitter
from objfs.store.conditions import check_copy_conditions
from objfs.store.configs import BucketConfigs
from objfs.store.domains import Domains
from objfs.store.extents import ExtentsCache
from objfs.store.leases import Leases, leased
from objfs.store.limits import MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE
from objfs.store.names import encode_key, prefix_upper
from objfs.store.objectlock import LockRules
from objfs.store.objects import check_write_conditions, md5_of_parts
from objfs.store.ranges import copy_source_range
from objfs.store.reader import ObjectReader
from objfs.store.records import Col
from objfs.store.seam import Seam
from objfs.store.space import Space, frees_space
from objfs.store.tagging import request_tags
from objfs.store.types import (
    NO_LOCK,
    Checksum,
    ChunkRef,
    ObjectHeaders,
    ObjectLockState,
    PartInfo,
    PartList,
    PutResult,
    RequestContext,
    SSERequest,
    SystemMeta,
    UploadInfo,
    UploadListResult,
)
from objfs.store.versions import Versions


class Multipart:
    """The multipart upload requests; see the module docstring.

    Built with the database, the chunk store and its chunk size (a part's
    body is stored as chunks), the free-space guard and this process's
    writer lease (``leased``: a part's chunks are covered until its row
    holds their references; ``frees_space``: an abort works on a full
    disk), the authorization data (an upload's requested ACL and owner),
    the seam (the decorators; the tags a request may set), the bucket
    configurations, Object Lock's checks (a new upload's lock), the
    encryption domains, the committer (durability of a part's chunks; the
    completed upload's commit), the ``Versions`` (the source a part copy
    names) and the manifest cache (the source's extents).

    Invariants: every part row holds a reference per chunk its manifest
    names, taken in the transaction that writes the row (a replaced part's
    references dropped in it); only the outermost call is a request: a part
    copy that re-encrypts stores its part through ``_upload_part``, as
    ``upload_part`` does, not through ``upload_part``.
    """

    def __init__(
        self,
        *,
        db: Database,
        chunks: ChunkStore,
        chunk_size: int,
        space: Space,
        leases: Leases,
        access: AccessControl,
        seam: Seam,
        configs: BucketConfigs,
        lock_rules: LockRules,
        domains: Domains,
        committer: VersionCommitter,
        versions: Versions,
        extents: ExtentsCache,
    ) -> None:
        self.db = db
        self.chunks = chunks
        self.chunk_size = chunk_size
        self.space = space
        self.leases = leases
        self.access = access
        self.seam = seam
        self.configs = configs
        self.lock_rules = lock_rules
        self.domains = domains
        self.committer = committer
        self.versions = versions
        self.extents = extents

    @requires(Need("s3:PutObject", version=None))
    def create_multipart_upload(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        user_meta: dict[str, str] | None = None,
        sys_meta: SystemMeta | None = None,
        sse: SSERequest | None = None,
        headers: ObjectHeaders | None = None,
        checksum: Checksum | None = None,
        acl: AclSpec | None = None,
        tags: Mapping[str, str] | None = None,
        lock: ObjectLockState = NO_LOCK,
    ) -> str:
        """A new upload. ``checksum``: the algorithm (and type) the upload's parts
        carry, no value; ``acl``: the ACL its object gets when completed;
        ``tags``: its tag set and ``lock`` its Object Lock (store/objectlock.py),
        kept in the upload's record until completion."""
        raw = encode_key(key)
        tags = request_tags(self.seam, ctx, bucket, key, tags)
        extra: dict[str, Any] = {"initiator": _initiator(ctx)}
        if tags:
            extra["tags"] = tags
        self.space.require_room()  # new data stops at the free-space floor (store/space.py)
        info = self.configs.lookup(bucket)
        self.lock_rules.check_request(ctx, bucket, key, lock)
        if lock:
            extra["lock"] = [lock.mode, lock.until_ns, lock.legal_hold]
        domain, label, kms = self.domains.write_domain(info, sse, ctx, key)
        upload_id = rec.new_upload_id()
        with self.db.write(durable=ctx.durable) as cur:
            self.configs.info(cur, bucket)
            q.insert_upload(
                cur,
                (
                    upload_id,
                    bucket,
                    raw,
                    time.time_ns(),
                    content_type or "binary/octet-stream",
                    rec.pack_user_meta(user_meta),
                    rec.pack_sys_meta(sys_meta),
                    label,
                    kms,
                    domain.domain_id,
                    rec.pack_headers(
                        headers,
                        checksum,
                        {**extra, "owner": self._upload_owner(cur, ctx, bucket, acl)},
                    ),
                ),
            )
            if acl is not None and acl.given:
                # Kept as the ACL row of a pseudo version until the upload completes.
                self.access.record_creator(cur, bucket, raw, _acl_slot(upload_id), None, acl)
            q.add_change(cur, bucket, raw)  # uploads are listed: every mutation is seen
        return upload_id

    def _upload(self, cur: Any, bucket: str, key: str, upload_id: str) -> tuple:
        row = q.get_upload(cur, upload_id)
        if row is None or row[1] != bucket or row[2] != encode_key(key):
            raise NoSuchUpload(
                f"no multipart upload {upload_id!r} for s3://{bucket}/{key} "
                "(it may have been completed or aborted)"
            )
        return row

    @requires(Need("s3:PutObject", version=None))
    def upload_part(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        body: Any,
        *,
        sse: SSERequest | None = None,
        checksum: Checksum | Callable[[], Checksum | None] | None = None,
    ) -> PartInfo:
        """``checksum``: the part's (as put_object's); kept when it is in the
        upload's checksum algorithm, for the object's checksum at completion."""
        return self._upload_part(
            ctx, bucket, key, upload_id, part_number, body, sse=sse, checksum=checksum
        )

    @leased  # the part's chunks are covered until its row holds their references
    def _upload_part(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        body: Any,
        *,
        sse: SSERequest | None = None,
        checksum: Checksum | Callable[[], Checksum | None] | None = None,
    ) -> PartInfo:
        """UploadPart's work, inside a request already checked (``upload_part``,
        or ``upload_part_copy`` storing a re-encrypted part)."""
        _check_part_number(part_number)
        with self.db.read() as cur:
            upload = self._upload(cur, bucket, key, upload_id)
        domain = self._upload_domain(ctx, upload, sse, bucket, key)
        stored = store_stream(
            self.chunks, domain, ChunkedBody(body, self.chunk_size), limit=MAX_PART_SIZE
        )
        if callable(checksum):
            checksum = checksum()
        wanted = rec.unpack_headers(upload[10])[1]
        if checksum is not None and (wanted is None or wanted.algorithm != checksum.algorithm):
            checksum = None
        if ctx.durable:
            self.committer.make_durable(stored.manifest)
        return self._put_part(
            ctx,
            bucket,
            key,
            upload_id,
            part_number,
            stored.manifest,
            stored.size,
            stored.md5.hexdigest(),
            domain.domain_id,
            checksum=checksum.value if checksum is not None else None,
        )

    def _upload_domain(
        self,
        ctx: RequestContext,
        upload: tuple,
        sse: SSERequest | None,
        bucket: str,
        key: str,
    ) -> Any:
        """The domain a part of ``upload`` is written in. As S3: a part of an
        SSE-C upload must carry the key the upload was created with; a missing
        or different key is InvalidRequest (400), not the AccessDenied a read
        with a wrong key gets."""
        customer_key = sse.customer_key if sse else None
        if upload[7] != "SSE-C":
            return self.domains.domain(upload[9], customer_key, ctx, bucket, key)
        if customer_key is None:
            raise InvalidRequest(
                "The multipart upload initiate requested encryption. Subsequent part "
                "requests must include the appropriate encryption parameters."
            )
        try:
            return self.domains.domain(upload[9], customer_key, ctx, bucket, key)
        except AccessDenied:
            raise InvalidRequest(
                "The provided encryption parameters did not match the ones used originally."
            ) from None

    def _put_part(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        manifest: Sequence[ChunkRef],
        size: int,
        etag: str,
        domain_id: bytes,
        source: tuple | None = None,
        checksum: str | None = None,
    ) -> PartInfo:
        """Record a part whose chunks are stored: its row takes a reference per
        manifest entry (replacing an earlier part of that number). ``source``:
        the version row the manifest was sliced from, which must still exist
        (its references keep the shared chunks alive until ours are added)."""
        now = time.time_ns()
        with self.db.write(durable=ctx.durable) as cur:
            upload = self._upload(cur, bucket, key, upload_id)
            wanted = rec.unpack_headers(upload[10])[1]
            if source is not None:
                still = q.get_version(
                    cur, source[Col.BUCKET], source[Col.KEY], source[Col.VERSION_ID]
                )
                if still is None or still[Col.SEQ] != source[Col.SEQ]:
                    raise NoSuchKey(
                        f"s3://{source[Col.BUCKET]}/{source[Col.KEY].decode()} was deleted or "
                        "replaced during the part copy: retry it",
                        bucket=source[Col.BUCKET],
                        key=source[Col.KEY].decode(),
                    )
            revived = q.add_refs(
                cur,
                domain_id,
                ((r.chunk_id, r.length) for r in manifest if r.chunk_id is not None),
            )
            rescue(cur, self.chunks, revived)  # from gc (store/chunkgc.py)
            if any(not self.chunks.exists(cid) for cid in revived):
                raise InternalError("a chunk vanished while the part was written: retry")
            old = q.put_part(
                cur,
                (upload_id, part_number, etag, size, now, rec.pack_manifest(manifest), checksum),
            )
            if old is not None:
                _drop(cur, old[0])
            q.add_change(cur, bucket, encode_key(key))
        return PartInfo(
            part_number,
            etag,
            size,
            now,
            sse=upload[7],
            kms_key_id=upload[8],
            checksum=_part_sum(wanted, checksum),
        )

    @requires(
        Need(
            lambda a: "s3:GetObjectVersion" if a.get("src_version_id") else "s3:GetObject",
            bucket="src_bucket",
            key="src_key",
            version="src_version_id",
        ),
        Need("s3:PutObject", version=None),
    )
    def upload_part_copy(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        src_bucket: str,
        src_key: str,
        *,
        src_version_id: str | None = None,
        src_range: tuple[int, int] | None = None,
        src_sse: SSERequest | None = None,
        sse: SSERequest | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since_ns: int | None = None,
        if_unmodified_since_ns: int | None = None,
    ) -> PartInfo:
        """UploadPartCopy: a part made of a source version or a byte range of it
        (inclusive ``(first, last)``, which must lie inside the source:
        ``InvalidRange`` otherwise; at most 5 GiB: ``InvalidRequest``).
        The ``if_*`` conditions are the source's, checked as ``copy_object``
        checks them, on the version the part is made of.

        When the source's data is in the upload's encryption domain, the part
        shares its chunks: its manifest is the slice of the source's manifest
        covering the range (whole chunks inside, slices of the chunks at the
        edges), and its row holds a reference per entry, so deleting the
        source or aborting the upload frees only what nothing else names. No
        byte is rewritten. Otherwise (another SSE-C key, KMS key or mode) the
        range is decrypted and stored again, chunk by chunk.

        The part's ETag is the MD5 of its bytes, as S3's. Sharing reuses the
        source's ETag when the part is the whole source and that ETag is a
        plain MD5 (32 hex digits: objfs gives every single PUT the MD5 of its
        body, whatever its encryption, and copies keep it; multipart and
        mount-written ETags end in ``-N``); any other part is read once to
        hash it (reading, not writing).
        """
        _check_part_number(part_number)
        with self.db.read() as cur:
            upload = self._upload(cur, bucket, key, upload_id)
            try:
                row, latest = self.versions.resolve(cur, src_bucket, src_key, src_version_id)
            except MethodNotAllowed:
                raise InvalidRequest(
                    "the source of a part copy may not be a delete marker named by version id"
                ) from None
        info = rec.version_from_row(row, is_latest=latest)
        check_copy_conditions(
            info, if_match, if_none_match, if_modified_since_ns, if_unmodified_since_ns
        )
        size = row[Col.SIZE]
        first, end = 0, size
        if src_range is not None:
            first, last = copy_source_range(src_range, size)
            end = last + 1
        if end - first > MAX_PART_SIZE:
            raise InvalidRequest(
                f"the copy source is {end - first} bytes, larger than the maximum allowable "
                f"size for a copy source: {MAX_PART_SIZE} (copy it in ranges)"
            )
        src_domain = self.domains.domain(
            row[Col.DOMAIN], src_sse.customer_key if src_sse else None, ctx, src_bucket, src_key
        )
        domain = self._upload_domain(ctx, upload, sse, bucket, key)
        extents = self.extents.of(row)
        # An upload with a checksum algorithm gets each copied part's, as S3 computes it.
        wanted = rec.unpack_headers(upload[10])[1]
        summer = checksums.Hasher(wanted.algorithm) if wanted is not None else None
        if domain.domain_id != src_domain.domain_id:
            with ObjectReader(self.chunks, src_domain, info, extents, src_range) as reader:
                return self._upload_part(
                    ctx,
                    bucket,
                    key,
                    upload_id,
                    part_number,
                    _Summed(reader, summer),
                    sse=sse,
                    checksum=lambda: _summed(summer),
                )
        if first == 0 and end == size and _PLAIN_MD5.fullmatch(row[Col.ETAG]) and not summer:
            etag = row[Col.ETAG]
        else:
            digest = hashlib.md5()
            with ObjectReader(self.chunks, src_domain, info, extents, src_range) as reader:
                for piece in reader:
                    digest.update(piece)
                    if summer is not None:
                        summer.update(piece)
            etag = digest.hexdigest()
        manifest = extents.slice(first, end)
        if ctx.durable:  # a shared chunk may come from a commit that was not durable
            self.committer.make_durable(manifest)
        return self._put_part(
            ctx,
            bucket,
            key,
            upload_id,
            part_number,
            manifest,
            end - first,
            etag,
            domain.domain_id,
            source=row,
            checksum=summer.value() if summer is not None else None,
        )

    @requires(Need("s3:PutObject", version=None))
    def complete_multipart_upload(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[tuple[int, str]],
        *,
        checksum: tuple[str, str] | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        sse: SSERequest | None = None,
    ) -> PutResult:
        """``parts``: (number, ETag) in ascending order of number; of a number
        listed twice in a row the last entry counts.
        ``checksum``: (algorithm, value) the client says the object has
        (``BadDigest`` when it is not the one computed from the parts).
        ``if_match``/``if_none_match``: conditions on the key's current object,
        as PutObject's, checked in the transaction that commits.
        ``sse``: an SSE-C upload is completed only with its key
        (``InvalidRequest`` without it or with another one, as S3).

        Completing an upload completed already answers as the first time did while its
        version is still the key's latest (a client retrying a Complete whose
        answer it lost)."""
        if not parts:
            raise InvalidPart("a multipart upload needs at least one part to complete")
        numbers = [n for n, _ in parts]
        if any(b < a for a, b in zip(numbers, numbers[1:], strict=False)):
            raise InvalidPartOrder("parts must be listed in ascending order of part number")
        # A part number listed again (a client that uploaded the part twice and
        # kept both answers): as S3, its last entry counts.
        parts = [p for p, after in zip(parts, [*numbers[1:], None], strict=True) if p[0] != after]
        raw = encode_key(key)
        with self.db.read() as cur:
            try:
                upload = self._upload(cur, bucket, key, upload_id)
            except NoSuchUpload:
                done = _completed(cur, bucket, raw, upload_id)
                if done is None:
                    raise
                return done
        if upload[7] == "aws:kms":  # the key must still be usable to complete
            self.domains.domain(upload[9], None, ctx, bucket, key)
        elif upload[7] == "SSE-C":  # as S3: the key the upload was created with, again
            self._upload_domain(ctx, upload, sse, bucket, key)
        with self.db.write(durable=ctx.durable) as cur:
            upload = self._upload(cur, bucket, key, upload_id)
            stored = {row[0]: row for row in q.list_parts(cur, upload_id)}
            manifest: list[ChunkRef] = []
            md5s: list[bytes] = []
            size = 0
            for i, (number, etag) in enumerate(parts):
                row = stored.get(number)
                if row is None or row[1] != etag.strip().strip('"'):
                    raise InvalidPart(f"part {number} was not uploaded or its ETag does not match")
                if row[2] < MIN_PART_SIZE and i < len(parts) - 1:
                    raise EntityTooSmall(
                        f"part {number} is {row[2]} bytes; every part but the last must be "
                        f"at least {MIN_PART_SIZE} bytes"
                    )
                manifest.extend(rec.unpack_manifest(row[4]))
                md5s.append(bytes.fromhex(row[1]))
                size += row[2]
            if if_match is not None or if_none_match is not None:
                check_write_conditions(cur, bucket, raw, key, if_match, if_none_match)
            wanted = rec.unpack_headers(upload[10])[1]
            object_sum = (
                None
                if wanted is None
                else checksums.object_checksum(
                    wanted, [(stored[n][5], stored[n][2]) for n in numbers]
                )
            )
            checksums.check_expected(object_sum, checksum)
            chosen = set(numbers)
            for number, row in stored.items():
                if number not in chosen:
                    _drop(cur, row[4])
            result = self.committer.commit(
                cur,
                bucket,
                raw,
                NewVersion(
                    manifest=manifest,
                    size=size,
                    etag=md5_of_parts(md5s),
                    content_type=upload[4],
                    user_meta=rec.unpack_user_meta(upload[5]),
                    sys_meta=rec.unpack_sys_meta(upload[6]) if upload[6] else None,
                    sse=upload[7],
                    kms_key_id=upload[8],
                    domain_id=upload[9],
                    headers=rec.unpack_headers(upload[10])[0],
                    checksum=object_sum,
                    extra={
                        "upload_id": upload_id,
                        "parts": [[stored[n][2], stored[n][5]] for n in numbers],
                    },
                    tags=rec.unpack_extra(upload[10]).get("tags"),
                    lock=ObjectLockState(
                        *rec.unpack_extra(upload[10]).get("lock", (None, None, False))
                    ),
                ),
                refs_held=True,
            )
            asked = self.access.take_object_acl(cur, bucket, raw, _acl_slot(upload_id))
            if asked is not None:
                aq.put_object_acl(cur, bucket, raw, result.version_id, *asked)
            q.delete_upload(cur, upload_id)
        return result

    @frees_space  # works on a full disk (store/space.py)
    @requires(Need("s3:AbortMultipartUpload", version=None))
    def abort_multipart_upload(
        self, ctx: RequestContext, bucket: str, key: str, upload_id: str
    ) -> None:
        with self.db.write(durable=ctx.durable) as cur:
            self._upload(cur, bucket, key, upload_id)
            drop_upload(cur, self.access, upload_id)
            q.add_change(cur, bucket, encode_key(key))

    @requires(Need("s3:ListMultipartUploadParts", version=None))
    def list_parts(self, ctx: RequestContext, bucket: str, key: str, upload_id: str) -> PartList:
        with self.db.read() as cur:
            upload = self._upload(cur, bucket, key, upload_id)
            rows = q.list_parts(cur, upload_id)
        wanted = rec.unpack_headers(upload[10])[1]
        extra = rec.unpack_extra(upload[10])
        parts = PartList(
            PartInfo(r[0], r[1], r[2], r[3], checksum=_part_sum(wanted, r[5])) for r in rows
        )
        if extra.get("initiator"):
            parts.initiator = tuple(extra["initiator"])
            parts.owner = tuple(extra.get("owner") or extra["initiator"])
        return parts

    def _upload_owner(
        self, cur: Any, ctx: RequestContext, bucket: str, acl: AclSpec | None
    ) -> list[str | None]:
        """Who will own an upload's object: its initiator, unless the bucket's
        Object Ownership gives it to the bucket owner (``objfs.auth.ownership``)."""
        row = aq.bucket_access(cur, bucket)
        mode = decode_config(row[1]).get("ownership") if row is not None else None
        if row is None or row[0] == ctx.identity.name or not ownership.bucket_owns(mode, acl):
            return _initiator(ctx)
        owner_id = self.access.canonical_id_of(cur, row[0])
        return [owner_id, self.access.display_name_of(cur, owner_id)]

    @requires(Need("s3:ListBucketMultipartUploads", key=None))
    def list_multipart_uploads(
        self,
        ctx: RequestContext,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
        max_uploads: int = 1000,
    ) -> UploadListResult:
        """One page of the bucket's uploads in progress (S3's ListMultipartUploads)."""
        if max_uploads < 0:
            raise InvalidArgument("max-uploads must not be negative")
        raw = prefix.encode("utf-8")
        lower = max(raw, key_marker.encode("utf-8")) if key_marker else raw
        with self.db.read() as cur:
            self.configs.info(cur, bucket)
            rows = q.list_uploads(cur, bucket, lower, prefix_upper(raw))
        uploads = [
            UploadInfo(
                r[1],
                r[2].decode("utf-8"),
                r[0],
                r[3],
                *rec.unpack_extra(r[10]).get("initiator", ()),
            )
            for r in rows
        ]
        return uploads_page(
            uploads, prefix, delimiter, key_marker, upload_id_marker, min(max_uploads, 1000)
        )


_PLAIN_MD5 = re.compile(r"[0-9a-f]{32}")


def _check_part_number(part_number: object) -> None:
    if not isinstance(part_number, int) or not 1 <= part_number <= MAX_PARTS:
        raise InvalidArgument(f"part number must be 1 to {MAX_PARTS}, not {part_number!r}")


def drop_upload(cur: Any, access: AccessControl, upload_id: str) -> None:
    """Remove an upload, its parts' chunk references and its ACL (abort, a
    bucket's deletion, lifecycle), in the caller's transaction."""
    for row in q.list_parts(cur, upload_id):
        _drop(cur, row[4])
    upload = q.get_upload(cur, upload_id)
    if upload is not None:
        access.take_object_acl(cur, upload[1], upload[2], _acl_slot(upload_id))
    q.delete_upload(cur, upload_id)


def _drop(cur: Any, manifest_blob: bytes) -> None:
    q.drop_refs(
        cur, (r.chunk_id for r in rec.unpack_manifest(manifest_blob) if r.chunk_id is not None)
    )


def uploads_page(
    uploads: list[UploadInfo],
    prefix: str,
    delimiter: str | None,
    key_marker: str | None,
    upload_id_marker: str | None,
    max_uploads: int,
) -> UploadListResult:
    """S3's paging of ``uploads`` (key order, then initiation order, under ``prefix``).

    Past ``key_marker``: keys after it, and uploads of that very key after
    ``upload_id_marker`` (after that upload in initiation order; an unknown
    id: ids greater than it, as S3 documents). A marker that is a common
    prefix skips every key under it. Each upload and each common prefix
    counts toward ``max_uploads``."""
    marker_key = key_marker.encode("utf-8") if key_marker else None
    skip_under = None
    if key_marker and delimiter and key_marker.startswith(prefix):
        rest = key_marker[len(prefix) :]
        if rest.endswith(delimiter) and rest.find(delimiter) == len(rest) - len(delimiter):
            skip_under = key_marker
    if marker_key is not None and upload_id_marker:
        same = [u.upload_id for u in uploads if u.key.encode("utf-8") == marker_key]
        after_marker = (
            set(same[same.index(upload_id_marker) + 1 :])
            if upload_id_marker in same
            else {i for i in same if i > upload_id_marker}
        )
    else:
        after_marker = set()
    out: list[UploadInfo] = []
    prefixes: list[str] = []
    last: tuple[str, str | None] | None = None
    truncated = False
    for u in uploads:
        raw = u.key.encode("utf-8")
        if marker_key is not None and (
            raw < marker_key or (raw == marker_key and u.upload_id not in after_marker)
        ):
            continue
        if skip_under is not None and u.key.startswith(skip_under):
            continue
        rolled = None
        if delimiter:
            cut = u.key.find(delimiter, len(prefix))
            if cut >= 0:
                rolled = u.key[: cut + len(delimiter)]
        if rolled is not None and prefixes and prefixes[-1] == rolled:
            continue
        if len(out) + len(prefixes) >= max_uploads:
            truncated = True
            break
        if rolled is not None:
            prefixes.append(rolled)
            last = (rolled, None)
        else:
            out.append(u)
            last = (u.key, u.upload_id)
    return UploadListResult(
        uploads=out,
        common_prefixes=prefixes,
        is_truncated=truncated,
        next_key_marker=last[0] if truncated and last else None,
        next_upload_id_marker=last[1] if truncated and last else None,
    )


def _part_sum(upload: Checksum | None, value: str | None) -> Checksum | None:
    """A part's kept checksum value as a Checksum of its upload's algorithm and type."""
    if upload is None or value is None:
        return None
    return Checksum(upload.algorithm, value, upload.type)


def _initiator(ctx: RequestContext) -> list[str | None]:
    """Who creates an upload, as ListMultipartUploads names them (Initiator, Owner)."""
    identity = ctx.identity
    return [identity.canonical_id, identity.display_name or identity.name]


def _completed(cur: Any, bucket: str, raw: bytes, upload_id: str) -> PutResult | None:
    """The result of upload ``upload_id``'s completion, while its version is
    the key's latest; None otherwise."""
    row = q.get_latest(cur, bucket, raw)
    if (
        row is None
        or row[Col.DM]
        or rec.unpack_extra(row[Col.HEADERS]).get("upload_id") != upload_id
    ):
        return None
    return PutResult.of(rec.version_from_row(row, is_latest=True))


class _Summed:
    """A reader that feeds what it gives to a checksum (a re-encrypted part copy)."""

    def __init__(self, reader: Any, summer: checksums.Hasher | None) -> None:
        self._reader = reader
        self._summer = summer

    def read(self, n: int = -1) -> bytes:
        data = self._reader.read(n)
        if self._summer is not None:
            self._summer.update(data)
        return data


def _summed(summer: checksums.Hasher | None) -> Checksum | None:
    return None if summer is None else Checksum(summer.algorithm, summer.value())


def _acl_slot(upload_id: str) -> str:
    """The ``object_acls`` version id holding an upload's requested ACL."""
    return f"upload:{upload_id}"
