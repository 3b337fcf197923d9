"""The Store: buckets and objects with S3 semantics.

Owns the rules of S3-SEMANTICS.md (buckets, versions, delete markers,
conditions, copy, rename).

Shape (issue 22, under way): ``Store`` is becoming a thin facade over
collaborators built in ``__init__`` with explicit dependencies, none
importing ``Store`` or calling another's private methods:

- ``seam`` (seam.py): the decision and the access-log record of every
  request; the decorators of access.py reach only ``self.seam``;
- ``configs`` (configs.py): a bucket's record and configuration map;
- ``mfa_codes`` (mfa.py): MFA code checks (also ``store.clock``);
- the administration: ``users``, ``mfa``, ``kms``, ``policies``,
  ``ownership``, ``cors``; their public API stays on ``Store`` as thin
  same-named delegates (facade.py's ``AdminFacade``);
- ``objects`` (objects.py): the object requests (read, write, copy,
  delete, amend metadata), delegated by ``facade/objects.py``.

Still mixins of this class (sibling modules, each subclassing
storecore.py's ``StoreCore``, which declares what they share), to move
next: the mount's operations and random-access writer, listing,
multipart, maintenance, access logs, tagging, lifecycle, Object Lock.

Invariants after every call:
- chunks a committed version names are durable before the commit when the
  context asks for durability, and always written before the commit;
- ``objects`` points at the newest version row of each key;
- ``chunks.refs`` counts manifest entries naming each chunk (see meta.queries);
- every mutation appends to the change sequence in the same transaction
  (bucket configuration: key ``''``; the KMS: bucket and key ``''``);
- chunks stored for a commit that has not happened yet are covered by this
  process's writer lease (store/leases.py) from before they are written.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from objfs.auth import ownership as object_ownership
from objfs.auth.acl import AclSpec
from objfs.chunks.backend import LocalBackend
from objfs.chunks.store import ChunkStore
from objfs.crypto.keyring import Keyring
from objfs.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InvalidArgument,
    InvalidBucketAclWithObjectOwnership,
    InvalidBucketState,
    InvalidRequest,
    NoSuchEncryptionConfiguration,
    StoreFormatError,
    StoreFull,
    StoreNotFound,
)
from objfs.meta import auth_queries as aq
from objfs.meta import queries as q
from objfs.meta.db import Cursor, Database
from objfs.store.access import Need, owner_only, requires
from objfs.store.accesslog import AccessLog, AccessLogMixin
from objfs.store.authorizer import AccessControl, decode_config, encode_config
from objfs.store.clock import Clock
from objfs.store.commit import VersionCommitter
from objfs.store.configs import BucketConfigs, bucket_info
from objfs.store.cors import CORS
from objfs.store.domains import Domains
from objfs.store.expiry import LifecycleMixin
from objfs.store.extents import ExtentsCache
from objfs.store.facade import AdminFacade, ObjectLockFacade, ObjectsFacade
from objfs.store.kms import KMS
from objfs.store.leases import Leases
from objfs.store.listing import ListingMixin
from objfs.store.maintenance import MaintenanceMixin
from objfs.store.mfa import MFA, MFACodes
from objfs.store.mountops import MountMixin
from objfs.store.multipart import MultipartMixin, drop_upload
from objfs.store.names import check_bucket_name
from objfs.store.objectlock import LockRules, ObjectLock, ObjectLockConfig
from objfs.store.objects import Objects
from objfs.store.ownership import Ownership
from objfs.store.policies import Policies
from objfs.store.seam import Seam
from objfs.store.space import Space
from objfs.store.tagging import TaggingMixin
from objfs.store.types import (
    BucketInfo,
    Change,
    ChangeFeedGap,
    RequestContext,
    Versioning,
)
from objfs.store.users import Users
from objfs.store.versions import Versions

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1 << 20


class Store(
    ObjectsFacade,
    MountMixin,
    ListingMixin,
    MultipartMixin,
    MaintenanceMixin,
    AccessLogMixin,
    TaggingMixin,
    LifecycleMixin,
    ObjectLockFacade,
    AdminFacade,
):
    """An objfs store directory opened for use. Thread-safe."""

    def __init__(self, path: Path, db: Database, keyring: Keyring) -> None:
        self.path = path
        self.db = db
        self.keyring = keyring
        self.chunk_size = int(cast(int, db.get_meta("chunk_size")))
        self.chunks = ChunkStore(LocalBackend(path / "chunks"))
        # Small chunks live inline in the database (see chunking.store_stream).
        # One statement on this thread's connection: inside a write it sees
        # the frames that write inserted.
        self.chunks.inline_source = lambda cid: q.get_inline(self.db.conn().cursor(), cid)
        # New data stops at the free-space floor; deletes may use the reserve.
        self.space = Space(path)
        self.chunks.before_write = self.space.require_room
        self.time = Clock()  # "now" of TOTP codes and Object Lock; tests set ``clock``
        # Encryption domains (domains.py); given the KMS once it is built.
        self.domains = Domains(db=db, keyring=keyring)
        self.extents = ExtentsCache()  # decoded manifests by seq (extents.py)
        self.access = AccessControl(db)  # the authorization seam's data (authorizer.py)
        # This process's writer lease (store/leases.py); dropped even on a full disk.
        self.leases = Leases(db, on_full=self.space.release_reserve)
        self.configs = BucketConfigs(db=db, access=self.access)  # bucket record, config map
        # The remaining mixins' bucket lookup (NoSuchBucket): configs.info itself,
        # bound, as it is on every request's path.
        self._bucket: Callable[[Any, str], BucketInfo] = self.configs.info
        self.mfa_codes = MFACodes(access=self.access, keyring=keyring, clock=self.time)
        # THE seam (seam.py): every decorated method's decision and log record;
        # it records into the access log once that is built (``log_to``).
        self.seam = Seam(db=db, access=self.access, access_log=None, mfa=self.mfa_codes)
        # Object Lock's checks (objectlock.py), which the committer calls.
        self.lock_rules = LockRules(db=db, configs=self.configs, seam=self.seam, clock=self.time)
        # The one commit path of new versions (commit.py).
        self.committer = VersionCommitter(
            self.chunks,
            self.access,
            bucket_of=self.configs.info,
            lock_for_new_version=self.lock_rules.for_new_version,
            check_not_locked=self.lock_rules.check_not_locked,
        )
        # The version a request names; S3's DELETE of one (versions.py).
        self.versions = Versions(bucket_of=self.configs.info, committer=self.committer)
        self.access_log = AccessLog(  # server access logs (accesslog.py)
            db,
            self.access,
            leases=self.leases,
            chunks=self.chunks,
            chunk_size=self.chunk_size,
            bucket_of=self.configs.info,
            write_domain=self.domains.write_domain,
            committer=self.committer,
        )
        self.seam.log_to(self.access_log)
        # The administration collaborators (their API: facade.py's delegates).
        self.users = Users(db=db, access=self.access, keyring=keyring, seam=self.seam)
        self.mfa = MFA(
            db=db, access=self.access, keyring=keyring, codes=self.mfa_codes, seam=self.seam
        )
        self.kms = KMS(
            db=db,
            keyring=keyring,
            seam=self.seam,
            domains=self.domains.cache,
            domain_lock=self.domains.lock,
        )
        self.domains.use_kms(self.kms)
        self.policies = Policies(db=db, access=self.access, configs=self.configs, seam=self.seam)
        self.ownership = Ownership(db=db, access=self.access, configs=self.configs, seam=self.seam)
        self.cors = CORS(db=db, configs=self.configs, seam=self.seam)
        # The data collaborators (their API: facade.py's delegates).
        self.object_lock = ObjectLock(
            db=db,
            configs=self.configs,
            rules=self.lock_rules,
            versions=self.versions,
            committer=self.committer,
            seam=self.seam,
        )
        # Objects: read, write, copy, delete, amend metadata (objects.py).
        self.objects = Objects(
            db=db,
            chunks=self.chunks,
            chunk_size=self.chunk_size,
            space=self.space,
            leases=self.leases,
            seam=self.seam,
            configs=self.configs,
            committer=self.committer,
            extents=self.extents,
            domains=self.domains,
            versions=self.versions,
            lock_rules=self.lock_rules,
            mfa_codes=self.mfa_codes,
        )

    @property
    def clock(self) -> Callable[[], float]:
        """Where "now" comes from (TOTP codes, Object Lock); tests set it to step
        through time: the source of the store's ``Clock`` (clock.py)."""
        return self.time.source

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.time.source = clock

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
        if master_key_file is not None:
            # A bad key file must not leave a half-made store behind.
            keyring = Keyring.load(path / "keys", Path(master_key_file))
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.chmod(0o700)  # the store holds the master key and the database: owner power
        (path / "chunks").mkdir(mode=0o700, exist_ok=True)
        if master_key_file is None:
            keyring = Keyring.create(path / "keys")
        else:
            (path / "keys").mkdir(mode=0o700, exist_ok=True)
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
        store = cls(path, db, keyring)
        store.space.restore_reserve()
        return store

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, master_key_file: str | os.PathLike[str] | None = None
    ) -> Store:
        path = Path(path)
        if not (path / "meta.db").is_file():
            raise StoreNotFound(f"no objfs store at {path}: run `objfs init` or pass --store")
        if not (path / "chunks").is_dir():
            raise StoreFormatError(f"{path} has no chunks/ directory: the store is damaged")
        try:
            db = Database.open(path / "meta.db")
        except StoreFull:
            # No room for the WAL and its index (meta.db-wal, -shm) that the
            # last process to close removed: the reserve makes it.
            if not Space(path).release_reserve():
                raise
            db = Database.open(path / "meta.db")
        try:
            keyring = Keyring.load(
                path / "keys", Path(master_key_file) if master_key_file else None
            )
            store = cls(path, db, keyring)
            store.domains.domain(store.domains.store_domain_id("sse_s3_domain"))
        except BaseException:
            db.close()
            raise
        store.space.restore_reserve()  # made again once there is room (store/space.py)
        return store

    def close(self) -> None:
        self.access_log.close()  # delivers what is due
        self.leases.close()
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- buckets -------------------------------------------------------------

    @requires(Need("s3:CreateBucket", bucket=None, key=None))
    def create_bucket(
        self,
        ctx: RequestContext,
        name: str,
        *,
        region: str = "local",
        versioning: bool = False,
        acl: AclSpec | None = None,
        ownership: str | None = None,
        object_lock: bool = False,
    ) -> BucketInfo:
        """A new bucket owned by the caller, with the ``acl`` asked for (default private)
        and the Object Ownership ``ownership`` (none: no ownership controls).

        ``object_lock``: Object Lock on from the start (store/objectlock.py),
        which turns versioning on for good.

        The name is taken: ``BucketAlreadyExists`` (409), but for its owner
        ``BucketAlreadyOwnedByYou``, and in us-east-1 (S3's legacy region)
        the owner asking again for the same ACL gets the bucket as it is.
        """
        check_bucket_name(name)
        info = BucketInfo(
            name=name,
            region=region or "local",
            owner=ctx.principal,
            created_ns=time.time_ns(),
            versioning=Versioning.ENABLED if versioning or object_lock else Versioning.UNVERSIONED,
            encryption="AES256",
        )
        with self.db.write(durable=True) as cur:
            if q.get_bucket(cur, name) is not None:
                return self._bucket_exists(cur, ctx, name, info.region, acl)
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
            config: dict[str, object] = {}
            if acl is not None and acl.given:
                self.access.ensure_schema(cur)
                made = acl.expand(self.access.canonical_id_of(cur, info.owner))
                self.access.check_grantees(cur, made)
                config["acl"] = made.to_obj()
            if ownership is not None:
                config["ownership"] = object_ownership.check_mode(ownership)
                if ownership == object_ownership.ENFORCED and "acl" in config:
                    if not object_ownership.owner_only(made, made.owner_id):
                        raise InvalidBucketAclWithObjectOwnership(
                            "Bucket cannot have ACLs set with ObjectOwnership's "
                            "BucketOwnerEnforced setting"
                        )
            if object_lock:
                config["object_lock"] = ObjectLockConfig().to_obj()
            if config:
                self.access.ensure_schema(cur)
                aq.set_bucket_config(cur, name, encode_config(config))
            q.add_change(cur, name, b"")
        return info

    def _bucket_exists(
        self, cur: Cursor, ctx: RequestContext, name: str, region: str, acl: AclSpec | None
    ) -> BucketInfo:
        """CreateBucket of a name in use: see ``create_bucket``."""
        info = self._bucket(cur, name)
        if info.owner != ctx.principal:
            raise BucketAlreadyExists(f"bucket {name!r} already exists (another owner's)")
        if region != "us-east-1" or info.region != region:
            raise BucketAlreadyOwnedByYou(f"you already own the bucket {name!r}")
        owner_id = self.access.canonical_id_of(cur, info.owner)
        wanted = (acl or AclSpec()).expand(owner_id)
        config = decode_config(aq.get_bucket_config(cur, name))
        current = self.access.bucket_acl(cur, name, info.owner, config)
        if set(wanted.grants) != set(current.grants):
            raise BucketAlreadyExists(
                f"bucket {name!r} already exists with another ACL (set it with PutBucketAcl)"
            )
        return info

    @requires(Need("s3:ListAllMyBuckets", bucket=None, key=None))
    def list_buckets(self, ctx: RequestContext) -> list[BucketInfo]:
        """Every bucket for the store owner; a user's own buckets for a user."""
        with self.db.read() as cur:
            buckets = [bucket_info(row) for row in q.list_buckets(cur)]
        if ctx.identity.is_owner:
            return buckets
        return [b for b in buckets if b.owner == ctx.identity.name]

    @requires(Need("s3:ListBucket", bucket="name", key=None))
    def head_bucket(self, ctx: RequestContext, name: str) -> BucketInfo:
        with self.db.read() as cur:
            return self._bucket(cur, name)

    @requires(Need("s3:DeleteBucket", bucket="name", key=None))
    def delete_bucket(self, ctx: RequestContext, name: str) -> None:
        with self.db.write(durable=True) as cur:
            self._bucket(cur, name)
            if q.bucket_has_versions(cur, name):
                raise BucketNotEmpty(
                    f"bucket {name!r} is not empty: delete every version and delete marker first"
                )
            for upload in q.list_uploads(cur, name, b"", None):
                drop_upload(cur, self.access, upload[0])
            q.delete_bucket(cur, name)
            q.add_change(cur, name, b"")

    @requires(Need("s3:PutBucketVersioning", bucket="name", key=None))
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
            if new is not Versioning.ENABLED and self.lock_rules.config(cur, name) is not None:
                raise InvalidBucketState(
                    "An Object Lock configuration is present on this bucket, "
                    "so the versioning state cannot be changed."
                )
            self.mfa_codes.versioning_rule(cur, ctx, info, new, mfa_delete)  # store/mfa.py
            fields: dict[str, object] = {"versioning": new.value}
            if mfa_delete is not None:
                fields["mfa_delete"] = int(mfa_delete)
            q.update_bucket(cur, name, **fields)
            q.add_change(cur, name, b"")
            return self._bucket(cur, name)

    @requires(Need("s3:PutEncryptionConfiguration", bucket="name", key=None))
    def set_bucket_encryption(
        self, ctx: RequestContext, name: str, mode: str, kms_key_id: str | None = None
    ) -> BucketInfo:
        if mode not in ("none", "AES256", "aws:kms"):
            raise InvalidArgument(
                f"bucket encryption must be none, AES256 or aws:kms, not {mode!r}"
            )
        kms_key_id = self.kms.bucket_key(ctx, mode, kms_key_id)
        with self.db.write(durable=True) as cur:
            self._bucket(cur, name)
            q.update_bucket(cur, name, encryption=mode, kms_key_id=kms_key_id)
            q.add_change(cur, name, b"")
            return self._bucket(cur, name)

    # Reading one part of a bucket's configuration is its own S3 action (a
    # policy may allow GetBucketVersioning but not ListBucket): one getter each.

    @requires(Need("s3:GetBucketVersioning", bucket="name", key=None))
    def get_bucket_versioning(self, ctx: RequestContext, name: str) -> BucketInfo:
        """The bucket's record, read for its versioning state and MFA-delete flag."""
        with self.db.read() as cur:
            return self._bucket(cur, name)

    @requires(Need("s3:GetBucketLocation", bucket="name", key=None))
    def get_bucket_location(self, ctx: RequestContext, name: str) -> str:
        with self.db.read() as cur:
            return self._bucket(cur, name).region

    @requires(Need("s3:GetEncryptionConfiguration", bucket="name", key=None))
    def get_bucket_encryption(self, ctx: RequestContext, name: str) -> BucketInfo:
        """The bucket's record, read for its default encryption (``encryption``,
        ``kms_key_id``); a bucket set to ``none`` has no configuration."""
        with self.db.read() as cur:
            info = self._bucket(cur, name)
        if info.encryption == "none":
            raise NoSuchEncryptionConfiguration(
                f"bucket {name!r} has no default encryption configuration"
            )
        return info

    @requires()  # changes nothing anyone sees: durability of what was committed
    def sync(self, ctx: RequestContext) -> None:
        """Make everything committed so far durable (fsync on the mount).

        Chunks first (one filesystem flush), then a commit with
        ``synchronous=FULL``, which flushes the WAL and so every commit
        before it.
        """
        self.chunks.sync_all()
        with self.db.write(durable=True) as cur:
            q.set_meta(cur, "last_sync", time.time_ns())

    # -- change sequence ---------------------------------------------------------

    @owner_only("objfs:ReadChangeFeed")
    def change_seq(self, ctx: RequestContext) -> int:
        with self.db.read() as cur:
            return q.change_seq(cur)

    @owner_only("objfs:ReadChangeFeed")
    def changes_since(
        self, ctx: RequestContext, seq: int, limit: int = 10000
    ) -> tuple[int, list[Change]]:
        """(newest seq returned, the changes after ``seq``, oldest first, at most
        ``limit``); ``ChangeFeedGap`` if ``gc`` forgot some of them."""
        with self.db.read() as cur:
            pruned = q.changes_pruned_through(cur)
            if seq < pruned:
                raise ChangeFeedGap(q.change_seq(cur), pruned)
            rows = q.changes_since(cur, seq, limit)
        changes = [Change(s, b, k.decode("utf-8", "replace")) for s, b, k in rows]
        return (changes[-1].seq if changes else seq), changes
