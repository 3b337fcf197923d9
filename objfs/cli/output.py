"""Rendering for the CLI: table rows, JSON records, dates, sizes, progress.

Owns everything the CLI writes for people or scripts to read. Invariants:
listings go to stdout, progress and diagnostics to stderr; progress is drawn
only when stderr is a terminal and never in quiet mode; JSON output is one
document per command (a list for listings), with ISO-8601 UTC timestamps.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, BinaryIO

from objfs.crypto.cse import META_KEY as CSE_META
from objfs.store.records import HEADER_FIELDS
from objfs.store.sysmeta import file_type
from objfs.store.types import BucketInfo, ObjectVersion

# Transfers smaller than this finish too fast for a progress line to help.
PROGRESS_THRESHOLD = 8 << 20
_REDRAW_SECONDS = 0.2


def iso_time(ns: int) -> str:
    """Nanoseconds since the epoch -> ``2026-01-02T03:04:05.678Z`` (UTC)."""
    stamp = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def local_time(ns: int) -> str:
    """Nanoseconds since the epoch -> ``2026-01-02 03:04:05`` in local time (aws cli style)."""
    return datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def version_record(v: ObjectVersion) -> dict[str, Any]:
    """The JSON shape of one object version (also used for ``head --json``)."""
    record: dict[str, Any] = {
        "key": v.key,
        "size": v.size,
        "etag": v.etag,
        "last_modified": iso_time(v.last_modified_ns),
        "version_id": v.version_id,
        "is_latest": v.is_latest,
        "delete_marker": v.is_delete_marker,
    }
    if not v.is_delete_marker:
        record["type"] = file_type(v.sys_meta)  # file, symlink, fifo, socket, *-device
        record["content_type"] = v.content_type
        record["sse"] = v.sse
        record["kms_key_id"] = v.kms_key_id
        record["cse"] = CSE_META in v.user_meta
    return record


def head_record(v: ObjectVersion, plain_size: int | None = None) -> dict[str, Any]:
    """``version_record`` plus bucket, metadata and, for a CSE object, its plaintext size."""
    record = version_record(v)
    record["bucket"] = v.bucket
    if plain_size is not None:
        record["plain_size"] = plain_size
    # The client-side envelope is internal (the mount hides it too).
    record["user_meta"] = {k: val for k, val in v.user_meta.items() if k != CSE_META}
    sysm = v.sys_meta
    record["sys_meta"] = {
        name: getattr(sysm, name)
        for name in ("mode", "uid", "gid", "mtime_ns", "atime_ns", "ctime_ns", "rdev", "symlink")
        if getattr(sysm, name) is not None
    }
    record["tags"] = dict(sorted(v.tags.items()))
    # S3's standard headers (Cache-Control ...), by their HTTP names.
    record["headers"] = {
        name: getattr(v.headers, attr)
        for name, attr in HEADER_FIELDS.items()
        if getattr(v.headers, attr) is not None
    }
    return record


def bucket_record(b: BucketInfo) -> dict[str, Any]:
    return {
        "name": b.name,
        "region": b.region,
        "owner": b.owner,
        "created": iso_time(b.created_ns),
        "versioning": str(b.versioning),
        "mfa_delete": b.mfa_delete,
        "encryption": b.encryption,
        "kms_key_id": b.kms_key_id,
    }


def dump_json(value: Any, out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    json.dump(value, out, indent=2, ensure_ascii=False)
    out.write("\n")


def size_or_type(v: ObjectVersion) -> str:
    """The size column: the size, or for a special file (no data) its type."""
    kind = file_type(v.sys_meta)
    return str(v.size) if kind in ("file", "symlink") else kind


def format_ls_object(v: ObjectVersion, name: str) -> str:
    """``2026-01-02 03:04:05      12345 name`` like ``aws s3 ls`` (``fifo`` for a FIFO)."""
    return f"{local_time(v.last_modified_ns)} {size_or_type(v):>10} {name}"


def format_ls_prefix(name: str) -> str:
    return f"{'PRE':>30} {name}"


VERSIONS_HEADER = (
    f"{'LAST MODIFIED':<19} {'SIZE':>10}  {'VERSION ID':<32} {'LATEST':<6} {'TYPE':<13} KEY"
)


def format_version(v: ObjectVersion) -> str:
    kind = "DELETE-MARKER" if v.is_delete_marker else "VERSION"
    size = "-" if v.is_delete_marker else size_or_type(v)
    latest = "yes" if v.is_latest else ""
    return (
        f"{local_time(v.last_modified_ns):<19} {size:>10}  {v.version_id:<32} "
        f"{latest:<6} {kind:<13} {v.key}"
    )


def format_bucket(b: BucketInfo) -> str:
    """Created, versioning, default encryption, region, name (the name last, as ``ls``)."""
    return (
        f"{local_time(b.created_ns)} {str(b.versioning):<11} {b.encryption:<7} "
        f"{b.region:<10} {b.name}"
    )


def format_head(v: ObjectVersion, plain_size: int | None = None) -> list[str]:
    record = head_record(v, plain_size)
    lines = []
    for name in ("bucket", "key", "version_id", "is_latest", "size", "etag", "last_modified"):
        lines.append(f"{name + ':':<15}{record[name]}")
        if name == "size" and plain_size is not None:
            lines.append(f"{'plain_size:':<15}{plain_size}")
    if v.is_delete_marker:
        lines.append(f"{'delete_marker:':<15}True")
        return lines
    lines.append(f"{'content_type:':<15}{v.content_type}")
    lines.append(f"{'sse:':<15}{v.sse}" + (f" ({v.kms_key_id})" if v.kms_key_id else ""))
    if record["cse"]:
        lines.append(f"{'cse:':<15}client-side encrypted (size is of the ciphertext)")
    for name, value in sorted(record["user_meta"].items()):
        lines.append(f"{'meta:':<15}{name}={value}")
    for name, value in record["tags"].items():
        lines.append(f"{'tag:':<15}{name}={value}")
    for name, value in record["headers"].items():
        lines.append(f"{'header:':<15}{name}: {value}")
    lines.append(f"{'type:':<15}{record['type']}")
    for name, value in record["sys_meta"].items():
        shown = oct(value) if name == "mode" else value
        if name in ("mtime_ns", "atime_ns", "ctime_ns"):
            name, shown = name[:5], iso_time(value)
        elif name == "rdev":
            shown = f"{os.major(value)},{os.minor(value)}"
        lines.append(f"{'posix:':<15}{name}={shown}")
    return lines


@dataclass(slots=True)
class Progress:
    """A one-line transfer meter on stderr: bytes, MB/s and percent when known.

    Inactive (every call a no-op) unless ``enabled``; it shows itself only
    once the transfer passes ``PROGRESS_THRESHOLD`` so small copies stay quiet.
    """

    label: str
    total: int | None
    enabled: bool
    stream: IO[str] = field(default_factory=lambda: sys.stderr)
    done: int = 0
    _start: float = field(default_factory=time.monotonic)
    _last_draw: float = 0.0
    _drawn: bool = False

    @classmethod
    def for_transfer(cls, label: str, total: int | None, *, quiet: bool) -> Progress:
        enabled = not quiet and sys.stderr.isatty()
        if total is not None and total < PROGRESS_THRESHOLD:
            enabled = False
        return cls(label, total, enabled)

    def update(self, nbytes: int) -> None:
        self.done += nbytes
        if not self.enabled or self.done < PROGRESS_THRESHOLD:
            return
        now = time.monotonic()
        if now - self._last_draw >= _REDRAW_SECONDS:
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-6)
        rate = self.done / elapsed / 1e6
        text = f"{self.label}: {human_size(self.done)}"
        if self.total:
            text += f" / {human_size(self.total)} ({100 * self.done / self.total:.0f}%)"
        text += f"  {rate:.1f} MB/s"
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()


class CountingReader:
    """A read-only file wrapper that reports every byte read to a ``Progress``.

    The store pulls from it chunk by chunk, so nothing is buffered here.
    """

    def __init__(self, raw: BinaryIO, progress: Progress) -> None:
        self._raw = raw
        self._progress = progress

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._progress.update(len(data))
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        count = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self._progress.update(count or 0)
        return count or 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
