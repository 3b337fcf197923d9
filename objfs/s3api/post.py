"""POST Object: a browser's HTML form upload to a bucket (multipart/form-data).

The form is read as it arrives (python-multipart's streaming parser): the
fields before the ``file`` field are gathered (at most ``MAX_PRE_DATA``
bytes), then the file's bytes flow to the store as a PutObject body would,
one piece at a time; fields after the file are ignored, as S3 does.

Who writes: the form's policy, signed with SigV4 (``x-amz-credential``,
``x-amz-signature``) or SigV2 (``AWSAccessKeyId``, ``signature``), makes the
request that key's; a form without a policy is anonymous. The policy's
conditions are ``objfs.auth.postpolicy``'s. The write itself is PutObject's:
the fields become the headers PutObject reads (``objects.put_args``), the
store call is ``Store.post_object`` (``put_object``, logged as
``REST.POST.OBJECT``), and the bucket policy and ACLs decide as for a PUT.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import trio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from objfs.auth import postpolicy, sigv4
from objfs.errors import (
    EntityTooLarge,
    EntityTooSmall,
    IncorrectNumberOfFilesInPostRequest,
    InvalidArgument,
    InvalidRequest,
    MalformedPOSTRequest,
    MaxPostPreDataLengthExceeded,
    PreconditionFailed,
)
from objfs.s3api import objects, xmldoc
from objfs.s3api.auth import V2_REFUSED
from objfs.s3api.body import RequestBody
from objfs.s3api.request import Request, Response
from objfs.s3api.tagging import parse_tagging_xml

MAX_PRE_DATA = 20 * 1024  # S3's limit on the fields before the file
# Form fields that are PutObject headers under the same name (lower case).
HEADER_FIELDS = frozenset(
    "cache-control content-disposition content-encoding content-language content-md5 "
    "content-type expires".split()
)
# x-amz-* fields that authenticate the form or frame a body: never object headers.
NOT_HEADERS = frozenset(
    "x-amz-algorithm x-amz-credential x-amz-date x-amz-signature x-amz-security-token "
    "x-amz-content-sha256 x-amz-decoded-content-length x-amz-trailer".split()
)


def _missing(name: str) -> InvalidArgument:
    return InvalidArgument(
        f"Bucket POST must contain a field named '{name}'.  "
        "If it is specified, please check the order of the fields."
    )


class Form:
    """The fields of a multipart/form-data body up to its file, then the file's bytes."""

    def __init__(self, body: RequestBody, content_type: str | None) -> None:
        kind, options = parse_options_header(content_type or "")
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise PreconditionFailed(
                "Bucket POST must be of the enclosure-type multipart/form-data",
                condition="Bucket POST must be of the enclosure-type-multipart/form-data",
            )
        self._body = body
        self.fields: list[tuple[str, str]] = []  # as sent, in order, before the file
        self.filename: str | None = None
        self._pre = 0  # bytes of fields read
        self._state = "fields"  # -> "file" (its headers read) -> "done" (its end read)
        self._part_headers: list[tuple[bytes, bytes]] = []
        self._field = b""
        self._value = b""
        self._name: str | None = None
        self._in_file = False
        self._pending: list[bytes] = []
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    # -- parser callbacks (run inside ``write``) --------------------------------

    def _part_begin(self) -> None:
        self._part_headers, self._field, self._value, self._name = [], b"", b"", None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        self._grow(end - start)

    def _header_end(self) -> None:
        self._part_headers.append((self._field.strip().lower(), self._value.strip()))
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        if self._state != "fields":
            return  # a part after the file: ignored
        disposition = dict(self._part_headers).get(b"content-disposition", b"")
        _, params = parse_options_header(disposition)
        name = params.get(b"name")
        if name is None:
            raise MalformedPOSTRequest(
                "The body of your POST request is not well-formed multipart/form-data."
            )
        self._name = name.decode("utf-8", "replace")
        self._value = b""
        if self._name.lower() == "file":
            filename = params.get(b"filename")
            self.filename = filename.decode("utf-8", "replace") if filename is not None else ""
            self._state, self._in_file = "file", True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending.append(data[start:end])
        elif self._state == "fields":
            self._value += data[start:end]
            self._grow(end - start)

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file, self._state = False, "done"
        elif self._state == "fields" and self._name is not None:
            try:
                self.fields.append((self._name, self._value.decode("utf-8")))
            except UnicodeDecodeError:
                raise InvalidArgument(f"the form field {self._name!r} is not UTF-8") from None
        self._value = b""

    def _grow(self, n: int) -> None:
        if self._state == "fields":
            self._pre += n
            if self._pre > MAX_PRE_DATA:
                raise MaxPostPreDataLengthExceeded(
                    "Your POST request fields preceding the upload file were too large."
                )

    # -- reading ---------------------------------------------------------------

    async def _feed(self) -> bool:
        """Parse the next piece of the body; False at its end."""
        data = await self._body.piece()
        try:
            if not data:
                self._parser.finalize()
                return False
            self._parser.write(data)
        except MultipartParseError:
            raise MalformedPOSTRequest(
                "The body of your POST request is not well-formed multipart/form-data."
            ) from None
        return True

    async def read_fields(self) -> None:
        """Read up to the file's data; IncorrectNumberOfFilesInPostRequest without one."""
        while self._state == "fields":
            if not await self._feed():
                raise IncorrectNumberOfFilesInPostRequest(
                    "POST requires exactly one file upload per request."
                )

    async def file_piece(self) -> bytes:
        """The next bytes of the file (b"" at its end)."""
        while not self._pending and self._state == "file":
            if not await self._feed():
                raise MalformedPOSTRequest(
                    "The body of your POST request is not well-formed multipart/form-data."
                )
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            return data
        return b""


def file_receive(form: Form, limits: tuple[int, int] | None) -> Callable[[], Any]:
    """An ASGI ``receive`` over the form's file, for a ``RequestBody`` (which
    then verifies Content-MD5 and x-amz-checksum-* fields as a PUT's headers);
    ``limits``: the policy's content-length-range, checked as the bytes pass."""
    size = 0

    async def receive() -> dict[str, Any]:
        nonlocal size
        data = await form.file_piece()
        size += len(data)
        if limits is not None and size > limits[1]:
            raise EntityTooLarge(
                "Your proposed upload exceeds the maximum allowed size",
                proposed_size=size,
                max_size_allowed=limits[1],
            )
        if not data and limits is not None and size < limits[0]:
            raise EntityTooSmall(
                "Your proposed upload is smaller than the minimum allowed size",
                proposed_size=size,
                min_size_allowed=limits[0],
            )
        return {"type": "http.request", "body": data, "more_body": bool(data)}

    return receive


def tagging_header(document: str) -> str:
    """A ``tagging`` field (an XML Tagging document) as ``x-amz-tagging`` (k=v&k2=v2):
    read by the one Tagging parser, written as PutObject's header reads it."""
    tags = parse_tagging_xml(document.encode("utf-8"))
    return urlencode(list(tags.items()), quote_via=quote)


def _object_headers(fields: dict[str, str]) -> list[tuple[str, str]]:
    """The form's fields that PutObject takes as headers, under their header names,
    their UTF-8 bytes read as latin-1 as a header's are (``sigv4.as_sent``)."""
    out = []
    for name, text in fields.items():
        value = text.encode("utf-8").decode("latin-1")
        if name == "acl":
            out.append(("x-amz-acl", value))
        elif name == "tagging":
            out.append(("x-amz-tagging", tagging_header(text)))  # ASCII: percent-encoded
        elif name in HEADER_FIELDS or (name.startswith("x-amz-") and name not in NOT_HEADERS):
            out.append((name, value))
    return out


async def _secret(req: Request, access_key: str) -> tuple[Any, str]:
    call = functools.partial(req.store.signing_secret, access_key)
    return await trio.to_thread.run_sync(call, limiter=req.app.limiter)


async def _authorize(
    req: Request, fields: dict[str, str], now: datetime
) -> tuple[Request, postpolicy.PostPolicy | None]:
    """The request as the policy's signer makes it (the form checked against
    the policy), or as sent when the form has no policy (anonymous)."""
    policy_b64 = fields.get("policy")
    if policy_b64 is None:
        if "x-amz-signature" in fields or "signature" in fields or "awsaccesskeyid" in fields:
            raise _missing("Policy")
        return req, None
    if "x-amz-algorithm" in fields or "x-amz-credential" in fields:
        if fields.get("x-amz-algorithm") != sigv4.ALGORITHM:
            raise InvalidArgument(
                f"x-amz-algorithm must be {sigv4.ALGORITHM}"
                if "x-amz-algorithm" in fields
                else "Bucket POST must contain a field named 'x-amz-algorithm'."
            )
        for name in ("x-amz-credential", "x-amz-date", "x-amz-signature"):
            if not fields.get(name):
                raise _missing(name)
        credential = sigv4.Credential.parse(fields["x-amz-credential"])
        identity, secret = await _secret(req, credential.access_key)
        postpolicy.verify_v4(policy_b64, fields["x-amz-signature"], credential, secret)
        access_key, version = credential.access_key, "SigV4"
    else:
        if not req.app.sigv2:
            raise InvalidRequest(V2_REFUSED)
        for name, label in (("awsaccesskeyid", "AWSAccessKeyId"), ("signature", "Signature")):
            if not fields.get(name):
                raise _missing(label)
        access_key = fields["awsaccesskeyid"]
        identity, secret = await _secret(req, access_key)
        postpolicy.verify_v2(policy_b64, fields["signature"], secret)
        version = "SigV2"
    policy = postpolicy.parse(policy_b64)
    policy.check(fields, now=now)
    assert req.ctx is not None
    ctx = dataclasses.replace(
        req.ctx,
        identity=identity,
        access_key=access_key,
        auth_type="AuthHeader",
        signature_version=version,
    )
    return dataclasses.replace(req, ctx=ctx), policy


async def post_object(req: Request) -> Response:
    """POST /BUCKET with a multipart/form-data body: upload its file."""
    assert req.body is not None and req.bucket is not None
    form = Form(req.body, req.h.get("content-type"))
    await form.read_fields()
    fields: dict[str, str] = {}
    for name, value in form.fields:
        fields.setdefault(name.lower(), value)
    fields["bucket"] = req.bucket  # the bucket posted to, whatever a field says
    key = fields.get("key")
    if not key:
        raise _missing("key")
    if "${filename}" in key:
        key = key.replace("${filename}", form.filename or "")
    fields["key"] = key
    signed, policy = await _authorize(req, fields, datetime.now(UTC))
    limits = policy.length_range if policy is not None else None
    headers = _object_headers(fields)
    upload = dataclasses.replace(
        signed,
        key=key,
        headers=headers,
        h={k: v for k, v in headers},
        body=RequestBody(file_receive(form, limits), dict(headers), payload=""),
    )
    assert upload.body is not None
    result = await upload.run_upload(
        upload.store.post_object, req.bucket, key, upload.body.file(), **objects.put_args(upload)
    )
    scheme = "https" if req.secure else "http"
    # path style (POST /BUCKET) or virtual-hosted (POST / to BUCKET.domain)
    where = f"/{req.bucket}/" if req.path.strip("/") == req.bucket else "/"
    location = f"{scheme}://{req.h.get('host', '')}{where}{quote(key)}"
    return _answer(upload, fields, result, location)


def _answer(req: Request, fields: dict[str, str], result: Any, location: str) -> Response:
    """S3's answer: a 303 to ``success_action_redirect`` (with bucket, key and
    ETag), else ``success_action_status`` 200, 201 (a PostResponse) or 204."""
    assert req.bucket is not None and req.key is not None
    headers = objects.put_headers(req, result)
    headers.append(("Location", location))
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    if redirect and redirect.startswith(("http://", "https://")):
        query = urlencode(
            [("bucket", req.bucket), ("key", req.key), ("etag", f'"{result.etag}"')],
            quote_via=quote,
        )
        target = redirect + ("&" if "?" in redirect else "?") + query
        return Response(303, [*headers[:-1], ("Location", target)])
    status = fields.get("success_action_status")
    if status == "201":
        doc = xmldoc.ET.Element("PostResponse")  # S3's has no namespace
        xmldoc.add_all(
            doc,
            [
                ("Location", location),
                ("Bucket", req.bucket),
                ("Key", req.key),
                ("ETag", f'"{result.etag}"'),
            ],
        )
        return Response.xml(doc, status=201, headers=headers)
    return Response(200 if status == "200" else 204, headers)
