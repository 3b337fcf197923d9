"""On-disk record formats of the store and their conversion to API records.

- Manifest: msgpack list of ``[chunk_id | None, length]`` pairs, in object
  order; ``None`` is a hole that reads as zeros and costs no chunk. Format 2
  adds ``[chunk_id, length, offset]``: bytes [offset, offset + length) of a
  chunk (the mount's in-place edits and UploadPartCopy ranges share chunks
  this way). Each entry names its chunk once; a part or a version without a
  base counts every entry, a version with one (store format 3) only those it
  adds to its base (objfs/store/refcount.py).
- System and user metadata: msgpack maps.
- Headers (store format 5): msgpack map of S3's standard object headers by
  their lowercase HTTP name (``cache-control`` ...), and under ``checksum``
  ``[algorithm, value, type]``; a completed upload's version also its
  ``upload_id`` and ``parts`` (``[size, checksum value | None]`` each), an
  upload its ``initiator`` (``[canonical id, display name]``); NULL when
  there is none of it.
- Version ids: 26 characters of lowercase base32hex of (ns timestamp, random),
  so they sort by creation time and reveal nothing else; "null" is S3's id of
  unversioned writes.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Sequence
from typing import Any, Final

import msgpack

from objfs.meta.rows import VersionRow
from objfs.store.types import (
    Checksum,
    ChunkRef,
    ObjectHeaders,
    ObjectLockState,
    ObjectVersion,
    SystemMeta,
)
from objfs.store.usermeta import check_user_meta

_last_ns = 0
_lock = threading.Lock()


def new_version_id() -> str:
    """A fresh, opaque version id that sorts by creation order."""
    global _last_ns
    with _lock:
        now = max(time.time_ns(), _last_ns + 1)
        _last_ns = now
    raw = now.to_bytes(8, "big") + os.urandom(8)
    return base64.b32hexencode(raw).decode().rstrip("=").lower()


def is_version_id(text: str) -> bool:
    """Whether ``text`` is shaped like an id ``new_version_id`` makes (or "null")."""
    if text == "null":
        return True
    if len(text) != 26:
        return False
    try:
        return len(base64.b32hexdecode(text.upper() + "======")) == 16
    except ValueError:  # binascii.Error is one
        return False


def new_upload_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(24)).decode().rstrip("=")


def pack_manifest(refs: Sequence[ChunkRef]) -> bytes:
    """[id, length] per whole chunk, [id, length, offset] per slice of one (format 2)."""
    return msgpack.packb(
        [
            [r.chunk_id, r.length] if r.offset is None else [r.chunk_id, r.length, r.offset]
            for r in refs
        ],
        use_bin_type=True,
    )


def unpack_manifest(blob: bytes | None) -> list[ChunkRef]:
    if not blob:
        return []
    return [ChunkRef(*entry) for entry in msgpack.unpackb(blob, raw=False)]


# Every SystemMeta field, by its msgpack name; a missing name reads as None
# (records from before atime_ns/ctime_ns/rdev existed stay readable).
_SYS_FIELDS = ("mode", "uid", "gid", "mtime_ns", "symlink", "atime_ns", "ctime_ns", "rdev")


_TIME_FIELDS = frozenset({"mtime_ns", "atime_ns", "ctime_ns"})
_INT64 = range(-(1 << 63), 1 << 63)


def _pack_time(ns: int) -> int | list[int]:
    """A time in nanoseconds: a msgpack int when it fits int64 (years 1678-2262),
    else ``[seconds, nanoseconds]`` so any 64-bit seconds value is kept."""
    if ns in _INT64:
        return ns
    return list(divmod(ns, 1_000_000_000))


def _unpack_time(value: Any) -> int | None:
    if isinstance(value, list):
        return int(value[0]) * 1_000_000_000 + int(value[1])
    return value


def pack_sys_meta(meta: SystemMeta | None) -> bytes | None:
    if meta is None:
        return None
    values: dict[str, Any] = {}
    for name in _SYS_FIELDS:
        value = getattr(meta, name)
        if value is not None:
            values[name] = _pack_time(value) if name in _TIME_FIELDS else value
    return msgpack.packb(values, use_bin_type=True) if values else None


_NO_SYS_META = SystemMeta()


def unpack_sys_meta(blob: bytes | None) -> SystemMeta:
    if not blob:
        return _NO_SYS_META
    values = msgpack.unpackb(blob, raw=False)
    fields: dict[str, Any] = {
        name: _unpack_time(values.get(name)) if name in _TIME_FIELDS else values.get(name)
        for name in _SYS_FIELDS
    }
    return SystemMeta(**fields)


def pack_user_meta(meta: dict[str, str] | None) -> bytes | None:
    check_user_meta(meta)  # every write of user metadata meets S3's 2 KB
    return msgpack.packb(dict(meta), use_bin_type=True) if meta else None


def unpack_user_meta(blob: bytes | None) -> dict[str, str]:
    return dict(msgpack.unpackb(blob, raw=False)) if blob else {}


# ObjectHeaders fields by their HTTP name (the msgpack key).
HEADER_FIELDS = {
    "cache-control": "cache_control",
    "content-disposition": "content_disposition",
    "content-encoding": "content_encoding",
    "content-language": "content_language",
    "expires": "expires",
}
_NO_HEADERS = ObjectHeaders()


def pack_headers(
    headers: ObjectHeaders | None,
    checksum: Checksum | None = None,
    extra: dict[str, Any] | None = None,
) -> bytes | None:
    """``extra``: more of the record (``upload_id`` and ``parts`` of a completed
    upload, ``initiator`` of an upload), read back by ``unpack_extra``."""
    values: dict[str, Any] = dict(extra or {})
    if headers is not None:
        for name, attr in HEADER_FIELDS.items():
            value = getattr(headers, attr)
            if value is not None:
                values[name] = value
    if checksum is not None:
        values["checksum"] = [checksum.algorithm, checksum.value, checksum.type]
    return msgpack.packb(values, use_bin_type=True) if values else None


def unpack_headers(blob: bytes | None) -> tuple[ObjectHeaders, Checksum | None]:
    if not blob:
        return _NO_HEADERS, None
    values = msgpack.unpackb(blob, raw=False)
    headers = ObjectHeaders(**{attr: values.get(name) for name, attr in HEADER_FIELDS.items()})
    checksum = values.get("checksum")
    return headers, Checksum(*checksum) if checksum else None


def unpack_extra(blob: bytes | None) -> dict[str, Any]:
    """The whole headers record, ``pack_headers``'s ``extra`` included."""
    return dict(msgpack.unpackb(blob, raw=False)) if blob else {}


def pack_tags(tags: dict[str, str] | None) -> bytes | None:
    """A version's tag set (format 6), None when it has none."""
    return msgpack.packb(dict(tags), use_bin_type=True) if tags else None


def unpack_tags(blob: bytes | None) -> dict[str, str]:
    return dict(msgpack.unpackb(blob, raw=False)) if blob else {}


def version_from_row(row: VersionRow | tuple[Any, ...], *, is_latest: bool) -> ObjectVersion:
    """Build an ObjectVersion from a ``queries.VERSION_COLUMNS`` row (a
    ``VersionRow``; plain tuples until every caller types its rows)."""
    (
        seq,
        bucket,
        key,
        version_id,
        dm,
        size,
        etag,
        created,
        ctype,
        umeta,
        smeta,
        sse,
        kms,
        _domain,
        _manifest,
        headers,
        tags,
        lock_mode,
        lock_until,
        legal_hold,
    ) = row
    std, checksum = unpack_headers(headers)
    parts = unpack_extra(headers).get("parts", ()) if headers else ()
    return ObjectVersion(
        bucket=bucket,
        key=key.decode("utf-8"),
        version_id=version_id,
        is_latest=is_latest,
        is_delete_marker=bool(dm),
        size=size,
        etag=etag,
        last_modified_ns=created,
        content_type=ctype,
        user_meta=unpack_user_meta(umeta),
        sys_meta=unpack_sys_meta(smeta),
        sse=sse,
        kms_key_id=kms,
        seq=seq,
        headers=std,
        checksum=checksum,
        parts=tuple(p[0] for p in parts),
        part_checksums=tuple(p[1] for p in parts),
        tags=unpack_tags(tags),
        lock=ObjectLockState(lock_mode, lock_until, bool(legal_hold)),
    )


class Col:
    """Indexes into a ``VersionRow`` (``queries.VERSION_COLUMNS``). Final, so
    the type checker reads ``row[Col.KEY]`` as the field's own type."""

    SEQ: Final = 0
    BUCKET: Final = 1
    KEY: Final = 2
    VERSION_ID: Final = 3
    DM: Final = 4
    SIZE: Final = 5
    ETAG: Final = 6
    CREATED: Final = 7
    CTYPE: Final = 8
    UMETA: Final = 9
    SMETA: Final = 10
    SSE: Final = 11
    KMS: Final = 12
    DOMAIN: Final = 13
    MANIFEST: Final = 14
    HEADERS: Final = 15
    TAGS: Final = 16
    LOCK_MODE: Final = 17
    LOCK_UNTIL: Final = 18
    LEGAL_HOLD: Final = 19
