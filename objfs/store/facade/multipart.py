"""The multipart upload requests' delegates (multipart.py's ``Multipart``);
see ``objfs/store/facade/__init__.py``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from objfs.auth.acl import AclSpec
from objfs.store.multipart import Multipart
from objfs.store.types import (
    NO_LOCK,
    Checksum,
    ObjectHeaders,
    ObjectLockState,
    PartInfo,
    PartList,
    PutResult,
    RequestContext,
    SSERequest,
    SystemMeta,
    UploadListResult,
)


class MultipartFacade:
    """The delegates; the ``Store`` builds ``multipart`` in ``__init__``."""

    multipart: Multipart

    def create_multipart_upload(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        user_meta: dict[str, str] | None = None,
        sys_meta: SystemMeta | None = None,
        sse: SSERequest | None = None,
        headers: ObjectHeaders | None = None,
        checksum: Checksum | None = None,
        acl: AclSpec | None = None,
        tags: Mapping[str, str] | None = None,
        lock: ObjectLockState = NO_LOCK,
    ) -> str:
        return self.multipart.create_multipart_upload(
            ctx,
            bucket,
            key,
            content_type=content_type,
            user_meta=user_meta,
            sys_meta=sys_meta,
            sse=sse,
            headers=headers,
            checksum=checksum,
            acl=acl,
            tags=tags,
            lock=lock,
        )

    def upload_part(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        body: Any,
        *,
        sse: SSERequest | None = None,
        checksum: Checksum | Callable[[], Checksum | None] | None = None,
    ) -> PartInfo:
        return self.multipart.upload_part(
            ctx, bucket, key, upload_id, part_number, body, sse=sse, checksum=checksum
        )

    def upload_part_copy(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        src_bucket: str,
        src_key: str,
        *,
        src_version_id: str | None = None,
        src_range: tuple[int, int] | None = None,
        src_sse: SSERequest | None = None,
        sse: SSERequest | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since_ns: int | None = None,
        if_unmodified_since_ns: int | None = None,
    ) -> PartInfo:
        return self.multipart.upload_part_copy(
            ctx,
            bucket,
            key,
            upload_id,
            part_number,
            src_bucket,
            src_key,
            src_version_id=src_version_id,
            src_range=src_range,
            src_sse=src_sse,
            sse=sse,
            if_match=if_match,
            if_none_match=if_none_match,
            if_modified_since_ns=if_modified_since_ns,
            if_unmodified_since_ns=if_unmodified_since_ns,
        )

    def complete_multipart_upload(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[tuple[int, str]],
        *,
        checksum: tuple[str, str] | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        sse: SSERequest | None = None,
    ) -> PutResult:
        return self.multipart.complete_multipart_upload(
            ctx,
            bucket,
            key,
            upload_id,
            parts,
            checksum=checksum,
            if_match=if_match,
            if_none_match=if_none_match,
            sse=sse,
        )

    def abort_multipart_upload(
        self, ctx: RequestContext, bucket: str, key: str, upload_id: str
    ) -> None:
        return self.multipart.abort_multipart_upload(ctx, bucket, key, upload_id)

    def list_parts(self, ctx: RequestContext, bucket: str, key: str, upload_id: str) -> PartList:
        return self.multipart.list_parts(ctx, bucket, key, upload_id)

    def list_multipart_uploads(
        self,
        ctx: RequestContext,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
        max_uploads: int = 1000,
    ) -> UploadListResult:
        return self.multipart.list_multipart_uploads(
            ctx,
            bucket,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
        )
