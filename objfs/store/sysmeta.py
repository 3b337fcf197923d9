"""POSIX system metadata: file types and the S3 names and text forms.

An object is a regular file unless its ``SystemMeta`` says otherwise: a
symlink has ``symlink`` set; a FIFO, socket, character or block device has
the type bits in ``mode`` (``S_IFIFO`` ...) and holds no data (size 0), a
device's number in ``rdev``. ``file_type`` is the one rule for that.

S3 clients see the attributes under the names s3fs and rclone use
(``x-amz-meta-mode`` decimal with the type bits, ``-uid``, ``-gid``,
``-mtime``/``-atime``/``-ctime`` as decimal seconds with up to nine
fraction digits, ``-rdev`` decimal). ``to_s3_meta`` and ``from_s3_meta``
convert both ways; a round trip is exact (nanoseconds, negative times and
64-bit seconds included). Unparsable values read as "not set".
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from objfs.store.types import SystemMeta

# The file types the store knows, by name (CLI output, JSON) and type bits.
FILE_TYPES = {
    "file": stat.S_IFREG,
    "symlink": stat.S_IFLNK,
    "fifo": stat.S_IFIFO,
    "socket": stat.S_IFSOCK,
    "char-device": stat.S_IFCHR,
    "block-device": stat.S_IFBLK,
}
_BY_BITS = {bits: name for name, bits in FILE_TYPES.items()}
SPECIAL_TYPES = frozenset({"fifo", "socket", "char-device", "block-device"})

S3_NAMES = {
    "mode": "x-amz-meta-mode",
    "uid": "x-amz-meta-uid",
    "gid": "x-amz-meta-gid",
    "mtime_ns": "x-amz-meta-mtime",
    "atime_ns": "x-amz-meta-atime",
    "ctime_ns": "x-amz-meta-ctime",
    "rdev": "x-amz-meta-rdev",
}
_TIMES = frozenset({"mtime_ns", "atime_ns", "ctime_ns"})


def file_type(meta: SystemMeta) -> str:
    """``file``, ``symlink``, ``fifo``, ``socket``, ``char-device`` or ``block-device``."""
    if meta.symlink is not None:
        return "symlink"
    if meta.mode is None:
        return "file"
    return _BY_BITS.get(stat.S_IFMT(meta.mode), "file")


def is_special(meta: SystemMeta) -> bool:
    """A FIFO, socket or device: an object with no data the kernel does the I/O of."""
    return file_type(meta) in SPECIAL_TYPES


def type_bits(meta: SystemMeta) -> int:
    return FILE_TYPES[file_type(meta)]


def format_time(ns: int) -> str:
    """``-1.500000000`` for -1.5 s: the sign applies to the whole value."""
    sign = "-" if ns < 0 else ""
    sec, frac = divmod(abs(ns), 1_000_000_000)
    return f"{sign}{sec}.{frac:09d}"


def parse_time(text: str) -> int | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    return int(value * 1_000_000_000)


def to_s3_meta(meta: SystemMeta) -> dict[str, str]:
    """The ``x-amz-meta-*`` headers of ``meta`` (only the attributes that are set)."""
    out: dict[str, str] = {}
    for name, header in S3_NAMES.items():
        value = getattr(meta, name)
        if value is not None:
            out[header] = format_time(value) if name in _TIMES else str(value)
    return out


def from_s3_meta(headers: Mapping[str, str], symlink: str | None = None) -> SystemMeta:
    """Parse ``x-amz-meta-*`` headers (any case); unknown or bad values are unset."""
    lower = {k.lower(): v for k, v in headers.items()}
    values: dict[str, int | None] = {}
    for name, header in S3_NAMES.items():
        text = lower.get(header)
        if text is None:
            continue
        if name in _TIMES:
            values[name] = parse_time(text)
        else:
            try:
                values[name] = int(text.strip())
            except ValueError:
                values[name] = None
    return SystemMeta(symlink=symlink, **values)
