"""The one commit path: ``NewVersion`` records and the ``VersionCommitter``.

A write (PUT, copy, complete multipart, a delete marker, the mount's renames
and commits, access-log delivery) describes the version it makes as a
``NewVersion`` and hands it to ``VersionCommitter.commit`` inside its write
transaction; the committer writes the rows: the version, its chunk
references (objfs/store/refcount.py) and inline frames, the change-feed
entry, the key's latest pointer, the creator's ownership record. The
committer is also the one place a version row is amended in place
(``amend``) and the one way a version row goes (``drop``, which the Object
Lock check guards), and it makes a commit's chunks durable
(``make_durable``).

Invariants after ``commit`` (in the caller's transaction): the new row is
the key's latest; ``chunks.refs`` counts what it owns; a replaced "null"
version is gone through ``drop``; every chunk the version names exists or
is inline in the same transaction. The committer authorizes nothing: its
callers have decided the request already.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from objfs.auth.acl import AclSpec
from objfs.errors import InternalError
from objfs.meta import queries as q
from objfs.store import records as rec
from objfs.store.chunkgc import rescue
from objfs.store.records import Col
from objfs.store.refcount import RefChanges, Tally, drop_version, owned, tally_of, tally_refs
from objfs.store.types import (
    NO_LOCK,
    NULL_VERSION,
    BucketInfo,
    Checksum,
    ChunkRef,
    ObjectHeaders,
    ObjectLockState,
    PutResult,
    RequestContext,
    SystemMeta,
    Versioning,
)

if TYPE_CHECKING:
    from objfs.chunks.store import ChunkStore
    from objfs.meta.rows import VersionRow
    from objfs.store.authorizer import AccessControl


class _Unread(enum.Enum):
    """The type of ``_UNREAD`` (a one-member enum, so ``is _UNREAD`` narrows)."""

    UNREAD = "UNREAD"


_UNREAD: Final = _Unread.UNREAD  # commit: the caller did not read the key's latest row


@dataclass(slots=True, frozen=True)
class NewVersion:
    """What a commit needs to know about the version it makes.

    ``manifest``/``size``/``etag``: its data; ``domain_id``: the encryption
    domain of the manifest's chunks (None for a delete marker), ``sse`` and
    ``kms_key_id`` its labels; ``inline``: sealed frames of small chunks the
    manifest names, stored in the database with the commit (their only
    home); ``headers``/``checksum``/``extra`` go into the headers column
    (``extra``: a completed upload's id and part sizes); ``acl``: the ACL
    the request gives it (canned or grants); ``tags``/``lock``: its tag set
    and the Object Lock state the request asked for (none: the bucket's
    default retention applies).
    """

    manifest: Sequence[ChunkRef]
    size: int
    etag: str
    content_type: str
    user_meta: dict[str, str] | None
    sys_meta: SystemMeta | None
    sse: str
    kms_key_id: str | None
    domain_id: bytes | None
    delete_marker: bool = False
    inline: dict[bytes, bytes] | None = None
    headers: ObjectHeaders | None = None
    checksum: Checksum | None = None
    extra: dict[str, Any] | None = None
    acl: AclSpec | None = None
    tags: dict[str, str] | None = None
    lock: ObjectLockState = NO_LOCK


# S3's delete marker: a version without data or metadata.
DELETE_MARKER = NewVersion(
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


class VersionCommitter:
    """Writes version rows: new versions, amendments, removals.

    ``bucket_of(cur, name)``: the bucket's record as the transaction reads
    it; ``lock_for_new_version(cur, bucket, lock)``: the Object Lock a new
    version gets (the request's or the bucket's default retention);
    ``check_not_locked(row, bypass_governance=)``: raises ``ObjectLocked``
    when a version may not go (store/objectlock.py); ``access``: ownership
    and ACL records of versions (store/authorizer.py).
    """

    def __init__(
        self,
        chunks: ChunkStore,
        access: AccessControl,
        *,
        bucket_of: Callable[[Any, str], BucketInfo],
        lock_for_new_version: Callable[[Any, str, ObjectLockState], ObjectLockState],
        check_not_locked: Callable[..., None],
    ) -> None:
        self.chunks = chunks
        self.access = access
        self._bucket = bucket_of
        self._lock_for_new_version = lock_for_new_version
        self._check_not_locked = check_not_locked

    def commit(
        self,
        cur: Any,
        bucket: str,
        raw: bytes,
        new: NewVersion,
        *,
        refs_held: bool = False,
        creator: RequestContext | None = None,
        base: tuple[int, Sequence[ChunkRef] | None] | None = None,
        info: BucketInfo | None = None,
        latest: Sequence[Any] | None | _Unread = _UNREAD,
    ) -> PutResult:
        """Insert ``new`` (a version or delete marker) as the key's latest, S3-style.

        Must run inside a write transaction. ``refs_held``: the manifest's
        chunk references are already counted (multipart parts move over).
        ``creator``: who writes it, when not the request this thread serves
        (the version then belongs to them: ``AccessControl.record_creator``).
        ``base``: (seq, manifest or None to read it) of the version this one
        was made from: if that version is still there, of the same domain,
        the new version owns only the references it adds to it
        (objfs/store/refcount.py), so the commit of an edit costs the edit.
        ``info``/``latest``: the bucket and the key's latest version row
        (None: the key has none) as this transaction read them already.
        """
        manifest, size, etag = new.manifest, new.size, new.etag
        sse, kms_key_id, domain_id = new.sse, new.kms_key_id, new.domain_id
        delete_marker, inline, lock = new.delete_marker, new.inline, new.lock
        if info is None:
            info = self._bucket(cur, bucket)
        if not delete_marker:  # before any write: it reads the row the request read
            lock = self._lock_for_new_version(cur, bucket, lock)
        changes = RefChanges()
        base_seq: int | None = None
        base_tally: Tally | None = None
        if base is not None and manifest and not refs_held and domain_id is not None:
            found = q.base_candidate(cur, base[0])
            if found is not None and found[0] == domain_id and not found[1]:
                base_seq = base[0]
                base_tally = tally_refs(base[1]) if base[1] is not None else None
        if info.versioning is Versioning.ENABLED:
            version_id = rec.new_version_id()
        else:
            version_id = NULL_VERSION
            old: Any
            if latest is None:
                old = None  # no version at all, so no null one
            elif latest is not _UNREAD and latest[Col.VERSION_ID] == NULL_VERSION:
                old = latest
            else:
                old = q.get_version(cur, bucket, raw, NULL_VERSION)
            if old is not None:
                if base_seq is not None and old[Col.SEQ] == base_seq:
                    # The base itself is replaced: count against its base instead.
                    base_seq = q.version_base(cur, base_seq)
                    base_tally = None
                self.drop(cur, old, changes)
        if base_seq is not None and base_tally is None:
            base_tally = tally_of(cur, base_seq)
        if inline:
            # Only frames the manifest names: a writer may hand over frames it
            # sealed and then left out (a block stored whole again); kept, they
            # would be rows no chunk counts, which gc never collects.
            named = {r.chunk_id for r in manifest}
            inline = {cid: frame for cid, frame in inline.items() if cid in named}
        stored = q.put_inlines(cur, inline.items()) if inline else None
        if manifest and not refs_held:
            assert domain_id is not None
            mine = tally_refs(manifest)
            adding = owned(mine, base_tally if base_seq is not None else None)
            changes.add(adding, mine, domain_id)
            revived = changes.apply(cur, stored)
            pending = inline or {}
            # Taken back from gc, or refused while gc deletes them (chunkgc.py).
            rescue(cur, self.chunks, [cid for cid in revived if cid not in pending])
            missing = [cid for cid in revived if cid not in pending and not self.chunks.exists(cid)]
            if missing:
                raise InternalError(
                    f"chunk {missing[0].hex()} vanished while the write ran (a concurrent gc?): "
                    "the write was not committed; retry it"
                )
        else:
            changes.apply(cur, stored)
            base_seq = None
        now = time.time_ns()
        seq = q.add_change(cur, bucket, raw)
        q.insert_version(
            cur,
            seq,
            (
                bucket,
                raw,
                version_id,
                int(delete_marker),
                size,
                etag,
                now,
                new.content_type,
                rec.pack_user_meta(new.user_meta),
                rec.pack_sys_meta(new.sys_meta),
                sse,
                kms_key_id,
                domain_id,
                rec.pack_manifest(manifest) if manifest else None,
                rec.pack_headers(new.headers, new.checksum, new.extra),
                rec.pack_tags(new.tags),
                lock.mode,
                lock.until_ns,
                int(lock.legal_hold),
            ),
            base_seq,
        )
        q.set_latest(cur, bucket, raw, seq, int(delete_marker))
        self.access.record_creator(cur, bucket, raw, version_id, creator, new.acl)
        return PutResult(
            version_id,
            etag,
            size,
            seq=seq,
            last_modified_ns=now,
            sse=sse,
            kms_key_id=kms_key_id,
            checksum=new.checksum,
            lock=lock,
        )

    def make_durable(
        self, manifest: Sequence[ChunkRef], inline: dict[bytes, bytes] | None = None
    ) -> None:
        """fsync every chunk a durable commit will name, not only new ones:
        a chunk deduped onto may come from a commit that was not durable.
        Chunks going inline with this commit are as durable as it is."""
        pending = inline or {}
        self.chunks.sync(
            {r.chunk_id for r in manifest if r.chunk_id is not None and r.chunk_id not in pending}
        )

    def amend(self, cur: Any, row: Sequence[Any], **columns: Any) -> VersionRow:
        """Change ``columns`` of the version ``row`` in place, no new version:
        its POSIX attributes or user metadata, tags, or Object Lock state. The
        key gets a change-feed entry (mounts and caches see it); the row as now
        stored is returned. The one place a version row is amended."""
        q.update_version_meta(cur, row[Col.SEQ], **columns)
        q.add_change(cur, row[Col.BUCKET], row[Col.KEY])
        amended = q.get_version(cur, row[Col.BUCKET], row[Col.KEY], row[Col.VERSION_ID])
        assert amended is not None
        return amended

    def drop(
        self,
        cur: Any,
        row: Sequence[Any],
        changes: RefChanges | None = None,
        *,
        bypass_governance: bool = False,
    ) -> None:
        """Delete a version row: its own references go, versions based on it are
        rebased onto its base (refcount.py). ``changes``: net them into the
        caller's transaction-wide changes (else applied here).

        The one way a version row goes: a version whose Object Lock holds is
        refused here (``ObjectLocked``; store/objectlock.py ``_check_not_locked``).
        ``bypass_governance``: the caller may bypass GOVERNANCE retention."""
        self._check_not_locked(row, bypass_governance=bypass_governance)
        apply = changes is None
        changes = changes or RefChanges()
        if not row[Col.DM]:
            drop_version(cur, row[Col.SEQ], row[Col.MANIFEST], row[Col.DOMAIN], changes)
        if apply:
            changes.apply(cur)
        q.delete_version(cur, row[Col.SEQ])
        self.access.forget_object(cur, row[Col.BUCKET], row[Col.KEY], row[Col.VERSION_ID])
