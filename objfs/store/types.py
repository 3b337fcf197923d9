"""Records the store API takes and returns.

All are frozen slotted dataclasses: values, not handles. Adapters (CLI,
mount, HTTP) read them; only ``objfs/store`` creates them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import msgpack

from objfs.auth.identity import OWNER_NAME, Identity


class Versioning(enum.StrEnum):
    UNVERSIONED = "Unversioned"
    ENABLED = "Enabled"
    SUSPENDED = "Suspended"


NULL_VERSION = "null"


# Who makes a request is objfs.auth's record; the store re-exports it so
# adapters import one name.
OWNER_IDENTITY = Identity.owner(canonical_id="", display_name=OWNER_NAME)
ANONYMOUS_IDENTITY = Identity.anonymous()


@dataclass(slots=True, frozen=True)
class RequestContext:
    """Who asks, through what, with which per-call options. Every store call takes one.

    ``identity`` is required: there is no default principal. Adapters build it
    from their credentials (the CLI from ``--profile``/access keys, or the
    owner without credentials; the mount per request from the caller's
    uid/gid and its ``profile=``/``user_map=``; the HTTP API from SigV4).
    ``interface`` is ``"cli"``, ``"mount"`` or ``"api"``; ``remote_addr``,
    ``secure_transport``, ``mfa`` (``"SERIAL CODE"``), ``user_agent`` and
    ``access_key`` (the key a request was signed with) feed the policy
    condition keys and the access log; a request with an ``access_key`` is
    refused unless that key is still active (``AccessControl.check_key``).

    Per-call options: ``durable``: when True the call fsyncs chunks and the
    commit before it returns (CLI/API puts, fsync on the mount); when False
    it is committed but may sit in the OS page cache (close on the mount).
    ``log``: when False the call is not recorded in the bucket's server
    access log because it continues a request already recorded (the mount's
    second and later ``read_range`` of one open file, the later pages of one
    listing) or is the adapter's own probe (the mount's lookups, its start-up
    bucket check); it is still checked, and a refusal is still recorded
    (every denial is in the log). ``nowait``: the caller (the mount's event
    loop thread) would rather be refused than wait: the call raises
    ``WouldBlock`` before it changes anything when it would wait for another
    writer's lock, for an fsync, or for a second write (its access-log
    record); the caller then asks again, waiting, in a worker thread.
    ``with_options(durable=..., log=..., nowait=...)`` derives a context for
    one call.

    ``request_id`` and ``request_uri`` are what the HTTP API knows of its
    request (the access log shows them); elsewhere they stay None (the log
    makes up a request id and writes ``-``). So are ``auth_type``
    (``"AuthHeader"``, ``"QueryString"`` for a pre-signed URL, None when
    unsigned), ``signature_version`` (``"SigV4"``, ``"SigV2"``, None when
    unsigned), ``host_header``, and ``tls_version``/``cipher_suite`` (None
    over plain HTTP): the access log's fields of the same names.
    """

    identity: Identity
    interface: str
    remote_addr: str | None = None
    mfa: str | None = None
    secure_transport: bool = True
    user_agent: str | None = None
    access_key: str | None = None
    durable: bool = True
    log: bool = True
    nowait: bool = False
    request_id: str | None = None
    request_uri: str | None = None
    auth_type: str | None = None
    signature_version: str | None = None
    host_header: str | None = None
    tls_version: str | None = None
    cipher_suite: str | None = None
    # (bucket, canonical id) pairs: the request expects that bucket to be owned
    # by that id (S3's x-amz-expected-bucket-owner); otherwise AccessDenied.
    expected_owners: tuple[tuple[str, str], ...] = ()

    @property
    def principal(self) -> str:
        return self.identity.name

    def with_options(
        self, *, durable: bool | None = None, log: bool | None = None, nowait: bool | None = None
    ) -> RequestContext:
        return replace(
            self,
            durable=self.durable if durable is None else durable,
            log=self.log if log is None else log,
            nowait=self.nowait if nowait is None else nowait,
        )


# The store owner through the CLI, for tools, tests and the CLI without
# credentials. Never a default: callers pass it explicitly.
OWNER = RequestContext(OWNER_IDENTITY, "cli")


@dataclass(slots=True, frozen=True)
class SystemMeta:
    """POSIX attributes kept beside an object (x-amz-meta-mode/uid/gid/mtime/...).

    ``None`` means "not set": the mount applies its defaults. Times are
    nanoseconds since the epoch (any int: before 1970 is negative, past 2038
    is fine). ``mode`` carries the file-type bits too: a FIFO, socket or
    device is a zero-byte object whose mode says ``S_IFIFO``/``S_IFSOCK``/
    ``S_IFCHR``/``S_IFBLK`` and (devices) whose ``rdev`` names the device.
    Records written before atime/ctime existed read them as None; readers
    take ``times()``, which falls back to mtime (atime = ctime = mtime).
    The S3 names and text forms are in ``objfs.store.sysmeta``.
    """

    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    mtime_ns: int | None = None
    symlink: str | None = None
    atime_ns: int | None = None
    ctime_ns: int | None = None
    rdev: int | None = None

    def replace(self, **changes: object) -> SystemMeta:
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return SystemMeta(**values)

    def times(self, fallback_ns: int) -> tuple[int, int, int]:
        """(atime, mtime, ctime): unset mtime is ``fallback_ns``, unset atime/ctime mtime."""
        mtime = self.mtime_ns if self.mtime_ns is not None else fallback_ns
        atime = self.atime_ns if self.atime_ns is not None else mtime
        ctime = self.ctime_ns if self.ctime_ns is not None else mtime
        return atime, mtime, ctime


@dataclass(slots=True, frozen=True)
class TimesUpdate:
    """New times for the latest version of ``key`` (None: keep the stored one)."""

    key: str
    atime_ns: int | None = None
    mtime_ns: int | None = None
    ctime_ns: int | None = None


@dataclass(slots=True, frozen=True)
class DirStats:
    """What a directory listing says about a prefix, for ``stat`` of a directory.

    ``subdirs``: common prefixes directly below (POSIX link count is 2 + this);
    ``newest_ns``: the newest last-modified time of a key directly below
    (None when there is none).
    """

    subdirs: int
    newest_ns: int | None


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
class ObjectHeaders:
    """S3's standard object headers, stored as given on PUT, copy or
    CreateMultipartUpload and returned on GET/HEAD (None: not set)."""

    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    expires: str | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, name) is not None for name in self.__slots__)


@dataclass(slots=True, frozen=True)
class Checksum:
    """An object's (or a part's) additional checksum, as S3 keeps it.

    ``algorithm``: CRC32, CRC32C, CRC64NVME, SHA1 or SHA256; ``value``: the
    base64 digest (a composite one ends ``-N``, N parts); ``type``:
    FULL_OBJECT or COMPOSITE."""

    algorithm: str
    value: str | None = None
    type: str = "FULL_OBJECT"


@dataclass(slots=True, frozen=True)
class ObjectLockState:
    """A version's Object Lock state (store format 6).

    ``mode``: GOVERNANCE or COMPLIANCE retention (None: no retention);
    ``until_ns``: its retain-until date, ns since the epoch; ``legal_hold``:
    a legal hold is ON."""

    mode: str | None = None
    until_ns: int | None = None
    legal_hold: bool = False

    def __bool__(self) -> bool:
        return self.mode is not None or self.legal_hold

    def holds(self, now_ns: int) -> bool:
        """The version may not be deleted at ``now_ns``: a legal hold, or a
        retention whose date has not passed (GOVERNANCE included: whether a
        caller may bypass it is the store's decision, not this record's)."""
        return self.legal_hold or (
            self.mode is not None and self.until_ns is not None and self.until_ns > now_ns
        )


NO_LOCK = ObjectLockState()


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
    headers: ObjectHeaders = field(default_factory=ObjectHeaders)
    checksum: Checksum | None = None
    # a completed multipart upload's part sizes and checksums (GET ?partNumber=N)
    parts: tuple[int, ...] = ()
    part_checksums: tuple[str | None, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)  # the version's tag set
    lock: ObjectLockState = NO_LOCK


@dataclass(slots=True, frozen=True)
class PutResult:
    version_id: str
    etag: str
    size: int
    seq: int = 0  # the new version's place in creation order
    last_modified_ns: int = 0
    # The encryption the store applied (the request's, else the bucket's
    # default): "none", "AES256", "aws:kms", "SSE-C"; the KMS key for aws:kms.
    sse: str = "none"
    kms_key_id: str | None = None
    checksum: Checksum | None = None  # the version's additional checksum, if any
    lock: ObjectLockState = NO_LOCK  # the Object Lock the new version got

    @classmethod
    def of(cls, version: ObjectVersion) -> PutResult:
        """What a write answers once it made ``version``."""
        return cls(
            version.version_id,
            version.etag,
            version.size,
            seq=version.seq,
            last_modified_ns=version.last_modified_ns,
            sse=version.sse,
            kms_key_id=version.kms_key_id,
            checksum=version.checksum,
            lock=version.lock,
        )


@dataclass(slots=True, frozen=True)
class Moved:
    """What ``rename``/``rename_prefix`` did: the keys moved, and the change
    seqs its one transaction wrote (``first_seq`` to ``last_seq``, inclusive;
    none when ``first_seq > last_seq``): a mount skips exactly those changes
    as its own."""

    count: int
    first_seq: int
    last_seq: int


@dataclass(slots=True, frozen=True)
class DeleteResult:
    key: str
    version_id: str | None
    delete_marker: bool


@dataclass(slots=True, frozen=True)
class ListResult:
    """ListObjectsV2 page. ``contents`` are latest, non-deleted versions.

    ``owners``: (key, version id) -> owner of each listed version, filled
    only when asked (``fetch_owner=True``)."""

    contents: list[ObjectVersion]
    common_prefixes: list[str]
    is_truncated: bool
    next_continuation_token: str | None
    key_count: int
    owners: dict[tuple[str, str], Owner] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Owner:
    """Who owns an object version, as listings show it: canonical id and display name."""

    id: str
    display_name: str


class ListedFile(NamedTuple):
    """A key of ``Store.list_directory``: its latest, live version, compact.

    The one record here that is a tuple, not a dataclass: a directory of
    100,000 keys is listed as 100,000 of these, so each must cost as little
    to build and to hold as can be. ``version()`` makes the full
    ``ObjectVersion`` when one is needed; ``user_meta`` is decoded on access.
    """

    bucket: str
    key: str
    version_id: str
    seq: int
    size: int
    etag: str
    last_modified_ns: int
    content_type: str
    sys_meta: SystemMeta
    sse: str
    kms_key_id: str | None
    user_meta_blob: bytes | None

    @property
    def user_meta(self) -> dict[str, str]:
        # The blob as records.pack_user_meta wrote it (records imports this module).
        return dict(msgpack.unpackb(self.user_meta_blob, raw=False)) if self.user_meta_blob else {}

    def version(self) -> ObjectVersion:
        return ObjectVersion(
            bucket=self.bucket,
            key=self.key,
            version_id=self.version_id,
            is_latest=True,
            is_delete_marker=False,
            size=self.size,
            etag=self.etag,
            last_modified_ns=self.last_modified_ns,
            content_type=self.content_type,
            user_meta=self.user_meta,
            sys_meta=self.sys_meta,
            sse=self.sse,
            kms_key_id=self.kms_key_id,
            seq=self.seq,
        )


@dataclass(slots=True, frozen=True)
class DirectoryListing:
    """``Store.list_directory``: what is directly under a prefix, in key order.

    ``entries``: ``ListedFile`` for each key, ``str`` (ending in the
    delimiter) for each common prefix, merged in byte order of the key or
    prefix; ``subdirs``: how many common prefixes; ``newest_ns``: the newest
    last-modified time of a listed key other than the prefix itself (a
    directory marker), None when there is none: what ``dir_stats`` says.
    """

    entries: list[ListedFile | str]
    subdirs: int
    newest_ns: int | None


@dataclass(slots=True, frozen=True)
class VersionListResult:
    """ListObjectVersions page: versions and delete markers, newest first per key."""

    versions: list[ObjectVersion]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None
    owners: dict[tuple[str, str], Owner] = field(default_factory=dict)  # as ListResult's


@dataclass(slots=True, frozen=True)
class PartInfo:
    part_number: int
    etag: str
    size: int
    last_modified_ns: int
    sse: str = "none"  # the upload's encryption, as PutResult.sse
    kms_key_id: str | None = None
    checksum: Checksum | None = None  # in the upload's checksum algorithm and type


class PartList(list[PartInfo]):
    """An upload's parts (S3's ListParts), with who started it and who will own
    its object (``(canonical id, display name)`` each, or None when unknown):
    the owner differs from the initiator when the bucket's Object Ownership
    gives the object to the bucket owner."""

    initiator: tuple[str | None, str | None] | None = None
    owner: tuple[str | None, str | None] | None = None


@dataclass(slots=True, frozen=True)
class UploadInfo:
    bucket: str
    key: str
    upload_id: str
    initiated_ns: int
    initiator_id: str | None = None  # canonical id of who created it
    initiator_name: str | None = None  # and their display name


@dataclass(slots=True, frozen=True)
class UploadListResult:
    """ListMultipartUploads page: uploads by key, then initiation, and rolled-up prefixes.

    ``next_key_marker``/``next_upload_id_marker`` continue a truncated page
    (the key marker may be a common prefix: the next page starts past it)."""

    uploads: list[UploadInfo]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None
    next_upload_id_marker: str | None


@dataclass(slots=True, frozen=True)
class Change:
    """One entry of the store's change sequence (what the mount polls)."""

    seq: int
    bucket: str
    key: str


class ChangeFeedGap(Exception):
    """``changes_since`` was asked from a seq whose successors ``gc`` already
    forgot: the reader missed changes and must treat everything as changed,
    then read on from ``seq`` (the newest change)."""

    def __init__(self, seq: int, pruned_through: int) -> None:
        super().__init__(
            f"changes up to {pruned_through} were pruned; the feed resumes after {seq}"
        )
        self.seq = seq
        self.pruned_through = pruned_through


@dataclass(slots=True, frozen=True)
class SSERequest:
    """Encryption asked for by a request.

    ``mode``: None (bucket default), "none", "AES256", "aws:kms", "SSE-C".
    ``customer_key``: the 32-byte SSE-C key, never stored.
    ``customer_algorithm``: the SSE-C algorithm as the request named it.
    A mode or algorithm S3 does not know is passed on as sent: the request
    is authorized first (a policy may deny on the value), then refused
    with InvalidArgument.
    """

    mode: str | None = None
    kms_key_id: str | None = None
    customer_key: bytes | None = None
    customer_algorithm: str | None = None


@dataclass(slots=True, frozen=True)
class UserInfo:
    name: str
    canonical_id: str
    display_name: str
    created_ns: int


@dataclass(slots=True, frozen=True)
class AccessKeyInfo:
    key_id: str
    user: str
    status: str  # "Active" or "Inactive"
    created_ns: int


@dataclass(slots=True, frozen=True)
class NewAccessKey:
    """A key just created: the only time its secret is returned."""

    info: AccessKeyInfo
    secret: str = field(repr=False)


@dataclass(slots=True, frozen=True)
class MFADeviceInfo:
    """A registered TOTP device; ``last_used_ns`` is the start of its last accepted step."""

    serial: str
    principal: str
    created_ns: int
    last_used_ns: int | None


@dataclass(slots=True, frozen=True)
class NewMFADevice:
    """A device just registered: the only time its secret is returned.

    Unpacks as ``serial, secret, otpauth_uri = store.mfa_enable(ctx)``.
    """

    serial: str
    secret: str = field(repr=False)
    otpauth_uri: str = field(repr=False)

    def __iter__(self) -> Iterator[str]:
        return iter((self.serial, self.secret, self.otpauth_uri))
