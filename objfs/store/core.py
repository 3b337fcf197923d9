"""The Store: buckets and objects with S3 semantics.

Owns the rules of S3-SEMANTICS.md (buckets, versions, delete markers,
conditions, copy, rename). Listing, multipart, the mount's random-access
writer and maintenance live in sibling modules as mixins of this class.

Invariants after every call:
- chunks a committed version names are durable before the commit when the
  context asks for durability, and always written before the commit;
- ``objects`` points at the newest version row of each key;
- ``chunks.refs`` counts manifest entries naming each chunk (see meta.queries);
- every mutation appends to the change sequence in the same transaction.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from objfs.chunks.backend import LocalBackend
from objfs.chunks.store import ChunkStore
from objfs.crypto.keyring import Domain, Keyring
from objfs.errors import (
    BucketAlreadyExists,
    BucketNotEmpty,
    InternalError,
    InvalidArgument,
    InvalidBucketState,
    InvalidRequest,
    MethodNotAllowed,
    NoSuchBucket,
    NoSuchKey,
    NoSuchVersion,
    NotModified,
    ObjfsError,
    PreconditionFailed,
    StoreFormatError,
    StoreNotFound,
)
from objfs.meta import queries as q
from objfs.meta.db import Database
from objfs.store import records as rec
from objfs.store.chunking import ChunkedBody, store_stream
from objfs.store.kms import KMSMixin
from objfs.store.listing import ListingMixin
from objfs.store.maintenance import MaintenanceMixin
from objfs.store.multipart import MultipartMixin
from objfs.store.names import check_bucket_name, encode_key
from objfs.store.reader import ObjectReader
from objfs.store.records import Col
from objfs.store.types import (
    NULL_VERSION,
    BucketInfo,
    Change,
    ChunkRef,
    DeleteResult,
    ObjectVersion,
    PutResult,
    RequestContext,
    SSERequest,
    SystemMeta,
    Versioning,
)
from objfs.store.writer import ObjectWriter

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1 << 20
MAX_SINGLE_PUT = 5 << 30
SSE_MODES = ("none", "AES256", "aws:kms", "SSE-C")


class Store(ListingMixin, MultipartMixin, MaintenanceMixin, KMSMixin):
    """An objfs store directory opened for use. Thread-safe."""

    def __init__(self, path: Path, db: Database, keyring: Keyring) -> None:
        self.path = path
        self.db = db
        self.keyring = keyring
        self.chunk_size = int(db.get_meta("chunk_size"))  # type: ignore[arg-type]
        self.chunks = ChunkStore(LocalBackend(path / "chunks"))
        self._domains: dict[bytes, Domain] = {}
        self._kms_recent: dict[tuple[object, ...], int] = {}  # audit folding (store/kms.py)
        self._domain_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        master_key_file: str | os.PathLike[str] | None = None,
    ) -> Store:
        path = Path(path)
        if not 64 * 1024 <= chunk_size <= 64 << 20 or chunk_size & (chunk_size - 1):
            raise InvalidArgument("chunk size must be a power of two from 64 KiB to 64 MiB")
        if (path / "meta.db").exists():
            raise InvalidRequest(f"{path} already holds an objfs store")
        if path.exists() and any(path.iterdir()):
            raise InvalidRequest(f"{path} exists and is not empty: choose an empty directory")
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        (path / "chunks").mkdir(mode=0o700, exist_ok=True)
        if master_key_file is None:
            keyring = Keyring.create(path / "keys")
        else:
            (path / "keys").mkdir(mode=0o700, exist_ok=True)
            keyring = Keyring.load(path / "keys", Path(master_key_file))
        plain, plain_rec = keyring.new_domain("none")
        sse_s3, sse_rec = keyring.new_domain("AES256")
        db = Database.create(
            path / "meta.db",
            {
                "chunk_size": chunk_size,
                "created": time.time_ns(),
                "plain_domain": plain.domain_id,
                "sse_s3_domain": sse_s3.domain_id,
            },
        )
        with db.write(durable=True) as cur:
            q.insert_domain(cur, plain.domain_id, plain.kind, plain_rec)
            q.insert_domain(cur, sse_s3.domain_id, sse_s3.kind, sse_rec)
        return cls(path, db, keyring)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, master_key_file: str | os.PathLike[str] | None = None
    ) -> Store:
        path = Path(path)
        if not (path / "meta.db").is_file():
            raise StoreNotFound(f"no objfs store at {path}: run `objfs init` or pass --store")
        if not (path / "chunks").is_dir():
            raise StoreFormatError(f"{path} has no chunks/ directory: the store is damaged")
        db = Database.open(path / "meta.db")
        try:
            keyring = Keyring.load(
                path / "keys", Path(master_key_file) if master_key_file else None
            )
            store = cls(path, db, keyring)
            store._domain(db.get_meta("sse_s3_domain"))  # type: ignore[arg-type]
        except BaseException:
            db.close()
            raise
        return store

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- encryption domains --------------------------------------------------

    def _domain(
        self,
        domain_id: bytes,
        customer_key: bytes | None = None,
        ctx: RequestContext | None = None,
        bucket: str | None = None,
        key: str | None = None,
    ) -> Domain:
        """The domain of stored data, unwrapped (SSE-C needs the caller's key).

        aws:kms: the key's state is checked on every call and the use audited
        (objfs/store/kms.py); ``ctx``/``bucket``/``key`` name the use."""
        cached = self._domains.get(domain_id)
        if cached is not None and cached.kind not in ("SSE-C", "aws:kms"):
            return cached
        with self.db.read() as cur:
            row = q.get_domain(cur, domain_id)
        if row is None:
            raise InternalError(f"unknown encryption domain {domain_id.hex()}")
        _, kind, record = row
        if kind == "SSE-C":
            return self.keyring.open_ssec_domain(domain_id, record, customer_key)
        if kind == "aws:kms":
            return self._kms_domain(domain_id, record, ctx, bucket, key)
        domain = self.keyring.open_domain(domain_id, record)
        with self._domain_lock:
            self._domains[domain_id] = domain
        return domain

    def _write_domain(
        self,
        bucket: BucketInfo,
        sse: SSERequest | None,
        ctx: RequestContext | None = None,
        key: str | None = None,
    ) -> tuple[Domain, str, str | None]:
        """(domain, sse label, kms key id) for new data under this request."""
        mode = sse.mode if sse and sse.mode else None
        if sse and sse.customer_key is not None:
            mode = "SSE-C"
        mode = mode or bucket.encryption
        if mode == "none":
            return self._domain(self.db.get_meta("plain_domain")), "none", None  # type: ignore[arg-type]
        if mode == "AES256":
            return self._domain(self.db.get_meta("sse_s3_domain")), "AES256", None  # type: ignore[arg-type]
        if mode == "SSE-C":
            key = sse.customer_key if sse else None
            if key is None or len(key) != 32:
                raise InvalidArgument("SSE-C needs a 256-bit (32-byte) customer key")
            return self._ssec_domain(key), "SSE-C", None
        if mode == "aws:kms":
            return self._kms_write_domain(bucket, sse, ctx, key)
        raise InvalidArgument(f"unknown server-side encryption {mode!r}")

    def _ssec_domain(self, key: bytes) -> Domain:
        tag = self.keyring.ssec_lookup_tag(key)
        with self.db.read() as cur:
            row = q.domain_by_lookup(cur, tag)
        if row is not None:
            return self.keyring.open_ssec_domain(row[0], row[2], key)
        domain, record = self.keyring.new_ssec_domain(key)
        with self.db.write(durable=True) as cur:
            row = q.domain_by_lookup(cur, tag)
            if row is not None:  # another writer created it meanwhile
                return self.keyring.open_ssec_domain(row[0], row[2], key)
            q.insert_domain(cur, domain.domain_id, "SSE-C", record, tag)
        return domain

    # -- buckets -------------------------------------------------------------

    def create_bucket(
        self, ctx: RequestContext, name: str, *, region: str = "local", versioning: bool = False
    ) -> BucketInfo:
        check_bucket_name(name)
        info = BucketInfo(
            name=name,
            region=region or "local",
            owner=ctx.principal,
            created_ns=time.time_ns(),
            versioning=Versioning.ENABLED if versioning else Versioning.UNVERSIONED,
            encryption="AES256",
        )
        with self.db.write(durable=True) as cur:
            if q.get_bucket(cur, name) is not None:
                raise BucketAlreadyExists(f"bucket {name!r} already exists")
            q.insert_bucket(
                cur,
                (
                    name,
                    info.region,
                    info.owner,
                    info.created_ns,
                    info.versioning.value,
                    0,
                    info.encryption,
                    None,
                ),
            )
            q.add_change(cur, name, b"")
        return info

    def list_buckets(self, ctx: RequestContext) -> list[BucketInfo]:
        with self.db.read() as cur:
            return [_bucket(row) for row in q.list_buckets(cur)]

    def head_bucket(self, ctx: RequestContext, name: str) -> BucketInfo:
        with self.db.read() as cur:
            return self._bucket(cur, name)

    def _bucket(self, cur: object, name: str) -> BucketInfo:
        row = q.get_bucket(cur, name)  # type: ignore[arg-type]
        if row is None:
            raise NoSuchBucket(f"no such bucket: {name!r}", bucket=name)
        return _bucket(row)

    def delete_bucket(self, ctx: RequestContext, name: str) -> None:
        with self.db.write(durable=True) as cur:
            self._bucket(cur, name)
            if q.bucket_has_versions(cur, name):
                raise BucketNotEmpty(
                    f"bucket {name!r} is not empty: delete every version and delete marker first"
                )
            for upload in q.list_uploads(cur, name, b"", None):
                self._drop_upload(cur, upload[0])
            q.delete_bucket(cur, name)
            q.add_change(cur, name, b"")

    def set_bucket_versioning(
        self,
        ctx: RequestContext,
        name: str,
        state: Versioning | str,
        *,
        mfa_delete: bool | None = None,
    ) -> BucketInfo:
        try:
            new = Versioning(state if isinstance(state, str) else state.value)
        except ValueError:
            raise InvalidArgument(
                f"versioning state must be Enabled or Suspended, not {state!r}"
            ) from None
        with self.db.write(durable=True) as cur:
            info = self._bucket(cur, name)
            if new is Versioning.UNVERSIONED and info.versioning is not Versioning.UNVERSIONED:
                raise InvalidBucketState(
                    "a bucket that has had versioning enabled can only be Enabled or Suspended"
                )
            fields: dict[str, object] = {"versioning": new.value}
            if mfa_delete is not None:
                fields["mfa_delete"] = int(mfa_delete)
            q.update_bucket(cur, name, **fields)
            q.add_change(cur, name, b"")
            return self._bucket(cur, name)

    def set_bucket_encryption(
        self, ctx: RequestContext, name: str, mode: str, kms_key_id: str | None = None
    ) -> BucketInfo:
        if mode not in ("none", "AES256", "aws:kms"):
            raise InvalidArgument(
                f"bucket encryption must be none, AES256 or aws:kms, not {mode!r}"
            )
        kms_key_id = self._kms_bucket_key(ctx, mode, kms_key_id)
        with self.db.write(durable=True) as cur:
            self._bucket(cur, name)
            q.update_bucket(cur, name, encryption=mode, kms_key_id=kms_key_id)
            return self._bucket(cur, name)

    # -- reading versions ------------------------------------------------------

    def _resolve(
        self, cur: object, bucket: str, key: str, version_id: str | None
    ) -> tuple[tuple, bool]:
        """(version row, is_latest) for a read; errors as S3 gives them."""
        self._bucket(cur, bucket)
        raw = encode_key(key)
        latest = q.latest_seq(cur, bucket, raw)  # type: ignore[arg-type]
        if version_id is None:
            row = q.get_latest(cur, bucket, raw) if latest is not None else None  # type: ignore[arg-type]
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
        row = q.get_version(cur, bucket, raw, version_id)  # type: ignore[arg-type]
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
    ) -> ObjectVersion:
        with self.db.read() as cur:
            row, latest = self._resolve(cur, bucket, key, version_id)
        info = rec.version_from_row(row, is_latest=latest)
        _check_read_conditions(
            info, if_match, if_none_match, if_modified_since_ns, if_unmodified_since_ns
        )
        if info.sse == "SSE-C":
            self._domain(row[Col.DOMAIN], sse.customer_key if sse else None)
        return info

    def get_object(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        range: tuple[int, int] | None = None,  # noqa: A002 - S3's own word
        sse: SSERequest | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since_ns: int | None = None,
        if_unmodified_since_ns: int | None = None,
    ) -> ObjectReader:
        with self.db.read() as cur:
            row, latest = self._resolve(cur, bucket, key, version_id)
        info = rec.version_from_row(row, is_latest=latest)
        _check_read_conditions(
            info, if_match, if_none_match, if_modified_since_ns, if_unmodified_since_ns
        )
        domain = self._domain(row[Col.DOMAIN], sse.customer_key if sse else None, ctx, bucket, key)
        return ObjectReader(
            self.chunks, domain, info, rec.unpack_manifest(row[Col.MANIFEST]), range
        )

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
    ) -> bytes:
        """Bytes [offset, offset+length) clipped to the object's size."""
        with self.db.read() as cur:
            row, latest = self._resolve(cur, bucket, key, version_id)
        size = row[Col.SIZE]
        if offset >= size or length <= 0:
            return b""
        domain = self._domain(row[Col.DOMAIN], sse.customer_key if sse else None, ctx, bucket, key)
        info = rec.version_from_row(row, is_latest=latest)
        end = min(size, offset + length) - 1
        with ObjectReader(
            self.chunks, domain, info, rec.unpack_manifest(row[Col.MANIFEST]), (offset, end)
        ) as reader:
            return reader.read()

    # -- writing versions ------------------------------------------------------

    def put_object(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        body: BinaryIO | bytes | bytearray | memoryview,
        *,
        content_type: str | None = None,
        user_meta: dict[str, str] | None = None,
        sys_meta: SystemMeta | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        sse: SSERequest | None = None,
        size_hint: int | None = None,
    ) -> PutResult:
        raw = encode_key(key)
        info = self.head_bucket(ctx, bucket)
        if if_match is not None or if_none_match is not None:
            with self.db.read() as cur:
                _check_write_conditions(cur, bucket, raw, key, if_match, if_none_match)
        domain, label, kms = self._write_domain(info, sse, ctx, key)
        stored = store_stream(
            self.chunks, domain, ChunkedBody(body, self.chunk_size), limit=MAX_SINGLE_PUT
        )
        if ctx.durable:
            self._make_durable(stored.manifest)
        with self.db.write(durable=ctx.durable) as cur:
            if if_match is not None or if_none_match is not None:
                _check_write_conditions(cur, bucket, raw, key, if_match, if_none_match)
            return self._commit_version(
                cur,
                bucket,
                raw,
                manifest=stored.manifest,
                size=stored.size,
                etag=stored.md5.hexdigest(),
                content_type=content_type or "binary/octet-stream",
                user_meta=user_meta,
                sys_meta=sys_meta,
                sse=label,
                kms_key_id=kms,
                domain_id=domain.domain_id,
            )

    def _commit_version(
        self,
        cur: object,
        bucket: str,
        raw: bytes,
        *,
        manifest: Sequence[ChunkRef],
        size: int,
        etag: str,
        content_type: str,
        user_meta: dict[str, str] | None,
        sys_meta: SystemMeta | None,
        sse: str,
        kms_key_id: str | None,
        domain_id: bytes | None,
        delete_marker: bool = False,
        refs_held: bool = False,
    ) -> PutResult:
        """Insert a version (or delete marker) as the key's latest, S3-style.

        Must run inside a write transaction. ``refs_held``: the manifest's
        chunk references are already counted (multipart parts move over).
        """
        info = self._bucket(cur, bucket)
        if info.versioning is Versioning.ENABLED:
            version_id = rec.new_version_id()
        else:
            version_id = NULL_VERSION
            old = q.get_version(cur, bucket, raw, NULL_VERSION)  # type: ignore[arg-type]
            if old is not None:
                self._drop_version_row(cur, old)
        if manifest and not refs_held:
            assert domain_id is not None
            revived = q.add_refs(
                cur,  # type: ignore[arg-type]
                domain_id,
                ((r.chunk_id, r.length) for r in manifest if r.chunk_id is not None),
            )
            missing = [cid for cid in revived if not self.chunks.exists(cid)]
            if missing:
                raise InternalError(
                    f"chunk {missing[0].hex()} vanished while the write ran (a concurrent gc?): "
                    "the write was not committed; retry it"
                )
        now = time.time_ns()
        seq = q.insert_version(
            cur,  # type: ignore[arg-type]
            (
                bucket,
                raw,
                version_id,
                int(delete_marker),
                size,
                etag,
                now,
                content_type,
                rec.pack_user_meta(user_meta),
                rec.pack_sys_meta(sys_meta),
                sse,
                kms_key_id,
                domain_id,
                rec.pack_manifest(manifest) if manifest else None,
            ),
        )
        q.refresh_latest(cur, bucket, raw)  # type: ignore[arg-type]
        q.add_change(cur, bucket, raw)  # type: ignore[arg-type]
        return PutResult(version_id, etag, size, seq=seq, last_modified_ns=now)

    def _make_durable(self, manifest: Sequence[ChunkRef]) -> None:
        """fsync every chunk a durable commit will name, not only new ones:
        a chunk deduped onto may come from a commit that was not durable."""
        self.chunks.sync({r.chunk_id for r in manifest if r.chunk_id is not None})

    def _drop_version_row(self, cur: object, row: Sequence[object]) -> None:
        manifest = rec.unpack_manifest(row[Col.MANIFEST])  # type: ignore[arg-type]
        q.drop_refs(cur, (r.chunk_id for r in manifest if r.chunk_id is not None))  # type: ignore[arg-type]
        q.delete_version(cur, row[Col.SEQ])  # type: ignore[arg-type]

    def copy_object(
        self,
        ctx: RequestContext,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        *,
        src_version_id: str | None = None,
        metadata_directive: str = "COPY",
        content_type: str | None = None,
        user_meta: dict[str, str] | None = None,
        sys_meta: SystemMeta | None = None,
        sse: SSERequest | None = None,
        src_sse: SSERequest | None = None,
    ) -> PutResult:
        """Copy a version; shares chunks when the encryption domain stays the same."""
        if metadata_directive not in ("COPY", "REPLACE"):
            raise InvalidArgument("metadata directive must be COPY or REPLACE")
        dst_raw = encode_key(dst_key)
        dst_info = self.head_bucket(ctx, dst_bucket)
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
                row, _ = self._resolve(cur, src_bucket, src_key, src_version_id)
            except MethodNotAllowed:
                raise InvalidRequest(
                    "the source of a copy may not be a delete marker named by version id"
                ) from None
        src_domain = self._domain(
            row[Col.DOMAIN], src_sse.customer_key if src_sse else None, ctx, src_bucket, src_key
        )
        # As S3: the copy is encrypted as the request or the destination
        # bucket's default says. Same domain -> chunks are shared, O(metadata).
        want_domain, label, kms = self._write_domain(dst_info, sse, ctx, dst_key)
        if metadata_directive == "COPY":
            content_type = row[Col.CTYPE]
            user_meta = rec.unpack_user_meta(row[Col.UMETA])
            sys_meta = rec.unpack_sys_meta(row[Col.SMETA]) if sys_meta is None else sys_meta
        manifest = rec.unpack_manifest(row[Col.MANIFEST])
        if want_domain.domain_id != src_domain.domain_id:
            info = rec.version_from_row(row, is_latest=False)
            with ObjectReader(self.chunks, src_domain, info, manifest, None) as reader:
                stored = store_stream(
                    self.chunks, want_domain, ChunkedBody(reader, self.chunk_size)
                )
            manifest = stored.manifest
        if ctx.durable:
            self._make_durable(manifest)
        with self.db.write(durable=ctx.durable) as cur:
            # The source may have been removed since we read it: re-check.
            if q.get_version(cur, row[Col.BUCKET], row[Col.KEY], row[Col.VERSION_ID]) is None:
                raise NoSuchKey(f"s3://{src_bucket}/{src_key} was deleted during the copy")
            return self._commit_version(
                cur,
                dst_bucket,
                dst_raw,
                manifest=manifest,
                size=row[Col.SIZE],
                etag=row[Col.ETAG],
                content_type=content_type or "binary/octet-stream",
                user_meta=user_meta,
                sys_meta=sys_meta,
                sse=label,
                kms_key_id=kms,
                domain_id=want_domain.domain_id,
            )

    # -- deleting ----------------------------------------------------------------

    def delete_object(
        self, ctx: RequestContext, bucket: str, key: str, *, version_id: str | None = None
    ) -> DeleteResult:
        raw = encode_key(key)
        with self.db.write(durable=ctx.durable) as cur:
            return self._delete(cur, bucket, raw, key, version_id)

    def _delete(
        self, cur: object, bucket: str, raw: bytes, key: str, version_id: str | None
    ) -> DeleteResult:
        info = self._bucket(cur, bucket)
        if version_id is not None:
            row = q.get_version(cur, bucket, raw, version_id)  # type: ignore[arg-type]
            if row is None:
                raise NoSuchVersion(f"no version {version_id!r} of s3://{bucket}/{key}")
            self._drop_version_row(cur, row)
            q.refresh_latest(cur, bucket, raw)  # type: ignore[arg-type]
            q.add_change(cur, bucket, raw)  # type: ignore[arg-type]
            return DeleteResult(key, version_id, bool(row[Col.DM]))
        if info.versioning is Versioning.UNVERSIONED:
            row = q.get_version(cur, bucket, raw, NULL_VERSION)  # type: ignore[arg-type]
            if row is not None:
                self._drop_version_row(cur, row)
                q.refresh_latest(cur, bucket, raw)  # type: ignore[arg-type]
                q.add_change(cur, bucket, raw)  # type: ignore[arg-type]
            return DeleteResult(key, None, False)
        result = self._commit_version(
            cur,
            bucket,
            raw,
            manifest=(),
            size=0,
            etag="",
            content_type="",
            user_meta=None,
            sys_meta=None,
            sse="none",
            kms_key_id=None,
            domain_id=None,
            delete_marker=True,
        )
        return DeleteResult(key, result.version_id, True)

    def delete_objects(
        self, ctx: RequestContext, bucket: str, items: Sequence[tuple[str, str | None]]
    ) -> list[DeleteResult | ObjfsError]:
        results: list[DeleteResult | ObjfsError] = []
        with self.db.write(durable=ctx.durable) as cur:
            self._bucket(cur, bucket)
            for key, version_id in items:
                try:
                    results.append(self._delete(cur, bucket, encode_key(key), key, version_id))
                except ObjfsError as err:
                    results.append(err)
        return results

    # -- metadata in place ---------------------------------------------------------

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
            row, latest = self._resolve(cur, bucket, key, version_id)
            q.update_version_meta(cur, row[Col.SEQ], sys_meta=rec.pack_sys_meta(sys_meta))  # type: ignore[arg-type]
            q.add_change(cur, bucket, row[Col.KEY])  # type: ignore[arg-type]
            row = q.get_version(cur, bucket, row[Col.KEY], row[Col.VERSION_ID])  # type: ignore[arg-type]
        return rec.version_from_row(row, is_latest=latest)

    def update_user_meta(
        self, ctx: RequestContext, bucket: str, key: str, user_meta: dict[str, str]
    ) -> ObjectVersion:
        """Replace the user metadata of the latest version in place."""
        with self.db.write(durable=ctx.durable) as cur:
            row, latest = self._resolve(cur, bucket, key, None)
            q.update_version_meta(cur, row[Col.SEQ], user_meta=rec.pack_user_meta(user_meta))  # type: ignore[arg-type]
            q.add_change(cur, bucket, row[Col.KEY])  # type: ignore[arg-type]
            row = q.get_version(cur, bucket, row[Col.KEY], row[Col.VERSION_ID])  # type: ignore[arg-type]
        return rec.version_from_row(row, is_latest=latest)

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
            self, bucket, key, domain, label, kms, manifest, size, base_domain or domain
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

    def sync(self) -> None:
        """Make everything committed so far durable (fsync on the mount).

        Chunks first (one filesystem flush), then a commit with
        ``synchronous=FULL``, which flushes the WAL and so every commit
        before it.
        """
        self.chunks.sync_all()
        with self.db.write(durable=True) as cur:
            q.set_meta(cur, "last_sync", time.time_ns())

    # -- change sequence ---------------------------------------------------------

    def change_seq(self) -> int:
        with self.db.read() as cur:
            return q.change_seq(cur)

    def changes_since(self, seq: int, limit: int = 10000) -> tuple[int, list[Change]]:
        with self.db.read() as cur:
            rows = q.changes_since(cur, seq, limit)
        changes = [Change(s, b, k.decode("utf-8", "replace")) for s, b, k in rows]
        return (changes[-1].seq if changes else seq), changes


def _bucket(row: Sequence[object]) -> BucketInfo:
    name, region, owner, created, versioning, mfa, encryption, kms = row
    return BucketInfo(
        name=name,  # type: ignore[arg-type]
        region=region,  # type: ignore[arg-type]
        owner=owner,  # type: ignore[arg-type]
        created_ns=created,  # type: ignore[arg-type]
        versioning=Versioning(versioning),
        mfa_delete=bool(mfa),
        encryption=encryption,  # type: ignore[arg-type]
        kms_key_id=kms,  # type: ignore[arg-type]
    )


def _etag_matches(condition: str, etag: str) -> bool:
    wanted = [c.strip().strip('"') for c in condition.split(",")]
    return "*" in wanted or etag in wanted


def _check_read_conditions(
    info: ObjectVersion,
    if_match: str | None,
    if_none_match: str | None,
    if_modified_since_ns: int | None,
    if_unmodified_since_ns: int | None,
) -> None:
    """RFC 7232 precedence, as S3 applies it to GET and HEAD."""
    modified_s = info.last_modified_ns // 1_000_000_000
    if if_match is not None:
        if not _etag_matches(if_match, info.etag):
            raise PreconditionFailed("If-Match does not match the object's ETag")
    elif if_unmodified_since_ns is not None and modified_s > if_unmodified_since_ns // 10**9:
        raise PreconditionFailed("object was modified after If-Unmodified-Since")
    if if_none_match is not None:
        if _etag_matches(if_none_match, info.etag):
            raise NotModified("If-None-Match matches the object's ETag")
    elif if_modified_since_ns is not None and modified_s <= if_modified_since_ns // 10**9:
        raise NotModified("object not modified since If-Modified-Since")


def _check_write_conditions(
    cur: object, bucket: str, raw: bytes, key: str, if_match: str | None, if_none_match: str | None
) -> None:
    row = q.get_latest(cur, bucket, raw)  # type: ignore[arg-type]
    live = row is not None and not row[Col.DM]
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise InvalidArgument("If-None-Match on a write accepts only '*'")
        if live:
            raise PreconditionFailed(f"s3://{bucket}/{key} already exists (If-None-Match: *)")
    if if_match is not None:
        if not live:
            raise NoSuchKey(f"no such key: s3://{bucket}/{key} (If-Match)")
        if not _etag_matches(if_match, row[Col.ETAG]):  # type: ignore[index]
            raise PreconditionFailed("If-Match does not match the current ETag")


def guess_content_type(key: str) -> str:
    return mimetypes.guess_type(key, strict=False)[0] or "binary/octet-stream"


def md5_of_parts(part_md5s: Sequence[bytes]) -> str:
    """S3's multipart ETag: md5 of the concatenated binary part md5s, then -N."""
    return f"{hashlib.md5(b''.join(part_md5s)).hexdigest()}-{len(part_md5s)}"
