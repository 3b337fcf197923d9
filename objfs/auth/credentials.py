"""Which access key a client acts with: one rule for the CLI and the mount.

Order: an explicit profile (``--profile`` / ``-o profile=`` / ``$OBJFS_PROFILE``)
read from the credentials file (``--credentials-file`` / ``-o credentials_file=``
/ ``$OBJFS_CREDENTIALS_FILE``, default ``~/.config/objfs/credentials``, the
aws-cli INI format); else the ``[default]`` profile of a credentials file
named explicitly; else ``$AWS_ACCESS_KEY_ID`` with ``$AWS_SECRET_ACCESS_KEY``;
else none, and the client acts as the store owner (it can read the store
directory, which is owner power).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from objfs.auth.keys import Credentials, load_profile, parse_credentials_file
from objfs.errors import InvalidArgument


def default_credentials_file(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    configured = env.get("OBJFS_CREDENTIALS_FILE")
    if configured:
        return Path(configured).expanduser()
    return Path(env.get("HOME", "~")).expanduser() / ".config" / "objfs" / "credentials"


def find_credentials(
    profile: str | None = None,
    credentials_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials | None:
    """The credentials to act with, or None for the store owner (see the module docstring)."""
    env = os.environ if environ is None else environ
    profile = profile or env.get("OBJFS_PROFILE") or None
    path = Path(credentials_file).expanduser() if credentials_file else None
    if profile is not None:
        path = path or default_credentials_file(env)
        if not path.exists():
            raise InvalidArgument(
                f"no credentials file {path}: create keys with "
                "`objfs user keys create USER --write-profile NAME`"
            )
        return load_profile(path, profile)
    if path is not None and "default" in parse_credentials_file(path):
        # A credentials file alone means its [default] profile, as for the aws cli;
        # without one it is only where `user keys create --write-profile` writes.
        return load_profile(path, "default")
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key or secret:
        if not (key and secret):
            raise InvalidArgument(
                "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither"
            )
        return Credentials(key, secret)
    return None
