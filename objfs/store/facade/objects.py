"""The object requests' delegates (objects.py's ``Objects``);
see ``objfs/store/facade/__init__.py``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from objfs.auth.acl import AclSpec
from objfs.errors import ObjfsError
from objfs.store.chunking import Readable
from objfs.store.objects import Objects
from objfs.store.ranges import RangeSpec
from objfs.store.reader import ObjectReader
from objfs.store.types import (
    NO_LOCK,
    Checksum,
    DeleteResult,
    ObjectHeaders,
    ObjectLockState,
    ObjectVersion,
    PutResult,
    RequestContext,
    SSERequest,
    SystemMeta,
)


class ObjectsFacade:
    """The delegates; the ``Store`` builds ``objects`` in ``__init__``."""

    objects: Objects

    def head_object(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        sse: SSERequest | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since_ns: int | None = None,
        if_unmodified_since_ns: int | None = None,
        part_number: int | None = None,
    ) -> ObjectVersion:
        return self.objects.head_object(
            ctx,
            bucket,
            key,
            version_id=version_id,
            sse=sse,
            if_match=if_match,
            if_none_match=if_none_match,
            if_modified_since_ns=if_modified_since_ns,
            if_unmodified_since_ns=if_unmodified_since_ns,
            part_number=part_number,
        )

    def get_object(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        range: RangeSpec | None = None,
        sse: SSERequest | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since_ns: int | None = None,
        if_unmodified_since_ns: int | None = None,
        part_number: int | None = None,
    ) -> ObjectReader:
        return self.objects.get_object(
            ctx,
            bucket,
            key,
            version_id=version_id,
            range=range,
            sse=sse,
            if_match=if_match,
            if_none_match=if_none_match,
            if_modified_since_ns=if_modified_since_ns,
            if_unmodified_since_ns=if_unmodified_since_ns,
            part_number=part_number,
        )

    def read_range(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        offset: int,
        length: int,
        *,
        version_id: str | None = None,
        sse: SSERequest | None = None,
        readahead: bool = False,
    ) -> bytes:
        return self.objects.read_range(
            ctx, bucket, key, offset, length, version_id=version_id, sse=sse, readahead=readahead
        )

    def put_object(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        body: Readable | bytes | bytearray | memoryview,
        *,
        content_type: str | None = None,
        user_meta: dict[str, str] | None = None,
        sys_meta: SystemMeta | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        sse: SSERequest | None = None,
        size_hint: int | None = None,
        headers: ObjectHeaders | None = None,
        checksum: Checksum | Callable[[], Checksum | None] | None = None,
        acl: AclSpec | None = None,
        tags: Mapping[str, str] | None = None,
        lock: ObjectLockState = NO_LOCK,
    ) -> PutResult:
        return self.objects.put_object(
            ctx,
            bucket,
            key,
            body,
            content_type=content_type,
            user_meta=user_meta,
            sys_meta=sys_meta,
            if_match=if_match,
            if_none_match=if_none_match,
            sse=sse,
            size_hint=size_hint,
            headers=headers,
            checksum=checksum,
            acl=acl,
            tags=tags,
            lock=lock,
        )

    def post_object(
        self, ctx: RequestContext, bucket: str, key: str, body: Readable, **put_args: Any
    ) -> PutResult:
        return self.objects.post_object(ctx, bucket, key, body, **put_args)

    def copy_object(
        self,
        ctx: RequestContext,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        *,
        src_version_id: str | None = None,
        metadata_directive: str | None = None,
        content_type: str | None = None,
        user_meta: dict[str, str] | None = None,
        sys_meta: SystemMeta | None = None,
        sse: SSERequest | None = None,
        src_sse: SSERequest | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since_ns: int | None = None,
        if_unmodified_since_ns: int | None = None,
        headers: ObjectHeaders | None = None,
        acl: AclSpec | None = None,
        tagging_directive: str | None = None,
        tags: Mapping[str, str] | None = None,
        lock: ObjectLockState = NO_LOCK,
    ) -> PutResult:
        return self.objects.copy_object(
            ctx,
            src_bucket,
            src_key,
            dst_bucket,
            dst_key,
            src_version_id=src_version_id,
            metadata_directive=metadata_directive,
            content_type=content_type,
            user_meta=user_meta,
            sys_meta=sys_meta,
            sse=sse,
            src_sse=src_sse,
            if_match=if_match,
            if_none_match=if_none_match,
            if_modified_since_ns=if_modified_since_ns,
            if_unmodified_since_ns=if_unmodified_since_ns,
            headers=headers,
            acl=acl,
            tagging_directive=tagging_directive,
            tags=tags,
            lock=lock,
        )

    def delete_object(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        bypass_governance: bool = False,
    ) -> DeleteResult:
        return self.objects.delete_object(
            ctx, bucket, key, version_id=version_id, bypass_governance=bypass_governance
        )

    def delete_objects(
        self,
        ctx: RequestContext,
        bucket: str,
        items: Sequence[tuple[str, str | None]],
        *,
        bypass_governance: bool = False,
    ) -> list[DeleteResult | ObjfsError]:
        return self.objects.delete_objects(ctx, bucket, items, bypass_governance=bypass_governance)

    def update_sys_meta(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        sys_meta: SystemMeta,
        *,
        version_id: str | None = None,
    ) -> ObjectVersion:
        return self.objects.update_sys_meta(ctx, bucket, key, sys_meta, version_id=version_id)

    def update_user_meta(
        self, ctx: RequestContext, bucket: str, key: str, user_meta: dict[str, str]
    ) -> ObjectVersion:
        return self.objects.update_user_meta(ctx, bucket, key, user_meta)
