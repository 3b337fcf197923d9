"""Access control lists: grants, canned ACLs, and what each action needs.

Owns:
- the records ``Grantee``/``Grant``/``Acl`` and their msgpack/JSON-friendly
  form (``Acl.to_obj``/``Acl.from_obj``);
- the canned ACLs (``canned_acl``), each the owner's FULL_CONTROL plus the
  grants S3 documents;
- ``ACL_PERMISSIONS``: the one table saying which ACL permission, on the
  bucket or on the object, an S3 action needs (actions not in it are never
  granted by an ACL);
- parsing grants from the CLI (``read=user:alice,full-control=group:AllUsers``)
  and from S3's ``x-amz-grant-*`` headers (``id="..."``, ``uri="..."``).

FULL_CONTROL implies every other permission. The group AllUsers includes
anonymous requests; AuthenticatedUsers is every request with an identity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from objfs.auth.actions import Level
from objfs.auth.identity import Identity, PrincipalKind
from objfs.errors import InvalidArgument, UnresolvableGrantByEmailAddress

MAX_GRANTS = 100


class Permission(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
    READ_ACP = "READ_ACP"
    WRITE_ACP = "WRITE_ACP"
    FULL_CONTROL = "FULL_CONTROL"


class Group(StrEnum):
    ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
    AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
    LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"

    @property
    def short(self) -> str:
        return self.value.rsplit("/", 1)[1]


GROUPS_BY_NAME: dict[str, Group] = {g.short.lower(): g for g in Group}

_P = Permission
# Which permission, on what, each action needs to be granted by an ACL.
ACL_PERMISSIONS: dict[str, tuple[Level, Permission]] = {
    "s3:ListBucket": (Level.BUCKET, _P.READ),
    "s3:ListBucketVersions": (Level.BUCKET, _P.READ),
    "s3:ListBucketMultipartUploads": (Level.BUCKET, _P.READ),
    "s3:PutObject": (Level.BUCKET, _P.WRITE),
    "s3:DeleteObject": (Level.BUCKET, _P.WRITE),
    "s3:DeleteObjectVersion": (Level.BUCKET, _P.WRITE),
    "s3:AbortMultipartUpload": (Level.BUCKET, _P.WRITE),
    # The tags a write carries need s3:PutObjectTagging besides s3:PutObject;
    # whom the bucket's ACL lets write may tag what they write (S3 takes a
    # tagged upload, POST form or PUT, into a public-read-write bucket).
    "s3:PutObjectTagging": (Level.BUCKET, _P.WRITE),
    "s3:GetObject": (Level.OBJECT, _P.READ),
    "s3:GetObjectVersion": (Level.OBJECT, _P.READ),
    "s3:GetObjectAttributes": (Level.OBJECT, _P.READ),
    "s3:GetObjectVersionAttributes": (Level.OBJECT, _P.READ),
    "s3:GetBucketAcl": (Level.BUCKET, _P.READ_ACP),
    "s3:GetObjectAcl": (Level.OBJECT, _P.READ_ACP),
    "s3:GetObjectVersionAcl": (Level.OBJECT, _P.READ_ACP),
    "s3:PutBucketAcl": (Level.BUCKET, _P.WRITE_ACP),
    "s3:PutObjectAcl": (Level.OBJECT, _P.WRITE_ACP),
    "s3:PutObjectVersionAcl": (Level.OBJECT, _P.WRITE_ACP),
}
_ACL_LOWER = {k.lower(): v for k, v in ACL_PERMISSIONS.items()}


def required_permission(action: str) -> tuple[Level, Permission] | None:
    """``(Level.BUCKET|Level.OBJECT, permission)`` an ACL must grant, or None."""
    return _ACL_LOWER.get(action.lower())


@dataclass(slots=True, frozen=True)
class Grantee:
    """A canonical user (``id``) or a group (``uri``)."""

    id: str | None = None
    uri: Group | None = None
    display_name: str | None = None

    @classmethod
    def user(cls, canonical_id: str, display_name: str | None = None) -> Grantee:
        return cls(id=canonical_id, display_name=display_name)

    @classmethod
    def group(cls, group: Group | str) -> Grantee:
        return cls(uri=Group(group))

    def matches(self, who: Identity) -> bool:
        if self.uri is Group.ALL_USERS:
            return True
        if self.uri is Group.AUTHENTICATED_USERS:
            return who.authenticated
        if self.uri is Group.LOG_DELIVERY:
            return who.kind is PrincipalKind.LOG_DELIVERY
        return self.id is not None and self.id == who.canonical_id

    def describe(self) -> str:
        if self.uri is not None:
            return f"group {self.uri.short}"
        name = self.display_name or f"id {self.id}"
        return f"user {name}"


@dataclass(slots=True, frozen=True)
class Grant:
    grantee: Grantee
    permission: Permission

    def describe(self) -> str:
        return f"{self.permission.value} to {self.grantee.describe()}"


@dataclass(slots=True, frozen=True)
class Acl:
    """An ACL: its owner and its grants (the owner's own grant included, unless
    revoked: an ACL may hold no grant at all; the owner still manages it)."""

    owner_id: str
    grants: tuple[Grant, ...]
    owner_display_name: str | None = None

    def grant_for(self, who: Identity, permission: Permission) -> Grant | None:
        """The first grant that gives ``who`` the permission, or None."""
        for g in self.grants:
            if g.permission in (permission, Permission.FULL_CONTROL) and g.grantee.matches(who):
                return g
        return None

    def to_obj(self) -> dict[str, Any]:
        """A JSON/msgpack-friendly dict; ``Acl.from_obj`` reads it back."""
        owner: dict[str, Any] = {"id": self.owner_id}
        if self.owner_display_name:
            owner["display_name"] = self.owner_display_name
        grants = []
        for g in self.grants:
            ge: dict[str, Any]
            if g.grantee.uri is not None:
                ge = {"type": "Group", "uri": g.grantee.uri.value}
            else:
                ge = {"type": "CanonicalUser", "id": g.grantee.id}
                if g.grantee.display_name:
                    ge["display_name"] = g.grantee.display_name
            grants.append({"grantee": ge, "permission": g.permission.value})
        return {"owner": owner, "grants": grants}

    @classmethod
    def from_obj(cls, obj: Any) -> Acl:
        try:
            owner = obj["owner"]
            grants = []
            for g in obj["grants"]:
                ge = g["grantee"]
                perm = Permission(g["permission"])
                if ge["type"] == "Group":
                    grantee = Grantee.group(ge["uri"])
                elif ge["type"] == "CanonicalUser":
                    grantee = Grantee.user(str(ge["id"]), ge.get("display_name"))
                else:
                    raise ValueError(ge["type"])
                grants.append(Grant(grantee, perm))
            return cls(str(owner["id"]), tuple(grants), owner.get("display_name"))
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidArgument(f"not a stored ACL: {e!r}") from None


def acl_from_grants(
    owner_id: str,
    grants: Iterable[Grant],
    owner_display_name: str | None = None,
    *,
    include_owner: bool = True,
) -> Acl:
    """An ACL of ``grants``, led by the owner's FULL_CONTROL unless told not to."""
    out: list[Grant] = []
    if include_owner:
        out.append(Grant(Grantee.user(owner_id, owner_display_name), Permission.FULL_CONTROL))
    for g in grants:
        if g not in out:
            out.append(g)
    if len(out) > MAX_GRANTS:
        raise InvalidArgument(f"an ACL holds at most {MAX_GRANTS} grants, got {len(out)}")
    return Acl(owner_id, groups_first(out), owner_display_name)


def groups_first(grants: Iterable[Grant]) -> tuple[Grant, ...]:
    """Grants to groups, then grants to users, each in the order given.

    The order S3-compatible servers list an ACL in (the conformance suite
    reads a canned ACL's group grants before the owner's FULL_CONTROL).
    """
    listed = tuple(grants)
    return tuple(g for g in listed if g.grantee.uri is not None) + tuple(
        g for g in listed if g.grantee.uri is None
    )


CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
)


def canned_acl(
    name: str,
    owner_id: str,
    *,
    bucket_owner_id: str | None = None,
    owner_display_name: str | None = None,
) -> Acl:
    """Expand a canned ACL for a resource owned by ``owner_id``.

    ``bucket_owner_id`` matters for the ``bucket-owner-*`` ACLs on objects
    (no extra grant when the bucket owner is the object owner or unknown).
    """
    G, P = Grantee, Permission
    extra: list[Grant]
    if name == "private":
        extra = []
    elif name == "public-read":
        extra = [Grant(G.group(Group.ALL_USERS), P.READ)]
    elif name == "public-read-write":
        extra = [Grant(G.group(Group.ALL_USERS), P.READ), Grant(G.group(Group.ALL_USERS), P.WRITE)]
    elif name == "authenticated-read":
        extra = [Grant(G.group(Group.AUTHENTICATED_USERS), P.READ)]
    elif name in ("bucket-owner-read", "bucket-owner-full-control"):
        perm = P.READ if name == "bucket-owner-read" else P.FULL_CONTROL
        if bucket_owner_id is not None and bucket_owner_id != owner_id:
            extra = [Grant(G.user(bucket_owner_id), perm)]
        else:
            extra = []
    elif name == "log-delivery-write":
        extra = [
            Grant(G.group(Group.LOG_DELIVERY), P.WRITE),
            Grant(G.group(Group.LOG_DELIVERY), P.READ_ACP),
        ]
    else:
        raise InvalidArgument(f'unknown canned ACL "{name}" (one of: {", ".join(CANNED_ACLS)})')
    return acl_from_grants(owner_id, extra, owner_display_name)


@dataclass(slots=True, frozen=True)
class AclSpec:
    """The ACL a request asks for on what it creates (or on a PutAcl).

    ``canned`` or ``grants`` (not both); neither: the default (``private``).
    ``grants=()`` is an explicit empty list: an ACL with no grant at all (S3's
    "revoke all"; the owner still manages the resource).
    ``headers``: the ``x-amz-acl`` and ``x-amz-grant-*`` headers as sent,
    lower-cased name -> value, which are the request's ``s3:x-amz-acl`` and
    ``s3:x-amz-grant-*`` policy condition keys.
    """

    canned: str | None = None
    grants: tuple[Grant, ...] | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.canned is not None and self.grants:
            raise InvalidArgument("give either a canned ACL or explicit grants, not both")
        if self.canned is not None and self.canned not in CANNED_ACLS:
            raise InvalidArgument(
                f'unknown canned ACL "{self.canned}" (one of: {", ".join(CANNED_ACLS)})'
            )

    @property
    def given(self) -> bool:
        return self.canned is not None or self.grants is not None

    def condition_keys(self) -> dict[str, str]:
        return {f"s3:{name}": value for name, value in self.headers}

    def expand(self, owner_id: str, *, bucket_owner_id: str | None = None) -> Acl:
        """The ACL of a resource owned by ``owner_id``: explicit grants replace the
        default ACL entirely (the owner keeps no grant of their own unless listed),
        as S3 does with ``x-amz-grant-*`` headers."""
        if self.grants is not None:
            return acl_from_grants(owner_id, self.grants, include_owner=False)
        return canned_acl(self.canned or "private", owner_id, bucket_owner_id=bucket_owner_id)


def acl_spec_from_headers(headers: Mapping[str, str]) -> AclSpec:
    """The ``AclSpec`` of a request's ``x-amz-acl`` and ``x-amz-grant-*`` headers."""
    raw = tuple(
        (name.lower(), value)
        for name, value in headers.items()
        if name.lower() == "x-amz-acl" or name.lower() in GRANT_HEADERS
    )
    canned = next((v.strip() for n, v in raw if n == "x-amz-acl"), None)
    grants = parse_grant_headers(headers)
    return AclSpec(canned, grants or None, raw)


def parse_permission(text: str) -> Permission:
    """``read``, ``full-control``, ``READ_ACP`` ... -> Permission."""
    norm = text.strip().upper().replace("-", "_")
    try:
        return Permission(norm)
    except ValueError:
        names = "read, write, read-acp, write-acp, full-control"
        raise InvalidArgument(f'unknown ACL permission "{text}" (one of: {names})') from None


def _group(text: str) -> Group:
    g = GROUPS_BY_NAME.get(text.strip().lower())
    if g is None:
        try:
            return Group(text.strip())
        except ValueError:
            raise InvalidArgument(
                f'unknown group "{text}" (AllUsers, AuthenticatedUsers, LogDelivery)'
            ) from None
    return g


_HEX64 = re.compile(r"[0-9a-f]{64}")

# Resolves a user name to (canonical id, display name); raises if unknown.
UserResolver = Callable[[str], tuple[str, str | None]]


def parse_grant_option(text: str, resolve_user: UserResolver | None = None) -> tuple[Grant, ...]:
    """Parse ``read=user:alice,full-control=group:AllUsers,read-acp=id:HEX``.

    Grantees: ``user:NAME`` (needs ``resolve_user``), ``id:CANONICAL_ID``,
    ``group:AllUsers|AuthenticatedUsers|LogDelivery``, ``uri:GROUP_URI``.
    """
    out: list[Grant] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        perm_text, sep, who = item.partition("=")
        kind, sep2, value = who.partition(":")
        if not sep or not sep2 or not value.strip():
            raise InvalidArgument(
                f'bad grant "{item}": expected PERMISSION=user:NAME, id:ID or group:GROUP'
            )
        perm = parse_permission(perm_text)
        kind, value = kind.strip().lower(), value.strip()
        if kind == "user":
            if resolve_user is None:
                raise InvalidArgument(f'cannot resolve user "{value}" here')
            cid, display = resolve_user(value)
            grantee = Grantee.user(cid, display)
        elif kind == "id":
            grantee = Grantee.user(_canonical(value))
        elif kind in ("group", "uri"):
            grantee = Grantee.group(_group(value))
        else:
            raise InvalidArgument(f'bad grantee "{who}": use user:, id: or group:')
        out.append(Grant(grantee, perm))
    if not out:
        raise InvalidArgument("no grant given")
    return tuple(out)


def _canonical(value: str) -> str:
    v = value.lower()
    if not _HEX64.fullmatch(v):
        raise InvalidArgument(f'"{value}" is not a canonical id (64 hex digits)')
    return v


GRANT_HEADERS: dict[str, Permission] = {
    "x-amz-grant-read": Permission.READ,
    "x-amz-grant-write": Permission.WRITE,
    "x-amz-grant-read-acp": Permission.READ_ACP,
    "x-amz-grant-write-acp": Permission.WRITE_ACP,
    "x-amz-grant-full-control": Permission.FULL_CONTROL,
}

_HEADER_ITEM = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^,"\s]+))\s*(?:,|$)')


def parse_grant_headers(headers: Mapping[str, str]) -> tuple[Grant, ...]:
    """Grants from ``x-amz-grant-*`` headers (``id="..."``, ``uri="..."``).

    Header names are matched case-insensitively; other headers are ignored.
    ``emailAddress`` grantees are not supported (InvalidArgument).
    """
    out: list[Grant] = []
    for name, value in headers.items():
        perm = GRANT_HEADERS.get(name.lower())
        if perm is None:
            continue
        pos = 0
        text = value.strip()
        if not text:
            raise InvalidArgument(f"{name}: empty grant")
        while pos < len(text):
            m = _HEADER_ITEM.match(text, pos)
            if m is None or m.end() == pos:
                raise InvalidArgument(f'{name}: cannot read grantee list "{value}"')
            key, val = m.group(1).lower(), m.group(2) if m.group(2) is not None else m.group(3)
            if key == "id":
                out.append(Grant(Grantee.user(_canonical(val)), perm))
            elif key == "uri":
                out.append(Grant(Grantee.group(_group(val)), perm))
            elif key == "emailaddress":
                raise UnresolvableGrantByEmailAddress(
                    f"{name}: no user has the e-mail address {val!r} (objfs users have none)"
                )
            else:
                raise InvalidArgument(f'{name}: grantee type "{m.group(1)}" is not supported')
            pos = m.end()
    return tuple(out)
