"""POST policy documents of browser form uploads (S3's "Creating a POST Policy").

A policy is base64 JSON: ``{"expiration": ISO 8601, "conditions": [...]}``.
A condition is an exact match (``{"acl": "private"}`` or ``["eq", "$acl",
"private"]``), a prefix (``["starts-with", "$key", "user/"]``) or the file's
size (``["content-length-range", MIN, MAX]``). Condition and field names are
case-insensitive, values case-sensitive. Every form field but the exempt
ones (the file, the policy and its signature, ``x-ignore-*``, ...) must be
named by a condition.

The form signs the base64 text itself: SigV4 (hex HMAC-SHA256 with the
derived signing key of ``x-amz-credential``) or SigV2 (base64 HMAC-SHA1 with
the secret). Pure functions: no store, no HTTP; errors are S3's.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from objfs.auth import sigv2, sigv4
from objfs.errors import (
    AccessDenied,
    InvalidPolicyDocument,
    ObjfsError,
    SignatureDoesNotMatch,
)

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
# Fields no condition needs to name (lower case; x-ignore-* too). AWS lists
# the file, the policy, its signature and AWSAccessKeyId; the checksum of
# the file is checked against the file itself (the s3-tests post one unnamed).
EXEMPT = frozenset({"file", "policy", "signature", "x-amz-signature", "awsaccesskeyid"})
EXEMPT_PREFIXES = ("x-ignore-", "x-amz-checksum-")
_EXPIRATION = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z")


def _invalid(message: str) -> ObjfsError:
    return InvalidPolicyDocument(f"Invalid Policy: {message}")


def _refused(message: str) -> ObjfsError:
    return AccessDenied(f"Invalid according to Policy: {message}", public=True)


@dataclass(slots=True, frozen=True)
class Condition:
    """One condition: ``op`` is "eq", "starts-with" or "content-length-range"."""

    op: str
    field: str  # lower case, without "$" ("" for content-length-range)
    value: str | int | tuple[int, int]
    text: str  # as the policy wrote it, for the error message

    def holds(self, fields: Mapping[str, str]) -> bool:
        given = fields.get(self.field, "")
        if self.op == "eq":
            return given == self.value
        assert isinstance(self.value, str)
        if self.field == "content-type" and self.value:  # each of a list of types
            return all(t.strip().startswith(self.value) for t in given.split(","))
        return given.startswith(self.value)


@dataclass(slots=True, frozen=True)
class PostPolicy:
    expiration: datetime
    conditions: tuple[Condition, ...]

    @property
    def length_range(self) -> tuple[int, int] | None:
        """(min, max) bytes of the file, when a condition limits them."""
        for c in self.conditions:
            if c.op == "content-length-range":
                assert isinstance(c.value, tuple)
                return c.value
        return None

    def check(self, fields: Mapping[str, str], *, now: datetime) -> None:
        """Refuse (AccessDenied, S3's words) an expired policy, a field that
        fails its condition, or a field no condition names. ``fields``: lower-case
        names, the bucket among them."""
        if now >= self.expiration:
            raise _refused("Policy expired.")
        for c in self.conditions:
            if c.op != "content-length-range" and not c.holds(fields):
                raise _refused(f"Policy Condition failed: {c.text}")
        named = {c.field for c in self.conditions}
        extra = [
            f
            for f in fields
            if f not in named and f not in EXEMPT and not f.startswith(EXEMPT_PREFIXES)
        ]
        if extra:
            raise _refused(f"Extra input fields: {', '.join(extra)}")


def parse(policy_b64: str) -> PostPolicy:
    """The policy of a form's ``policy`` field; InvalidPolicyDocument when it is not one."""
    try:
        doc = json.loads(base64.b64decode(policy_b64.strip(), validate=True))
    except (binascii.Error, ValueError):
        raise _invalid("Invalid JSON.") from None
    if not isinstance(doc, dict):
        raise _invalid("Invalid JSON.")
    if "expiration" not in doc:
        raise _invalid("Policy missing expiration.")
    if "conditions" not in doc:
        raise _invalid("Policy missing conditions.")
    unknown = sorted(set(doc) - {"expiration", "conditions"})
    if unknown:
        raise _invalid(f"Unexpected field: {unknown[0]}")
    expiration = _expiration(doc["expiration"])
    if not isinstance(doc["conditions"], list):
        raise _invalid("Invalid conditions: not a list.")
    return PostPolicy(expiration, tuple(_condition(c) for c in doc["conditions"]))


def _expiration(value: object) -> datetime:
    m = _EXPIRATION.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise _invalid(f"Invalid 'expiration' value: '{value}'")
    try:
        year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise _invalid(f"Invalid 'expiration' value: '{value}'") from None


def _text(value: object) -> str:
    return json.dumps(value, separators=(", ", ": "))


def _condition(item: object) -> Condition:
    if isinstance(item, dict):
        if len(item) != 1:
            raise _invalid(
                "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."
            )
        ((name, value),) = item.items()
        if not isinstance(value, str):
            raise _invalid(f"Invalid Simple-Condition: value of '{name}' must be a string.")
        return Condition("eq", name.lower().lstrip("$"), value, _text(["eq", f"${name}", value]))
    if not isinstance(item, list) or not item or not isinstance(item[0], str):
        raise _invalid(f"Invalid Condition: {_text(item)}")
    op = item[0].lower()
    if op == "content-length-range":
        ok = len(item) == 3 and all(type(v) is int for v in item[1:])
        ok = ok or (len(item) == 3 and all(isinstance(v, str) and v.isdigit() for v in item[1:]))
        if not ok:
            raise _invalid("Invalid content-length-range: needs exactly a minimum and a maximum.")
        low, high = int(item[1]), int(item[2])
        if low < 0 or high < 0 or low > high:
            raise _invalid(f"Invalid content-length-range: {low}, {high}.")
        return Condition(op, "", (low, high), _text(item))
    if op in ("eq", "starts-with"):
        if len(item) != 3 or not isinstance(item[1], str) or not isinstance(item[2], str):
            raise _invalid(f"Invalid Condition: {_text(item)}")
        if not item[1].startswith("$"):
            raise _invalid(f"Invalid Condition: {item[1]!r} must name a field as $name.")
        return Condition(op, item[1][1:].lower(), item[2], _text(item))
    raise _invalid(f"Invalid Condition: unknown operation '{item[0]}'.")


# -- signatures ----------------------------------------------------------------


def verify_v4(policy_b64: str, signature: str, credential: sigv4.Credential, secret: str) -> None:
    """``x-amz-signature``: hex HMAC-SHA256 of the base64 policy with the signing key."""
    key = sigv4.signing_key(secret, credential.date, credential.region, credential.service)
    if not sigv4.signatures_equal(sigv4.signature(key, policy_b64), signature.strip()):
        raise SignatureDoesNotMatch(SIGNATURE_MISMATCH)


def verify_v2(policy_b64: str, signature: str, secret: str) -> None:
    """``signature``: base64 HMAC-SHA1 of the base64 policy with the secret."""
    want = sigv2.signature(secret, policy_b64)
    if not hmac.compare_digest(want.encode(), signature.strip().encode("utf-8", "replace")):
        raise SignatureDoesNotMatch(SIGNATURE_MISMATCH)


def sign_v4(
    policy: Mapping[str, object], *, access_key: str, secret_key: str, region: str, now: datetime
) -> dict[str, str]:
    """The form fields of a SigV4 POST (``objfs presign --post``, tests): the
    policy gets the x-amz-algorithm/credential/date conditions it must name."""
    date = sigv4.format_amz_date(now)
    credential = f"{access_key}/{sigv4.credential_scope(date[:8], region, 's3')}"
    fields = {
        "x-amz-algorithm": sigv4.ALGORITHM,
        "x-amz-credential": credential,
        "x-amz-date": date,
    }
    doc: dict[str, Any] = dict(policy)  # JSON: conditions is a list
    doc["conditions"] = [*list(doc.get("conditions", [])), *({k: v} for k, v in fields.items())]
    policy_b64 = base64.b64encode(json.dumps(doc).encode()).decode()
    key = sigv4.signing_key(secret_key, date[:8], region, "s3")
    return {**fields, "policy": policy_b64, "x-amz-signature": sigv4.signature(key, policy_b64)}
