"""S3 error documents: ``<Error><Code/><Message/><Resource/><RequestId/></Error>``.

Every ``ObjfsError`` renders with its own code and status; an unexpected
exception is logged and answered ``InternalError`` (500) without details.
Requests that never reach the application (HTTP that h11 cannot parse:
a header section over its buffer, a garbled request line) get an error
document too (``protocol_error``). Delete-marker errors carry ``x-amz-delete-marker`` (and the marker's
version id) as S3 sends them.

An ``AccessDenied`` says S3's "Access Denied" and nothing else: the store's
message names the caller, the action and the policy statement that decided,
which is for the CLI, the mount's log and ``objfs policy simulate`` (and this
server's log, at INFO), never for whoever sent the request.
"""

from __future__ import annotations

import logging
from email.utils import formatdate

from objfs.errors import (
    AccessDenied,
    InvalidRequest,
    MFARequired,
    NotImplementedOperation,
    ObjfsError,
    RequestHeaderSectionTooLarge,
)
from objfs.s3api import xmldoc
from objfs.s3api.request import Response
from objfs.store import ObjectVersion

log = logging.getLogger(__name__)

# Answered with headers only: the status says it all (RFC 9110).
_NO_BODY = {304}
ACCESS_DENIED = "Access Denied"


def public_message(err: ObjfsError) -> str:
    """The message an HTTP caller reads for ``err`` (one line)."""
    if (
        isinstance(err, AccessDenied)
        and err.code == "AccessDenied"
        and not isinstance(err, MFARequired)  # about the caller's own MFA code
        and not err.details.get("public")  # S3's own words (an expired URL)
    ):
        return ACCESS_DENIED
    return " ".join(str(err).split())


def error_response(err: ObjfsError, resource: str, request_id: str) -> Response:
    headers: list[tuple[str, str]] = []
    if err.details.get("delete_marker"):
        headers.append(("x-amz-delete-marker", "true"))
        if err.details.get("version_id"):
            headers.append(("x-amz-version-id", str(err.details["version_id"])))
    if err.status in _NO_BODY:
        version = err.details.get("version")  # NotModified's: the object the client holds
        held = version if isinstance(version, ObjectVersion) else None
        return Response(err.status, headers + _validators(held))
    message = public_message(err)
    if message == ACCESS_DENIED and str(err) != ACCESS_DENIED:
        log.info("request %s %s: %s", request_id, resource, err)
    doc = xmldoc.ET.Element("Error")
    xmldoc.add_all(
        doc,
        [
            ("Code", err.code),
            ("Message", message),
            ("Resource", resource),
            ("RequestId", request_id),
        ],
    )
    return Response.xml(doc, status=err.status, headers=headers)


def _validators(info: ObjectVersion | None) -> list[tuple[str, str]]:
    """What a 304 answers with (RFC 9110 15.4.5): ETag, Last-Modified, the
    caching headers and the version of the object the client holds."""
    if info is None:
        return []
    out = [
        ("ETag", f'"{info.etag}"'),
        ("Last-Modified", formatdate(info.last_modified_ns / 1e9, usegmt=True)),
    ]
    for name, value in (
        ("Cache-Control", info.headers.cache_control),
        ("Expires", info.headers.expires),
    ):
        if value is not None:
            out.append((name, value))
    if info.version_id != "null":
        out.append(("x-amz-version-id", info.version_id))
    return out


def protocol_error(status_hint: int) -> ObjfsError:
    """The S3 error for a request the HTTP parser refused with ``status_hint``."""
    if status_hint == 431:  # Request Header Fields Too Large: S3 says 400
        return RequestHeaderSectionTooLarge(
            "Your request header section exceeds the maximum allowed size."
        )
    if status_hint == 501:  # e.g. a Transfer-Encoding other than chunked
        return NotImplementedOperation(
            "A header you provided implies functionality that is not implemented."
        )
    return InvalidRequest("The HTTP request is malformed and could not be parsed.")
