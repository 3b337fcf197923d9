"""AWS Signature Version 4: the math, as pure functions.

Owns the canonical request, the string to sign, the signing key, header
(``Authorization: AWS4-HMAC-SHA256 ...``) and query (pre-signed URL)
signatures, and their verification. No clock is read: callers pass
``now``; no I/O: callers pass the method, the *decoded* path, the query
pairs and the headers as received.

S3's rules, which differ from other services': the path is URI-encoded once
and not normalised (``normalize_path=True`` gives the other services' dot
segment and slash clean-up); pre-signed requests sign ``UNSIGNED-PAYLOAD``.
Signatures are compared with ``hmac.compare_digest``. Errors: a malformed
header or query -> ``AuthorizationHeaderMalformed``; a wrong signature ->
``SignatureDoesNotMatch``; an expired pre-signed URL -> ``AccessDenied``
("Request has expired").
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from objfs.errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_EXPIRES = 604800  # 7 days, S3's limit for pre-signed URLs
MAX_SKEW = timedelta(minutes=15)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

Pairs = Sequence[tuple[str, str]]


def uri_encode(text: str, *, encode_slash: bool = True) -> str:
    """RFC 3986 encoding as SigV4 wants it: only ``A-Za-z0-9-._~`` stay as they are."""
    return quote(text, safe="-_.~" if encode_slash else "-_.~/")


def canonical_uri(path: str, *, normalize_path: bool = False) -> str:
    """The decoded request path, encoded once (``/`` kept). Empty path -> ``/``."""
    if not path:
        return "/"
    if normalize_path:
        trailing = path.endswith("/") and path != "/"
        path = posixpath.normpath("/" + path.lstrip("/"))
        path = re.sub("/+", "/", path)
        if trailing and path != "/":
            path += "/"
    return uri_encode(path, encode_slash=False)


def canonical_query(params: Iterable[tuple[str, str]], *, exclude: str | None = None) -> str:
    """Encoded ``name=value`` pairs sorted by name then value, joined by ``&``."""
    pairs = sorted((uri_encode(k), uri_encode(v)) for k, v in params if k != exclude)
    return "&".join(f"{k}={v}" for k, v in pairs)


def _trim(value: str) -> str:
    return " ".join(value.split())


def header_map(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-cased names -> trimmed values, repeated headers joined by ``,``."""
    out: dict[str, list[str]] = {}
    for k, v in headers:
        out.setdefault(k.strip().lower(), []).append(_trim(v))
    return {k: ",".join(v) for k, v in out.items()}


def as_sent(value: str) -> str:
    """A header value read byte for byte as latin-1, as the UTF-8 text its bytes
    are (what a client that sent non-ASCII metadata signed); else as it is."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def canonical_headers(headers: Iterable[tuple[str, str]], signed: Sequence[str]) -> str:
    """``name:value\\n`` for each signed header, in sorted order."""
    hmap = header_map(headers)
    lines = []
    for name in sorted(h.lower() for h in signed):
        if name not in hmap:
            raise AuthorizationHeaderMalformed(f'signed header "{name}" is not in the request')
        lines.append(f"{name}:{as_sent(hmap[name])}\n")
    return "".join(lines)


def signed_headers_value(signed: Iterable[str]) -> str:
    return ";".join(sorted(h.lower() for h in signed))


def canonical_request(
    method: str,
    path: str,
    query: Pairs,
    headers: Pairs,
    signed_headers: Sequence[str],
    payload_hash: str,
    *,
    normalize_path: bool = False,
    exclude_query: str | None = None,
) -> str:
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path, normalize_path=normalize_path),
            canonical_query(query, exclude=exclude_query),
            canonical_headers(headers, signed_headers),
            signed_headers_value(signed_headers),
            payload_hash,
        ]
    )


def credential_scope(date: str, region: str, service: str) -> str:
    return f"{date}/{region}/{service}/aws4_request"


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    k = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def signature(key: bytes, to_sign: str) -> str:
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def signatures_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))


def format_amz_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime(AMZ_DATE_FORMAT)


def parse_amz_date(text: str) -> datetime:
    try:
        return datetime.strptime(text, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise AuthorizationHeaderMalformed(f'X-Amz-Date "{text}" is not YYYYMMDDTHHMMSSZ') from None


@dataclass(slots=True, frozen=True)
class Credential:
    """``AKID/20150830/us-east-1/service/aws4_request`` split into its parts."""

    access_key: str
    date: str
    region: str
    service: str

    @property
    def scope(self) -> str:
        return credential_scope(self.date, self.region, self.service)

    @classmethod
    def parse(cls, text: str) -> Credential:
        parts = text.split("/")
        if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts[:4]):
            raise AuthorizationHeaderMalformed(
                f'credential "{text}" is not KEY/YYYYMMDD/REGION/SERVICE/aws4_request'
            )
        if not re.fullmatch(r"\d{8}", parts[1]):
            raise AuthorizationHeaderMalformed(f'credential date "{parts[1]}" is not YYYYMMDD')
        return cls(parts[0], parts[1], parts[2], parts[3])


@dataclass(slots=True, frozen=True)
class Authorization:
    """A parsed ``Authorization`` header or pre-signed query."""

    credential: Credential
    signed_headers: tuple[str, ...]
    signature: str = field(repr=False)
    amz_date: str | None = None  # pre-signed: X-Amz-Date
    expires: int | None = None  # pre-signed: X-Amz-Expires


_SIG = re.compile(r"[0-9a-f]{64}")


def _signed_list(text: str) -> tuple[str, ...]:
    names = tuple(text.split(";"))
    if not text or any(not n or n != n.strip().lower() for n in names):
        raise AuthorizationHeaderMalformed(f'SignedHeaders "{text}" is not a;b;c in lower case')
    return names


def parse_authorization(value: str) -> Authorization:
    """``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``."""
    algo, _, rest = value.strip().partition(" ")
    if algo != ALGORITHM:
        raise AuthorizationHeaderMalformed(f'unsupported algorithm "{algo}" (want {ALGORITHM})')
    fields: dict[str, str] = {}
    for item in rest.split(","):
        k, eq, v = item.strip().partition("=")
        if not eq or k in fields:
            raise AuthorizationHeaderMalformed(f'cannot read "{item.strip()}" in Authorization')
        fields[k] = v
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise AuthorizationHeaderMalformed(
            "Authorization needs exactly Credential, SignedHeaders and Signature"
        )
    if not _SIG.fullmatch(fields["Signature"]):
        raise AuthorizationHeaderMalformed("Signature is not 64 lowercase hex digits")
    return Authorization(
        Credential.parse(fields["Credential"]),
        _signed_list(fields["SignedHeaders"]),
        fields["Signature"],
    )


def authorization_header(cred: Credential, signed: Sequence[str], sig: str) -> str:
    return (
        f"{ALGORITHM} Credential={cred.access_key}/{cred.scope}, "
        f"SignedHeaders={signed_headers_value(signed)}, Signature={sig}"
    )


def sign_headers(
    method: str,
    path: str,
    query: Pairs,
    headers: Pairs,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    amz_date: str,
    payload_hash: str,
    normalize_path: bool = False,
) -> str:
    """The ``Authorization`` header value signing every header in ``headers``."""
    signed = sorted({k.strip().lower() for k, _ in headers})
    cred = Credential(access_key, amz_date[:8], region, service)
    canon = canonical_request(
        method, path, query, headers, signed, payload_hash, normalize_path=normalize_path
    )
    sts = string_to_sign(amz_date, cred.scope, canon)
    sig = signature(signing_key(secret_key, cred.date, region, service), sts)
    return authorization_header(cred, signed, sig)


def verify_headers(
    method: str,
    path: str,
    query: Pairs,
    headers: Pairs,
    auth: Authorization,
    secret_key: str,
    *,
    now: datetime,
    payload_hash: str | None = None,
    normalize_path: bool = False,
) -> None:
    """Check a header-signed request; raise if the signature or its date is wrong.

    The payload hash signed is ``payload_hash`` or else the request's
    ``x-amz-content-sha256`` header (S3 requires it; the caller checks the
    body against it); the request time is ``x-amz-date`` (or ``Date``).
    """
    hmap = header_map(headers)
    if "host" not in auth.signed_headers:
        raise AuthorizationHeaderMalformed("the host header must be signed")
    amz_date = request_amz_date(hmap)
    when = parse_amz_date(amz_date)
    if amz_date[:8] != auth.credential.date:
        raise AuthorizationHeaderMalformed("credential date differs from x-amz-date")
    if abs(now - when) > MAX_SKEW:
        raise RequestTimeTooSkewed(
            "Request time is too skewed from the server's time (more than 15 minutes apart)"
        )
    payload = payload_hash or hmap.get("x-amz-content-sha256", EMPTY_SHA256)
    canon = canonical_request(
        method, path, query, headers, auth.signed_headers, payload, normalize_path=normalize_path
    )
    cred = auth.credential
    sts = string_to_sign(amz_date, cred.scope, canon)
    want = signature(signing_key(secret_key, cred.date, cred.region, cred.service), sts)
    if not signatures_equal(want, auth.signature):
        raise SignatureDoesNotMatch(
            "The request signature we calculated does not match the signature you provided"
        )


def request_amz_date(hmap: Mapping[str, str]) -> str:
    """The time a header-signed request was signed, as its string to sign has it:
    ``x-amz-date``, or else the ``Date`` header (RFC 1123), which SigV4 also
    accepts (botocore signs with it when a request carries one)."""
    amz_date = hmap.get("x-amz-date")
    if amz_date is not None:
        return amz_date
    date = hmap.get("date")
    if not date:
        raise AuthorizationHeaderMalformed("x-amz-date header is missing")
    try:
        when = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        when = None
    if when is None:
        raise AuthorizationHeaderMalformed(f'Date "{date}" is not an RFC 1123 date')
    return format_amz_date(when if when.tzinfo is not None else when.replace(tzinfo=UTC))


def presign(
    method: str,
    path: str,
    query: Pairs,
    headers: Pairs,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    amz_date: str,
    expires: int,
    service: str = "s3",
) -> list[tuple[str, str]]:
    """The query pairs of a pre-signed URL (``query`` plus the ``X-Amz-*`` ones).

    ``headers`` are the headers the URL's user must send (at least ``host``).
    """
    _check_expires(expires)
    signed = sorted({k.strip().lower() for k, _ in headers})
    cred = Credential(access_key, amz_date[:8], region, service)
    params = [
        *query,
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{access_key}/{cred.scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", signed_headers_value(signed)),
    ]
    canon = canonical_request(method, path, params, headers, signed, UNSIGNED_PAYLOAD)
    sts = string_to_sign(amz_date, cred.scope, canon)
    sig = signature(signing_key(secret_key, cred.date, region, service), sts)
    return [*params, ("X-Amz-Signature", sig)]


def _check_expires(expires: int) -> None:
    if not 1 <= expires <= MAX_EXPIRES:
        raise AuthorizationHeaderMalformed(
            f"X-Amz-Expires must be 1 to {MAX_EXPIRES} seconds, got {expires}"
        )


def _query_expires(text: str) -> int:
    """X-Amz-Expires of a URL, refused with S3's AuthorizationQueryParametersError."""
    digits = text[1:] if text.startswith("-") else text
    if not digits.isascii() or not digits.isdigit():
        raise AuthorizationQueryParametersError("X-Amz-Expires should be a number")
    expires = int(text)
    if expires < 0:
        raise AuthorizationQueryParametersError("X-Amz-Expires must be non-negative")
    if expires > MAX_EXPIRES:
        raise AuthorizationQueryParametersError(
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES}"
        )
    return expires  # 0 is a URL that has expired when it arrives (403), as in S3


def is_presigned(query: Pairs) -> bool:
    return any(k == "X-Amz-Signature" for k, _ in query)


def parse_presigned(query: Pairs) -> Authorization:
    """Read the ``X-Amz-*`` parameters of a pre-signed URL."""
    q: dict[str, str] = {}
    for k, v in query:
        if k.startswith("X-Amz-"):
            if k in q:
                raise AuthorizationHeaderMalformed(f"{k} given twice")
            q[k] = v
    need = ("Algorithm", "Credential", "Date", "Expires", "SignedHeaders", "Signature")
    missing = [n for n in need if f"X-Amz-{n}" not in q]
    if missing:
        raise AuthorizationHeaderMalformed(f"pre-signed URL lacks X-Amz-{missing[0]}")
    if q["X-Amz-Algorithm"] != ALGORITHM:
        raise AuthorizationHeaderMalformed(f'unsupported algorithm "{q["X-Amz-Algorithm"]}"')
    expires = _query_expires(q["X-Amz-Expires"])
    cred = Credential.parse(q["X-Amz-Credential"])
    parse_amz_date(q["X-Amz-Date"])
    if q["X-Amz-Date"][:8] != cred.date:
        raise AuthorizationHeaderMalformed("credential date differs from X-Amz-Date")
    if not _SIG.fullmatch(q["X-Amz-Signature"]):
        raise AuthorizationHeaderMalformed("X-Amz-Signature is not 64 lowercase hex digits")
    return Authorization(
        cred,
        _signed_list(q["X-Amz-SignedHeaders"]),
        q["X-Amz-Signature"],
        q["X-Amz-Date"],
        expires,
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
    """Check a pre-signed request; return what it carried, or raise.

    The caller looks the access key up first (``parse_presigned`` gives it)
    and checks the signer's permissions when the URL is *used*.
    """
    auth = parse_presigned(query)
    assert auth.amz_date is not None and auth.expires is not None
    when = parse_amz_date(auth.amz_date)
    if auth.expires == 0 or now > when + timedelta(seconds=auth.expires):
        raise AccessDenied("Request has expired", public=True)
    if when - now > MAX_SKEW:
        raise AccessDenied("Request is not valid yet", public=True)
    cred = auth.credential
    canon = canonical_request(
        method,
        path,
        query,
        headers,
        auth.signed_headers,
        UNSIGNED_PAYLOAD,
        exclude_query="X-Amz-Signature",
    )
    sts = string_to_sign(auth.amz_date, cred.scope, canon)
    want = signature(signing_key(secret_key, cred.date, cred.region, cred.service), sts)
    if not signatures_equal(want, auth.signature):
        raise SignatureDoesNotMatch(
            "The request signature we calculated does not match the signature you provided"
        )
    return auth


# -- aws-chunked bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) ------------------------

STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"


def chunk_signature(key: bytes, amz_date: str, scope: str, previous: str, chunk_sha256: str) -> str:
    """The signature of one aws-chunked chunk, chained to the one before it
    (the first chains to the request's header signature)."""
    to_sign = "\n".join([CHUNK_ALGORITHM, amz_date, scope, previous, EMPTY_SHA256, chunk_sha256])
    return signature(key, to_sign)
