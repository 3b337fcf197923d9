"""What the mount needs beyond S3: atomic renames and the random-access writer.

A mixin of ``Store``. ``rename``/``rename_prefix`` move keys in one
transaction (S3 has no rename; peers copy key by key). ``commit_manifest``
commits chunks an ``ObjectWriter`` already stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from objfs.crypto.keyring import Domain
from objfs.errors import (
    InvalidArgument,
    NoSuchKey,
)
from objfs.meta import queries as q
from objfs.store import records as rec
from objfs.store.leases import WriteIntent
from objfs.store.names import encode_key
from objfs.store.objects import guess_content_type
from objfs.store.records import Col
from objfs.store.types import (
    ChunkRef,
    ObjectVersion,
    PutResult,
    RequestContext,
    SSERequest,
    SystemMeta,
)
from objfs.store.writer import ObjectWriter

if TYPE_CHECKING:
    pass


class MountMixin:
    # -- rename (mount) ----------------------------------------------------------

    def rename(self, ctx: RequestContext, bucket: str, src_key: str, dst_key: str) -> PutResult:
        """Move the latest version of src to dst in one transaction.

        dst gets a new version sharing src's chunks and metadata; src is
        deleted as DELETE would (a delete marker when versioned).
        """
        src, dst = encode_key(src_key), encode_key(dst_key)
        with self.db.write(durable=ctx.durable) as cur:
            return self._move(cur, bucket, src, dst, src_key)

    def rename_prefix(
        self, ctx: RequestContext, bucket: str, src_prefix: str, dst_prefix: str
    ) -> int:
        """Move every live key under src_prefix to dst_prefix; one transaction."""
        src, dst = encode_key(src_prefix), encode_key(dst_prefix)
        if dst.startswith(src):
            raise InvalidArgument("cannot move a prefix into itself")
        moved = 0
        with self.db.write(durable=ctx.durable) as cur:
            self._bucket(cur, bucket)
            from objfs.store.names import prefix_upper

            rows = q.list_latest(cur, bucket, src, prefix_upper(src), 1 << 62, inclusive=True)  # type: ignore[arg-type]
            for row in rows:
                key = row[Col.KEY]
                self._move(cur, bucket, key, dst + key[len(src) :], key.decode())
                moved += 1
        return moved

    def _move(self, cur: object, bucket: str, src: bytes, dst: bytes, src_key: str) -> PutResult:
        row, _ = self._resolve(cur, bucket, src_key, None)
        result = self._commit_version(
            cur,
            bucket,
            dst,
            manifest=rec.unpack_manifest(row[Col.MANIFEST]),
            size=row[Col.SIZE],
            etag=row[Col.ETAG],
            content_type=row[Col.CTYPE],
            user_meta=rec.unpack_user_meta(row[Col.UMETA]),
            sys_meta=rec.unpack_sys_meta(row[Col.SMETA]),
            sse=row[Col.SSE],
            kms_key_id=row[Col.KMS],
            domain_id=row[Col.DOMAIN],
        )
        self._delete(cur, bucket, src, src_key, None)
        return result

    # -- the mount's writer ------------------------------------------------------

    def open_writer(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        base: ObjectVersion | None,
        truncate: bool = False,
        sse: SSERequest | None = None,
    ) -> ObjectWriter:
        encode_key(key)
        # Begun before the base is read: its chunks, should the base be
        # deleted meanwhile, stay until the writer commits (store/leases.py).
        intent = self.leases.begin()
        try:
            return self._open_writer(ctx, bucket, key, base, truncate, sse, intent)
        except BaseException:
            intent.end()
            raise

    def _open_writer(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        base: ObjectVersion | None,
        truncate: bool,
        sse: SSERequest | None,
        intent: WriteIntent,
    ) -> ObjectWriter:
        info = self.head_bucket(ctx, bucket)
        manifest: list[ChunkRef] = []
        size = 0
        base_domain = None
        if base is not None and not truncate:
            with self.db.read() as cur:
                row = q.get_version(cur, bucket, encode_key(key), base.version_id)  # type: ignore[arg-type]
            if row is None or row[Col.DM]:
                raise NoSuchKey(f"s3://{bucket}/{key} changed or was deleted")
            manifest = rec.unpack_manifest(row[Col.MANIFEST])
            size = row[Col.SIZE]
            base_domain = self._domain(
                row[Col.DOMAIN], sse.customer_key if sse else None, ctx, bucket, key
            )
        if base_domain is not None and sse is None:
            domain, label, kms = base_domain, base.sse, base.kms_key_id  # type: ignore[union-attr]
        else:
            domain, label, kms = self._write_domain(info, sse)
        return ObjectWriter(
            self,
            bucket,
            key,
            domain,
            label,
            kms,
            manifest,
            size,
            base_domain or domain,
            intent=intent,
        )

    def commit_manifest(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        manifest: Sequence[ChunkRef],
        size: int,
        *,
        domain: Domain,
        sse: str,
        kms_key_id: str | None,
        sys_meta: SystemMeta | None = None,
        content_type: str | None = None,
        user_meta: dict[str, str] | None = None,
    ) -> ObjectVersion:
        """Commit chunks the caller already stored as the key's new version.

        Returns the full record of the new version.

        Metadata left as None carries over from the current latest version
        (a file edited through the mount keeps its xattrs and mode). The ETag
        is multipart-shaped (md5 of the chunk ids, ``-N``): the mount never
        holds the whole body to hash it, and clients skip MD5 checks on such
        ETags.
        """
        raw = encode_key(key)
        digest = hashlib.md5()
        for ref in manifest:
            digest.update(ref.chunk_id or ref.length.to_bytes(8, "big"))
        etag = f"{digest.hexdigest()}-{max(1, len(manifest))}"
        if sse == "aws:kms":  # the key must still be usable; audited as GenerateDataKey
            self._kms_domain(domain.domain_id, None, ctx, bucket, key, "GenerateDataKey")
        with self.db.write(durable=ctx.durable) as cur:
            current = q.get_latest(cur, bucket, raw)
            if current is not None and not current[Col.DM]:
                if sys_meta is None:
                    sys_meta = rec.unpack_sys_meta(current[Col.SMETA])
                if user_meta is None:
                    user_meta = rec.unpack_user_meta(current[Col.UMETA])
                if content_type is None:
                    content_type = current[Col.CTYPE]
            content_type = content_type or guess_content_type(key)
            result = self._commit_version(
                cur,
                bucket,
                raw,
                manifest=manifest,
                size=size,
                etag=etag,
                content_type=content_type,
                user_meta=user_meta,
                sys_meta=sys_meta,
                sse=sse,
                kms_key_id=kms_key_id,
                domain_id=domain.domain_id,
            )
        return ObjectVersion(
            bucket=bucket,
            key=key,
            version_id=result.version_id,
            is_latest=True,
            is_delete_marker=False,
            size=size,
            etag=etag,
            last_modified_ns=result.last_modified_ns,
            content_type=content_type,
            user_meta=user_meta or {},
            sys_meta=sys_meta or SystemMeta(),
            sse=sse,
            kms_key_id=kms_key_id,
            seq=result.seq,
        )
