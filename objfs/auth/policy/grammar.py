"""Policy JSON -> typed, frozen records, and back to canonical JSON.

Owns the grammar of identity and bucket policies: ``parse_policy`` accepts
text or bytes and returns a ``Policy`` or raises ``MalformedPolicy`` whose
message names the statement (``Statement[2] (Sid "DenyPut")``) and the
field; nothing else escapes it, whatever the input. ``to_json`` writes the
canonical form: fixed field order, one value written as a scalar, several as
a list; ``parse_policy(to_json(p), p.kind) == p``.

Rules beyond the JSON shape (S3's and IAM's):
- identity policies have no Principal/NotPrincipal; bucket policies need
  exactly one; size limits: bucket policy 20 KiB of UTF-8, identity policy
  6,144 characters not counting whitespace;
- each statement has Effect, exactly one of Action/NotAction and at most
  one of Resource/NotResource (an identity policy's statement exactly one; a
  bucket policy's statement without either names no resource and so applies
  to nothing, as S3-compatible servers take it); Sids are unique in an
  identity policy (IAM's rule; a bucket policy may repeat one);
- an action is ``*`` or ``s3:NAME`` (wildcards allowed; a name without
  wildcards must be one objfs knows); a resource is ``*`` or starts with
  ``arn:aws:s3:::``; condition keys are ones objfs knows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from objfs.auth import actions
from objfs.auth.policy.conditions import Condition, Raw, parse_operator, parse_values
from objfs.auth.policy.patterns import Pattern, parse_pattern
from objfs.errors import MalformedPolicy, ObjfsError

VERSIONS = ("2012-10-17", "2008-10-17")
BUCKET_POLICY_MAX_BYTES = 20 * 1024
IDENTITY_POLICY_MAX_CHARS = 6144
RESOURCE_PREFIX = "arn:aws:s3:::"


def _q(text: object) -> str:
    """A user-given string quoted and escaped for a one-line message."""
    out = json.dumps(text, ensure_ascii=False)
    return out if len(out) <= 80 else out[:76] + '..."'


class Kind(StrEnum):
    IDENTITY = "identity"
    BUCKET = "bucket"


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(slots=True, frozen=True)
class PrincipalSet:
    """Who a bucket-policy statement names. ``everyone``: ``*`` or AWS ``*``."""

    everyone: bool = False
    bare_star: bool = False  # written as "*" rather than {"AWS": "*"}
    aws: tuple[str, ...] = ()
    canonical_users: tuple[str, ...] = ()
    services: tuple[str, ...] = ()  # {"Service": ...}: AWS services (log delivery)


@dataclass(slots=True, frozen=True)
class Statement:
    index: int
    sid: str | None
    effect: Effect
    actions: tuple[Pattern, ...]
    resources: tuple[Pattern, ...]
    principal: PrincipalSet | None = None
    not_principal: bool = False
    not_action: bool = False
    not_resource: bool = False
    conditions: tuple[Condition, ...] = ()

    def label(self) -> str:
        """``Statement[2] (Sid "DenyPut")`` or ``Statement[0]``."""
        return _label(self.index, self.sid)


@dataclass(slots=True, frozen=True)
class Policy:
    kind: Kind
    version: str
    statements: tuple[Statement, ...]
    id: str | None = None

    @property
    def variables(self) -> bool:
        """Policy variables are substituted only in version 2012-10-17."""
        return self.version == "2012-10-17"


def _label(index: int, sid: str | None) -> str:
    return f"Statement[{index}] (Sid {_q(sid)})" if sid else f"Statement[{index}]"


def _show(value: object) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise MalformedPolicy(f"duplicate field {_q(k)}")
        out[k] = v
    return out


def _bad_constant(name: str) -> Any:
    raise MalformedPolicy(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise MalformedPolicy(f"number {text[:20]} is out of range")
    return value


def _load(text: str | bytes, kind: Kind) -> Any:
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPolicy("policy is not valid UTF-8") from None
    if not isinstance(text, str):
        raise MalformedPolicy(f"policy must be JSON text, got {type(text).__name__}")
    if kind is Kind.BUCKET:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > BUCKET_POLICY_MAX_BYTES:
            raise MalformedPolicy(
                f"bucket policy is {size} bytes; the limit is {BUCKET_POLICY_MAX_BYTES} (20 KiB)"
            )
    else:
        size = sum(1 for c in text if not c.isspace())
        if size > IDENTITY_POLICY_MAX_CHARS:
            raise MalformedPolicy(
                f"identity policy is {size} characters (without whitespace); "
                f"the limit is {IDENTITY_POLICY_MAX_CHARS}"
            )
    try:
        return json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_bad_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as e:
        raise MalformedPolicy(
            f"policy is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    except ValueError as e:  # e.g. an integer too long to convert
        raise MalformedPolicy(f"policy is not valid JSON: {e}") from None
    except RecursionError:
        raise MalformedPolicy("policy is not valid JSON: nested too deeply") from None


def parse_policy(text: str | bytes, kind: Kind | str, *, bucket: str | None = None) -> Policy:
    """Parse and validate a policy document; raise ``MalformedPolicy``.

    ``bucket``: for a bucket policy, the bucket it is put on; a Resource that
    cannot name that bucket or an object in it is refused.
    """
    kind = Kind(kind)
    doc = _load(text, kind)
    return policy_from_obj(doc, kind, bucket=bucket)


def parse_identity_policy(text: str | bytes) -> Policy:
    return parse_policy(text, Kind.IDENTITY)


def parse_bucket_policy(text: str | bytes, bucket: str | None = None) -> Policy:
    return parse_policy(text, Kind.BUCKET, bucket=bucket)


_TOP_FIELDS = ("Version", "Id", "Statement")
_ST_FIELDS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)


def policy_from_obj(doc: Any, kind: Kind, *, bucket: str | None = None) -> Policy:
    """Validate an already-decoded JSON value (see ``parse_policy``)."""
    if not isinstance(doc, dict):
        raise MalformedPolicy(f"policy must be a JSON object, got {_type(doc)}")
    for k in doc:
        if k not in _TOP_FIELDS:
            raise MalformedPolicy(f"unknown policy field {_q(k)} (expected Version, Id, Statement)")
    version = doc.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise MalformedPolicy(f'Version must be "2012-10-17" or "2008-10-17", got {_show(version)}')
    pid = doc.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise MalformedPolicy(f"Id must be a string, got {_type(pid)}")
    if "Statement" not in doc:
        raise MalformedPolicy("policy has no Statement")
    raw = doc["Statement"]
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise MalformedPolicy(
            f"Statement must be an object or a non-empty list of objects, got {_show(raw)}"
        )
    seen: set[str] = set()
    out = []
    for i, st in enumerate(raw):
        s = _statement(i, st, kind, version == "2012-10-17", bucket)
        if s.sid is not None and kind is Kind.IDENTITY:
            if s.sid in seen:
                raise MalformedPolicy(f"{s.label()}: Sid must be unique in the policy")
            seen.add(s.sid)
        out.append(s)
    return Policy(kind, version, tuple(out), pid)


class _Where:
    """Builds error messages for one statement."""

    def __init__(self, index: int, sid: str | None) -> None:
        self.label = _label(index, sid)

    def fail(self, field: str, msg: str) -> ObjfsError:
        return MalformedPolicy(f"{self.label}: {field} {msg}")


def _statement(i: int, st: Any, kind: Kind, variables: bool, bucket: str | None) -> Statement:
    if not isinstance(st, dict):
        raise MalformedPolicy(f"Statement[{i}] must be an object, got {_type(st)}")
    sid = st.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicy(f"Statement[{i}]: Sid must be a string, got {_type(sid)}")
    w = _Where(i, sid or None)
    for k in st:
        if k not in _ST_FIELDS:
            raise MalformedPolicy(f"{w.label}: unknown field {_q(k)}")
    effect = st.get("Effect")
    if effect not in ("Allow", "Deny"):
        got = "nothing" if effect is None else _show(effect)
        raise w.fail("Effect", f'must be "Allow" or "Deny", got {got}')
    principal, not_principal = _principal_field(w, st, kind)
    if not_principal and effect == "Allow":
        # As S3: an Allow for everyone but a few is not a policy it accepts.
        raise w.fail("NotPrincipal", 'may only be used with "Effect": "Deny"')
    acts, not_action = _either(w, st, "Action", "NotAction")
    ress: tuple[str, ...]
    if kind is Kind.BUCKET and "Resource" not in st and "NotResource" not in st:
        ress, not_resource = (), False  # names nothing: the statement never applies
    else:
        ress, not_resource = _either(w, st, "Resource", "NotResource")
    field = "NotAction" if not_action else "Action"
    action_patterns = tuple(_action(w, field, a) for a in acts)
    field = "NotResource" if not_resource else "Resource"
    resource_patterns = tuple(_resource(w, field, r, variables, bucket) for r in ress)
    conds = _conditions(w, st.get("Condition"), variables) if "Condition" in st else ()
    return Statement(
        i,
        sid or None,
        Effect(effect),
        action_patterns,
        resource_patterns,
        principal,
        not_principal,
        not_action,
        not_resource,
        conds,
    )


def _strings(w: _Where, field: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise w.fail(field, f"must be a string or a non-empty list of strings, got {_show(value)}")
    for v in value:
        if not isinstance(v, str) or not v:
            raise w.fail(field, f"must hold non-empty strings, got {_show(v)}")
    return tuple(value)


def _either(w: _Where, st: dict[str, Any], pos: str, neg: str) -> tuple[tuple[str, ...], bool]:
    if (pos in st) == (neg in st):
        raise w.fail(pos, f"or {neg}: exactly one is required")
    field = pos if pos in st else neg
    return _strings(w, field, st[field]), field == neg


_ACTION = re.compile(r"([A-Za-z0-9-]+):([A-Za-z0-9*?]+)")


def _action(w: _Where, field: str, text: str) -> Pattern:
    if text != "*":
        m = _ACTION.fullmatch(text)
        if m is None:
            raise w.fail(field, f'{_show(text)} is not "*" or "s3:ActionName"')
        if m.group(1).lower() != "s3":
            raise w.fail(field, f'{_show(text)}: only "s3:" actions apply here')
        if "*" not in text and "?" not in text and actions.lookup(text) is None:
            raise w.fail(field, f"{_show(text)} is not an S3 action objfs knows")
    return parse_pattern(text, variables=False)


def _resource(w: _Where, field: str, text: str, variables: bool, bucket: str | None) -> Pattern:
    if text != "*" and (not text.startswith(RESOURCE_PREFIX) or text == RESOURCE_PREFIX):
        raise w.fail(field, f'{_show(text)} must be "*" or start with "{RESOURCE_PREFIX}BUCKET"')
    try:
        pat = parse_pattern(text, variables=variables)
    except ValueError as e:
        raise w.fail(field, str(e)) from None
    if bucket is not None and not _may_name_bucket(pat, bucket):
        raise w.fail(field, f"{_show(text)} does not name bucket {_q(bucket)} or its objects")
    return pat


def _may_name_bucket(pat: Pattern, bucket: str) -> bool:
    """Could the pattern match the bucket's ARN or one of its objects' ARNs?"""
    prefix = pat.literal_prefix()
    target = f"{RESOURCE_PREFIX}{bucket}"
    if pat.has_wildcards or pat.has_variables:
        return target.startswith(prefix) or prefix.startswith(target + "/")
    return prefix == target or prefix.startswith(target + "/")


_AWS_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
_AWS_ARN = re.compile(r"arn:aws:iam::[^:]*:(root|user/([A-Za-z0-9+=,.@_/-]+))")
_CANONICAL = re.compile(r"[0-9a-fA-F]{64}")


def _principal_field(w: _Where, st: dict[str, Any], kind: Kind) -> tuple[PrincipalSet | None, bool]:
    has_p, has_np = "Principal" in st, "NotPrincipal" in st
    if kind is Kind.IDENTITY:
        if has_p or has_np:
            field = "Principal" if has_p else "NotPrincipal"
            raise w.fail(field, "is not allowed in an identity policy (it names its user)")
        return None, False
    if has_p == has_np:
        raise w.fail("Principal", "or NotPrincipal: exactly one is required in a bucket policy")
    field = "Principal" if has_p else "NotPrincipal"
    return _principal(w, field, st[field]), has_np


def _principal(w: _Where, field: str, value: Any) -> PrincipalSet:
    if value == "*":
        return PrincipalSet(everyone=True, bare_star=True)
    if not isinstance(value, dict) or not value:
        raise w.fail(
            field, f'must be "*" or an object such as {{"AWS": [...]}}, got {_show(value)}'
        )
    aws: tuple[str, ...] = ()
    canon: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    for k, v in value.items():
        if k == "AWS":
            aws = _strings(w, f"{field}.AWS", v)
            for a in aws:
                if a != "*" and not (_AWS_NAME.fullmatch(a) or _AWS_ARN.fullmatch(a)):
                    raise w.fail(f"{field}.AWS", f"{_show(a)} is not a user name or IAM ARN")
        elif k == "CanonicalUser":
            canon = _strings(w, f"{field}.CanonicalUser", v)
            for c in canon:
                if not _CANONICAL.fullmatch(c):
                    raise w.fail(
                        f"{field}.CanonicalUser", f"{_show(c)} is not a 64-hex canonical id"
                    )
        elif k == "Service":
            services = _strings(w, f"{field}.Service", v)
        else:
            raise w.fail(
                field, f"has unknown principal type {_q(k)} (AWS, CanonicalUser or Service)"
            )
    return PrincipalSet(everyone="*" in aws, aws=aws, canonical_users=canon, services=services)


def _conditions(w: _Where, block: Any, variables: bool) -> tuple[Condition, ...]:
    if not isinstance(block, dict):
        raise w.fail("Condition", f"must be an object, got {_show(block)}")
    out: list[Condition] = []
    for op_name, keys in block.items():
        try:
            op = parse_operator(op_name)
        except ValueError as e:
            raise w.fail("Condition", str(e)) from None
        where = f"Condition.{op_name}"
        if not isinstance(keys, dict) or not keys:
            raise w.fail(where, f"must be a non-empty object of keys, got {_show(keys)}")
        for key, raw in keys.items():
            if not actions.is_known_condition_key(key):
                raise w.fail(where, f"has unknown condition key {_q(key)}")
            raws = _raw_values(w, f"{where}.{key}", raw)
            try:
                vals = parse_values(op, raws, variables=variables)
            except ValueError as e:
                raise w.fail(f"{where}.{key}", str(e)) from None
            out.append(Condition(op, key, raws, vals))
    return tuple(out)


def _raw_values(w: _Where, field: str, raw: Any) -> tuple[Raw, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise w.fail(field, "must not be an empty list")
    for v in items:
        if not isinstance(v, str | int | float | bool):
            raise w.fail(field, f"values must be strings, numbers or booleans, got {_show(v)}")
    return tuple(items)


def _one_or_list(values: tuple[Any, ...]) -> Any:
    return values[0] if len(values) == 1 else list(values)


def to_obj(policy: Policy) -> dict[str, Any]:
    """The canonical JSON-ready form of ``policy``."""
    out: dict[str, Any] = {"Version": policy.version}
    if policy.id is not None:
        out["Id"] = policy.id
    out["Statement"] = [_statement_obj(s) for s in policy.statements]
    return out


def _statement_obj(s: Statement) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if s.sid:
        out["Sid"] = s.sid
    out["Effect"] = s.effect.value
    if s.principal is not None:
        p = s.principal
        pval: Any
        if p.bare_star:
            pval = "*"
        else:
            pval = {}
            if p.aws:
                pval["AWS"] = _one_or_list(p.aws)
            if p.canonical_users:
                pval["CanonicalUser"] = _one_or_list(p.canonical_users)
            if p.services:
                pval["Service"] = _one_or_list(p.services)
        out["NotPrincipal" if s.not_principal else "Principal"] = pval
    out["NotAction" if s.not_action else "Action"] = _one_or_list(tuple(a.text for a in s.actions))
    if s.resources:
        res = _one_or_list(tuple(r.text for r in s.resources))
        out["NotResource" if s.not_resource else "Resource"] = res
    if s.conditions:
        block: dict[str, dict[str, Any]] = {}
        for c in s.conditions:
            block.setdefault(c.operator.name, {})[c.key] = _one_or_list(c.raw)
        out["Condition"] = block
    return out


def to_json(policy: Policy, *, indent: int | None = None) -> str:
    """Canonical JSON text: what ``get`` returns."""
    seps = (",", ": ") if indent else (",", ":")
    return json.dumps(to_obj(policy), indent=indent, separators=seps, ensure_ascii=False)
