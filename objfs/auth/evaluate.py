"""The access decision: a pure function of the request and what applies to it.

``evaluate(request, identity_policies, bucket_policy, acl) -> Decision``,
in this order (first that applies decides):

1. an *owner-only* action (``objfs:Fsck``, ...): allowed for the store
   owner, denied for everyone else, whatever policies say;
2. the store owner and a *management* action (bucket configuration, policy,
   ACL): allowed; no policy can lock the store owner out of managing;
3. an explicit ``Deny`` in any identity policy or the bucket policy: denied;
4. allowed, naming the first that allows: the store owner (data actions),
   the resource's owner (the bucket owner, except for reading another's
   object; for object actions also the object owner), any authenticated principal for an *account* action
   (ListAllMyBuckets lists its own buckets, CreateBucket makes one it owns),
   an ``Allow`` in an identity policy, in the bucket policy, or an ACL grant
   (``acl`` is the ACL of the level the action needs, see
   ``objfs.auth.acl.required_permission``: the bucket's ACL for PutObject,
   the object's for GetObject);
5. otherwise: implicit deny.

S3-compatible servers treat each user as its own account, so an allow from
either the caller's identity policy or the bucket policy suffices (no
cross-account "both must allow"). Time, addresses and the like come only
from ``request.context``: evaluation never reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from objfs.auth import actions
from objfs.auth.acl import Acl, Grant, required_permission
from objfs.auth.identity import Identity, PrincipalKind
from objfs.auth.policy.grammar import Effect, Policy, PrincipalSet, Statement
from objfs.auth.policy.patterns import wildcard_match
from objfs.errors import AccessDenied

RESOURCE_PREFIX = "arn:aws:s3:::"
# The service principal of server access log delivery in bucket policies.
LOG_DELIVERY_SERVICE = "logging.s3.amazonaws.com"

ContextValue = str | bool | int | float | datetime | Sequence[str]


def resource_arn(bucket: str | None = None, key: str | None = None) -> str:
    """``arn:aws:s3:::B``, ``arn:aws:s3:::B/K``, or ``arn:aws:s3:::*`` (no bucket)."""
    if bucket is None:
        return f"{RESOURCE_PREFIX}*"
    return f"{RESOURCE_PREFIX}{bucket}" if key is None else f"{RESOURCE_PREFIX}{bucket}/{key}"


def bucket_of(resource: str) -> str | None:
    """The bucket an S3 resource ARN names, or None."""
    if not resource.startswith(RESOURCE_PREFIX):
        return None
    name = resource[len(RESOURCE_PREFIX) :].split("/", 1)[0]
    return name if name and name != "*" else None


@dataclass(slots=True, frozen=True)
class Request:
    """One request to decide. ``bucket_owner``/``object_owner``: canonical ids."""

    identity: Identity
    action: str
    resource: str
    bucket_owner: str | None = None
    object_owner: str | None = None
    context: Mapping[str, ContextValue] = field(default_factory=dict)


class Reason(StrEnum):
    OWNER_ONLY = "owner-only"  # an objfs admin action
    STORE_OWNER = "store-owner"  # the store owner (management, or data without a Deny)
    RESOURCE_OWNER = "resource-owner"
    ACCOUNT = "account"  # an authenticated principal in its own account
    EXPLICIT_DENY = "explicit-deny"
    POLICY_ALLOW = "policy-allow"
    ACL_GRANT = "acl-grant"
    IMPLICIT_DENY = "implicit-deny"


class SourceKind(StrEnum):
    IDENTITY = "identity"
    BUCKET = "bucket"
    ACL = "acl"


@dataclass(slots=True, frozen=True)
class Source:
    """The policy statement or ACL grant that decided."""

    kind: SourceKind
    name: str  # the identity policy's name, or the bucket's name
    index: int | None = None
    sid: str | None = None
    grant: Grant | None = None

    def describe(self) -> str:
        if self.kind is SourceKind.ACL:
            assert self.grant is not None
            return f"ACL grant {self.grant.describe()} on {self.name}"
        where = (
            f'identity policy "{self.name}"'
            if self.kind is SourceKind.IDENTITY
            else f"bucket policy of {self.name}"
        )
        sid = f' (Sid "{self.sid}")' if self.sid else ""
        return f"{where}, Statement[{self.index}]{sid}"


@dataclass(slots=True, frozen=True)
class Decision:
    allowed: bool
    reason: Reason
    action: str
    resource: str
    identity: Identity
    source: Source | None = None

    def explain(self) -> str:
        """One line for humans, e.g. what ``objfs policy simulate`` prints."""
        head = "Allowed" if self.allowed else "Denied"
        who = self.identity.describe()
        r = self.reason
        if r is Reason.EXPLICIT_DENY or r is Reason.POLICY_ALLOW or r is Reason.ACL_GRANT:
            verb = "explicit Deny in" if r is Reason.EXPLICIT_DENY else "by"
            assert self.source is not None
            return f"{head}: {verb} {self.source.describe()}"
        if r is Reason.OWNER_ONLY:
            tail = "" if self.allowed else f"; {who} is not"
            return f"{head}: {self.action} is for the store owner only{tail}"
        if r is Reason.STORE_OWNER:
            info = actions.lookup(self.action)
            if info is not None and info.management:
                return f"{head}: the store owner may always manage ({self.action})"
            return f"{head}: the store owner has access unless a policy denies it ({self.action})"
        if r is Reason.RESOURCE_OWNER:
            return f"{head}: {who} owns {_short(self.resource)}"
        if r is Reason.ACCOUNT:
            return f"{head}: {who} may {self.action} in its own account"
        return f"{head}: implicit deny: no statement allowed it"

    def to_obj(self) -> dict[str, Any]:
        """JSON-ready form (``objfs policy simulate --json``)."""
        src = self.source
        return {
            "decision": "Allowed" if self.allowed else "Denied",
            "reason": self.reason.value,
            "principal": self.identity.name,
            "principal_type": self.identity.principal_type,
            "action": self.action,
            "resource": self.resource,
            "source": None
            if src is None
            else {
                "kind": src.kind.value,
                "name": src.name,
                "statement": src.index,
                "sid": src.sid,
                "grant": src.grant.describe() if src.grant else None,
            },
            "explanation": self.explain(),
        }

    def raise_if_denied(self) -> None:
        """Raise ``AccessDenied`` (its message is ``explain()``) unless allowed."""
        if not self.allowed:
            raise AccessDenied(
                f"Access Denied: {self.identity.describe()}, {self.action} on "
                f"{self.resource}: {self.explain()}"
            )


def _short(resource: str) -> str:
    rest = resource[len(RESOURCE_PREFIX) :] if resource.startswith(RESOURCE_PREFIX) else resource
    bucket, slash, key = rest.partition("/")
    return f"object {bucket}/{key}" if slash else f"bucket {bucket}"


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        dt = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _context(req: Request) -> dict[str, tuple[str, ...]]:
    """Lower-cased keys -> values as text.

    The identity's own keys (aws:username, aws:userid, aws:PrincipalType,
    aws:PrincipalArn) come from ``request.identity`` and override the
    context: a caller cannot pass them in by mistake or by a client's header.
    """
    ctx: dict[str, tuple[str, ...]] = {}
    for k, v in req.context.items():
        if v is None:
            continue
        if isinstance(v, str | bool | int | float | datetime):
            ctx[k.lower()] = (_text(v),)
        else:
            ctx[k.lower()] = tuple(_text(x) for x in v)
    who = req.identity
    for key in ("aws:username", "aws:userid", "aws:principalarn"):
        ctx.pop(key, None)
    ctx["aws:principaltype"] = (who.principal_type,)
    if who.kind is PrincipalKind.USER:
        ctx["aws:username"] = (who.name,)
        ctx["aws:principalarn"] = (f"arn:aws:iam:::user/{who.name}",)
    elif who.kind is PrincipalKind.OWNER:
        ctx["aws:principalarn"] = ("arn:aws:iam:::root",)
    if who.canonical_id:
        ctx["aws:userid"] = (who.canonical_id,)
    elif who.kind is PrincipalKind.ANONYMOUS:
        ctx["aws:userid"] = ("anonymous",)
    return ctx


def request_context(
    *,
    now: datetime,
    secure_transport: bool,
    source_ip: str | None = None,
    mfa_age: float | None = None,
    **extra: ContextValue,
) -> dict[str, ContextValue]:
    """The global condition keys of a request, formatted as IAM does.

    ``mfa_age``: seconds since the MFA code was checked, None without MFA.
    ``extra``: more keys, e.g. ``**{"s3:prefix": "docs/"}``.
    """
    ctx: dict[str, ContextValue] = {
        "aws:CurrentTime": now,
        "aws:EpochTime": int(now.timestamp()),
        "aws:SecureTransport": secure_transport,
        "aws:MultiFactorAuthPresent": mfa_age is not None,
    }
    if source_ip is not None:
        ctx["aws:SourceIp"] = source_ip
    if mfa_age is not None:
        ctx["aws:MultiFactorAuthAge"] = int(mfa_age)
    ctx.update(extra)
    return ctx


def _principal_matches(p: PrincipalSet, who: Identity) -> bool:
    """Principal elements name users by name, IAM user ARN or canonical id;
    ``arn:aws:iam::ACCOUNT:root`` names the store owner; only ``*`` (or AWS
    ``*``) includes anonymous requests. The ARN's account part is ignored.
    ``{"Service": "logging.s3.amazonaws.com"}`` (or a bare ``"*"``, everyone)
    names the access log delivery, ``{"AWS": "*"}`` (every account) does not;
    other services never call objfs.
    """
    if who.kind is PrincipalKind.LOG_DELIVERY:  # a service, not an AWS account or user
        return p.bare_star or LOG_DELIVERY_SERVICE in p.services
    if p.everyone:
        return True
    cid = who.canonical_id
    if cid and any(c.lower() == cid for c in p.canonical_users):
        return True
    for a in p.aws:
        if a.startswith("arn:aws:iam::"):
            res = a.split(":", 5)[5]
            if res == "root" and who.kind is PrincipalKind.OWNER:
                return True
            if res.startswith("user/") and who.kind is PrincipalKind.USER:
                if res.rsplit("/", 1)[1] == who.name:
                    return True
        elif who.authenticated and (a == who.name or (cid is not None and a.lower() == cid)):
            return True
    return False


def statement_applies(st: Statement, req: Request, ctx: Mapping[str, tuple[str, ...]]) -> bool:
    """Does the statement cover this request (principal, action, resource, conditions)?"""

    def lookup(key: str) -> str | None:
        vals = ctx.get(key.lower())
        return vals[0] if vals is not None and len(vals) == 1 else None

    if st.principal is not None:
        if _principal_matches(st.principal, req.identity) == st.not_principal:
            return False
    hit = any(wildcard_match(a, req.action, ignore_case=True) for a in st.actions)
    if hit == st.not_action:
        return False
    hit = any(wildcard_match(r, req.resource, lookup) for r in st.resources)
    if hit == st.not_resource:
        return False
    return all(c.holds(ctx.get(c.key.lower()), lookup) for c in st.conditions)


def _owns(req: Request) -> bool:
    """The bucket owner owns the bucket and its own objects, and keeps the
    bucket's business (actions whose ACL permission is on the bucket:
    PutObject, DeleteObject, listing...) over objects of others; reading
    another's object or its ACL needs a grant, as in S3 (objects belong to
    their writer). An object's owner owns the object, but writing or deleting
    keys stays the bucket's business.
    """
    cid = req.identity.canonical_id
    if cid is None or req.identity.kind is PrincipalKind.ANONYMOUS:
        return False
    info = actions.lookup(req.action)
    need = required_permission(req.action)
    if req.bucket_owner == cid:
        if req.object_owner is None or req.object_owner == cid:
            return True
        if info is None or info.level is not actions.Level.OBJECT:
            return True
        return need is None or need[0] is actions.Level.BUCKET
    if req.object_owner != cid:
        return False
    if info is None or info.level is not actions.Level.OBJECT:
        return False
    return need is None or need[0] is actions.Level.OBJECT


def evaluate(
    request: Request,
    identity_policies: Mapping[str, Policy] | None = None,
    bucket_policy: Policy | None = None,
    acl: Acl | None = None,
) -> Decision:
    """Decide ``request`` (see the module docstring for the order)."""
    req = request
    who = req.identity

    def decide(allowed: bool, reason: Reason, source: Source | None = None) -> Decision:
        return Decision(allowed, reason, req.action, req.resource, who, source)

    info = actions.lookup(req.action)
    if info is not None and info.owner_only:
        return decide(who.is_owner, Reason.OWNER_ONLY)
    if who.is_owner and info is not None and info.management:
        return decide(True, Reason.STORE_OWNER)

    ctx = _context(req)
    bucket = bucket_of(req.resource) or "*"
    # (kind, name, statement) for every statement that covers the request
    applying: list[tuple[SourceKind, str, Statement]] = []
    for name, pol in (identity_policies or {}).items():
        applying += [
            (SourceKind.IDENTITY, name, s) for s in pol.statements if statement_applies(s, req, ctx)
        ]
    if bucket_policy is not None:
        applying += [
            (SourceKind.BUCKET, bucket, s)
            for s in bucket_policy.statements
            if statement_applies(s, req, ctx)
        ]
    for kind, name, st in applying:
        if st.effect is Effect.DENY:
            return decide(False, Reason.EXPLICIT_DENY, Source(kind, name, st.index, st.sid))

    if who.is_owner:
        return decide(True, Reason.STORE_OWNER)
    if _owns(req):
        return decide(True, Reason.RESOURCE_OWNER)
    if info is not None and info.account and who.kind is PrincipalKind.USER:
        return decide(True, Reason.ACCOUNT)
    if applying:  # only Allows are left
        kind, name, st = applying[0]
        return decide(True, Reason.POLICY_ALLOW, Source(kind, name, st.index, st.sid))
    need = required_permission(req.action)
    if acl is not None and need is not None:
        grant = acl.grant_for(who, need[1])
        if grant is not None:
            level, _ = need
            on = (
                _short(resource_arn(bucket))
                if level is actions.Level.BUCKET
                else _short(req.resource)
            )
            return decide(True, Reason.ACL_GRANT, Source(SourceKind.ACL, on, grant=grant))
    return decide(False, Reason.IMPLICIT_DENY)
