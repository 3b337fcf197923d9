"""The administration's delegates (users, MFA, KMS, policies, ownership, CORS);
see ``objfs/store/facade/__init__.py``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from objfs.auth.acl import Acl, AclSpec, Grant
from objfs.auth.evaluate import Decision
from objfs.auth.public import PublicAccessBlock
from objfs.store.cors import CORS, CORSRule
from objfs.store.kms import KMS
from objfs.store.kms_types import KMSAuditEntry, KMSKeyInfo
from objfs.store.mfa import MFA
from objfs.store.ownership import Ownership
from objfs.store.policies import Policies
from objfs.store.types import (
    AccessKeyInfo,
    Identity,
    MFADeviceInfo,
    NewAccessKey,
    NewMFADevice,
    RequestContext,
    SSERequest,
    UserInfo,
)
from objfs.store.users import Users


class AdminFacade:
    """The delegates; the ``Store`` builds the collaborators in ``__init__``."""

    users: Users
    mfa: MFA
    kms: KMS
    policies: Policies
    ownership: Ownership
    cors: CORS

    # -- MFA devices (store/mfa.py) ------------------------------------------------------

    def mfa_enable(self, ctx: RequestContext) -> NewMFADevice:
        return self.mfa.mfa_enable(ctx)

    def mfa_list(self, ctx: RequestContext) -> list[MFADeviceInfo]:
        return self.mfa.mfa_list(ctx)

    def mfa_disable(self, ctx: RequestContext) -> str:
        return self.mfa.mfa_disable(ctx)

    # -- users and access keys (store/users.py) ----------------------------------------

    def create_user(
        self, ctx: RequestContext, name: str, *, display_name: str | None = None
    ) -> UserInfo:
        return self.users.create_user(ctx, name, display_name=display_name)

    def list_users(self, ctx: RequestContext) -> list[UserInfo]:
        return self.users.list_users(ctx)

    def get_user(self, ctx: RequestContext, name: str) -> UserInfo:
        return self.users.get_user(ctx, name)

    def delete_user(self, ctx: RequestContext, name: str) -> None:
        return self.users.delete_user(ctx, name)

    def create_access_key(self, ctx: RequestContext, user: str) -> NewAccessKey:
        return self.users.create_access_key(ctx, user)

    def list_access_keys(self, ctx: RequestContext, user: str) -> list[AccessKeyInfo]:
        return self.users.list_access_keys(ctx, user)

    def set_access_key_status(
        self, ctx: RequestContext, user: str, key_id: str, *, active: bool
    ) -> AccessKeyInfo:
        return self.users.set_access_key_status(ctx, user, key_id, active=active)

    def delete_access_key(self, ctx: RequestContext, user: str, key_id: str) -> None:
        return self.users.delete_access_key(ctx, user, key_id)

    def signing_secret(self, key_id: str) -> tuple[Identity, str]:
        return self.users.signing_secret(key_id)

    def authenticate(self, key_id: str, secret: str) -> Identity:
        return self.users.authenticate(key_id, secret)

    def user_identity(self, name: str) -> Identity:
        return self.users.user_identity(name)

    # -- policies, Block Public Access, ACLs (store/policies.py) -----------------------

    def put_user_policy(
        self, ctx: RequestContext, user: str, name: str, document: str | bytes
    ) -> str:
        return self.policies.put_user_policy(ctx, user, name, document)

    def get_user_policy(self, ctx: RequestContext, user: str, name: str) -> str:
        return self.policies.get_user_policy(ctx, user, name)

    def list_user_policies(self, ctx: RequestContext, user: str) -> list[str]:
        return self.policies.list_user_policies(ctx, user)

    def delete_user_policy(self, ctx: RequestContext, user: str, name: str) -> None:
        return self.policies.delete_user_policy(ctx, user, name)

    def put_bucket_policy(self, ctx: RequestContext, bucket: str, document: str | bytes) -> str:
        return self.policies.put_bucket_policy(ctx, bucket, document)

    def get_bucket_policy(self, ctx: RequestContext, bucket: str) -> str:
        return self.policies.get_bucket_policy(ctx, bucket)

    def delete_bucket_policy(self, ctx: RequestContext, bucket: str) -> None:
        return self.policies.delete_bucket_policy(ctx, bucket)

    def get_bucket_policy_status(self, ctx: RequestContext, bucket: str) -> bool:
        return self.policies.get_bucket_policy_status(ctx, bucket)

    def put_public_access_block(
        self, ctx: RequestContext, bucket: str, config: PublicAccessBlock
    ) -> None:
        return self.policies.put_public_access_block(ctx, bucket, config)

    def get_public_access_block(self, ctx: RequestContext, bucket: str) -> PublicAccessBlock:
        return self.policies.get_public_access_block(ctx, bucket)

    def delete_public_access_block(self, ctx: RequestContext, bucket: str) -> None:
        return self.policies.delete_public_access_block(ctx, bucket)

    def put_bucket_acl(
        self,
        ctx: RequestContext,
        bucket: str,
        *,
        canned: str | None = None,
        grants: Sequence[Grant] = (),
        acl: AclSpec | None = None,
    ) -> Acl:
        return self.policies.put_bucket_acl(ctx, bucket, canned=canned, grants=grants, acl=acl)

    def get_bucket_acl(self, ctx: RequestContext, bucket: str) -> Acl:
        return self.policies.get_bucket_acl(ctx, bucket)

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
        return self.policies.put_object_acl(
            ctx, bucket, key, version_id=version_id, canned=canned, grants=grants, acl=acl
        )

    def get_object_acl(
        self, ctx: RequestContext, bucket: str, key: str, *, version_id: str | None = None
    ) -> Acl:
        return self.policies.get_object_acl(ctx, bucket, key, version_id=version_id)

    def user_canonical_id(self, name: str) -> tuple[str, str | None]:
        return self.policies.user_canonical_id(name)

    def check_access(
        self,
        ctx: RequestContext,
        action: str,
        bucket: str,
        key: str | None = None,
        *,
        sse: SSERequest | None = None,
    ) -> None:
        return self.policies.check_access(ctx, action, bucket, key, sse=sse)

    def simulate_policy(
        self,
        ctx: RequestContext,
        identity: Identity,
        action: str,
        bucket: str | None,
        key: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        return self.policies.simulate_policy(ctx, identity, action, bucket, key, context)

    # -- Object Ownership (store/ownership.py) -----------------------------------------

    def put_bucket_ownership_controls(self, ctx: RequestContext, bucket: str, mode: str) -> None:
        return self.ownership.put_bucket_ownership_controls(ctx, bucket, mode)

    def get_bucket_ownership_controls(self, ctx: RequestContext, bucket: str) -> str:
        return self.ownership.get_bucket_ownership_controls(ctx, bucket)

    def delete_bucket_ownership_controls(self, ctx: RequestContext, bucket: str) -> None:
        return self.ownership.delete_bucket_ownership_controls(ctx, bucket)

    # -- CORS (store/cors.py) ----------------------------------------------------------

    def put_bucket_cors(
        self, ctx: RequestContext, bucket: str, rules: Iterable[CORSRule | Mapping[str, Any]]
    ) -> tuple[CORSRule, ...]:
        return self.cors.put_bucket_cors(ctx, bucket, rules)

    def get_bucket_cors(self, ctx: RequestContext, bucket: str) -> tuple[CORSRule, ...]:
        return self.cors.get_bucket_cors(ctx, bucket)

    def delete_bucket_cors(self, ctx: RequestContext, bucket: str) -> None:
        return self.cors.delete_bucket_cors(ctx, bucket)

    def cors_match(
        self,
        ctx: RequestContext,
        bucket: str,
        origin: str,
        method: str,
        request_headers: Iterable[str] = (),
    ) -> CORSRule | None:
        return self.cors.cors_match(ctx, bucket, origin, method, request_headers)

    # -- the KMS (store/kms.py) --------------------------------------------------------

    def kms_create_key(self, ctx: RequestContext, description: str = "") -> KMSKeyInfo:
        return self.kms.kms_create_key(ctx, description)

    def kms_create_alias(self, ctx: RequestContext, alias: str, key_id: str) -> KMSKeyInfo:
        return self.kms.kms_create_alias(ctx, alias, key_id)

    def kms_delete_alias(self, ctx: RequestContext, alias: str) -> None:
        return self.kms.kms_delete_alias(ctx, alias)

    def kms_list_keys(self, ctx: RequestContext) -> list[KMSKeyInfo]:
        return self.kms.kms_list_keys(ctx)

    def kms_describe_key(self, ctx: RequestContext, key: str) -> KMSKeyInfo:
        return self.kms.kms_describe_key(ctx, key)

    def kms_disable_key(self, ctx: RequestContext, key: str) -> KMSKeyInfo:
        return self.kms.kms_disable_key(ctx, key)

    def kms_enable_key(self, ctx: RequestContext, key: str) -> KMSKeyInfo:
        return self.kms.kms_enable_key(ctx, key)

    def kms_rotate_key(self, ctx: RequestContext, key: str) -> int:
        return self.kms.kms_rotate_key(ctx, key)

    def kms_schedule_key_deletion(self, ctx: RequestContext, key: str, days: int) -> int:
        return self.kms.kms_schedule_key_deletion(ctx, key, days)

    def kms_cancel_key_deletion(self, ctx: RequestContext, key: str) -> KMSKeyInfo:
        return self.kms.kms_cancel_key_deletion(ctx, key)

    def kms_audit(
        self, ctx: RequestContext, key: str | None = None, limit: int = 1000
    ) -> list[KMSAuditEntry]:
        return self.kms.kms_audit(ctx, key, limit)

    def kms_prune_audit(self, ctx: RequestContext, before_ns: int) -> int:
        return self.kms.kms_prune_audit(ctx, before_ns)
