"""Object headers both ways: SSE, user and POSIX metadata, ranges, conditions.

Parsing turns headers into the store's arguments (``SSERequest``,
``SystemMeta``, user metadata, a byte range, condition values); rendering
turns an ``ObjectVersion`` into response headers. No rule is decided here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from email.utils import formatdate, parsedate_to_datetime

from objfs.auth import sigv4
from objfs.errors import InvalidArgument, InvalidRequest
from objfs.s3api.body import decode_base64
from objfs.s3api.objectlock import lock_headers
from objfs.s3api.request import Request, unescape
from objfs.store import Checksum, ObjectHeaders, ObjectVersion, SSERequest, SystemMeta

META = "x-amz-meta-"
# POSIX attributes under the names s3fs and rclone use (DESIGN.md, "Data model").
SYS_META = ("mode", "uid", "gid", "mtime")


def http_date(ns: int) -> str:
    return formatdate(ns / 1e9, usegmt=True)


def parse_http_date_ns(text: str | None) -> int | None:
    """An HTTP date in ns; an unreadable date is ignored, as RFC 9110 says."""
    if not text:
        return None
    try:
        return int(parsedate_to_datetime(text).timestamp()) * 10**9
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _customer_key(req: Request, prefix: str) -> bytes | None:
    algorithm = req.h.get(prefix + "algorithm")
    key_b64 = req.h.get(prefix + "key")
    md5_b64 = req.h.get(prefix + "key-md5")
    if algorithm is None and key_b64 is None:
        return None
    if algorithm != "AES256":
        raise InvalidArgument("the SSE-C algorithm must be AES256")
    if key_b64 is None:
        raise InvalidArgument("SSE-C needs the customer key header")
    key = decode_base64(key_b64, "the SSE-C customer key")
    if len(key) != 32:
        raise InvalidArgument("the SSE-C customer key must be 256 bits")
    if md5_b64 is None:  # S3 requires it, to catch a key garbled on the way
        raise InvalidArgument("SSE-C needs the customer key MD5 header")
    if decode_base64(md5_b64, "the SSE-C key MD5") != hashlib.md5(key).digest():
        raise InvalidArgument("the SSE-C customer key MD5 does not match the key")
    if not req.secure and not req.loopback:
        raise InvalidRequest("SSE-C requests must be made over HTTPS")
    return key


def sse_request(req: Request) -> SSERequest | None:
    """The encryption a write asks for (None: the bucket's default)."""
    mode = req.h.get("x-amz-server-side-encryption")
    kms = req.h.get("x-amz-server-side-encryption-aws-kms-key-id")
    algorithm = req.h.get("x-amz-server-side-encryption-customer-algorithm")
    if mode not in (None, "AES256", "aws:kms") or algorithm not in (None, "AES256"):
        # Passed on as sent: the store authorizes the request (a bucket policy
        # may deny on the value: 403), then refuses the value (400).
        return SSERequest(
            mode=mode if mode is not None else "SSE-C",
            kms_key_id=kms,
            customer_algorithm=algorithm,
        )
    key = _customer_key(req, "x-amz-server-side-encryption-customer-")
    if key is not None and mode is not None:
        raise InvalidArgument("SSE-C and x-amz-server-side-encryption are exclusive")
    if kms is not None and mode != "aws:kms":
        raise InvalidArgument(
            "x-amz-server-side-encryption-aws-kms-key-id is only valid with "
            "x-amz-server-side-encryption: aws:kms"
        )
    if mode is None and key is None:
        return None
    return SSERequest(mode="SSE-C" if key else mode, kms_key_id=kms, customer_key=key)


# Headers that choose the encryption of new data: a read has none to choose.
_WRITE_ONLY_SSE = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id")


def refuse_write_sse(req: Request) -> None:
    """GET and HEAD: SSE-S3/SSE-KMS headers are a 400, as S3 answers (the
    encryption was decided when the object was written; only SSE-C keys are read)."""
    for name in _WRITE_ONLY_SSE:
        if name in req.h:
            raise InvalidArgument(f"the {name} header is not supported for this operation")


def read_sse(
    req: Request, prefix: str = "x-amz-server-side-encryption-customer-"
) -> SSERequest | None:
    """The SSE-C key a read (or copy source) supplies."""
    key = _customer_key(req, prefix)
    return SSERequest(customer_key=key) if key is not None else None


def copy_source_sse(req: Request) -> SSERequest | None:
    return read_sse(req, "x-amz-copy-source-server-side-encryption-customer-")


def user_meta(req: Request) -> tuple[dict[str, str], SystemMeta | None]:
    """``x-amz-meta-*`` as user metadata; mode/uid/gid/mtime as POSIX attributes.

    The 2 KB limit is the store's (``MetadataTooLarge``, objfs/store/usermeta.py)."""
    meta: dict[str, str] = {}
    sys: dict[str, int] = {}
    for name, value in req.headers:
        lower = name.lower()
        if not lower.startswith(META):
            continue
        short = lower[len(META) :]
        if short in SYS_META and _number(value) is not None:
            number = _number(value)
            assert number is not None
            sys["mtime_ns" if short == "mtime" else short] = (
                int(number * 1e9) if short == "mtime" else int(number)
            )
        else:
            meta[short] = sigv4.as_sent(value)  # UTF-8 text, as signed
    return meta, SystemMeta(**sys) if sys else None  # type: ignore[arg-type]


def _number(text: str) -> float | None:
    try:
        return float(text) if re.fullmatch(r"\d+(\.\d+)?", text.strip()) else None
    except ValueError:
        return None


# The standard object headers a write stores (ObjectHeaders fields by header name).
STANDARD = {
    "cache-control": ("Cache-Control", "cache_control"),
    "content-disposition": ("Content-Disposition", "content_disposition"),
    "content-encoding": ("Content-Encoding", "content_encoding"),
    "content-language": ("Content-Language", "content_language"),
    "expires": ("Expires", "expires"),
}


def object_headers(req: Request) -> ObjectHeaders | None:
    """Cache-Control, Content-Disposition, Content-Encoding, Content-Language and
    Expires of a write. ``aws-chunked`` is how the body travels, not how the
    object is encoded: S3 drops it from Content-Encoding (and the header when
    nothing else is left)."""
    values: dict[str, str] = {}
    for name, (_, attr) in STANDARD.items():
        value = req.h.get(name)
        if value is None:
            continue
        if name == "content-encoding":
            codings = [c.strip() for c in value.split(",")]
            value = ", ".join(c for c in codings if c and c.lower() != "aws-chunked")
            if not value:
                continue
        values[attr] = value
    return ObjectHeaders(**values) if values else None


def body_checksum(req: Request) -> Callable[[], Checksum | None]:
    """The body's additional checksum (``x-amz-checksum-*``, header or trailer),
    once the body has been read and verified; for the store to keep."""

    def verified() -> Checksum | None:
        assert req.body is not None
        for name, value in req.body.checksums:
            return Checksum(name[len("x-amz-checksum-") :].upper(), value)
        return None

    return verified


def expected_checksum(req: Request) -> tuple[str, str] | None:
    """(algorithm, value) of a request's ``x-amz-checksum-ALGO`` header, if any."""
    for name, value in req.h.items():
        algorithm = name[len("x-amz-checksum-") :]
        if name.startswith("x-amz-checksum-") and algorithm not in ("algorithm", "mode", "type"):
            return algorithm.upper(), value.strip()
    return None


def checksum_headers(checksum: Checksum | None) -> list[tuple[str, str]]:
    """``x-amz-checksum-ALGO`` and ``x-amz-checksum-type`` of a stored checksum."""
    if checksum is None or checksum.value is None:
        return []
    return [
        (f"x-amz-checksum-{checksum.algorithm.lower()}", checksum.value),
        ("x-amz-checksum-type", checksum.type),
    ]


def checksum_mode(req: Request) -> bool:
    """GET/HEAD ask for the stored checksum with ``x-amz-checksum-mode: ENABLED``."""
    return req.h.get("x-amz-checksum-mode", "").strip().upper() == "ENABLED"


def version_headers(info: ObjectVersion) -> list[tuple[str, str]]:
    out = [
        ("ETag", f'"{info.etag}"'),
        ("Last-Modified", http_date(info.last_modified_ns)),
        ("Content-Type", info.content_type or "binary/octet-stream"),
        ("Accept-Ranges", "bytes"),
    ]
    if info.version_id != "null":
        out.append(("x-amz-version-id", info.version_id))
    for header, attr in STANDARD.values():
        value = getattr(info.headers, attr)
        if value is not None:
            out.append((header, value))
    out += sse_headers(info.sse, info.kms_key_id)
    if info.tags:
        out.append(("x-amz-tagging-count", str(len(info.tags))))
    for k, v in sorted(info.user_meta.items()):
        out.append((META + k, v))
    sm = info.sys_meta
    for name, value in (("mode", sm.mode), ("uid", sm.uid), ("gid", sm.gid)):
        if value is not None:
            out.append((META + name, str(value)))
    if sm.mtime_ns is not None:
        out.append((META + "mtime", f"{sm.mtime_ns / 1e9:.9f}".rstrip("0").rstrip(".")))
    out += lock_headers(info)
    return out


def sse_headers(sse: str | None, kms_key_id: str | None) -> list[tuple[str, str]]:
    if sse in ("AES256", "aws:kms"):
        out = [("x-amz-server-side-encryption", sse)]
        if sse == "aws:kms" and kms_key_id:
            out.append(("x-amz-server-side-encryption-aws-kms-key-id", kms_key_id))
        return out
    return []


def applied_sse_headers(req: Request, sse: str, kms_key_id: str | None) -> list[tuple[str, str]]:
    """The encryption headers of a write's answer, from the encryption the
    store applied (the request's or the bucket's default), for every write kind:
    SSE-S3/SSE-KMS name the algorithm (and key); SSE-C echoes the algorithm and
    the MD5 of the key the request gave for the new data."""
    if sse == "SSE-C":
        return ssec_echo(req)
    return sse_headers(sse, kms_key_id)


def ssec_echo(req: Request, prefix: str = "x-amz-server-side-encryption-customer-") -> list:
    if req.h.get(prefix + "algorithm") is None:
        return []
    return [
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key-MD5", req.h.get(prefix + "key-md5", "")),
    ]


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(text: str | None) -> tuple[int | None, int | None] | None:
    """``bytes=A-B``, ``bytes=A-``, ``bytes=-N`` -> (A, B) / (A, None) / (None, N).

    A header that is not one byte range is ignored (as S3 and RFC 9110 do)."""
    if not text:
        return None
    m = _RANGE.fullmatch(text.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first = int(m.group(1)) if m.group(1) else None
    last = int(m.group(2)) if m.group(2) else None
    return first, last


def copy_source(req: Request) -> tuple[str, str, str | None]:
    """``x-amz-copy-source: /bucket/key?versionId=V`` -> (bucket, key, version)."""
    # The header as sent (latin-1 is byte for byte); escaped or raw, a key
    # that is not UTF-8 is refused, never read with replacement characters.
    text = req.h["x-amz-copy-source"].encode("latin-1")
    raw_path, _, raw_query = text.partition(b"?")
    path = unescape(raw_path, InvalidArgument, "Invalid copy source encoding.").lstrip("/")
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise InvalidArgument("x-amz-copy-source must be /BUCKET/KEY[?versionId=V]")
    version = None
    if raw_query:
        name, _, value = raw_query.partition(b"=")
        if name != b"versionId" or not value:
            raise InvalidArgument("x-amz-copy-source accepts only ?versionId=V")
        version = unescape(value, InvalidArgument, "Invalid copy source encoding.")
    return bucket, key, version


def expected_owners(req: Request) -> tuple[tuple[str, str], ...]:
    """``x-amz-expected-bucket-owner`` (the request's bucket) and
    ``x-amz-source-expected-bucket-owner`` (a copy's source bucket), for the
    store's check: (bucket, canonical id) pairs."""
    out = []
    expected = req.h.get("x-amz-expected-bucket-owner")
    if expected is not None and req.bucket:
        out.append((req.bucket, expected))
    source = req.h.get("x-amz-source-expected-bucket-owner")
    if source is not None and "x-amz-copy-source" in req.h:
        out.append((copy_source(req)[0], source))
    return tuple(out)
