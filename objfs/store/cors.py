"""CORS: a bucket's cross-origin rules, and which rule answers a request.

A configuration is up to 100 rules in S3's JSON shape (``AllowedOrigins``,
``AllowedMethods``, ``AllowedHeaders``, ``ExposeHeaders``, ``MaxAgeSeconds``,
``ID``), validated at put time and kept in the bucket's ``buckets.config``
map under ``cors``. ``match_rule`` is pure: origin + method + requested
headers -> the first rule matching all three, as S3 decides it:

- an origin (scheme://host[:port]) matches an AllowedOrigin exactly or by its
  one ``*`` wildcard; the comparison is case-sensitive, as S3's;
- the method must be one of the rule's AllowedMethods (upper case, exact);
- every requested header must match an AllowedHeader, case-insensitively,
  where ``*`` in an AllowedHeader matches any run of characters.

Invariants: a stored configuration always validates; put and delete advance
the change sequence (``_set_config``), so the API never answers a preflight
from stale rules. A preflight carries no credentials: ``cors_match`` is
answered to anyone, as S3 answers it (it reveals only whether a browser
request would be allowed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from objfs.errors import InvalidRequest, MalformedXML, NoSuchCORSConfiguration
from objfs.meta.db import Database
from objfs.store.access import Need, requires, unauthenticated
from objfs.store.configs import BucketConfigs
from objfs.store.seam import Seam
from objfs.store.types import RequestContext

MAX_RULES = 100
METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
_FIELDS = {
    "ID",
    "AllowedOrigins",
    "AllowedMethods",
    "AllowedHeaders",
    "ExposeHeaders",
    "MaxAgeSeconds",
}


@dataclass(frozen=True, slots=True)
class CORSRule:
    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None

    def to_obj(self) -> dict[str, Any]:
        """S3's JSON shape (as ``aws s3api get-bucket-cors`` prints it)."""
        out: dict[str, Any] = {}
        if self.id is not None:
            out["ID"] = self.id
        if self.allowed_headers:
            out["AllowedHeaders"] = list(self.allowed_headers)
        out["AllowedMethods"] = list(self.allowed_methods)
        out["AllowedOrigins"] = list(self.allowed_origins)
        if self.expose_headers:
            out["ExposeHeaders"] = list(self.expose_headers)
        if self.max_age_seconds is not None:
            out["MaxAgeSeconds"] = self.max_age_seconds
        return out

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any]) -> CORSRule:
        """Validate one rule given in S3's JSON shape; MalformedXML / InvalidRequest."""
        if not isinstance(obj, Mapping):
            raise MalformedXML("each CORSRule must be an object")
        unknown = set(obj) - _FIELDS
        if unknown:
            raise MalformedXML(f"unknown CORSRule field(s): {', '.join(sorted(unknown))}")
        origins = _strings(obj, "AllowedOrigins")
        methods = _strings(obj, "AllowedMethods")
        if not origins or not methods:
            raise MalformedXML("a CORSRule needs at least one AllowedOrigin and AllowedMethod")
        for origin in origins:
            if origin.count("*") > 1:
                raise InvalidRequest(
                    f'AllowedOrigin "{origin}" can not have more than one wildcard.'
                )
        for method in methods:
            if method not in METHODS:
                raise InvalidRequest(
                    f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                )
        headers = _strings(obj, "AllowedHeaders")
        for header in headers:
            if header.count("*") > 1:
                raise InvalidRequest(
                    f'AllowedHeader "{header}" can not have more than one wildcard.'
                )
        max_age = obj.get("MaxAgeSeconds")
        if max_age is not None:
            if isinstance(max_age, str) and max_age.strip().lstrip("-").isdigit():
                max_age = int(max_age)
            if not isinstance(max_age, int) or isinstance(max_age, bool):
                raise MalformedXML("MaxAgeSeconds must be an integer")
            if max_age < 0:
                raise MalformedXML("MaxAgeSeconds must not be negative")
        rule_id = obj.get("ID")
        if rule_id is not None and (not isinstance(rule_id, str) or len(rule_id) > 255):
            raise MalformedXML("a CORSRule ID is a string of at most 255 characters")
        return cls(
            allowed_origins=origins,
            allowed_methods=methods,
            allowed_headers=headers,
            expose_headers=_strings(obj, "ExposeHeaders"),
            max_age_seconds=max_age,
            id=rule_id,
        )


def _strings(obj: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = obj.get(name, ())
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise MalformedXML(f"{name} must be a list of strings")
    return tuple(v.strip() for v in value)


def parse_rules(rules: Iterable[CORSRule | Mapping[str, Any]]) -> tuple[CORSRule, ...]:
    """A whole configuration, validated: 1 to 100 rules."""
    if isinstance(rules, Mapping) or isinstance(rules, str | bytes):
        raise MalformedXML("a CORS configuration is a list of CORSRules")
    out = tuple(r if isinstance(r, CORSRule) else CORSRule.from_obj(r) for r in rules)
    if not out:
        raise MalformedXML("a CORS configuration needs at least one CORSRule")
    if len(out) > MAX_RULES:
        raise MalformedXML(f"a CORS configuration holds at most {MAX_RULES} rules")
    return out


def _wildcard(pattern: str, value: str, *, fold: bool) -> bool:
    if fold:
        pattern, value = pattern.lower(), value.lower()
    if "*" not in pattern:
        return pattern == value
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def match_rule(
    rules: Sequence[CORSRule], origin: str, method: str, request_headers: Iterable[str] = ()
) -> CORSRule | None:
    """The first rule allowing ``origin`` to send ``method`` with ``request_headers``."""
    wanted = [h.strip() for h in request_headers if h.strip()]
    for rule in rules:
        if method not in rule.allowed_methods:
            continue
        if not any(_wildcard(o, origin, fold=False) for o in rule.allowed_origins):
            continue
        if all(any(_wildcard(a, h, fold=True) for a in rule.allowed_headers) for h in wanted):
            return rule
    return None


def split_header_list(value: str | None) -> list[str]:
    """``Access-Control-Request-Headers: a, B`` -> ``["a", "b"]`` (lower case)."""
    return [h.strip().lower() for h in (value or "").split(",") if h.strip()]


class CORS:
    """A bucket's CORS rules and the preflight's rule lookup (``store.cors``)."""

    def __init__(self, *, db: Database, configs: BucketConfigs, seam: Seam) -> None:
        self.db = db
        self.configs = configs
        self.seam = seam

    @requires(Need("s3:PutBucketCORS", key=None))
    def put_bucket_cors(
        self,
        ctx: RequestContext,
        bucket: str,
        rules: Iterable[CORSRule | Mapping[str, Any]],
    ) -> tuple[CORSRule, ...]:
        """Validate and set the bucket's CORS rules (S3's JSON shape or CORSRule)."""
        parsed = parse_rules(rules)
        with self.db.write(durable=True) as cur:
            self.configs.set(cur, bucket, cors=[r.to_obj() for r in parsed])
        return parsed

    @requires(Need("s3:GetBucketCORS", key=None))
    def get_bucket_cors(self, ctx: RequestContext, bucket: str) -> tuple[CORSRule, ...]:
        """The bucket's rules; NoSuchCORSConfiguration without any."""
        rules = self._cors_rules(bucket)
        if not rules:
            raise NoSuchCORSConfiguration("The CORS configuration does not exist")
        return rules

    @requires(Need("s3:PutBucketCORS", key=None))  # S3: DeleteBucketCors needs PutBucketCORS
    def delete_bucket_cors(self, ctx: RequestContext, bucket: str) -> None:
        with self.db.write(durable=True) as cur:
            self.configs.set(cur, bucket, cors=None)

    @unauthenticated
    def cors_match(
        self,
        ctx: RequestContext,
        bucket: str,
        origin: str,
        method: str,
        request_headers: Iterable[str] = (),
    ) -> CORSRule | None:
        """The rule that allows this cross-origin request, or None.

        Raises NoSuchCORSConfiguration when the bucket has no rules (and
        NoSuchBucket without the bucket). Anyone may ask: a browser's
        preflight carries no credentials.
        """
        rules = self._cors_rules(bucket)
        if not rules:
            raise NoSuchCORSConfiguration("CORSResponse: CORS is not enabled for this bucket.")
        return match_rule(rules, origin, method, request_headers)

    def _cors_rules(self, bucket: str) -> tuple[CORSRule, ...]:
        with self.db.read() as cur:
            stored = self.configs.get(cur, bucket).get("cors") or ()
        return tuple(CORSRule.from_obj(r) for r in stored)
