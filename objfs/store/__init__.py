"""S3 semantics, in one place. See ``objfs/store/CONTRACT.md`` for the API."""

from objfs.store.accesslog import BucketLogging, DeliveredLog
from objfs.store.core import Store
from objfs.store.kms_types import KMSAuditEntry, KMSKeyInfo
from objfs.store.types import (
    ANONYMOUS_IDENTITY,
    NULL_VERSION,
    OWNER,
    OWNER_IDENTITY,
    BucketInfo,
    Change,
    ChunkRef,
    DeleteResult,
    Identity,
    ListResult,
    ObjectVersion,
    PartInfo,
    PutResult,
    RequestContext,
    SSERequest,
    SystemMeta,
    UploadInfo,
    Versioning,
    VersionListResult,
)

__all__ = [
    "KMSAuditEntry",
    "KMSKeyInfo",
    "NULL_VERSION",
    "OWNER",
    "OWNER_IDENTITY",
    "ANONYMOUS_IDENTITY",
    "Identity",
    "BucketInfo",
    "BucketLogging",
    "DeliveredLog",
    "Change",
    "ChunkRef",
    "DeleteResult",
    "ListResult",
    "ObjectVersion",
    "PartInfo",
    "PutResult",
    "RequestContext",
    "SSERequest",
    "Store",
    "SystemMeta",
    "UploadInfo",
    "VersionListResult",
    "Versioning",
]
