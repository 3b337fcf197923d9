"""Who a FUSE request acts as: the mount's identity, or the caller's by ``user_map=``.

Three ways, chosen by mount options:

- nothing: the whole mount acts as the store owner (who started it can read
  the store directory, which is owner power);
- ``profile=NAME`` and/or ``credentials_file=F``: the whole mount acts as the
  user whose access key that is (checked when mounting);
- ``user_map=FILE``: each request acts as the objfs user its *calling*
  process maps to, for a shared ``allow_other`` mount. Unix permission bits
  are still checked by the kernel (``default_permissions``); the store's
  policy check comes on top.

The map file, one rule a line (``#`` starts a comment)::

    alice = alice        # Unix user alice (or a uid: 1001 = alice)
    @staff = readers     # members of group staff (or a gid: @50 = readers)
    root = owner         # the store owner
    * = anonymous        # everyone else; without a * line, others are refused

A user rule wins over group rules, group rules apply in file order, ``*``
last. Invariants: every objfs user the map names exists when the mount
starts (else the mount is refused); a caller the map does not cover gets
EACCES on everything; a request's identity depends only on the caller's
uid, gid and groups, resolved once per (uid, gid) and cached.

A mount made with an access key (``profile=``) acts with that key as long
as it is good: ``recheck`` (after users or keys changed, which the change
poller sees in the change feed) asks the store, and while the key is
inactive, removed or its user gone, ``refusal`` says why and every request
but the kernel's clean-ups is EACCES; the store's own check
(``AccessControl.check_key``) refuses the mount's store calls too.
"""

from __future__ import annotations

import grp
import os
import pwd
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from objfs.auth.identity import ANONYMOUS_NAME, OWNER_NAME, Identity
from objfs.errors import AccessDenied
from objfs.store.types import OWNER_IDENTITY, RequestContext

if TYPE_CHECKING:
    from objfs.store import Store


class UserMapError(ValueError):
    """A user map that cannot be used; ``str()`` names the file and line."""


@dataclass(slots=True, frozen=True)
class UserMap:
    users: dict[int, str]  # uid -> objfs principal
    groups: tuple[tuple[int, str], ...]  # (gid, principal), in file order
    default: str | None  # the * rule

    def principals(self) -> set[str]:
        named = set(self.users.values()) | {p for _, p in self.groups}
        if self.default is not None:
            named.add(self.default)
        return named

    def principal_for(self, uid: int, gids: Iterable[int]) -> str | None:
        if uid in self.users:
            return self.users[uid]
        member = set(gids)
        for gid, principal in self.groups:
            if gid in member:
                return principal
        return self.default


def _uid(text: str) -> int:
    if text.isdigit():
        return int(text)
    return pwd.getpwnam(text).pw_uid


def _gid(text: str) -> int:
    if text.isdigit():
        return int(text)
    return grp.getgrnam(text).gr_gid


def parse_user_map(text: str, source: str = "user_map") -> UserMap:
    users: dict[int, str] = {}
    groups: list[tuple[int, str]] = []
    default: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        who, eq, principal = (part.strip() for part in line.partition("="))
        where = f"{source} line {number}"
        if not eq or not who or not principal or " " in principal:
            raise UserMapError(
                f"{where}: expected 'UNIXUSER = OBJFSUSER', '@GROUP = ...' or '* = ...'"
            )
        try:
            if who == "*":
                default = principal
            elif who.startswith("@"):
                groups.append((_gid(who[1:]), principal))
            else:
                users[_uid(who)] = principal
        except KeyError:
            kind = "group" if who.startswith("@") else "user"
            raise UserMapError(f"{where}: no Unix {kind} {who.lstrip('@')!r}") from None
    return UserMap(users, tuple(groups), default)


def load_user_map(path: str | os.PathLike[str]) -> UserMap:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise UserMapError(f"user_map={path}: {err.strerror or err}") from None
    return parse_user_map(text, f"user_map {path}")


def process_groups(pid: int, gid: int) -> set[int]:
    """The groups of a calling process (its primary and supplementary gids)."""
    groups = {gid}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Groups:"):
                    groups.update(int(g) for g in line.split()[1:])
                    break
    except OSError:
        pass  # the process is gone: its primary group is what we know
    return groups


class MountIdentities:
    """Turns a FUSE request's caller into the ``RequestContext`` of its store calls."""

    def __init__(
        self,
        fixed: Identity | None = None,
        user_map: UserMap | None = None,
        resolve: Callable[[str], Identity] | None = None,
        access_key: str | None = None,
    ) -> None:
        self._fixed = fixed or OWNER_IDENTITY
        self._map = user_map
        self._resolve = resolve
        self._cache: dict[tuple[int, int, frozenset[int]], RequestContext | None] = {}
        self._lock = threading.Lock()
        self.access_key = access_key if fixed is not None else None
        self.default_ctx = RequestContext(
            self._fixed, "mount", durable=False, access_key=self.access_key
        )
        self.refusal: AccessDenied | None = None  # why the access key no longer works
        if user_map is not None:
            for principal in user_map.principals():
                self._identity(principal)  # unknown users refuse the mount now

    @property
    def per_caller(self) -> bool:
        return self._map is not None

    def recheck(self, store: Store) -> AccessDenied | None:
        """Users or keys changed: is the mount's access key still good? (worker thread)

        Sets and returns ``refusal``: None when the key works (again).
        """
        store.access.forget_keys()
        if self.access_key is None:
            return None
        try:
            store.seam.check_key(self.default_ctx)
        except AccessDenied as err:
            self.refusal = err
        else:
            self.refusal = None
        return self.refusal

    def _identity(self, principal: str) -> Identity:
        if principal == OWNER_NAME:
            return OWNER_IDENTITY
        if principal == ANONYMOUS_NAME:
            return Identity.anonymous()
        if self._resolve is None:
            raise UserMapError(f"cannot resolve objfs user {principal!r}")
        return self._resolve(principal)

    def for_caller(self, uid: int, gid: int, pid: int = 0) -> RequestContext:
        """The context of a request from (uid, gid, pid); AccessDenied if not mapped."""
        if self._map is None:
            return self.default_ctx
        gids = frozenset(process_groups(pid, gid)) if pid else frozenset({gid})
        cache_key = (uid, gid, gids)
        with self._lock:
            if cache_key not in self._cache:
                principal = self._map.principal_for(uid, gids)
                self._cache[cache_key] = (
                    None
                    if principal is None
                    else RequestContext(self._identity(principal), "mount", durable=False)
                )
            found = self._cache[cache_key]
        if found is None:
            raise AccessDenied(f"uid {uid} is not in the mount's user_map")
        return found
