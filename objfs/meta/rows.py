"""The rows ``objfs/meta``'s queries return, one ``NamedTuple`` per shape.

Invariants: each class's fields are the columns its queries select, in the
same order and with the same names (the ``*_COLUMNS`` strings of the query
modules are made from ``_fields``, so the two cannot drift); a row is a
tuple, so code that indexes or unpacks rows reads them as before. Field
types are what SQLite hands back for the schema in ``objfs/meta/db.py``
(BLOB: ``bytes``, INTEGER: ``int``, TEXT: ``str``, a nullable column
``... | None``).

Rows are made with ``_make`` (one tuple allocation, ~0.2 us), or, for the
lazily read listing scan, by the row factory of a cursor of its own; the
mount's directory scan alone keeps plain tuples (``DirTuple``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple, Protocol, TypeAlias, TypeVar

_T_co = TypeVar("_T_co", covariant=True)


class RowCursor(Protocol[_T_co]):
    """A cursor of its own that yields rows of one shape as it is read;
    ``close`` it when done (``queries.scan_latest``)."""

    def __iter__(self) -> Iterator[_T_co]: ...

    def __next__(self) -> _T_co: ...

    def close(self) -> None: ...


# -- domains and buckets ------------------------------------------------------


class DomainRow(NamedTuple):
    domain_id: bytes
    kind: str
    record: bytes


class BucketRow(NamedTuple):
    name: str
    region: str
    owner: str
    created: int  # ns
    versioning: str
    mfa_delete: int
    encryption: str
    kms_key_id: str | None


class BucketConfigRow(NamedTuple):
    """``BucketRow``'s columns, then the msgpack ``config``."""

    name: str
    region: str
    owner: str
    created: int
    versioning: str
    mfa_delete: int
    encryption: str
    kms_key_id: str | None
    config: bytes | None


class BucketAccessRow(NamedTuple):
    """What one access decision reads of a bucket."""

    owner: str
    config: bytes | None


# -- versions -------------------------------------------------------------------


class VersionRow(NamedTuple):
    """A ``versions`` row but ``base_seq`` (``queries.VERSION_COLUMNS``). Listings
    read ``manifest`` and ``headers`` as None (they never need them)."""

    seq: int
    bucket: str
    key: bytes  # UTF-8
    version_id: str
    delete_marker: int
    size: int
    etag: str
    created: int  # ns
    content_type: str
    user_meta: bytes | None
    sys_meta: bytes | None
    sse: str
    kms_key_id: str | None
    domain_id: bytes | None
    manifest: bytes | None
    headers: bytes | None
    tags: bytes | None
    lock_mode: str | None
    lock_until: int | None  # ns
    legal_hold: int


# What a directory listing of the mount reads of each live key: plain tuples
# of these columns, not a NamedTuple. list_directory unpacks each row at once,
# in a loop over every key of a directory, where making a NamedTuple per row
# cost 6% of its CPU time (50,000 keys: 142 ms against 134 ms).
DIR_FIELDS = (
    "key",
    "version_id",
    "seq",
    "size",
    "etag",
    "created",
    "content_type",
    "sys_meta",
    "sse",
    "kms_key_id",
    "user_meta",
)
DirTuple: TypeAlias = tuple[
    bytes, str, int, int, str, int, str, bytes | None, str, str | None, bytes | None
]


class ManifestRow(NamedTuple):
    """A version with data, as fsck counts its references (only a delete
    marker has no domain)."""

    bucket: str
    key: bytes
    version_id: str
    domain_id: bytes
    manifest: bytes | None
    seq: int


class ChangeRow(NamedTuple):
    seq: int
    bucket: str  # '' for a store-wide change
    key: bytes  # b'' for a bucket-level change


# -- multipart ------------------------------------------------------------------


class UploadRow(NamedTuple):
    upload_id: str
    bucket: str
    key: bytes
    created: int
    content_type: str
    user_meta: bytes | None
    sys_meta: bytes | None
    sse: str
    kms_key_id: str | None
    domain_id: bytes | None
    headers: bytes | None


class PartRow(NamedTuple):
    part_number: int
    etag: str
    size: int
    created: int
    manifest: bytes
    checksum: str | None


class OldPartRow(NamedTuple):
    """What replacing a part gives back of the part it replaced."""

    manifest: bytes


class PartManifestRow(NamedTuple):
    """A part, as fsck counts its references (an upload always has a domain)."""

    bucket: str
    key: bytes
    upload_id: str
    domain_id: bytes
    manifest: bytes
    part_number: int


# -- writer leases ----------------------------------------------------------------


class LeaseRow(NamedTuple):
    lease_id: str
    holder: str
    since: int  # ns
    expires: int  # ns


# -- access control (auth_queries) ------------------------------------------------


class UserRow(NamedTuple):
    name: str
    canonical_id: str
    display_name: str
    created: int


class AccessKeyRow(NamedTuple):
    key_id: str
    user_name: str
    secret: bytes  # sealed under the master key
    status: str
    created: int


class ObjectAclRow(NamedTuple):
    owner: str
    acl: bytes | None


class MfaDeviceRow(NamedTuple):
    serial: str
    principal: str
    secret: bytes  # sealed under the master key
    last_step: int
    created: int


# -- the local KMS (kms_queries) --------------------------------------------------


class KmsKeyRow(NamedTuple):
    key_id: str
    description: str
    owner: str
    state: str
    created: int
    deletion: int | None
    current_version: int


class MaterialRow(NamedTuple):
    seal_id: bytes
    record: bytes


class AuditRow(NamedTuple):
    seq: int
    time: int
    principal: str
    interface: str
    operation: str
    key_id: str | None
    bucket: str | None
    key: str | None  # the object key as text (the column is a BLOB)
    version: int | None
    error: str | None


# -- server access logging (log_queries) ------------------------------------------


class BacklogRow(NamedTuple):
    target_bucket: str
    target_prefix: str
    records: int
    oldest: int  # created ns of the oldest record


class PendingRow(NamedTuple):
    id: int
    line: str
