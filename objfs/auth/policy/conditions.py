"""Condition operators: their names, their values, and how they match.

Owns the operator table (``OPERATORS``, written once as data), the
validation of a condition block's values at put time (``parse_values``) and
the evaluation of one ``Condition`` against a request context.

Semantics (IAM's):
- values of one key are ORed; keys of one operator and operators of one
  block are ANDed (the caller ANDs ``Condition`` objects);
- a negated operator (``StringNotEquals``, ``NotIpAddress``, ...) holds when
  the request value matches *none* of the policy values;
- a key absent from the request: ``...IfExists`` holds; ``ForAllValues:``
  holds; ``ForAnyValue:`` fails; otherwise a negated operator holds and a
  positive one fails. ``Null`` tests presence: ``true`` means absent;
- ``ForAnyValue:`` holds when at least one request value satisfies the
  operator, ``ForAllValues:`` when every one does;
- a request value that cannot be read as the operator's type (a number, a
  date, an IP) matches no policy value.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from objfs.auth.policy.patterns import (
    Lookup,
    Pattern,
    arn_match,
    expand,
    parse_pattern,
    wildcard_match,
)


def _q(text: object) -> str:
    """A user-given string quoted and escaped for a one-line message."""
    out = json.dumps(text, ensure_ascii=False)
    return out if len(out) <= 80 else out[:76] + '..."'


class Family(StrEnum):
    STRING = "String"
    NUMERIC = "Numeric"
    DATE = "Date"
    BOOL = "Bool"
    IP = "Ip"
    ARN = "Arn"
    NULL = "Null"


@dataclass(slots=True, frozen=True)
class OperatorSpec:
    """One base operator (without qualifier or ``IfExists``)."""

    name: str
    family: Family
    compare: str  # "eq", "like", "lt", "le", "gt", "ge", "in", "null"
    negated: bool = False
    ignore_case: bool = False


def _ops() -> dict[str, OperatorSpec]:
    F = Family
    rows = [
        OperatorSpec("StringEquals", F.STRING, "eq"),
        OperatorSpec("StringNotEquals", F.STRING, "eq", negated=True),
        OperatorSpec("StringEqualsIgnoreCase", F.STRING, "eq", ignore_case=True),
        OperatorSpec("StringNotEqualsIgnoreCase", F.STRING, "eq", True, True),
        OperatorSpec("StringLike", F.STRING, "like"),
        OperatorSpec("StringNotLike", F.STRING, "like", negated=True),
        OperatorSpec("Bool", F.BOOL, "eq"),
        OperatorSpec("IpAddress", F.IP, "in"),
        OperatorSpec("NotIpAddress", F.IP, "in", negated=True),
        OperatorSpec("ArnEquals", F.ARN, "like"),
        OperatorSpec("ArnLike", F.ARN, "like"),
        OperatorSpec("ArnNotEquals", F.ARN, "like", negated=True),
        OperatorSpec("ArnNotLike", F.ARN, "like", negated=True),
        OperatorSpec("Null", F.NULL, "null"),
    ]
    for fam in (F.NUMERIC, F.DATE):
        rows += [
            OperatorSpec(f"{fam}Equals", fam, "eq"),
            OperatorSpec(f"{fam}NotEquals", fam, "eq", negated=True),
            OperatorSpec(f"{fam}LessThan", fam, "lt"),
            OperatorSpec(f"{fam}LessThanEquals", fam, "le"),
            OperatorSpec(f"{fam}GreaterThan", fam, "gt"),
            OperatorSpec(f"{fam}GreaterThanEquals", fam, "ge"),
        ]
    return {r.name: r for r in rows}


OPERATORS: dict[str, OperatorSpec] = _ops()
QUALIFIERS = ("ForAnyValue", "ForAllValues")

# A raw JSON scalar as a policy may give it.
Raw = str | int | float | bool


@dataclass(slots=True, frozen=True)
class Operator:
    """A full operator name such as ``ForAnyValue:StringLikeIfExists``."""

    spec: OperatorSpec
    qualifier: str | None = None
    if_exists: bool = False

    @property
    def name(self) -> str:
        q = f"{self.qualifier}:" if self.qualifier else ""
        return f"{q}{self.spec.name}{'IfExists' if self.if_exists else ''}"


def parse_operator(text: str) -> Operator:
    """Read an operator name; ValueError names what is wrong."""
    qualifier = None
    base = text
    if ":" in text:
        qualifier, base = text.split(":", 1)
        if qualifier not in QUALIFIERS:
            raise ValueError(f"unknown set qualifier {_q(qualifier)} (ForAnyValue or ForAllValues)")
    if_exists = False
    if base.endswith("IfExists") and base != "IfExists":
        base, if_exists = base[: -len("IfExists")], True
    spec = OPERATORS.get(base)
    if spec is None:
        raise ValueError(f"unknown condition operator {_q(text)}")
    if spec.family is Family.NULL and (if_exists or qualifier):
        raise ValueError(f"{_q(text)}: Null takes no IfExists or set qualifier")
    return Operator(spec, qualifier, if_exists)


@dataclass(slots=True, frozen=True)
class Condition:
    """One key under one operator with its values (ORed)."""

    operator: Operator
    key: str
    raw: tuple[Raw, ...]  # as written, for the canonical serialiser
    values: tuple[object, ...]  # parsed: Pattern, Decimal, datetime, bool, ip_network

    def holds(self, request_values: Sequence[str] | None, lookup: Lookup) -> bool:
        """Evaluate against the request's values for ``key`` (None: absent)."""
        op = self.operator
        spec = op.spec
        present = bool(request_values)
        if spec.family is Family.NULL:
            return any(v == (not present) for v in self.values)
        if not present:
            if op.if_exists or op.qualifier == "ForAllValues":
                return True
            if op.qualifier == "ForAnyValue":
                return False
            return spec.negated
        assert request_values is not None
        if op.qualifier == "ForAnyValue":
            return any(self._one(v, lookup) for v in request_values)
        if op.qualifier == "ForAllValues":
            return all(self._one(v, lookup) for v in request_values)
        hit = any(self._positive(v, lookup) for v in request_values)
        return not hit if spec.negated else hit

    def _one(self, value: str, lookup: Lookup) -> bool:
        hit = self._positive(value, lookup)
        return not hit if self.operator.spec.negated else hit

    def _positive(self, value: str, lookup: Lookup) -> bool:
        """True if ``value`` matches any policy value (negation not applied)."""
        spec = self.operator.spec
        fam = spec.family
        if fam is Family.STRING:
            return _string_hit(spec, self.values, value, lookup)
        if fam is Family.ARN:
            # An ARN operator's values are all Patterns (parse_values makes them).
            return any(arn_match(p, value, lookup) for p in self.values if isinstance(p, Pattern))
        if fam is Family.BOOL:
            low = value.strip().lower()
            return any(low == ("true" if v else "false") for v in self.values)
        if fam is Family.IP:
            return _ip_hit(self.values, value)
        if fam is Family.NUMERIC:
            got: object = _number(value)
        else:
            got = _date(value)
        if got is None:
            return False
        return any(_cmp(spec.compare, got, v) for v in self.values)


def _string_hit(spec: OperatorSpec, values: tuple[object, ...], value: str, lookup: Lookup) -> bool:
    if spec.compare == "like":
        # A string operator's values are all Patterns (parse_values makes them).
        return any(wildcard_match(p, value, lookup) for p in values if isinstance(p, Pattern))
    want = value.casefold() if spec.ignore_case else value
    for p in values:
        lit = expand(p, lookup) if isinstance(p, Pattern) else None
        if lit is None:
            continue
        if (lit.casefold() if spec.ignore_case else lit) == want:
            return True
    return False


def _ip_hit(values: tuple[object, ...], value: str) -> bool:
    try:
        addr = ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    for net in values:
        assert isinstance(net, ipaddress.IPv4Network | ipaddress.IPv6Network)
        if net.version == addr.version and addr in net:
            return True
    return False


def _cmp(how: str, a: Any, b: Any) -> bool:
    """Compare a request value with a policy value of the same type."""
    if how == "eq":
        return bool(a == b)
    if how == "lt":
        return bool(a < b)
    if how == "le":
        return bool(a <= b)
    if how == "gt":
        return bool(a > b)
    return bool(a >= b)


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _date(value: object) -> datetime | None:
    """An ISO 8601 date/time or epoch seconds, as an aware UTC datetime."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _epoch(value)
    text = str(value).strip()
    num = _number(text)
    if num is not None:
        return _epoch(num)
    try:
        dt = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _epoch(value: float | Decimal) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _as_text(raw: Raw) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


def parse_values(op: Operator, raws: Sequence[Raw], *, variables: bool) -> tuple[object, ...]:
    """Parse a key's policy values for ``op``; ValueError says which is bad."""
    fam = op.spec.family
    out: list[object] = []
    for raw in raws:
        text = _as_text(raw)
        if fam is Family.STRING or fam is Family.ARN:
            out.append(parse_pattern(text, variables=variables))
        elif fam is Family.NUMERIC:
            n = _number(raw)
            if n is None:
                raise ValueError(f"{op.name} needs numbers, got {text!r}")
            out.append(n)
        elif fam is Family.DATE:
            d = _date(raw)
            if d is None:
                raise ValueError(f"{op.name} needs ISO 8601 dates or epoch seconds, got {text!r}")
            out.append(d)
        elif fam is Family.BOOL or fam is Family.NULL:
            low = text.lower()
            if low not in ("true", "false"):
                raise ValueError(f'{op.name} needs "true" or "false", got {text!r}')
            out.append(low == "true")
        else:
            try:
                out.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"{op.name} needs IP addresses or CIDR blocks, got {text!r}"
                ) from None
    return tuple(out)
