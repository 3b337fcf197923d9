"""Paths in the mount <-> keys in the bucket, and the one rule for keys that
cannot be path names.

A mount shows the bucket below a key prefix ``P`` (``""`` or ending in
``/``). The mount-relative path ``a/b`` (no leading slash; ``""`` is the
mount root) is the object key ``P + "a/b"``; the directory ``a`` is the key
prefix ``P + "a/"``, and the key ``P + "a/"`` itself is the directory's
marker object (created by mkdir, carries the directory's attributes).

The rule for keys that cannot be paths (documented in the README and man
page too):

* A key whose part below the mount prefix has an empty segment (``a//b``,
  ``/a``), a ``.`` or ``..`` segment, a segment longer than 255 bytes or a
  NUL byte is **not shown** in the mount tree. It is never changed or
  deleted by the mount (``rm -r`` of the directory above it fails with
  ENOTEMPTY instead), and stays reachable from the CLI.
* A key that is both a file and a prefix (``a`` and ``a/b``): **the file
  wins the name** ``a``; the keys below ``a/`` are hidden in the tree but
  readable, read-only, through ``.versions/a/`` (which lists the versions of
  ``a`` *and* the sub-tree ``a/``), and reachable from the CLI.
* Keys under ``.versions/`` at the mount root are shadowed by the virtual
  ``.versions`` directory (CLI only).

Version files in ``.versions/PATH/`` are named
``YYYYmmddTHHMMSS.ffffffZ_<versionid>`` (UTC time of the version), plus the
suffix ``.deleted`` for a delete marker, so ``ls`` sorts them oldest first.
"""

from __future__ import annotations

import re
import time

NAME_MAX = 255
VERSIONS_DIR = ".versions"
DELETED_SUFFIX = ".deleted"
_VERSION_RE = re.compile(r"^(\d{8}T\d{6}\.\d{6}Z)_(.+?)(\.deleted)?$")


def valid_segment(name: str) -> bool:
    """True when ``name`` can be one path component in the mount."""
    return (
        name not in ("", ".", "..")
        and "\0" not in name
        and "/" not in name
        and len(name.encode("utf-8", "surrogatepass")) <= NAME_MAX
    )


def decode_name(raw: bytes) -> str | None:
    """A name the kernel sent, as str; None when it is not UTF-8 (no key can hold it)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def split(path: str) -> tuple[str, str]:
    """``a/b/c`` -> (``a/b``, ``c``); ``c`` -> (``""``, ``c``)."""
    parent, _, name = path.rpartition("/")
    return parent, name


def ancestors(path: str) -> list[str]:
    """``a/b/c`` -> [``a/b``, ``a``, ``""``]."""
    out = []
    while path:
        path = path.rpartition("/")[0]
        out.append(path)
    return out


def is_under(path: str, top: str) -> bool:
    """True when ``path`` is ``top`` or inside it (``top`` "" is the root)."""
    return not top or path == top or path.startswith(top + "/")


class KeyMap:
    """Translate between mount-relative paths and keys for one mount prefix."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def key(self, path: str) -> str:
        """The object key of the file at ``path``."""
        return self.prefix + path

    def dir_prefix(self, path: str) -> str:
        """The key prefix listing the directory at ``path`` (also its marker key)."""
        return self.prefix + path + "/" if path else self.prefix

    def path_of(self, key: str) -> str | None:
        """Mount path of a key (a marker ``a/`` gives ``a``), None when not showable."""
        if not key.startswith(self.prefix):
            return None
        rest = key[len(self.prefix) :]
        if rest.endswith("/"):
            rest = rest[:-1]
        if not rest:
            return None
        for segment in rest.split("/"):
            if not valid_segment(segment):
                return None
        return rest

    def child_name(self, listed_prefix: str, key_or_prefix: str) -> str | None:
        """Name of a listing entry under ``listed_prefix``; None when hidden or the marker."""
        rest = key_or_prefix[len(listed_prefix) :]
        if rest.endswith("/"):
            rest = rest[:-1]
        return rest if valid_segment(rest) else None


def version_file_name(last_modified_ns: int, version_id: str, delete_marker: bool) -> str:
    """``20261128T101500.123456Z_<id>[.deleted]`` (sorts oldest first)."""
    seconds, rest_ns = divmod(last_modified_ns, 1_000_000_000)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds))
    safe_id = version_id.replace("/", "%2F")
    name = f"{stamp}.{rest_ns // 1000:06d}Z_{safe_id}"
    return name + DELETED_SUFFIX if delete_marker else name


def parse_version_file_name(name: str) -> str | None:
    """The version id a version file name carries, or None."""
    match = _VERSION_RE.match(name)
    if not match:
        return None
    return match.group(2).replace("%2F", "/")
