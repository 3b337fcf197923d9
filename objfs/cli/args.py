"""Parsing of the CLI's argument values: ``s3://`` URLs, sizes, ranges, metadata,
encryption modes.

Owns the translation of strings the user typed into typed values. Invariants:
every parser either returns a value or raises ``CliError`` / ``ArgumentTypeError``
with a one-line message that names the bad input; none touches the store.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path

S3_SCHEME = "s3://"


class CliError(Exception):
    """A user mistake the CLI detects itself (bad URL, missing local file).

    Printed as ``objfs: <message>`` and exit status 1, like store errors.
    """


@dataclass(slots=True, frozen=True)
class S3Url:
    """A parsed ``s3://BUCKET[/KEY]``; ``key`` is "" when absent."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key}"

    def child(self, name: str) -> S3Url:
        """The URL of ``name`` under this URL taken as a prefix ("a/" + "b")."""
        return S3Url(self.bucket, self.key + name)


def is_s3_url(text: str) -> bool:
    return text.startswith(S3_SCHEME)


def parse_s3_url(text: str, *, need_key: bool = False) -> S3Url:
    """Parse ``s3://BUCKET[/KEY]``; raise ``CliError`` when it is not one."""
    if not is_s3_url(text):
        raise CliError(f"not an s3:// URL: {text!r} (expected s3://BUCKET/KEY)")
    rest = text[len(S3_SCHEME) :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise CliError(f"no bucket in URL {text!r} (expected s3://BUCKET/KEY)")
    if need_key and not key:
        raise CliError(f"no key in URL {text!r} (expected s3://{bucket}/KEY)")
    return S3Url(bucket, key)


_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """``"1M"``, ``"512K"``, ``"1MiB"``, ``"4096"`` -> bytes (binary units)."""
    match = _SIZE_RE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (examples: 4096, 512K, 1M)")
    number, unit, _ = match.groups()
    size = int(number) * _SIZE_UNITS[unit.lower()]
    if size <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive: {text!r}")
    return size


@dataclass(slots=True, frozen=True)
class ByteRange:
    """An HTTP-style byte range: ``A-B`` (inclusive), ``A-`` or ``-N`` (last N)."""

    first: int | None
    last: int | None

    @property
    def spec(self) -> tuple[int | None, int | None]:
        """The store's ``RangeSpec``: the store resolves it (``objfs.store.ranges``)."""
        return (self.first, self.last)


_RANGE_RE = re.compile(r"^(?:bytes=)?(\d*)-(\d*)$")


def parse_range(text: str) -> ByteRange:
    match = _RANGE_RE.match(text.strip())
    bad = argparse.ArgumentTypeError(
        f"not a byte range: {text!r} (examples: 0-99, 100-, -500 for the last 500 bytes)"
    )
    if not match or match.group(0) == "-":
        raise bad
    first_s, last_s = match.groups()
    if not first_s:
        if int(last_s) == 0:
            raise bad
        return ByteRange(None, int(last_s))
    first = int(first_s)
    last = int(last_s) if last_s else None
    if last is not None and last < first:
        raise bad
    return ByteRange(first, last)


def parse_meta(text: str) -> tuple[str, str]:
    """``k=v`` -> (k, v) for ``--meta``; the key is lower-cased like S3 does."""
    name, sep, value = text.partition("=")
    name = name.strip().lower()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
        raise argparse.ArgumentTypeError(
            f"metadata name {name!r} may hold only letters, digits, '.', '_' and '-'"
        )
    return name, value


SSE_MODES = ("none", "AES256", "aws:kms")


def parse_sse_mode(text: str) -> str:
    """``none``, ``AES256`` or ``aws:kms``, in any letter case (``aes256`` -> ``AES256``)."""
    for mode in SSE_MODES:
        if text.strip().lower() == mode.lower():
            return mode
    raise argparse.ArgumentTypeError(
        f"not an encryption mode: {text!r} (choose from {', '.join(SSE_MODES)})"
    )


def parse_positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_grace(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"grace must be >= 0 seconds, got {value}")
    return value


def resolve_store_path(cli_value: str | None) -> Path:
    """``--store``, else ``$OBJFS_STORE``, else the platform default; always absolute
    (a daemonized mount changes its working directory)."""
    if cli_value:
        return Path(cli_value).expanduser().absolute()
    env = os.environ.get("OBJFS_STORE")
    if env:
        return Path(env).expanduser().absolute()
    from objfs.paths import default_store_path

    return default_store_path()


def resolve_master_key_file(cli_value: str | None) -> Path | None:
    """``--master-key-file``, else ``$OBJFS_MASTER_KEY_FILE``, else None (the store's
    own ``keys/master.key`` or the systemd credential)."""
    value = cli_value or os.environ.get("OBJFS_MASTER_KEY_FILE")
    return Path(value).expanduser().absolute() if value else None
