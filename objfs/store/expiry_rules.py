"""Lifecycle rules: a bucket's lifecycle configuration, validated, and what it decides.

A configuration is 1 to 1,000 rules in S3's JSON shape (as boto3's
``put_bucket_lifecycle_configuration`` takes it and ``aws s3api
get-bucket-lifecycle-configuration`` prints it): ``ID``, ``Status``,
``Filter`` (or the legacy top-level ``Prefix``), ``Expiration``,
``NoncurrentVersionExpiration``, ``AbortIncompleteMultipartUpload``,
``Transitions``/``NoncurrentVersionTransitions``. ``parse_rules`` validates
it as S3 does (codes and messages) and gives it back normalised: numbers
as ints, a generated ``ID`` where none was given, everything else as it was
sent, so GetBucketLifecycleConfiguration answers what was put.

Pure functions only: which rule covers a version (``LifecycleRule.matches``),
when a current version expires (``expiry_of``: S3 counts whole days from
the creation time and rounds up to the next midnight UTC), when a
noncurrent version does. Execution is ``objfs/store/expiry.py``'s.

Invariants: a stored configuration always parses; objfs has one storage
class (STANDARD), so every transition is refused (``InvalidStorageClass``
for S3's classes, ``MalformedXML`` for names S3 does not have).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from objfs.errors import InvalidArgument, InvalidRequest, InvalidStorageClass, MalformedXML

MAX_RULES = 1000
MAX_ID = 255
DAY_NS = 86_400 * 1_000_000_000
# S3's storage classes a transition may name; objfs stores every object as STANDARD.
S3_STORAGE_CLASSES = frozenset(
    "STANDARD_IA ONEZONE_IA INTELLIGENT_TIERING GLACIER DEEP_ARCHIVE GLACIER_IR".split()
)
_RULE_FIELDS = {
    "ID",
    "Status",
    "Prefix",
    "Filter",
    "Expiration",
    "NoncurrentVersionExpiration",
    "AbortIncompleteMultipartUpload",
    "Transitions",
    "NoncurrentVersionTransitions",
}
_FILTER_FIELDS = {"Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan"}
_AND_FIELDS = {"Prefix", "Tags", "ObjectSizeGreaterThan", "ObjectSizeLessThan"}


@dataclass(frozen=True, slots=True)
class RuleFilter:
    """What a rule covers: every condition must hold (an empty filter: everything)."""

    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_gt: int | None = None
    size_lt: int | None = None

    def matches(self, key: str, size: int, tags: Mapping[str, str]) -> bool:
        if not key.startswith(self.prefix):
            return False
        if any(tags.get(k) != v for k, v in self.tags):
            return False
        if self.size_gt is not None and not size > self.size_gt:
            return False
        return self.size_lt is None or size < self.size_lt


@dataclass(frozen=True, slots=True)
class LifecycleRule:
    id: str
    enabled: bool
    filter: RuleFilter
    expiration_days: int | None = None
    expiration_date_ns: int | None = None
    expired_delete_marker: bool = False
    noncurrent_days: int | None = None
    newer_noncurrent: int | None = None
    abort_upload_days: int | None = None
    obj: dict[str, Any] = field(default_factory=dict, compare=False)  # as put, normalised

    def expiry_of(self, created_ns: int) -> int | None:
        """When a current version created at ``created_ns`` expires under this rule."""
        if self.expiration_date_ns is not None:
            return self.expiration_date_ns
        if self.expiration_days is not None:
            return next_midnight(created_ns + self.expiration_days * DAY_NS)
        return None


def next_midnight(ns: int) -> int:
    """``ns`` rounded up to a midnight UTC (S3's rounding of every lifecycle day count)."""
    return -(-ns // DAY_NS) * DAY_NS


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise MalformedXML(f"{what} must be an integer")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise MalformedXML(f"{what} must be an integer")
    return value


def _positive(value: Any, what: str) -> int:
    number = _int(value, what)
    if number <= 0:
        raise InvalidArgument(f"'{what}' must be a positive integer")
    return number


def _bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise MalformedXML(f"{what} must be true or false")


def _date(value: Any, what: str) -> tuple[int, str]:
    """(ns, ISO text) of a lifecycle date, which S3 wants at midnight UTC."""
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, str):
        text = value.strip()
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArgument(
                f"Invalid '{what}' value {text!r}: an ISO 8601 date at midnight UTC"
            ) from None
        if len(text) < 10 or text[4] != "-":  # 20200101: not S3's ISO 8601 form
            raise InvalidArgument(f"Invalid '{what}' value {text!r}")
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    else:
        raise MalformedXML(f"{what} must be a date")
    when = when.astimezone(UTC)
    if (when.hour, when.minute, when.second, when.microsecond) != (0, 0, 0, 0):
        raise InvalidArgument(f"'{what}' must be at midnight GMT")
    ns = int(when.timestamp()) * 1_000_000_000
    return ns, when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _tag(obj: Any) -> tuple[str, str]:
    if not isinstance(obj, Mapping) or set(obj) - {"Key", "Value"} or "Key" not in obj:
        raise MalformedXML("a Tag has a Key and a Value")
    key, value = obj["Key"], obj.get("Value", "")
    if not isinstance(key, str) or not isinstance(value, str):
        raise MalformedXML("a Tag's Key and Value are strings")
    if not 1 <= len(key) <= 128 or len(value) > 256:
        raise InvalidArgument("a tag key is 1 to 128 characters, a value at most 256")
    return key, value


def _filter(obj: Any) -> RuleFilter:
    if not isinstance(obj, Mapping):
        raise MalformedXML("Filter must be an object")
    unknown = set(obj) - _FILTER_FIELDS
    if unknown:
        raise MalformedXML(f"unknown Filter field(s): {', '.join(sorted(unknown))}")
    if len(obj) > 1:
        raise MalformedXML("a Filter holds one condition: use And to combine them")
    if "Prefix" in obj:
        return RuleFilter(prefix=_prefix(obj["Prefix"]))
    if "Tag" in obj:
        return RuleFilter(tags=(_tag(obj["Tag"]),))
    if "ObjectSizeGreaterThan" in obj:
        return RuleFilter(size_gt=_size(obj["ObjectSizeGreaterThan"], "ObjectSizeGreaterThan"))
    if "ObjectSizeLessThan" in obj:
        return RuleFilter(size_lt=_size(obj["ObjectSizeLessThan"], "ObjectSizeLessThan"))
    if "And" in obj:
        both = obj["And"]
        if not isinstance(both, Mapping):
            raise MalformedXML("And must be an object")
        unknown = set(both) - _AND_FIELDS
        if unknown:
            raise MalformedXML(f"unknown And field(s): {', '.join(sorted(unknown))}")
        tags = both.get("Tags", [])
        if not isinstance(tags, list | tuple):
            raise MalformedXML("And's Tags is a list")
        pairs = tuple(_tag(t) for t in tags)
        if len({k for k, _ in pairs}) != len(pairs):
            raise InvalidRequest("Duplicate Tag Keys are not allowed.")
        out = RuleFilter(
            prefix=_prefix(both.get("Prefix", "")),
            tags=pairs,
            size_gt=_size(both["ObjectSizeGreaterThan"], "ObjectSizeGreaterThan")
            if "ObjectSizeGreaterThan" in both
            else None,
            size_lt=_size(both["ObjectSizeLessThan"], "ObjectSizeLessThan")
            if "ObjectSizeLessThan" in both
            else None,
        )
        if out.size_gt is not None and out.size_lt is not None and out.size_gt >= out.size_lt:
            raise InvalidArgument("ObjectSizeGreaterThan must be less than ObjectSizeLessThan")
        return out
    return RuleFilter()


def _prefix(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedXML("Prefix must be a string")
    if len(value.encode("utf-8")) > 1024:
        raise InvalidArgument("The maximum size of a prefix is 1024.")
    return value


def _size(value: Any, what: str) -> int:
    number = _int(value, what)
    if number < 0:
        raise InvalidArgument(f"'{what}' must not be negative")
    return number


def _transitions(obj: Mapping[str, Any], name: str, days_field: str) -> None:
    """objfs has only STANDARD: every transition is refused, as S3 refuses a class it lacks."""
    items = obj.get(name)
    if items is None:
        return
    if not isinstance(items, list | tuple):
        raise MalformedXML(f"{name} is a list")
    for item in items:
        if not isinstance(item, Mapping):
            raise MalformedXML(f"each of {name} is an object")
        if "Date" in item:
            _date(item["Date"], "Date")
        if days_field in item:
            _int(item[days_field], days_field)
        storage = item.get("StorageClass")
        if not isinstance(storage, str) or (
            storage not in S3_STORAGE_CLASSES and storage != "STANDARD"
        ):
            raise MalformedXML(f"{name}: StorageClass {storage!r} is not one of S3's")
        raise InvalidStorageClass(
            f"The storage class you specified is not valid: objfs keeps every object in "
            f"STANDARD and cannot transition to {storage}"
        )


def parse_rule(obj: Any) -> LifecycleRule:
    """One rule in S3's JSON shape, validated (S3's codes and messages)."""
    if not isinstance(obj, Mapping):
        raise MalformedXML("each Rule must be an object")
    unknown = set(obj) - _RULE_FIELDS
    if unknown:
        raise MalformedXML(f"unknown Rule field(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    rule_id = obj.get("ID")
    if rule_id is None or rule_id == "":
        rule_id = secrets.token_urlsafe(36)[:48]  # S3 makes one up
    if not isinstance(rule_id, str):
        raise MalformedXML("ID must be a string")
    if len(rule_id) > MAX_ID:
        raise InvalidArgument("ID length should not exceed allowed limit of 255")
    out["ID"] = rule_id
    status = obj.get("Status")
    if status not in ("Enabled", "Disabled"):
        raise MalformedXML("Status must be Enabled or Disabled")
    out["Status"] = status
    if "Filter" in obj and "Prefix" in obj:
        raise MalformedXML("a Rule has a Filter or a Prefix, not both")
    if "Prefix" in obj:
        flt = RuleFilter(prefix=_prefix(obj["Prefix"]))
        out["Prefix"] = flt.prefix
    elif "Filter" in obj:
        flt = _filter(obj["Filter"])
        out["Filter"] = _normal_filter(obj["Filter"])
    else:
        raise MalformedXML("a Rule needs a Filter (an empty one covers the whole bucket)")
    rule: dict[str, Any] = {}
    exp = obj.get("Expiration")
    if exp is not None:
        if not isinstance(exp, Mapping) or set(exp) - {"Days", "Date", "ExpiredObjectDeleteMarker"}:
            raise MalformedXML("Expiration has Days, Date or ExpiredObjectDeleteMarker")
        if len(exp) != 1:
            raise MalformedXML("Expiration has one of Days, Date or ExpiredObjectDeleteMarker")
        if "Days" in exp:
            days = _int(exp["Days"], "Days")
            if days <= 0:
                raise InvalidArgument("'Days' for Expiration action must be a positive integer")
            rule["expiration_days"] = days
            out["Expiration"] = {"Days": days}
        elif "Date" in exp:
            ns, text = _date(exp["Date"], "Date")
            rule["expiration_date_ns"] = ns
            out["Expiration"] = {"Date": text}
        else:
            marker = _bool(exp["ExpiredObjectDeleteMarker"], "ExpiredObjectDeleteMarker")
            if marker and flt.tags:
                raise InvalidArgument(
                    "ExpiredObjectDeleteMarker cannot be specified with object tags"
                )
            rule["expired_delete_marker"] = marker
            out["Expiration"] = {"ExpiredObjectDeleteMarker": marker}
    nve = obj.get("NoncurrentVersionExpiration")
    if nve is not None:
        if not isinstance(nve, Mapping) or set(nve) - {"NoncurrentDays", "NewerNoncurrentVersions"}:
            raise MalformedXML("NoncurrentVersionExpiration has NoncurrentDays")
        if "NoncurrentDays" not in nve:
            raise MalformedXML("NoncurrentVersionExpiration needs NoncurrentDays")
        days = _int(nve["NoncurrentDays"], "NoncurrentDays")
        if days <= 0:
            raise InvalidArgument(
                "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"
            )
        rule["noncurrent_days"] = days
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
        if "NewerNoncurrentVersions" in nve:
            newer = _int(nve["NewerNoncurrentVersions"], "NewerNoncurrentVersions")
            if not 1 <= newer <= 100:
                raise InvalidArgument("NewerNoncurrentVersions must be from 1 to 100")
            rule["newer_noncurrent"] = newer
            out["NoncurrentVersionExpiration"]["NewerNoncurrentVersions"] = newer
    abort = obj.get("AbortIncompleteMultipartUpload")
    if abort is not None:
        if not isinstance(abort, Mapping) or set(abort) != {"DaysAfterInitiation"}:
            raise MalformedXML("AbortIncompleteMultipartUpload has DaysAfterInitiation")
        if flt.tags or flt.size_gt is not None or flt.size_lt is not None:
            raise InvalidRequest(
                "AbortIncompleteMultipartUpload cannot be specified with Tags or object sizes"
            )
        days = _int(abort["DaysAfterInitiation"], "DaysAfterInitiation")
        if days <= 0:
            raise InvalidArgument("'DaysAfterInitiation' must be a positive integer")
        rule["abort_upload_days"] = days
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    _transitions(obj, "Transitions", "Days")
    _transitions(obj, "NoncurrentVersionTransitions", "NoncurrentDays")
    if not rule:
        raise InvalidRequest("At least one action needs to be specified in a rule")
    return LifecycleRule(id=rule_id, enabled=status == "Enabled", filter=flt, obj=out, **rule)


def _normal_filter(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The filter as S3 gives it back: sizes as ints, everything else as sent."""
    out: dict[str, Any] = {}
    for name, value in obj.items():
        if name in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
            out[name] = _int(value, name)
        elif name == "And":
            out[name] = {
                k: (_int(v, k) if k.startswith("ObjectSize") else v) for k, v in value.items()
            }
        else:
            out[name] = value
    return out


def parse_rules(rules: Iterable[Any]) -> tuple[LifecycleRule, ...]:
    """A whole configuration: 1 to 1,000 rules with distinct IDs."""
    if isinstance(rules, Mapping | str | bytes):
        raise MalformedXML("a lifecycle configuration is a list of Rules")
    out = tuple(parse_rule(r) for r in rules)
    if not out:
        raise MalformedXML("a lifecycle configuration needs at least one Rule")
    if len(out) > MAX_RULES:
        raise MalformedXML(f"a lifecycle configuration holds at most {MAX_RULES} rules")
    ids = [r.id for r in out]
    if len(set(ids)) != len(ids):
        raise InvalidArgument("Rule ID must be unique. Found same ID for more than one rule")
    return out


def current_expiry(
    rules: Iterable[LifecycleRule], key: str, size: int, tags: Mapping[str, str], created_ns: int
) -> tuple[int, str] | None:
    """(expiry ns, rule id) of the earliest Expiration (Days or Date) covering a current
    version: what ``x-amz-expiration`` announces and ``apply_lifecycle`` acts on."""
    best: tuple[int, str] | None = None
    for rule in rules:
        if not rule.enabled or not rule.filter.matches(key, size, tags):
            continue
        when = rule.expiry_of(created_ns)
        if when is not None and (best is None or when < best[0]):
            best = (when, rule.id)
    return best


def expiration_header(expiry: tuple[int, str]) -> str:
    """``x-amz-expiration``'s value: ``expiry-date="<HTTP date>", rule-id="<id>"``."""
    when = datetime.fromtimestamp(expiry[0] / 1e9, UTC)
    rule_id = expiry[1].replace("\\", "\\\\").replace('"', '\\"')
    return f'expiry-date="{when.strftime("%a, %d %b %Y %H:%M:%S GMT")}", rule-id="{rule_id}"'
