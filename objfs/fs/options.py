"""Mount options: ``-o a,b=c`` text in, one immutable ``MountOptions`` out.

Owns the list of options ``objfs mount`` / ``mount.objfs`` understand. Every
option is either honoured, deliberately ignored (the noise fstab and systemd
pass: ``defaults``, ``auto``, ``_netdev``, ``x-systemd.*``...), or rejected
with a ``MountOptionError`` naming it (exit status 2). Parsing never touches
the system except to resolve ``uid=NAME`` / ``gid=NAME`` (and to make key
file paths absolute: the daemon runs in ``/``).

Identity options (``profile=``, ``credentials_file=``, ``user_map=``): who
the mount acts as (``objfs/fs/identity.py``); checked before mounting.

Encryption options (``sse=``, ``sse_kms_key_id=``, ``sse_c_key_file=``,
``cse_key_file=``): a bad ``sse=`` value is a usage error here; a bad
*combination* is reported by ``MountOptions.encryption_problem`` and refused
before mounting with exit status 1, as are unreadable key files
(``lifecycle.load_encryption``).
"""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass

# Passed straight to libfuse, which hands them to the kernel mount.
KERNEL_FLAGS = frozenset(
    {
        "exec",
        "noexec",
        "suid",
        "nosuid",
        "dev",
        "nodev",
        "atime",
        "noatime",
        "relatime",
        "norelatime",
        "strictatime",
        "nostrictatime",
        "sync",
        "async",
        "dirsync",
    }
)
# Accepted and ignored: meaningful to mount(8), fstab or systemd, not to us.
IGNORED_FLAGS = frozenset(
    {
        "defaults",
        "auto",
        "noauto",
        "user",
        "nouser",
        "users",
        "owner",
        "group",
        "_netdev",
        "nofail",
        "diratime",
        "nodiratime",
        "lazytime",
        "nolazytime",
        "silent",
        "loud",
    }
)
IGNORED_PREFIXES = ("x-", "comment=")
ENCRYPTION = ("sse", "sse_kms_key_id", "sse_c_key_file", "cse_key_file")
IDENTITY = ("profile", "credentials_file", "user_map")
RESERVED = ENCRYPTION + IDENTITY  # the names tests/test_docs.py reads
SSE_VALUES = ("none", "AES256", "aws:kms")


class MountOptionError(ValueError):
    """A bad ``-o`` option: a usage error (exit status 2)."""

    exit_status = 2


@dataclass(slots=True, frozen=True)
class MountOptions:
    """What the user asked for; ``None`` means "use the default"."""

    store: str | None = None
    prefix: str = ""
    read_only: bool = False
    allow_other: bool = False
    uid: int | None = None
    gid: int | None = None
    umask: int = 0o022
    attr_timeout: float = 1.0
    entry_timeout: float = 1.0
    show_versions: bool = False
    debug: bool = False
    log_file: str | None = None
    fsname: str | None = None
    kernel_flags: tuple[str, ...] = ()
    sse: str | None = None  # None: the bucket's default encryption
    sse_kms_key_id: str | None = None
    sse_c_key_file: str | None = None
    cse_key_file: str | None = None
    profile: str | None = None  # act as this profile's user (credentials file)
    credentials_file: str | None = None
    user_map: str | None = None  # per-caller identities (objfs/fs/identity.py)
    lifecycle_interval: float | None = None  # apply the bucket's lifecycle rules every N s

    @property
    def sse_mode(self) -> str | None:
        """The store-side mode asked for (``sse_kms_key_id=`` implies aws:kms)."""
        if self.sse_c_key_file is not None:
            return "SSE-C"
        if self.sse is None and self.sse_kms_key_id is not None:
            return "aws:kms"
        return self.sse

    def encryption_problem(self) -> str | None:
        """One line saying why the encryption options do not go together, or None."""
        if self.sse_c_key_file is not None:
            if self.cse_key_file is not None:
                return (
                    "sse_c_key_file= and cse_key_file= exclude each other: "
                    "choose SSE-C or client-side encryption"
                )
            if self.sse is not None:
                return f"sse_c_key_file= is SSE-C: do not combine it with sse={self.sse}"
            if self.sse_kms_key_id is not None:
                return "sse_c_key_file= is SSE-C: do not combine it with sse_kms_key_id="
        if self.sse_kms_key_id is not None and self.sse not in (None, "aws:kms"):
            return f"sse_kms_key_id= needs sse=aws:kms (or no sse=), not sse={self.sse}"
        return None


def normalize_prefix(prefix: str) -> str:
    """``/a/b/`` -> ``a/b/``; ``""`` stays ``""`` (the whole bucket)."""
    parts = [p for p in prefix.strip("/").split("/")]
    if parts == [""]:
        return ""
    if any(p in ("", ".", "..") for p in parts):
        raise MountOptionError(f"prefix={prefix!r}: empty, '.' or '..' path segment")
    return "/".join(parts) + "/"


def _id(
    name: str, value: str, lookup: Callable[[str], pwd.struct_passwd | grp.struct_group]
) -> int:
    if value.isdigit():
        return int(value)
    try:
        entry = lookup(value)
    except KeyError:
        kind = "user" if name == "uid" else "group"
        raise MountOptionError(f"{name}={value}: no such {kind}") from None
    return int(entry[2])


def _timeout(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise MountOptionError(f"{name}={value}: not a number of seconds") from None
    if not 0 <= seconds <= 86400:
        raise MountOptionError(f"{name}={value}: must be between 0 and 86400 seconds")
    return seconds


def parse_options(text: str | None, base: MountOptions | None = None) -> MountOptions:
    """Parse ``a,b=c,...`` (several ``-o`` may be joined with commas)."""
    values: dict[str, object] = {}
    flags: list[str] = list(base.kernel_flags) if base else []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, eq, value = item.partition("=")
        # mount(8) passes user mounts as user=NAME: match the name, not the item.
        if name in IGNORED_FLAGS or item.startswith(IGNORED_PREFIXES):
            continue
        if item in KERNEL_FLAGS:
            flags.append(item)
            continue
        if name in IDENTITY:
            if not value:
                raise MountOptionError(f"mount option {name} needs a value ({name}=...)")
            values[name] = value if name == "profile" else os.path.abspath(value)
            continue
        if name in ENCRYPTION:
            if not value:
                raise MountOptionError(f"mount option {name} needs a value ({name}=...)")
            if name == "sse" and value not in SSE_VALUES:
                choices = ", ".join(SSE_VALUES)
                raise MountOptionError(f"sse={value}: must be one of {choices}")
            values[name] = os.path.abspath(value) if name.endswith("_key_file") else value
            continue
        flag_opts = {"ro": ("read_only", True), "rw": ("read_only", False)}
        flag_opts |= {"allow_other": ("allow_other", True), "debug": ("debug", True)}
        flag_opts |= {"show_versions": ("show_versions", True)}
        if name in flag_opts:
            if eq:
                raise MountOptionError(f"mount option {name} takes no value")
            attr, flag_value = flag_opts[name]
            values[attr] = flag_value
            continue
        if name not in ("store", "prefix", "uid", "gid", "umask", "attr_timeout"):
            if name not in ("entry_timeout", "log", "fsname", "lifecycle_interval"):
                raise MountOptionError(f"unknown mount option: {name}")
        if not eq or (not value and name != "prefix"):
            raise MountOptionError(f"mount option {name} needs a value ({name}=...)")
        if name == "store":
            values["store"] = value
        elif name == "prefix":
            values["prefix"] = normalize_prefix(value)
        elif name == "uid":
            values["uid"] = _id("uid", value, pwd.getpwnam)
        elif name == "gid":
            values["gid"] = _id("gid", value, grp.getgrnam)
        elif name == "umask":
            try:
                umask = int(value, 8)
            except ValueError:
                raise MountOptionError(f"umask={value}: not an octal number") from None
            if not 0 <= umask <= 0o777:
                raise MountOptionError(f"umask={value}: must be between 000 and 777")
            values["umask"] = umask
        elif name in ("attr_timeout", "entry_timeout"):
            values[name] = _timeout(name, value)
        elif name == "lifecycle_interval":
            seconds = _timeout(name, value)
            if not seconds:
                raise MountOptionError(f"{name}={value}: must be above 0 seconds")
            values[name] = seconds
        elif name == "log":
            values["log_file"] = value
        elif name == "fsname":
            values["fsname"] = value
    merged = {n: getattr(base, n) for n in MountOptions.__slots__} if base else {}
    merged.update(values)
    merged["kernel_flags"] = tuple(dict.fromkeys(flags))
    return MountOptions(**merged)
