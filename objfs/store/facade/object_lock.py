"""The Object Lock requests' delegates (objectlock.py's ``ObjectLock``);
see ``objfs/store/facade/__init__.py``."""

from __future__ import annotations

from objfs.store.objectlock import ObjectLock, ObjectLockConfig
from objfs.store.types import ObjectLockState, ObjectVersion, RequestContext


class ObjectLockFacade:
    """The delegates; the ``Store`` builds ``object_lock`` in ``__init__``."""

    object_lock: ObjectLock

    def put_object_lock_configuration(
        self, ctx: RequestContext, bucket: str, config: ObjectLockConfig
    ) -> ObjectLockConfig:
        return self.object_lock.put_object_lock_configuration(ctx, bucket, config)

    def get_object_lock_configuration(self, ctx: RequestContext, bucket: str) -> ObjectLockConfig:
        return self.object_lock.get_object_lock_configuration(ctx, bucket)

    def put_object_retention(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        mode: str | None,
        until_ns: int | None,
        *,
        version_id: str | None = None,
        bypass_governance: bool = False,
    ) -> ObjectVersion:
        return self.object_lock.put_object_retention(
            ctx,
            bucket,
            key,
            mode,
            until_ns,
            version_id=version_id,
            bypass_governance=bypass_governance,
        )

    def get_object_retention(
        self, ctx: RequestContext, bucket: str, key: str, *, version_id: str | None = None
    ) -> ObjectLockState:
        return self.object_lock.get_object_retention(ctx, bucket, key, version_id=version_id)

    def put_object_legal_hold(
        self, ctx: RequestContext, bucket: str, key: str, on: bool, *, version_id: str | None = None
    ) -> ObjectVersion:
        return self.object_lock.put_object_legal_hold(ctx, bucket, key, on, version_id=version_id)

    def get_object_legal_hold(
        self, ctx: RequestContext, bucket: str, key: str, *, version_id: str | None = None
    ) -> bool:
        return self.object_lock.get_object_legal_hold(ctx, bucket, key, version_id=version_id)
