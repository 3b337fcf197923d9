"""The bucket requests' delegates (buckets.py's ``Buckets``);
see ``objfs/store/facade/__init__.py``."""

from __future__ import annotations

from objfs.auth.acl import AclSpec
from objfs.store.buckets import Buckets
from objfs.store.types import BucketInfo, RequestContext, Versioning


class BucketsFacade:
    """The delegates; the ``Store`` builds ``buckets`` in ``__init__``."""

    buckets: Buckets

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
        return self.buckets.create_bucket(
            ctx,
            name,
            region=region,
            versioning=versioning,
            acl=acl,
            ownership=ownership,
            object_lock=object_lock,
        )

    def list_buckets(self, ctx: RequestContext) -> list[BucketInfo]:
        return self.buckets.list_buckets(ctx)

    def head_bucket(self, ctx: RequestContext, name: str) -> BucketInfo:
        return self.buckets.head_bucket(ctx, name)

    def delete_bucket(self, ctx: RequestContext, name: str) -> None:
        return self.buckets.delete_bucket(ctx, name)

    def set_bucket_versioning(
        self,
        ctx: RequestContext,
        name: str,
        state: Versioning | str,
        *,
        mfa_delete: bool | None = None,
    ) -> BucketInfo:
        return self.buckets.set_bucket_versioning(ctx, name, state, mfa_delete=mfa_delete)

    def set_bucket_encryption(
        self, ctx: RequestContext, name: str, mode: str, kms_key_id: str | None = None
    ) -> BucketInfo:
        return self.buckets.set_bucket_encryption(ctx, name, mode, kms_key_id)

    def get_bucket_versioning(self, ctx: RequestContext, name: str) -> BucketInfo:
        return self.buckets.get_bucket_versioning(ctx, name)

    def get_bucket_location(self, ctx: RequestContext, name: str) -> str:
        return self.buckets.get_bucket_location(ctx, name)

    def get_bucket_encryption(self, ctx: RequestContext, name: str) -> BucketInfo:
        return self.buckets.get_bucket_encryption(ctx, name)
