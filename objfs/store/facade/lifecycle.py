"""The lifecycle requests' delegates (expiry.py's ``Lifecycle``);
see ``objfs/store/facade/__init__.py``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from objfs.store.expiry import Lifecycle, LifecycleReport
from objfs.store.types import RequestContext


class LifecycleFacade:
    """The delegates; the ``Store`` builds ``lifecycle`` in ``__init__``."""

    lifecycle: Lifecycle

    def put_bucket_lifecycle(
        self, ctx: RequestContext, bucket: str, rules: Iterable[Any]
    ) -> list[dict[str, Any]]:
        return self.lifecycle.put_bucket_lifecycle(ctx, bucket, rules)

    def get_bucket_lifecycle(self, ctx: RequestContext, bucket: str) -> list[dict[str, Any]]:
        return self.lifecycle.get_bucket_lifecycle(ctx, bucket)

    def delete_bucket_lifecycle(self, ctx: RequestContext, bucket: str) -> None:
        return self.lifecycle.delete_bucket_lifecycle(ctx, bucket)

    def lifecycle_expiration(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        size: int,
        tags: Mapping[str, str] | None,
        created_ns: int,
    ) -> tuple[int, str] | None:
        return self.lifecycle.lifecycle_expiration(ctx, bucket, key, size, tags, created_ns)

    def apply_lifecycle(
        self, ctx: RequestContext, bucket: str | None = None, *, now_ns: int | None = None
    ) -> LifecycleReport:
        return self.lifecycle.apply_lifecycle(ctx, bucket, now_ns=now_ns)
