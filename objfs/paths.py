"""Where the store lives when nobody says: one resolver for the CLI and the mount.

Order: an explicit path (``--store`` / ``-o store=``), else ``$OBJFS_STORE``,
else ``/var/lib/objfs`` for root and ``~/.local/share/objfs`` for everyone
else. The result is an absolute path; nothing is created or checked here.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_STORE = Path("/var/lib/objfs")


def default_store_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the store directory to use (absolute, not checked)."""
    if explicit:
        return Path(explicit).expanduser().absolute()
    env = os.environ.get("OBJFS_STORE")
    if env:
        return Path(env).expanduser().absolute()
    if os.geteuid() == 0:
        return ROOT_STORE
    return (Path.home() / ".local" / "share" / "objfs").absolute()
