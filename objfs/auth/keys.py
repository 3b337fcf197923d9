"""Access keys, canonical ids, and aws-style credentials files.

Owns the formats: an access key id is ``OBJF`` + 16 characters of
``[A-Z2-7]`` (20 in all, like AWS's ``AKIA...``); a secret access key is 40
characters of ``[A-Za-z0-9+/]``; a canonical id is 64 lowercase hex digits.
All come from ``secrets``. Secrets are compared with ``hmac.compare_digest``
(``secrets_equal``) and never appear in a ``repr``.

Credentials files are the INI files the aws cli reads (``[profile]`` with
``aws_access_key_id``/``aws_secret_access_key``). ``write_profile`` keeps the
other profiles, writes a new file 0600 (its directory 0700 when created)
and replaces the old one atomically; comments in the old file are not kept.
"""

from __future__ import annotations

import configparser
import hmac
import os
import re
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path

from objfs.errors import InvalidArgument

ACCESS_KEY_PREFIX = "OBJF"
ACCESS_KEY_LENGTH = 20
SECRET_KEY_LENGTH = 40
_B32 = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_ACCESS_KEY = re.compile(rf"{ACCESS_KEY_PREFIX}[A-Z2-7]{{16}}")
_SECRET_KEY = re.compile(r"[A-Za-z0-9+/]{40}")
_CANONICAL = re.compile(r"[0-9a-f]{64}")


def new_access_key_id() -> str:
    rest = ACCESS_KEY_LENGTH - len(ACCESS_KEY_PREFIX)
    return ACCESS_KEY_PREFIX + "".join(secrets.choice(_B32) for _ in range(rest))


def new_secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_KEY_LENGTH))


def new_canonical_id() -> str:
    return secrets.token_hex(32)


def is_access_key_id(text: str) -> bool:
    return _ACCESS_KEY.fullmatch(text) is not None


def is_secret_access_key(text: str) -> bool:
    return _SECRET_KEY.fullmatch(text) is not None


def is_canonical_id(text: str) -> bool:
    return _CANONICAL.fullmatch(text) is not None


def secrets_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@dataclass(slots=True, frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def _read(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, default_section="\x00none")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return cp
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"cannot read credentials file {path}: {e}") from None
    try:
        cp.read_string(text, source=str(path))
    except configparser.Error as e:
        first = str(e).splitlines()[0]
        raise InvalidArgument(f"credentials file {path} is not valid: {first}") from None
    return cp


def parse_credentials_file(path: str | os.PathLike[str]) -> dict[str, Credentials]:
    """Profile name -> credentials; a missing file has none.

    Profiles without both key id and secret are skipped.
    """
    cp = _read(Path(path))
    out: dict[str, Credentials] = {}
    for name in cp.sections():
        sec = cp[name]
        key, secret = sec.get("aws_access_key_id"), sec.get("aws_secret_access_key")
        if key and secret:
            out[name] = Credentials(key.strip(), secret.strip(), sec.get("aws_session_token"))
    return out


def load_profile(path: str | os.PathLike[str], profile: str) -> Credentials:
    """The named profile, or InvalidArgument naming the file and profile."""
    found = parse_credentials_file(path).get(profile)
    if found is None:
        raise InvalidArgument(f'no profile "{profile}" with access keys in {path}')
    return found


def write_profile(path: str | os.PathLike[str], profile: str, creds: Credentials) -> None:
    """Add or replace ``[profile]`` in the credentials file, keeping the others."""
    if not profile or any(c in profile for c in "[]\n\r") or profile != profile.strip():
        raise InvalidArgument(f"bad profile name {profile!r}")
    p = Path(path)
    if not p.parent.exists():
        p.parent.mkdir(mode=0o700, parents=True)
    cp = _read(p)
    cp[profile] = {
        "aws_access_key_id": creds.access_key_id,
        "aws_secret_access_key": creds.secret_access_key,
    }
    if creds.session_token:
        cp[profile]["aws_session_token"] = creds.session_token
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            cp.write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
