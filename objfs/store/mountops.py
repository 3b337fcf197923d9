"""What the mount needs beyond S3: atomic renames and the random-access writer.

``MountOps``, a collaborator of the ``Store`` (see core.py for the
invariants every call keeps; its API stays on ``Store`` as the delegates of
``objfs/store/facade/mount_ops.py``). ``rename``/``rename_prefix`` move keys
in one transaction (S3 has no rename; peers copy key by key), through the
``Versions`` (the version a request names; S3's DELETE of the source) and
the ``VersionCommitter``. ``open_writer`` opens an ``ObjectWriter``
(writer.py) whose dependencies are handed over explicitly (``WriterDeps``);
its commit is ``_commit_manifest``, which commits chunks the writer already
stored (checked there itself); ``commit_small`` commits a small file's whole
content without a writer, in one transaction (cheap enough for the mount's
event loop thread).

Invariants:
- a rename's destination shares the source's chunks (it adds no references)
  and the source goes as DELETE would, in the same transaction;
- a writer holds a write intent on the store's writer lease from before it
  reads its base until it is closed (leases.py);
- an edit (a writer opened with ``if_latest``, the default) commits only
  while the version it edits is the key's latest: it never undoes a newer
  version.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any, cast

from objfs.chunks.store import INLINE_MAX, ChunkStore
from objfs.crypto.keyring import Domain
from objfs.errors import (
    AccessDenied,
    ConditionalRequestConflict,
    InvalidArgument,
    NoSuchKey,
)
from objfs.meta import queries as q
from objfs.meta.db import Cursor, Database, WouldBlock
from objfs.store import records as rec
from objfs.store.access import Need, condition_keys, requires
from objfs.store.chunking import is_zero
from objfs.store.commit import NewVersion, VersionCommitter
from objfs.store.configs import BucketConfigs
from objfs.store.domains import Domains
from objfs.store.extents import ExtentsCache
from objfs.store.kms import KMS
from objfs.store.leases import Leases, WriteIntent
from objfs.store.names import encode_key, prefix_upper
from objfs.store.objects import guess_content_type
from objfs.store.reader import Extents
from objfs.store.records import Col
from objfs.store.seam import Seam
from objfs.store.space import Space
from objfs.store.types import (
    BucketInfo,
    ChunkRef,
    DirStats,
    Moved,
    ObjectVersion,
    PutResult,
    RequestContext,
    SSERequest,
    SystemMeta,
    TimesUpdate,
)
from objfs.store.versions import Versions
from objfs.store.writer import ObjectWriter, WriterDeps

# The largest content ``commit_small`` takes (one chunk inline in the database).
SMALL_COMMIT_MAX = INLINE_MAX


class MountOps:
    """The mount's operations; see the module docstring.

    Built with the database, the chunk store and its chunk size (a writer's
    blocks, ``commit_small``'s inline chunk), the free-space guard, the
    writer lease (a writer's intent), the seam (the decorators, the checks
    and access-log records of the mount's commits), the bucket
    configurations (a bucket's record), the committer (the one commit path),
    the manifest cache (a writer's base), the KMS (an SSE-KMS commit's key
    use), the encryption domains and the ``Versions`` (a rename's source)."""

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
        kms: KMS,
        domains: Domains,
        versions: Versions,
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
        self.kms = kms
        self.domains = domains
        self.versions = versions

    # -- rename (mount) ----------------------------------------------------------

    @requires(
        Need("s3:GetObject", key="src_key", version=None),
        Need("s3:PutObject", key="dst_key", version=None),
        Need("s3:DeleteObject", key="src_key", version=None),
    )
    def rename(self, ctx: RequestContext, bucket: str, src_key: str, dst_key: str) -> Moved:
        """Move the latest version of src to dst in one transaction.

        dst gets a new version sharing src's chunks and metadata; src is
        deleted as DELETE would (a delete marker when versioned).
        """
        src, dst = encode_key(src_key), encode_key(dst_key)
        with self.db.write(durable=ctx.durable) as cur:
            first = q.change_seq(cur) + 1
            self._move(cur, bucket, src, dst, src_key)
            return Moved(1, first, q.change_seq(cur))

    @requires(
        Need("s3:ListBucket", key=None),
        Need("s3:PutObject", key="dst_prefix", version=None),
        Need("s3:DeleteObject", key="src_prefix", version=None),
    )
    def rename_prefix(
        self, ctx: RequestContext, bucket: str, src_prefix: str, dst_prefix: str
    ) -> Moved:
        """Move every live key under src_prefix to dst_prefix; one transaction."""
        src, dst = encode_key(src_prefix), encode_key(dst_prefix)
        if dst.startswith(src):
            raise InvalidArgument("cannot move a prefix into itself")
        moved = 0
        with self.db.write(durable=ctx.durable) as cur:
            self.configs.info(cur, bucket)
            first = q.change_seq(cur) + 1
            rows = q.list_latest(cur, bucket, src, prefix_upper(src), 1 << 62, inclusive=True)
            for row in rows:
                key = row[Col.KEY]
                self._move(cur, bucket, key, dst + key[len(src) :], key.decode())
                moved += 1
            return Moved(moved, first, q.change_seq(cur))

    def _move(self, cur: Cursor, bucket: str, src: bytes, dst: bytes, src_key: str) -> PutResult:
        row, _ = self.versions.resolve(cur, bucket, src_key, None)
        headers, checksum = rec.unpack_headers(row[Col.HEADERS])  # the same data: they go along
        result = self.committer.commit(
            cur,
            bucket,
            dst,
            NewVersion(
                manifest=rec.unpack_manifest(row[Col.MANIFEST]),
                size=row[Col.SIZE],
                etag=row[Col.ETAG],
                content_type=row[Col.CTYPE],
                user_meta=rec.unpack_user_meta(row[Col.UMETA]),
                sys_meta=rec.unpack_sys_meta(row[Col.SMETA]),
                sse=row[Col.SSE],
                kms_key_id=row[Col.KMS],
                domain_id=row[Col.DOMAIN],
                headers=headers,
                checksum=checksum,
                tags=rec.unpack_tags(row[Col.TAGS]),  # a rename keeps the object's tags
            ),
            base=(row[Col.SEQ], None),  # the same chunks: it adds no references
        )
        self.versions.delete(cur, bucket, src, src_key, None)
        return result

    # -- times and directory facts (the mount's stat) ------------------------------

    @requires()  # each key is checked on its own (s3:PutObject); denied keys are skipped
    def amend_times(
        self, ctx: RequestContext, bucket: str, updates: Sequence[TimesUpdate]
    ) -> dict[str, ObjectVersion]:
        """Set atime/mtime/ctime of the latest versions of many keys in one transaction.

        Amends in place like ``update_sys_meta`` (no new version); only the
        times given change, so a concurrent chmod elsewhere is kept. Keys
        that no longer exist (or whose latest is a delete marker) are
        skipped. Returns the amended versions by key.
        """
        out: dict[str, ObjectVersion] = {}
        allowed = []
        for update in updates:
            try:
                self.seam.check(ctx, "s3:PutObject", bucket, update.key, None, {})
                allowed.append(update)
            except AccessDenied:
                continue  # times of what the caller may not write are not kept
        if not allowed:
            return out
        with self.db.write(durable=ctx.durable) as cur:
            self.configs.info(cur, bucket)
            for update in allowed:
                raw = encode_key(update.key)
                row = q.get_latest(cur, bucket, raw)
                if row is None or row[Col.DM]:
                    continue
                old = rec.unpack_sys_meta(row[Col.SMETA])
                changes = {
                    name: value
                    for name, value in (
                        ("atime_ns", update.atime_ns),
                        ("mtime_ns", update.mtime_ns),
                        ("ctime_ns", update.ctime_ns),
                    )
                    if value is not None
                }
                new = old.replace(**changes)
                if new == old:
                    continue
                row = self.committer.amend(cur, row, sys_meta=rec.pack_sys_meta(new))
                out[update.key] = rec.version_from_row(row, is_latest=True)
        return out

    @requires(Need("s3:ListBucket", key=None))
    def dir_stats(self, ctx: RequestContext, bucket: str, prefix: str) -> DirStats:
        """Sub-directory count and newest direct child of ``prefix`` (a directory listing).

        Walks the listing with delimiter ``/`` and skips each sub-prefix in
        one probe; the rows of direct children are read by SQLite alone.
        """
        raw = prefix.encode("utf-8")
        upper = prefix_upper(raw)
        subdirs = 0
        newest: int | None = None
        cursor = raw + b"\0"  # the first key after the directory marker (== prefix)
        with self.db.read() as cur:
            self.configs.info(cur, bucket)
            # Runs of direct children, each closed by the first key of a
            # sub-directory: both found by SQLite (one index probe, one
            # aggregate per run), not a Python loop over every key.
            while True:
                folded = q.first_folded_key(cur, bucket, cursor, upper, len(raw), b"/")
                end = upper if folded is None else folded
                run = q.newest_latest(cur, bucket, cursor, end)
                if run is not None:
                    newest = run if newest is None else max(newest, run)
                if folded is None:
                    break
                subdirs += 1
                seek = prefix_upper(folded[: folded.index(b"/", len(raw)) + 1])
                if seek is None:
                    break
                cursor = seek
        return DirStats(subdirs, newest)

    # -- the mount's writer ------------------------------------------------------

    @requires(Need("s3:PutObject", version=None))
    def open_writer(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        base: ObjectVersion | None,
        truncate: bool = False,
        sse: SSERequest | None = None,
        if_latest: bool = True,
    ) -> ObjectWriter:
        """A writer over ``base`` (None or ``truncate``: empty content).

        ``if_latest`` (the mount's edits): the writer commits only while the
        version it edits is the key's latest (``_commit_manifest``); False
        lets it make a new latest version out of an older one.
        """
        encode_key(key)
        # Begun before the base is read: its chunks, should the base be
        # deleted meanwhile, stay until the writer commits (store/leases.py).
        intent = self.leases.begin()
        try:
            return self._open_writer(ctx, bucket, key, base, truncate, sse, intent, if_latest)
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
        if_latest: bool,
    ) -> ObjectWriter:
        info = self.configs.lookup(bucket)
        manifest: list[ChunkRef] | Extents = []
        size = 0
        base_domain = None
        base_seq = None
        if base is not None and not truncate:
            with self.db.read() as cur:
                row = q.get_version(cur, bucket, encode_key(key), base.version_id)
            if row is None or row[Col.DM]:
                raise NoSuchKey(f"s3://{bucket}/{key} changed or was deleted")
            if if_latest and base.seq and row[Col.SEQ] != base.seq:  # a null version replaced
                raise _conflict(bucket, key, base.seq, row[Col.SEQ])
            manifest = self.extents.of(row)  # cached by seq: a commit leaves it there
            size = row[Col.SIZE]
            base_seq = row[Col.SEQ]
            base_domain = self.domains.domain(
                cast(bytes, row[Col.DOMAIN]),  # not a delete marker (refused above): a domain
                sse.customer_key if sse else None,
                ctx,
                bucket,
                key,
            )
        if base is not None and base_domain is not None and sse is None:  # set only with a base
            domain, label, kms = base_domain, base.sse, base.kms_key_id
        else:
            domain, label, kms = self.domains.write_domain(info, sse)
        deps = WriterDeps(
            chunks=self.chunks,
            chunk_size=self.chunk_size,
            require_room=self.space.require_room,
            make_durable=self.committer.make_durable,
            commit_manifest=self._commit_manifest,
            extents=self.extents,
            seam=self.seam,
        )
        return ObjectWriter(
            deps,
            bucket,
            key,
            domain,
            label,
            kms,
            manifest,
            size,
            base_domain or domain,
            intent=intent,
            base_seq=base_seq,
            if_latest=if_latest,
        )

    @requires()  # s3:PutObject: decided in the commit's transaction, as every mount commit
    def commit_small(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        data: bytes | bytearray | memoryview,
        *,
        sys_meta: SystemMeta,
        content_type: str | None = None,
        user_meta: dict[str, str] | None = None,
        sse: SSERequest | None = None,
    ) -> ObjectVersion | None:
        """The mount's commit of a file whose whole content is ``data`` (at most
        ``INLINE_MAX`` bytes, a new file or a rewrite from scratch), in one
        transaction, without a writer.

        It commits what ``open_writer(truncate=True)``, ``write`` and
        ``ObjectWriter.commit`` would (same check of s3:PutObject with the
        data's encryption, same metadata carried over, ETag and access-log
        record): the data is sealed inline inside the transaction, where the
        bucket's default encryption is read. Returns the new version, or None
        having done nothing when this path does not apply: the encryption
        needs keys fetched or audited (SSE-C, SSE-KMS: commit with a writer).
        With ``ctx.nowait`` (the mount's event loop thread: a few statements,
        sealing 16 KiB at most) it raises ``WouldBlock``, having done nothing,
        where it would wait: another writer holds the database, the commit is
        durable (fsync), or the access log would be written.
        """
        if len(data) > SMALL_COMMIT_MAX:
            raise InvalidArgument(f"commit_small takes at most {SMALL_COMMIT_MAX} bytes")
        self.space.require_room(len(data))  # new data stops at the free-space floor
        if sse is not None and (
            sse.customer_key is not None or sse.mode not in (None, "none", "AES256")
        ):
            return None
        started_ns, started_mono = time.time_ns(), time.monotonic_ns()
        where = {"bucket": bucket, "key": key}
        seen: dict[str, Any] = {}  # the bucket row the check read: the log needs no read
        # The store's own domains (opened once, kept): either may be the
        # bucket's default, known only inside the transaction.
        domains = {
            "none": self.domains.domain(self.domains.store_domain_id("plain_domain")),
            "AES256": self.domains.domain(self.domains.store_domain_id("sse_s3_domain")),
        }
        try:
            with self.db.write(durable=ctx.durable) as cur:
                info = self.configs.info(cur, bucket)
                label = (sse.mode if sse is not None else None) or info.encryption
                if label not in domains:
                    raise _NotHere  # aws:kms (or a mode this objfs does not know)
                domain, kms = domains[label], None
                manifest: list[ChunkRef] = []
                inline: dict[bytes, bytes] = {}
                if data and is_zero(data):
                    manifest.append(ChunkRef(None, len(data)))  # a hole, as a writer makes
                elif data:
                    # a bytearray too at run time; seal_inline's annotation is narrower
                    chunk_id, frame = self.chunks.seal_inline(domain, data)  # type: ignore[arg-type]
                    manifest.append(ChunkRef(chunk_id, len(data)))
                    inline[chunk_id] = frame
                version = self._commit_in(
                    cur,
                    ctx,
                    bucket,
                    key,
                    manifest,
                    len(data),
                    domain=domain,
                    sse=label,
                    kms_key_id=kms,
                    sys_meta=sys_meta,
                    content_type=content_type,
                    user_meta=user_meta,
                    inline=inline,
                    seen=seen,
                    info=info,
                )
                if ctx.nowait and _logs(seen.get(bucket)):
                    # its record is a second write: rolled back, not here
                    raise WouldBlock("the access log record is a write")
        except _NotHere:
            return None
        except WouldBlock:
            raise
        except Exception as err:
            if ctx.nowait and _logs(seen.get(bucket)):
                raise WouldBlock("the access log record is a write") from err
            self.seam.record(
                ctx, "commit_manifest", (), where, seen, started_ns, started_mono, None, err
            )
            raise
        self.seam.record(ctx, "commit_manifest", (), where, seen, started_ns, started_mono, version)
        return version

    def _commit_manifest(
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
        inline: dict[bytes, bytes] | None = None,
        seen: dict[str, Any] | None = None,
        base: tuple[int, Sequence[ChunkRef]] | None = None,
        if_latest: int | None = None,
    ) -> ObjectVersion:
        """Commit chunks the caller already stored as the key's new version.

        Not part of the public surface: ``ObjectWriter.commit`` calls it, and
        it checks s3:PutObject itself (a policy may have changed since the
        writer was opened), with the data's encryption as the SSE condition.

        ``inline``: frames of small chunks to store in the database with it.
        ``seen``: filled with the bucket row the check read (for the access log).
        ``base``: (seq, manifest) of the version the writer edited: the commit
        counts only the references it adds to it.
        ``if_latest``: the seq of the version the commit edits; it is refused
        (``ConditionalRequestConflict``, in its own transaction) unless that
        version is still the key's latest: an edit never undoes a newer
        version another interface acknowledged meanwhile.

        Returns the full record of the new version.

        Metadata left as None carries over from the current latest version
        (a file edited through the mount keeps its xattrs and mode). The ETag
        is multipart-shaped (md5 of the chunk ids, ``-N``): the mount never
        holds the whole body to hash it, and clients skip MD5 checks on such
        ETags.
        """
        conditions = condition_keys({"sse": sse, "kms_key_id": kms_key_id})
        kms = sse == "aws:kms"
        if kms:  # decided before the KMS use it would audit
            self.seam.check(ctx, "s3:PutObject", bucket, key, None, conditions, seen=seen)
        if kms:  # the key must still be usable; audited as GenerateDataKey
            self.kms.data_domain(domain.domain_id, None, ctx, bucket, key, "GenerateDataKey")
        with self.db.write(durable=ctx.durable) as cur:
            return self._commit_in(
                cur,
                ctx,
                bucket,
                key,
                manifest,
                size,
                domain=domain,
                sse=sse,
                kms_key_id=kms_key_id,
                sys_meta=sys_meta,
                content_type=content_type,
                user_meta=user_meta,
                inline=inline,
                seen=seen,
                checked=kms,
                base=base,
                if_latest=if_latest,
            )

    def _commit_in(
        self,
        cur: Any,
        ctx: RequestContext,
        bucket: str,
        key: str,
        manifest: Sequence[ChunkRef],
        size: int,
        *,
        domain: Domain,
        sse: str,
        kms_key_id: str | None,
        sys_meta: SystemMeta | None,
        content_type: str | None,
        user_meta: dict[str, str] | None,
        inline: dict[bytes, bytes] | None,
        seen: dict[str, Any] | None,
        checked: bool = False,
        base: tuple[int, Sequence[ChunkRef]] | None = None,
        info: BucketInfo | None = None,
        if_latest: int | None = None,
    ) -> ObjectVersion:
        """``_commit_manifest`` inside its write transaction ``cur`` (see there);
        ``checked``: s3:PutObject was decided already (before a KMS use);
        ``info``: the bucket, as this transaction read it."""
        raw = encode_key(key)
        if not checked:  # in the commit's own transaction: no read transaction more
            conditions = condition_keys({"sse": sse, "kms_key_id": kms_key_id})
            self.seam.check(ctx, "s3:PutObject", bucket, key, None, conditions, seen=seen, cur=cur)
        etag = _manifest_etag(manifest)
        current = q.get_latest(cur, bucket, raw)
        if if_latest is not None and (current is None or current[Col.SEQ] != if_latest):
            # An edit (append, in-place write, truncate that keeps data) of a
            # version that is no longer the latest: committing it would undo
            # the newer version, which another interface acknowledged.
            raise _conflict(bucket, key, if_latest, None if current is None else current[Col.SEQ])
        if current is not None and not current[Col.DM]:
            if sys_meta is None:
                sys_meta = rec.unpack_sys_meta(current[Col.SMETA])
            if user_meta is None:
                user_meta = rec.unpack_user_meta(current[Col.UMETA])
            if content_type is None:
                content_type = current[Col.CTYPE]
            headers, _ = rec.unpack_headers(current[Col.HEADERS])  # not its checksum: new data
            tags = rec.unpack_tags(current[Col.TAGS])  # a file keeps its tags, as its xattrs
        else:
            headers = None
            tags = None
        content_type = content_type or guess_content_type(key)
        result = self.committer.commit(
            cur,
            bucket,
            raw,
            NewVersion(
                manifest=manifest,
                size=size,
                etag=etag,
                content_type=content_type,
                user_meta=user_meta,
                sys_meta=sys_meta,
                sse=sse,
                kms_key_id=kms_key_id,
                domain_id=domain.domain_id,
                inline=inline,
                headers=headers,
                tags=tags,
            ),
            creator=ctx,  # not a decorated request: name who writes it
            base=base,
            info=info,
            latest=current,
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
            tags=tags or {},
            lock=result.lock,
        )


def _conflict(bucket: str, key: str, base_seq: int, latest_seq: int | None) -> Exception:
    now = "was deleted" if latest_seq is None else f"is now version seq {latest_seq}"
    return ConditionalRequestConflict(
        f"s3://{bucket}/{key} changed since this edit began (it edited version seq "
        f"{base_seq}, the key {now}): the edit was not committed, the newer version stays"
    )


class _NotHere(Exception):
    """``commit_small``: roll back, the caller commits another way."""


def _logs(seen: tuple[str, dict[str, Any]] | None) -> bool:
    """Whether a bucket, as the access check read it, keeps a server access log."""
    return seen is not None and bool(seen[1].get("logging"))


def _manifest_etag(manifest: Sequence[ChunkRef]) -> str:
    """The mount's ETag: md5 of the chunk ids (and slices), ``-N`` (multipart-shaped)."""
    digest = hashlib.md5()
    for ref in manifest:
        digest.update(ref.chunk_id or ref.length.to_bytes(8, "big"))
        if ref.offset is not None:  # a slice: which part of the chunk
            digest.update(ref.offset.to_bytes(8, "big") + ref.length.to_bytes(8, "big"))
    return f"{digest.hexdigest()}-{max(1, len(manifest))}"
