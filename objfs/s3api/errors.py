"""S3 error documents: ``<Error><Code/><Message/><Resource/><RequestId/></Error>``.

Every ``ObjfsError`` renders with its own code and status; an unexpected
exception is logged and answered ``InternalError`` (500) without details.
Delete-marker errors carry ``x-amz-delete-marker`` (and the marker's
version id) as S3 sends them.
"""

from __future__ import annotations

from objfs.errors import ObjfsError
from objfs.s3api import xmldoc
from objfs.s3api.request import Response

# Answered with headers only: the status says it all (RFC 9110).
_NO_BODY = {304}


def error_response(err: ObjfsError, resource: str, request_id: str) -> Response:
    headers: list[tuple[str, str]] = []
    if err.details.get("delete_marker"):
        headers.append(("x-amz-delete-marker", "true"))
        if err.details.get("version_id"):
            headers.append(("x-amz-version-id", str(err.details["version_id"])))
    if err.status in _NO_BODY:
        return Response(err.status, headers)
    doc = xmldoc.ET.Element("Error")
    xmldoc.add_all(
        doc,
        [
            ("Code", err.code),
            ("Message", " ".join(str(err).split())),
            ("Resource", resource),
            ("RequestId", request_id),
        ],
    )
    return Response.xml(doc, status=err.status, headers=headers)
