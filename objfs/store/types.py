"""Records the store API takes and returns.

All are frozen slotted dataclasses: values, not handles. Adapters (CLI,
mount, HTTP) read them; only ``objfs/store`` creates them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Versioning(enum.StrEnum):
    UNVERSIONED = "Unversioned"
    ENABLED = "Enabled"
    SUSPENDED = "Suspended"


NULL_VERSION = "null"


@dataclass(slots=True, frozen=True)
class RequestContext:
    """Who asks, through what. Every store call takes one.

    ``principal`` is ``"owner"`` for the store's owner; later user names.
    ``interface`` is ``"cli"``, ``"mount"`` or ``"api"``.
    ``durable``: when True the call fsyncs chunks and the commit before it
    returns (CLI/API puts, fsync on the mount); when False it is committed
    but may sit in the OS page cache (close on the mount).
    """

    principal: str = "owner"
    interface: str = "cli"
    remote_addr: str | None = None
    mfa: str | None = None
    secure_transport: bool = True
    durable: bool = True


OWNER = RequestContext()


@dataclass(slots=True, frozen=True)
class SystemMeta:
    """POSIX attributes kept beside an object (x-amz-meta-mode/uid/gid/mtime).

    ``None`` means "not set": the mount applies its defaults.
    ``mtime_ns`` is nanoseconds since the epoch.
    """

    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    mtime_ns: int | None = None
    symlink: str | None = None

    def replace(self, **changes: object) -> SystemMeta:
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return SystemMeta(**values)  # type: ignore[arg-type]


@dataclass(slots=True, frozen=True)
class BucketInfo:
    name: str
    region: str
    owner: str
    created_ns: int
    versioning: Versioning
    mfa_delete: bool = False
    encryption: str = "AES256"  # bucket default: "none", "AES256", "aws:kms"
    kms_key_id: str | None = None


@dataclass(slots=True, frozen=True)
class ChunkRef:
    """One piece of an object's data: ``chunk_id`` None is a hole (zeros).

    ``offset`` None: the piece is the whole chunk (``length`` is the chunk's).
    An int: the piece is bytes [offset, offset + length) of the chunk (the
    mount's in-place edits share the unchanged parts of a chunk this way).
    """

    chunk_id: bytes | None
    length: int
    offset: int | None = None


@dataclass(slots=True, frozen=True)
class ObjectVersion:
    """One version (or delete marker) of one key."""

    bucket: str
    key: str
    version_id: str
    is_latest: bool
    is_delete_marker: bool
    size: int
    etag: str
    last_modified_ns: int
    content_type: str = "binary/octet-stream"
    user_meta: dict[str, str] = field(default_factory=dict)
    sys_meta: SystemMeta = field(default_factory=SystemMeta)
    sse: str = "none"  # "none", "AES256", "aws:kms", "SSE-C", "CSE"
    kms_key_id: str | None = None
    seq: int = 0  # creation order within the store; sorts versions


@dataclass(slots=True, frozen=True)
class PutResult:
    version_id: str
    etag: str
    size: int
    seq: int = 0  # the new version's place in creation order
    last_modified_ns: int = 0


@dataclass(slots=True, frozen=True)
class DeleteResult:
    key: str
    version_id: str | None
    delete_marker: bool


@dataclass(slots=True, frozen=True)
class ListResult:
    """ListObjectsV2 page. ``contents`` are latest, non-deleted versions."""

    contents: list[ObjectVersion]
    common_prefixes: list[str]
    is_truncated: bool
    next_continuation_token: str | None
    key_count: int


@dataclass(slots=True, frozen=True)
class VersionListResult:
    """ListObjectVersions page: versions and delete markers, newest first per key."""

    versions: list[ObjectVersion]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None


@dataclass(slots=True, frozen=True)
class PartInfo:
    part_number: int
    etag: str
    size: int
    last_modified_ns: int


@dataclass(slots=True, frozen=True)
class UploadInfo:
    bucket: str
    key: str
    upload_id: str
    initiated_ns: int


@dataclass(slots=True, frozen=True)
class Change:
    """One entry of the store's change sequence (what the mount polls)."""

    seq: int
    bucket: str
    key: str


@dataclass(slots=True, frozen=True)
class SSERequest:
    """Encryption asked for by a request.

    ``mode``: None (bucket default), "none", "AES256", "aws:kms", "SSE-C".
    ``customer_key``: the 32-byte SSE-C key, never stored.
    """

    mode: str | None = None
    kms_key_id: str | None = None
    customer_key: bytes | None = None
