"""Server access log records: S3's line format, and the S3 operation of each call.

Owns ``LogRecord`` (one request), ``format_line``/``parse_line`` (S3's
server-access-log line: space-separated fields, ``[time]`` in brackets,
request URI, referer and user agent in double quotes, ``-`` for "none"), the
object names logs are delivered under (``PREFIXYYYY-mm-DD-HH-MM-SS-UNIQUE``)
and ``OPERATIONS``, the table naming the S3 operation of every public store
method (``put_object`` -> ``REST.PUT.OBJECT``).

Invariants: ``parse_line(format_line(r)) == r`` for every record, whatever
its strings hold; a line never holds a control character (C0, DEL, C1) nor
any other character ``str.splitlines`` breaks at, so no field can add a
line. Keys are URL-encoded as S3 writes them; other bare fields
percent-encode whitespace, controls, ``"`` and ``%``; quoted fields escape
``\\`` and ``"`` with a backslash and controls as ``\\xHH`` (``\\uHHHH``
for U+2028/9). Lines are read back field by field, each as it is written.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, TypedDict
from urllib.parse import quote, unquote

from objfs.errors import InvalidArgument

TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
NAME_TIME_FORMAT = "%Y-%m-%d-%H-%M-%S"
_NAME_TAIL = re.compile(r"(\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})-([0-9A-F]{16})$")


@dataclass(slots=True, frozen=True)
class LogRecord:
    """One request as the access log shows it (S3's fields, in S3's order).

    ``None`` is written ``-``. Times are milliseconds.
    """

    bucket_owner: str
    bucket: str
    time: datetime
    remote_ip: str | None
    requester: str | None  # canonical id; None: anonymous
    request_id: str
    operation: str
    key: str | None
    request_uri: str | None
    http_status: int | None  # None: "-" (a lifecycle action has none)
    error_code: str | None
    bytes_sent: int | None
    object_size: int | None
    total_time_ms: int | None
    turn_around_ms: int | None
    referer: str | None
    user_agent: str | None
    version_id: str | None
    host_id: str | None
    signature_version: str | None
    cipher_suite: str | None
    auth_type: str | None
    host_header: str | None
    tls_version: str | None
    access_point_arn: str | None = None
    acl_required: str | None = None

    def to_obj(self) -> dict[str, Any]:
        """A JSON-ready dict (``--json``): the field names, time in ISO 8601."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["time"] = self.time.isoformat()
        return out


# Fields written inside double quotes, and the one inside brackets.
_QUOTED = {"request_uri", "referer", "user_agent"}
_INT_FIELDS = {
    "http_status",
    "bytes_sent",
    "object_size",
    "total_time_ms",
    "turn_around_ms",
}
FIELD_NAMES = tuple(f.name for f in fields(LogRecord))


# What never appears raw in a line: C0 and C1 controls, DEL, and every other
# character ``str.splitlines`` breaks on; a reader splitting on any of them
# would see a forged record.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _quote(value: str | None) -> str:
    """A quoted field: backslash escapes for ``\\``, ``"`` and controls (``\\xHH``)."""
    if value is None:
        return '"-"'
    if value == "-":
        return '"\\-"'  # a real "-", not "none"
    text = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _UNSAFE.sub(_escape_char, text) + '"'


_QUOTED_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)")


def _unquote_field(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        esc = match.group(1)
        return chr(int(esc[1:], 16)) if len(esc) > 1 else esc

    return _QUOTED_ESCAPE.sub(one, text)


def _key(value: str | None) -> str:
    if value is None:
        return "-"
    return "%2D" if value == "-" else quote(value, safe="/")


# A bare field is one token: whitespace, controls, quotes and ``%`` itself
# are percent-encoded (UTF-8), as S3 encodes a key.
_BARE_UNSAFE = re.compile(r'[\s%"\x00-\x1f\x7f-\x9f\u2028\u2029]')


def _bare(value: object) -> str:
    if value is None:
        return "-"
    text = str(value)
    if text == "-":
        return "%2D"  # a real "-", not "none"
    return _BARE_UNSAFE.sub(lambda m: quote(m.group(), safe=""), text) if text else "-"


def format_line(record: LogRecord) -> str:
    """The record as one line of S3's server access log (no newline)."""
    parts: list[str] = []
    for name in FIELD_NAMES:
        value = getattr(record, name)
        if name == "time":
            parts.append("[" + value.astimezone(UTC).strftime(TIME_FORMAT) + "]")
        elif name == "key":
            parts.append(_key(value))
        elif name in _QUOTED:
            parts.append(_quote(value))
        elif name == "bytes_sent" and not value:
            parts.append("-")  # S3 writes "-" for zero bytes sent
        else:
            parts.append(_bare(value))
    return " ".join(parts)


_BRACKETED = re.compile(r"\[([^\]]*)\]")
_QUOTED_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"')
_BARE_TOKEN = re.compile(r"\S+")


def _tokens(line: str) -> list[str | None]:
    """The line's fields in order (None: ``-``), each read as its field is written.

    Positional, not by the look of a token: a bare field may start with ``[``
    (an IPv6 Host header) or hold a ``"`` without being taken for another kind.
    """
    tokens: list[str | None] = []  # None: "-", no value
    pos, end = 0, len(line)
    for name in FIELD_NAMES:
        while pos < end and line[pos].isspace():
            pos += 1
        if pos >= end:
            break
        if name == "time":
            match = _BRACKETED.match(line, pos)
        elif name in _QUOTED:
            match = _QUOTED_TOKEN.match(line, pos)
        else:
            match = None
        if match is None:  # a bare field (or a malformed one: read it as bare)
            match = _BARE_TOKEN.match(line, pos)
            if match is None:  # cannot happen: pos is at a non-space character
                break
            text = match.group()
            tokens.append(None if text == "-" else unquote(text))
        elif name in _QUOTED:
            text = match.group(1)
            tokens.append(None if text == "-" else _unquote_field(text))
        else:
            tokens.append(match.group(1))
        pos = match.end()
    return tokens


def parse_line(line: str) -> LogRecord:
    """A record back from its line; ``InvalidArgument`` for a line that is not one."""
    tokens = _tokens(line.strip())
    if len(tokens) < 24:
        raise InvalidArgument(
            f"not a server access log line ({len(tokens)} fields, at least 24 expected): "
            f"{line[:80]!r}"
        )
    values: dict[str, Any] = {}
    for name, text in zip(FIELD_NAMES, tokens, strict=False):
        try:
            if text is None:
                values[name] = None
            elif name == "time":
                values[name] = datetime.strptime(text, TIME_FORMAT)
            elif name in _INT_FIELDS:
                values[name] = int(text)
            else:
                values[name] = text
        except ValueError:
            raise InvalidArgument(f"bad {name} field {text!r} in log line {line[:80]!r}") from None
    if values["time"] is None:
        raise InvalidArgument(f"no time in log line {line[:80]!r}")
    values.setdefault("access_point_arn", None)
    values.setdefault("acl_required", None)
    if values["bytes_sent"] is None:
        values["bytes_sent"] = 0
    return LogRecord(**values)


def parse_lines(text: str) -> list[LogRecord]:
    # Lines end at "\n" only: ``str.splitlines`` would also split at \x1c,
    # \x85 or \u2028, which a field may hold (escaped, but a reader of old
    # logs may meet them raw).
    return [parse_line(line) for line in text.split("\n") if line.strip()]


# -- names of delivered log objects -------------------------------------------------


def log_object_key(prefix: str, when: datetime) -> str:
    """``PREFIXYYYY-mm-DD-HH-MM-SS-UNIQUE`` (UNIQUE: 16 upper-case hex digits).

    A prefix holding ``DATE_AT_DELIVERY`` (a partitioned prefix dated by delivery
    time) has the ``YYYY/mm/DD/`` of ``when`` put in its place."""
    head, mark, tail = prefix.partition(DATE_AT_DELIVERY)
    if mark:
        prefix = head + partition_date(when) + tail
    stamp = when.astimezone(UTC).strftime(NAME_TIME_FORMAT)
    return f"{prefix}{stamp}-{secrets.token_hex(8).upper()}"


# S3's partitioned log object names: PREFIX ACCOUNT/REGION/BUCKET/YYYY/mm/DD/ NAME.
DATE_AT_DELIVERY = "\x00date\x00"  # in a pending record's prefix: filled at delivery
_PARTITION = re.compile(r"(?:[^/]+/[^/]+/[^/]+/\d{4}/\d{2}/\d{2}/)?")


def partition_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y/%m/%d/")


def log_object_name(key: str, prefix: str) -> str | None:
    """``YYYY-mm-DD-HH-MM-SS-UNIQUE`` of a log object under ``prefix`` (simple or
    partitioned), or None for a key that is not one."""
    if not key.startswith(prefix):
        return None
    tail = key[len(prefix) :]
    part = _PARTITION.match(tail)
    name = tail[part.end() if part else 0 :]
    return name if _NAME_TAIL.fullmatch(name) is not None else None


def is_log_object_key(key: str, prefix: str) -> bool:
    return log_object_name(key, prefix) is not None


def new_request_id() -> str:
    return secrets.token_hex(8).upper()


# -- the S3 operation of each public store method ---------------------------------------


@dataclass(slots=True, frozen=True)
class Op:
    """The access-log operation of a call, and where its bucket and key come from.

    ``failures_only``: a call that opens what another call completes (the
    mount's ``open_writer`` before its commit) is recorded only when refused
    or failed; on success the completing call is the request.

    ``items``: the call works on a batch (DeleteObjects): one record per
    item, each with the item's own outcome (S3's ``BATCH.DELETE.OBJECT``).
    """

    operation: str
    bucket: str | None = "bucket"
    key: str | None = "key"
    version: str | None = "version_id"
    failures_only: bool = False
    items: str | None = None  # argument of (key, version) pairs: one record per item


def _ops(*ops: Op) -> tuple[Op, ...]:
    return ops


class _Where(TypedDict, total=False):
    """Where an ``Op``'s bucket, key and version come from (``**`` into ``Op``)."""

    bucket: str | None
    key: str | None
    version: str | None


BUCKET: _Where = {"bucket": "name", "key": None, "version": None}
BKT: _Where = {"key": None, "version": None}

# Written once as data; methods missing here get an operation derived from
# their first declared action (``operation_for_action``).
OPERATIONS: Mapping[str, tuple[Op, ...]] = {
    # buckets
    "create_bucket": _ops(Op("REST.PUT.BUCKET", **BUCKET)),
    "list_buckets": _ops(Op("REST.GET.SERVICE", bucket=None, key=None, version=None)),
    "head_bucket": _ops(Op("REST.HEAD.BUCKET", **BUCKET)),
    "delete_bucket": _ops(Op("REST.DELETE.BUCKET", **BUCKET)),
    "set_bucket_versioning": _ops(Op("REST.PUT.VERSIONING", **BUCKET)),
    "set_bucket_encryption": _ops(Op("REST.PUT.ENCRYPTION", **BUCKET)),
    "put_bucket_policy": _ops(Op("REST.PUT.BUCKETPOLICY", **BKT)),
    "get_bucket_policy": _ops(Op("REST.GET.BUCKETPOLICY", **BKT)),
    "delete_bucket_policy": _ops(Op("REST.DELETE.BUCKETPOLICY", **BKT)),
    "get_bucket_policy_status": _ops(Op("REST.GET.POLICYSTATUS", **BKT)),
    "put_public_access_block": _ops(Op("REST.PUT.PUBLIC_ACCESS_BLOCK", **BKT)),
    "get_public_access_block": _ops(Op("REST.GET.PUBLIC_ACCESS_BLOCK", **BKT)),
    "delete_public_access_block": _ops(Op("REST.DELETE.PUBLIC_ACCESS_BLOCK", **BKT)),
    "put_bucket_ownership_controls": _ops(Op("REST.PUT.OWNERSHIP_CONTROLS", **BKT)),
    "get_bucket_ownership_controls": _ops(Op("REST.GET.OWNERSHIP_CONTROLS", **BKT)),
    "delete_bucket_ownership_controls": _ops(Op("REST.DELETE.OWNERSHIP_CONTROLS", **BKT)),
    "put_bucket_acl": _ops(Op("REST.PUT.ACL", **BKT)),
    "get_bucket_acl": _ops(Op("REST.GET.ACL", **BKT)),
    "put_bucket_logging": _ops(Op("REST.PUT.LOGGING_STATUS", **BKT)),
    "get_bucket_logging": _ops(Op("REST.GET.LOGGING_STATUS", **BKT)),
    "delete_bucket_logging": _ops(Op("REST.PUT.LOGGING_STATUS", **BKT)),
    "put_bucket_tagging": _ops(Op("REST.PUT.BUCKETTAGGING", **BKT)),
    "get_bucket_tagging": _ops(Op("REST.GET.BUCKETTAGGING", **BKT)),
    "delete_bucket_tagging": _ops(Op("REST.DELETE.BUCKETTAGGING", **BKT)),
    "put_object_tagging": _ops(Op("REST.PUT.OBJECT_TAGGING")),
    "get_object_tagging": _ops(Op("REST.GET.OBJECT_TAGGING")),
    "delete_object_tagging": _ops(Op("REST.DELETE.OBJECT_TAGGING")),
    "put_bucket_lifecycle": _ops(Op("REST.PUT.LIFECYCLE", **BKT)),
    "get_bucket_lifecycle": _ops(Op("REST.GET.LIFECYCLE", **BKT)),
    "delete_bucket_lifecycle": _ops(Op("REST.DELETE.LIFECYCLE", **BKT)),
    # listings
    "list_objects": _ops(Op("REST.GET.BUCKET", **BKT)),
    "iter_objects": _ops(Op("REST.GET.BUCKET", **BKT)),
    "list_directory": _ops(Op("REST.GET.BUCKET", **BKT)),
    "prefix_exists": _ops(Op("REST.GET.BUCKET", **BKT)),
    "list_object_versions": _ops(Op("REST.GET.BUCKETVERSIONS", **BKT)),
    "key_versions": _ops(Op("REST.GET.BUCKETVERSIONS", version=None)),
    "list_multipart_uploads": _ops(Op("REST.GET.UPLOADS", **BKT)),
    # objects
    "head_object": _ops(Op("REST.HEAD.OBJECT")),
    "get_object": _ops(Op("REST.GET.OBJECT")),
    "read_range": _ops(Op("REST.GET.OBJECT")),
    "put_object": _ops(Op("REST.PUT.OBJECT", version=None)),
    "post_object": _ops(Op("REST.POST.OBJECT", version=None)),  # a browser form upload
    "copy_object": _ops(
        Op("REST.COPY.OBJECT", bucket="dst_bucket", key="dst_key", version=None),
        Op("REST.COPY.OBJECT_GET", bucket="src_bucket", key="src_key", version="src_version_id"),
    ),
    "delete_object": _ops(Op("REST.DELETE.OBJECT")),
    # S3 logs the request, then one BATCH.DELETE.OBJECT per key it names
    "delete_objects": _ops(
        Op("REST.POST.MULTI_OBJECT_DELETE", **BKT),
        Op("BATCH.DELETE.OBJECT", key=None, version=None, items="items"),
    ),
    "update_sys_meta": _ops(Op("REST.PUT.OBJECT_METADATA")),
    "update_user_meta": _ops(Op("REST.PUT.OBJECT_METADATA", version=None)),
    "put_object_acl": _ops(Op("REST.PUT.ACL")),
    "get_object_acl": _ops(Op("REST.GET.ACL")),
    # the mount: a write is opened, then committed (the commit is the PUT)
    "open_writer": _ops(Op("REST.PUT.OBJECT", version=None, failures_only=True)),
    # the mount's probe before a file is created or opened for writing: its
    # refusal is the PUT that was refused (on success the commit is the PUT)
    "check_access": _ops(Op("REST.PUT.OBJECT", version=None, failures_only=True)),
    "commit_manifest": _ops(Op("REST.PUT.OBJECT", version=None)),
    "rename": _ops(Op("REST.PUT.RENAME_OBJECT", key="dst_key", version=None)),
    "rename_prefix": _ops(Op("REST.PUT.RENAME_PREFIX", key="dst_prefix", version=None)),
    # multipart
    "create_multipart_upload": _ops(Op("REST.POST.UPLOADS", version=None)),
    "upload_part": _ops(Op("REST.PUT.PART", version=None)),
    "complete_multipart_upload": _ops(Op("REST.POST.UPLOAD", version=None)),
    "abort_multipart_upload": _ops(Op("REST.DELETE.UPLOAD", version=None)),
    "list_parts": _ops(Op("REST.GET.UPLOAD", version=None)),
}

_VERBS = (("Get", "GET"), ("List", "GET"), ("Head", "HEAD"), ("Put", "PUT"), ("Delete", "DELETE"))


def operation_for_action(action: str) -> str:
    """``s3:GetBucketTagging`` -> ``REST.GET.BUCKETTAGGING`` (methods not in the table)."""
    name = action.split(":", 1)[-1]
    for word, verb in _VERBS:
        if name.startswith(word):
            return f"REST.{verb}.{name[len(word) :].upper() or 'OBJECT'}"
    return f"REST.POST.{name.upper()}"


def operations_of(method: str, needs: tuple[Any, ...]) -> tuple[Op, ...]:
    """The table's entry for ``method``, else one derived from its first action."""
    ops = OPERATIONS.get(method)
    if ops is not None:
        return ops
    for need in needs:
        if isinstance(need.action, str) and need.bucket is not None:
            return (Op(operation_for_action(need.action), need.bucket, need.key, need.version),)
    return ()


def success_status(operation: str) -> int:
    """HTTP status of a successful call: 204 for deletes, as S3 answers them,
    and for a form upload (POST Object's answer unless the form asks another)."""
    if operation == "REST.POST.OBJECT":
        return 204
    return 204 if operation.startswith(("REST.DELETE.", "BATCH.DELETE.")) else 200


def outcome_sizes(result: object) -> tuple[int | None, int | None, str | None]:
    """``(bytes sent, object size, version id)`` read off a call's result."""
    if isinstance(result, (bytes, bytearray, memoryview)):
        return len(result), None, None
    size = getattr(result, "size", None)
    version = getattr(result, "version_id", None)
    info = getattr(result, "info", None)  # an ObjectReader: it will send its range
    if info is not None and hasattr(result, "length"):
        return result.length, info.size, info.version_id
    return None, size if isinstance(size, int) else None, version
