"""Policies and ACLs: identity policies, bucket policies, bucket and object ACLs.

Owns the public API that stores and reads them, and the policy simulator.
Documents are validated by ``objfs.auth`` at put time (``MalformedPolicy``
names the statement and field); a bucket policy is kept as it was put (S3's
GetBucketPolicy returns it unchanged), an identity policy in canonical form. A bucket's policy and ACL live in its
``buckets.config`` map; object ACLs in ``object_acls``.

Invariants: every change advances the change sequence (a mount or server
never decides on stale configuration: each decision reads the database);
the store owner can always read and replace a bucket's policy and ACL (a
policy cannot lock the owner out of managing); an ACL is stored with its
owner, who always keeps FULL_CONTROL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgpack

from objfs.auth import ownership
from objfs.auth.acl import Acl, AclSpec, Grant, acl_from_grants, canned_acl
from objfs.auth.evaluate import Decision
from objfs.auth.identity import Identity
from objfs.auth.policy import parse_bucket_policy, parse_identity_policy, to_json
from objfs.auth.public import PublicAccessBlock, acl_is_public, policy_is_public
from objfs.errors import (
    AccessDenied,
    InvalidArgument,
    NoSuchBucketPolicy,
    NoSuchEntity,
    NoSuchKey,
    NoSuchPublicAccessBlockConfiguration,
)
from objfs.meta import auth_queries as aq
from objfs.meta import queries as q
from objfs.meta.db import Database
from objfs.store.access import Need, condition_keys, owner_only, requires
from objfs.store.authorizer import AccessControl
from objfs.store.configs import BucketConfigs
from objfs.store.names import encode_key
from objfs.store.seam import Seam
from objfs.store.types import RequestContext, SSERequest


class Policies:
    """Identity and bucket policies, Block Public Access, ACLs, the simulator (``store.policies``)."""

    def __init__(
        self, *, db: Database, access: AccessControl, configs: BucketConfigs, seam: Seam
    ) -> None:
        self.db = db
        self.access = access
        self.configs = configs
        self.seam = seam

    # -- identity policies ---------------------------------------------------------

    @owner_only("objfs:ManageUsers")
    def put_user_policy(
        self, ctx: RequestContext, user: str, name: str, document: str | bytes
    ) -> str:
        """Validate and attach ``document`` to ``user`` as ``name``; returns it normalised."""
        if not name or len(name) > 128:
            raise InvalidArgument("a policy name is 1-128 characters")
        text = to_json(parse_identity_policy(document), indent=2)
        with self.db.write(durable=True) as cur:
            self.access.ensure_schema(cur)
            self.access.user_row(cur, user)
            aq.put_user_policy(cur, user, name, text)
            q.add_change(cur, "", b"")
        return text

    @owner_only("objfs:ManageUsers")
    def get_user_policy(self, ctx: RequestContext, user: str, name: str) -> str:
        with self.access.reading() as cur:
            self.access.user_row(cur, user)
            text = aq.get_user_policy(cur, user, name)
        if text is None:
            raise NoSuchEntity(f"user {user!r} has no policy {name!r}")
        return text

    @owner_only("objfs:ManageUsers")
    def list_user_policies(self, ctx: RequestContext, user: str) -> list[str]:
        with self.access.reading() as cur:
            self.access.user_row(cur, user)
            return [name for name, _ in aq.list_user_policies(cur, user)]

    @owner_only("objfs:ManageUsers")
    def delete_user_policy(self, ctx: RequestContext, user: str, name: str) -> None:
        with self.db.write(durable=True) as cur:
            self.access.ensure_schema(cur)
            self.access.user_row(cur, user)
            if not aq.delete_user_policy(cur, user, name):
                raise NoSuchEntity(f"user {user!r} has no policy {name!r}")
            q.add_change(cur, "", b"")

    # -- bucket policy ----------------------------------------------------------------

    @requires(Need("s3:PutBucketPolicy", key=None))
    def put_bucket_policy(self, ctx: RequestContext, bucket: str, document: str | bytes) -> str:
        """Validate and set the bucket policy (at most 20 KiB); returns it as put.

        S3 keeps the document as it was sent: GetBucketPolicy returns it unchanged.
        """
        parsed = parse_bucket_policy(document, bucket)  # MalformedPolicy, or the size limit
        text = document.decode("utf-8") if isinstance(document, bytes) else document
        with self.db.write(durable=True) as cur:
            if policy_is_public(parsed) and self._blocks(cur, bucket).block_public_policy:
                raise AccessDenied(
                    f"Access Denied: bucket {bucket!r} blocks public policies "
                    "(BlockPublicPolicy) and this policy lets anyone in"
                )
            self.configs.set(cur, bucket, policy=text)
        self.access.forget(bucket)  # committed: no check can still read the old config
        return text

    @requires(Need("s3:GetBucketPolicy", key=None))
    def get_bucket_policy(self, ctx: RequestContext, bucket: str) -> str:
        with self.db.read() as cur:
            text = self.configs.get(cur, bucket).get("policy")
        if text is None:
            raise NoSuchBucketPolicy(f"bucket {bucket!r} has no policy")
        return text

    @requires(Need("s3:DeleteBucketPolicy", key=None))
    def delete_bucket_policy(self, ctx: RequestContext, bucket: str) -> None:
        with self.db.write(durable=True) as cur:
            self.configs.set(cur, bucket, policy=None)

    @requires(Need("s3:GetBucketPolicyStatus", key=None))
    def get_bucket_policy_status(self, ctx: RequestContext, bucket: str) -> bool:
        """S3's PolicyStatus ``IsPublic``: the bucket policy or ACL lets anyone in
        (``objfs.auth.public``)."""
        with self.access.reading() as cur:
            info = self.configs.info(cur, bucket)
            config = self.configs.get(cur, bucket)
            acl = self.access.bucket_acl(cur, bucket, info.owner, config)
        text = config.get("policy")
        policy = parse_bucket_policy(text, bucket) if text is not None else None
        return policy_is_public(policy) or acl_is_public(acl)

    # -- Block Public Access -----------------------------------------------------------

    def _blocks(self, cur: Any, bucket: str) -> PublicAccessBlock:
        return PublicAccessBlock.from_obj(self.configs.get(cur, bucket).get("public_access_block"))

    def _refuse_public_acl(self, cur: Any, bucket: str, acl: Acl) -> None:
        if acl_is_public(acl) and self._blocks(cur, bucket).block_public_acls:
            raise AccessDenied(
                f"Access Denied: bucket {bucket!r} blocks public ACLs (BlockPublicAcls)"
            )

    @requires(Need("s3:PutBucketPublicAccessBlock", key=None))
    def put_public_access_block(
        self, ctx: RequestContext, bucket: str, config: PublicAccessBlock
    ) -> None:
        """Set the bucket's Block Public Access settings (``objfs.auth.public``)."""
        with self.db.write(durable=True) as cur:
            self.configs.set(cur, bucket, public_access_block=config.to_obj())
        self.access.forget(bucket)

    @requires(Need("s3:GetBucketPublicAccessBlock", key=None))
    def get_public_access_block(self, ctx: RequestContext, bucket: str) -> PublicAccessBlock:
        with self.db.read() as cur:
            stored = self.configs.get(cur, bucket).get("public_access_block")
        if stored is None:
            raise NoSuchPublicAccessBlockConfiguration(
                f"bucket {bucket!r} has no public access block configuration"
            )
        return PublicAccessBlock.from_obj(stored)

    @requires(Need("s3:PutBucketPublicAccessBlock", key=None))
    def delete_public_access_block(self, ctx: RequestContext, bucket: str) -> None:
        with self.db.write(durable=True) as cur:
            self.configs.set(cur, bucket, public_access_block=None)
        self.access.forget(bucket)

    # -- ACLs ----------------------------------------------------------------------------

    def _make_acl(
        self,
        cur: Any,
        owner_id: str,
        canned: str | None,
        grants: Sequence[Grant],
        spec: AclSpec | None = None,
        bucket_owner_id: str | None = None,
    ) -> Acl:
        if spec is not None:  # S3's PutAcl: exactly the grants given, or a canned ACL
            acl = spec.expand(owner_id, bucket_owner_id=bucket_owner_id)
        elif canned is not None and grants:
            raise InvalidArgument("give either a canned ACL or explicit grants, not both")
        elif canned is not None:
            acl = canned_acl(canned, owner_id, bucket_owner_id=bucket_owner_id)
        else:
            acl = acl_from_grants(owner_id, grants)
        self.access.check_grantees(cur, acl)
        return acl

    @requires(Need("s3:PutBucketAcl", key=None))
    def put_bucket_acl(
        self,
        ctx: RequestContext,
        bucket: str,
        *,
        canned: str | None = None,
        grants: Sequence[Grant] = (),
        acl: AclSpec | None = None,
    ) -> Acl:
        """Set the bucket's ACL: ``canned`` or ``grants`` (the owner's FULL_CONTROL
        added), or ``acl`` as an S3 request gives it (exactly its grants)."""
        with self.db.write(durable=True) as cur:
            self.access.ensure_schema(cur)
            info = self.configs.info(cur, bucket)
            owner_id = self.access.canonical_id_of(cur, info.owner)
            mode = self.configs.get(cur, bucket).get("ownership")
            ownership.check_acl_allowed(mode, _spec(canned, grants, acl), owner_id)
            made = self._make_acl(
                cur, owner_id, canned or (None if grants else "private"), grants, acl
            )
            self._refuse_public_acl(cur, bucket, made)
            self.configs.set(cur, bucket, acl=made.to_obj())
            return self.access.named(cur, made)

    @requires(Need("s3:GetBucketAcl", key=None))
    def get_bucket_acl(self, ctx: RequestContext, bucket: str) -> Acl:
        with self.access.reading() as cur:
            info = self.configs.info(cur, bucket)
            acl = self.access.bucket_acl(cur, bucket, info.owner, self.configs.get(cur, bucket))
            return self.access.named(cur, acl)

    @requires(
        Need(lambda a: "s3:PutObjectVersionAcl" if a.get("version_id") else "s3:PutObjectAcl")
    )
    def put_object_acl(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        canned: str | None = None,
        grants: Sequence[Grant] = (),
        acl: AclSpec | None = None,
    ) -> Acl:
        """As ``put_bucket_acl``, on a version (the latest without ``version_id``)."""
        raw = encode_key(key)
        with self.db.write(durable=True) as cur:
            self.access.ensure_schema(cur)
            info = self.configs.info(cur, bucket)
            vid = version_id or aq.latest_version_id(cur, bucket, raw)
            if vid is None or q.get_version(cur, bucket, raw, vid) is None:
                raise NoSuchKey(f"no such key: s3://{bucket}/{key}", bucket=bucket, key=key)
            bucket_owner = self.access.canonical_id_of(cur, info.owner)
            mode = self.configs.get(cur, bucket).get("ownership")
            ownership.check_acl_allowed(mode, _spec(canned, grants, acl), bucket_owner)
            if mode == ownership.ENFORCED:  # accepted, and changes nothing: ACLs are off
                return self.access.named(cur, canned_acl("private", bucket_owner))
            current = self.access.object_acl(cur, bucket, key, vid, bucket_owner)
            made = self._make_acl(
                cur,
                current.owner_id,
                canned or (None if grants else "private"),
                grants,
                acl,
                bucket_owner,
            )
            self._refuse_public_acl(cur, bucket, made)
            aq.put_object_acl(cur, bucket, raw, vid, made.owner_id, msgpack.packb(made.to_obj()))
            q.add_change(cur, bucket, raw)
            return self.access.named(cur, made)

    @requires(
        Need(lambda a: "s3:GetObjectVersionAcl" if a.get("version_id") else "s3:GetObjectAcl")
    )
    def get_object_acl(
        self, ctx: RequestContext, bucket: str, key: str, *, version_id: str | None = None
    ) -> Acl:
        raw = encode_key(key)
        with self.access.reading() as cur:
            info = self.configs.info(cur, bucket)
            vid = version_id or aq.latest_version_id(cur, bucket, raw)
            if vid is None or q.get_version(cur, bucket, raw, vid) is None:
                raise NoSuchKey(f"no such key: s3://{bucket}/{key}", bucket=bucket, key=key)
            bucket_owner = self.access.canonical_id_of(cur, info.owner)
            enforced = self.configs.get(cur, bucket).get("ownership") == ownership.ENFORCED
            acl = self.access.object_acl(cur, bucket, key, vid, bucket_owner, enforced=enforced)
            return self.access.named(cur, acl)

    def user_canonical_id(self, name: str) -> tuple[str, str | None]:
        """``(canonical id, display name)`` of a user or the owner, for ACL grants."""
        with self.access.reading() as cur:
            if name == "owner":
                return self.access.owner_id(), "owner"
            row = self.access.user_row(cur, name)
        return row[1], row[2]

    # -- probes ------------------------------------------------------------------------

    @requires()  # the check is what it does
    def check_access(
        self,
        ctx: RequestContext,
        action: str,
        bucket: str,
        key: str | None = None,
        *,
        sse: SSERequest | None = None,
    ) -> None:
        """Raise ``AccessDenied`` now if ``ctx`` may not do ``action`` on the resource.

        For adapters that must refuse before the request itself reaches the
        store: the mount checks s3:PutObject when a file is created or opened
        for writing, because the kernel's write-back cache would otherwise
        report a refused write only when the data is long gone from the caller.
        """
        self.seam.check(ctx, action, bucket, key, None, condition_keys({"sse": sse}))

    # -- the simulator -----------------------------------------------------------------

    @owner_only("objfs:ManageUsers")
    def simulate_policy(
        self,
        ctx: RequestContext,
        identity: Identity,
        action: str,
        bucket: str | None,
        key: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """What the seam would decide for ``identity`` doing ``action`` (never raises AccessDenied)."""
        asked = RequestContext(identity, "simulator", secure_transport=True)
        extra = dict(context or {})
        remote = extra.pop("aws:SourceIp", None)
        secure = extra.pop("aws:SecureTransport", None)
        if remote is not None or secure is not None:
            asked = RequestContext(
                identity,
                "simulator",
                remote_addr=remote,
                secure_transport=str(secure).lower() != "false" if secure is not None else True,
            )
        return self.seam.decide(asked, action, bucket, key, extra)


def _spec(canned: str | None, grants: Sequence[Grant], acl: AclSpec | None) -> AclSpec:
    """The ACL a PutAcl call asks for, in one form (``AclSpec``)."""
    if acl is not None:
        return acl
    return AclSpec(canned, tuple(grants) or None) if canned or grants else AclSpec("private")
