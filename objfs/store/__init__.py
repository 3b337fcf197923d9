"""S3 semantics, in one place. See ``objfs/store/CONTRACT.md`` for the API."""

from objfs.store.core import Store
from objfs.store.kms_types import KMSAuditEntry, KMSKeyInfo
from objfs.store.types import (
    NULL_VERSION,
    OWNER,
    BucketInfo,
    Change,
    ChunkRef,
    DeleteResult,
    DirStats,
    ListResult,
    ObjectVersion,
    PartInfo,
    PutResult,
    RequestContext,
    SSERequest,
    SystemMeta,
    TimesUpdate,
    UploadInfo,
    Versioning,
    VersionListResult,
)

__all__ = [
    "KMSAuditEntry",
    "KMSKeyInfo",
    "NULL_VERSION",
    "OWNER",
    "BucketInfo",
    "Change",
    "ChunkRef",
    "DeleteResult",
    "DirStats",
    "ListResult",
    "ObjectVersion",
    "PartInfo",
    "PutResult",
    "RequestContext",
    "SSERequest",
    "Store",
    "SystemMeta",
    "TimesUpdate",
    "UploadInfo",
    "VersionListResult",
    "Versioning",
]
