"""The mount's operations' delegates (mountops.py's ``MountOps``);
see ``objfs/store/facade/__init__.py``."""

from __future__ import annotations

from collections.abc import Sequence

from objfs.store.mountops import MountOps
from objfs.store.types import (
    DirStats,
    Moved,
    ObjectVersion,
    RequestContext,
    SSERequest,
    SystemMeta,
    TimesUpdate,
)
from objfs.store.writer import ObjectWriter


class MountOpsFacade:
    """The delegates; the ``Store`` builds ``mount_ops`` in ``__init__``."""

    mount_ops: MountOps

    def rename(self, ctx: RequestContext, bucket: str, src_key: str, dst_key: str) -> Moved:
        return self.mount_ops.rename(ctx, bucket, src_key, dst_key)

    def rename_prefix(
        self, ctx: RequestContext, bucket: str, src_prefix: str, dst_prefix: str
    ) -> Moved:
        return self.mount_ops.rename_prefix(ctx, bucket, src_prefix, dst_prefix)

    def amend_times(
        self, ctx: RequestContext, bucket: str, updates: Sequence[TimesUpdate]
    ) -> dict[str, ObjectVersion]:
        return self.mount_ops.amend_times(ctx, bucket, updates)

    def dir_stats(self, ctx: RequestContext, bucket: str, prefix: str) -> DirStats:
        return self.mount_ops.dir_stats(ctx, bucket, prefix)

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
        return self.mount_ops.open_writer(
            ctx, bucket, key, base=base, truncate=truncate, sse=sse, if_latest=if_latest
        )

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
        return self.mount_ops.commit_small(
            ctx,
            bucket,
            key,
            data,
            sys_meta=sys_meta,
            content_type=content_type,
            user_meta=user_meta,
            sse=sse,
        )
