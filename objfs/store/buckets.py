"""``Buckets``: S3's bucket requests (create, list, head, delete, versioning,
default encryption, location).

A collaborator of the ``Store`` (see core.py for the invariants every call
keeps), built with the database, the authorization data (a new bucket's
ACL and ownership), the bucket configurations, the MFA code checker (MFA
delete), the KMS (a default aws:kms key), the Object Lock checks and the
seam (the decorators).

Invariants: a bucket's name is checked before anything is written; a
bucket goes only when it holds no version and no delete marker (its
multipart uploads go with it); a bucket with Object Lock keeps versioning
Enabled; every change advances the change sequence for the bucket (key
``''``) in its transaction.
"""

from __future__ import annotations

import time

from objfs.auth import ownership as object_ownership
from objfs.auth.acl import AclSpec
from objfs.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InvalidArgument,
    InvalidBucketAclWithObjectOwnership,
    InvalidBucketState,
    NoSuchEncryptionConfiguration,
)
from objfs.meta import auth_queries as aq
from objfs.meta import queries as q
from objfs.meta.db import Cursor, Database
from objfs.store.access import Need, requires
from objfs.store.authorizer import AccessControl, decode_config, encode_config
from objfs.store.configs import BucketConfigs, bucket_info
from objfs.store.kms import KMS
from objfs.store.mfa import MFACodes
from objfs.store.multipart import drop_upload
from objfs.store.names import check_bucket_name
from objfs.store.objectlock import LockRules, ObjectLockConfig
from objfs.store.seam import Seam
from objfs.store.types import BucketInfo, RequestContext, Versioning


class Buckets:
    """The bucket requests; see the module docstring."""

    def __init__(
        self,
        *,
        db: Database,
        access: AccessControl,
        configs: BucketConfigs,
        mfa_codes: MFACodes,
        kms: KMS,
        lock_rules: LockRules,
        seam: Seam,
    ) -> None:
        self.db = db
        self.access = access
        self.configs = configs
        self.mfa_codes = mfa_codes
        self.kms = kms
        self.lock_rules = lock_rules
        self.seam = seam

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
        info = self.configs.info(cur, name)
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
            return self.configs.info(cur, name)

    @requires(Need("s3:DeleteBucket", bucket="name", key=None))
    def delete_bucket(self, ctx: RequestContext, name: str) -> None:
        with self.db.write(durable=True) as cur:
            self.configs.info(cur, name)
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
            info = self.configs.info(cur, name)
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
            return self.configs.info(cur, name)

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
            self.configs.info(cur, name)
            q.update_bucket(cur, name, encryption=mode, kms_key_id=kms_key_id)
            q.add_change(cur, name, b"")
            return self.configs.info(cur, name)

    # Reading one part of a bucket's configuration is its own S3 action (a
    # policy may allow GetBucketVersioning but not ListBucket): one getter each.

    @requires(Need("s3:GetBucketVersioning", bucket="name", key=None))
    def get_bucket_versioning(self, ctx: RequestContext, name: str) -> BucketInfo:
        """The bucket's record, read for its versioning state and MFA-delete flag."""
        with self.db.read() as cur:
            return self.configs.info(cur, name)

    @requires(Need("s3:GetBucketLocation", bucket="name", key=None))
    def get_bucket_location(self, ctx: RequestContext, name: str) -> str:
        with self.db.read() as cur:
            return self.configs.info(cur, name).region

    @requires(Need("s3:GetEncryptionConfiguration", bucket="name", key=None))
    def get_bucket_encryption(self, ctx: RequestContext, name: str) -> BucketInfo:
        """The bucket's record, read for its default encryption (``encryption``,
        ``kms_key_id``); a bucket set to ``none`` has no configuration."""
        with self.db.read() as cur:
            info = self.configs.info(cur, name)
        if info.encryption == "none":
            raise NoSuchEncryptionConfiguration(
                f"bucket {name!r} has no default encryption configuration"
            )
        return info
