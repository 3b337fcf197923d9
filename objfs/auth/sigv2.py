"""AWS Signature Version 2 for S3 (``HmacV1``): the math, as pure functions.

Owns the string to sign, the header (``Authorization: AWS KEY:SIG``) and
query (``AWSAccessKeyId``, ``Expires``, ``Signature``) forms, and their
verification. No clock is read (callers pass ``now``), no I/O.

The string to sign is ``VERB\\nContent-MD5\\nContent-Type\\nDate\\n``, the
``x-amz-*`` headers (lower-cased, sorted, ``name:value`` lines) and the
canonical resource: the path *as sent* (still percent-encoded; for a
virtual-hosted request, ``/BUCKET`` before it) plus the sub-resources of
the query, sorted (a bucket's own path is signed as ``/bucket/`` or
``/bucket``: both are accepted). A pre-signed URL signs ``Expires`` (epoch seconds) in
place of the date, and carries its ``x-amz-*`` "headers" as query
parameters. With an ``x-amz-date`` header the Date line is empty (AWS's
rule; botocore signs its Date header anyway, so that form is accepted too).

Clients disagree on which query parameters are sub-resources (botocore's
list is shorter than S3's documentation and minio's); a signature is
accepted when it matches the string to sign under either list. Signatures
are compared with ``hmac.compare_digest``. Errors: a malformed header or
query -> ``AuthorizationHeaderMalformed`` or ``AccessDenied`` (as S3); a
wrong signature -> ``SignatureDoesNotMatch``; an expired URL ->
``AccessDenied`` ("Request has expired"); a date too far from ``now`` ->
``RequestTimeTooSkewed``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime

from objfs.errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)

SCHEME = "AWS"  # the Authorization header's prefix; also s3:signatureversion's value
MAX_SKEW = timedelta(minutes=15)

Pairs = Sequence[tuple[str, str]]

# The query parameters botocore's HmacV1Auth signs as sub-resources.
BOTOCORE_SUBRESOURCES = frozenset(
    {
        "accelerate", "acl", "cors", "defaultObjectAcl", "location", "logging",
        "partNumber", "policy", "requestPayment", "torrent", "versioning",
        "versionId", "versions", "website", "uploads", "uploadId",
        "response-content-type", "response-content-language", "response-expires",
        "response-cache-control", "response-content-disposition",
        "response-content-encoding", "delete", "lifecycle", "tagging", "restore",
        "storageClass", "notification", "replication", "analytics", "metrics",
        "inventory", "select", "select-type", "object-lock",
    }
)  # fmt: skip
# S3's documentation and other clients (minio-go, s3cmd) add these.
MORE_SUBRESOURCES = BOTOCORE_SUBRESOURCES | frozenset(
    {"encryption", "legal-hold", "retention", "ownershipControls", "publicAccessBlock"}
)
SUBRESOURCE_LISTS = (BOTOCORE_SUBRESOURCES, MORE_SUBRESOURCES)

SIGNATURE_MISMATCH = "The request signature we calculated does not match the signature you provided"


def canonical_amz_headers(headers: Iterable[tuple[str, str]]) -> str:
    """``x-amz-name:value\\n`` for each ``x-amz-*`` header, sorted; repeats joined by ``,``."""
    found: dict[str, list[str]] = {}
    for k, v in headers:
        name = k.strip().lower()
        if name.startswith("x-amz-"):
            found.setdefault(name, []).append(v.strip())
    return "".join(f"{k}:{','.join(found[k])}\n" for k in sorted(found))


def canonical_resource(
    path: str,
    query: Iterable[tuple[str, str]],
    subresources: frozenset[str] = BOTOCORE_SUBRESOURCES,
) -> str:
    """The path as sent, then ``?a&b=v`` of the sub-resources (sorted by name)."""
    subs = sorted(((k, v) for k, v in query if k in subresources), key=lambda kv: kv[0])
    if not subs:
        return path
    return path + "?" + "&".join(f"{k}={v}" if v != "" else k for k, v in subs)


def string_to_sign(
    method: str,
    content_md5: str,
    content_type: str,
    date: str,
    amz_headers: str,
    resource: str,
) -> str:
    return f"{method.upper()}\n{content_md5}\n{content_type}\n{date}\n{amz_headers}{resource}"


def signature(secret_key: str, to_sign: str) -> str:
    """Base64 of HMAC-SHA1 over the string to sign."""
    mac = hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))


def _header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    values = [v.strip() for k, v in headers if k.strip().lower() == name]
    return ",".join(values) if values else None


@dataclass(slots=True, frozen=True)
class Authorization:
    """A parsed ``AWS KEY:SIG`` header or pre-signed query."""

    access_key: str
    signature: str = field(repr=False)
    expires: int | None = None  # pre-signed: Expires, epoch seconds


def is_header(value: str | None) -> bool:
    return value is not None and value.startswith(SCHEME + " ")


def is_presigned(query: Pairs) -> bool:
    names = {k for k, _ in query}
    return "AWSAccessKeyId" in names or ("Signature" in names and "Expires" in names)


def parse_authorization(value: str) -> Authorization:
    """``AWS AKID:base64-signature``."""
    scheme, _, rest = value.strip().partition(" ")
    key, colon, sig = rest.strip().rpartition(":")
    if scheme != SCHEME or not colon or not key or not sig:
        raise AuthorizationHeaderMalformed(
            "a Signature Version 2 Authorization header is AWS ACCESS_KEY:SIGNATURE"
        )
    return Authorization(key, sig)


def parse_presigned(query: Pairs) -> Authorization:
    """Read ``AWSAccessKeyId``, ``Signature`` and ``Expires`` of a pre-signed URL."""
    q: dict[str, str] = {}
    for k, v in query:
        if k in ("AWSAccessKeyId", "Signature", "Expires"):
            if k in q:
                raise AccessDenied(f"Query-string authentication: {k} given twice", public=True)
            q[k] = v
    missing = [n for n in ("AWSAccessKeyId", "Signature", "Expires") if not q.get(n)]
    if missing:
        raise AccessDenied(
            "Query-string authentication requires the Signature, Expires and "
            "AWSAccessKeyId parameters",
            public=True,
        )
    if not q["Expires"].isascii() or not q["Expires"].isdigit():
        raise AccessDenied("Expires is not a number of seconds since the epoch", public=True)
    # A "+" of the base64 signature sent unescaped reads as a space.
    return Authorization(q["AWSAccessKeyId"], q["Signature"].replace(" ", "+"), int(q["Expires"]))


def _check(secret_key: str, candidates: Iterable[str], given: str) -> None:
    for to_sign in candidates:
        if _equal(signature(secret_key, to_sign), given):
            return
    raise SignatureDoesNotMatch(SIGNATURE_MISMATCH)


def _resources(path: str, query: Pairs) -> Iterator[str]:
    # A bucket-level request is signed as "/bucket/" by S3's documentation and
    # botocore (its URL has "/bucket"), as "/bucket" by others.
    paths = [path]
    if path.count("/") == 1 and len(path) > 1:
        paths.append(path + "/")
    seen: set[str] = set()
    for p in paths:
        for subs in SUBRESOURCE_LISTS:
            resource = canonical_resource(p, query, subs)
            if resource not in seen:
                seen.add(resource)
                yield resource


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def request_date(headers: Pairs) -> datetime:
    """The request time from ``x-amz-date`` or else ``Date`` (RFC 1123).

    An ``x-amz-date`` header decides even when it is empty or bad (S3: it takes
    the place of Date), and a time before 1970 is no valid date: both are
    ``AccessDenied``, not a fall-back to Date nor a skewed clock.
    """
    amz = _header(headers, "x-amz-date")
    text = amz if amz is not None else _header(headers, "date")
    if text is None:
        raise AccessDenied(
            "AWS authentication requires a valid Date or x-amz-date header", public=True
        )
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        when = None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when is None or when < _EPOCH:
        raise AccessDenied(
            "AWS authentication requires a valid Date or x-amz-date header", public=True
        )
    return when


def verify_headers(
    method: str,
    path: str,
    query: Pairs,
    headers: Pairs,
    auth: Authorization,
    secret_key: str,
    *,
    now: datetime,
) -> None:
    """Check a header-signed request; ``path`` is the path as sent (percent-encoded)."""
    when = request_date(headers)
    if abs(now - when) > MAX_SKEW:
        raise RequestTimeTooSkewed(
            "Request time is too skewed from the server's time (more than 15 minutes apart)"
        )
    md5 = _header(headers, "content-md5") or ""
    ctype = _header(headers, "content-type") or ""
    amz = canonical_amz_headers(headers)
    dates = [_header(headers, "date") or ""]
    if _header(headers, "x-amz-date") is not None:
        dates.insert(0, "")
    _check(
        secret_key,
        (
            string_to_sign(method, md5, ctype, date, amz, resource)
            for resource in _resources(path, query)
            for date in dates
        ),
        auth.signature,
    )


def verify_presigned(
    method: str,
    path: str,
    query: Pairs,
    headers: Pairs,
    secret_key: str,
    *,
    now: datetime,
) -> Authorization:
    """Check a pre-signed request (``path`` as sent); return what it carried, or raise.

    The caller looks the access key up first (``parse_presigned`` gives it)
    and checks the signer's permissions when the URL is *used*.
    """
    auth = parse_presigned(query)
    assert auth.expires is not None
    if now.timestamp() > auth.expires:
        raise AccessDenied("Request has expired", public=True)
    # The URL's x-amz-* "headers" travel in its query; a header sent as well wins.
    amz_pairs = [(k, v) for k, v in headers if k.lower().startswith("x-amz-")]
    sent = {k.lower() for k, _ in amz_pairs}
    amz_pairs += [
        (k, v) for k, v in query if k.lower().startswith("x-amz-") and k.lower() not in sent
    ]
    amz = canonical_amz_headers(amz_pairs)
    qmap = {k.lower(): v for k, v in query}
    md5 = _header(headers, "content-md5") or qmap.get("content-md5", "")
    ctype = _header(headers, "content-type") or qmap.get("content-type", "")
    _check(
        secret_key,
        (
            string_to_sign(method, md5, ctype, str(auth.expires), amz, resource)
            for resource in _resources(path, query)
        ),
        auth.signature,
    )
    return auth


# -- signing (the tests' and the CLI's side) ---------------------------------------


def http_date(when: datetime) -> str:
    return formatdate(when.timestamp(), usegmt=True)


def sign_headers(
    method: str,
    path: str,
    query: Pairs,
    headers: Pairs,
    *,
    access_key: str,
    secret_key: str,
) -> str:
    """The ``Authorization`` header value for a request carrying ``headers`` (with Date)."""
    amz = canonical_amz_headers(headers)
    date = "" if _header(headers, "x-amz-date") is not None else (_header(headers, "date") or "")
    to_sign = string_to_sign(
        method,
        _header(headers, "content-md5") or "",
        _header(headers, "content-type") or "",
        date,
        amz,
        canonical_resource(path, query),
    )
    return f"{SCHEME} {access_key}:{signature(secret_key, to_sign)}"


def presign(
    method: str,
    path: str,
    query: Pairs,
    *,
    access_key: str,
    secret_key: str,
    expires_at: int,
) -> list[tuple[str, str]]:
    """The query pairs of a pre-signed URL (``query`` plus AWSAccessKeyId, Expires, Signature).

    ``x-amz-*`` pairs in ``query`` are signed as headers.
    """
    amz = canonical_amz_headers([(k, v) for k, v in query if k.lower().startswith("x-amz-")])
    to_sign = string_to_sign(method, "", "", str(expires_at), amz, canonical_resource(path, query))
    return [
        *query,
        ("AWSAccessKeyId", access_key),
        ("Expires", str(expires_at)),
        ("Signature", signature(secret_key, to_sign)),
    ]
