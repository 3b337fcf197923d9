"""Object operations: GetObject, HeadObject, PutObject, CopyObject, DeleteObject, DeleteObjects.

GET reads an object of at most ``INLINE_BODY`` bytes whole on the worker
thread of its store call, and streams a larger one piece by piece (each
piece read on a worker thread); PUT hands the store a blocking file over the
verified body stream. GET, HEAD and PUT are authenticated on the thread of
their store call (``app.FOLDED``): nothing here reads ``req.ctx`` or
``req.body`` before it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from objfs.auth.acl import acl_spec_from_headers
from objfs.errors import (
    InvalidArgument,
    InvalidRequest,
    MalformedXML,
    ObjfsError,
)
from objfs.s3api import headers as hdr
from objfs.s3api import threads, xmldoc
from objfs.s3api.errors import public_message
from objfs.s3api.lifecycle import expiration_headers
from objfs.s3api.objectlock import bypass_governance, lock_request, require_integrity
from objfs.s3api.request import Request, Response
from objfs.s3api.tagging import parse_tagging_header
from objfs.store import ObjectVersion, RequestContext
from objfs.store.limits import MAX_PARTS
from objfs.store.parts import part_checksum, part_range

MAX_DELETE_KEYS = 1000
# A GET of at most this many bytes is read whole on the thread of its store
# call and sent in one piece; a larger one streams, a thread call per piece.
INLINE_BODY = 1 << 20


def _conditions(req: Request, prefix: str = "") -> dict[str, Any]:
    return {
        "if_match": req.h.get(prefix + "if-match"),
        "if_none_match": req.h.get(prefix + "if-none-match"),
        "if_modified_since_ns": hdr.parse_http_date_ns(req.h.get(prefix + "if-modified-since")),
        "if_unmodified_since_ns": hdr.parse_http_date_ns(req.h.get(prefix + "if-unmodified-since")),
    }


# response-* query parameters override these headers of a GET (S3's rule: signed requests only)
_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def _override(req: Request, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    wanted = {v: req.params[k] for k, v in _OVERRIDES.items() if k in req.params}
    if not wanted:
        return headers
    if not req.ctx or not req.ctx.identity.authenticated:
        raise InvalidRequest("response-* parameters need a signed request")
    return [(k, v) for k, v in headers if k not in wanted] + list(wanted.items())


def _part_number(req: Request) -> int | None:
    text = req.params.get("partNumber")
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_PARTS:
        raise InvalidArgument(f"partNumber must be an integer from 1 to {MAX_PARTS}")
    if "range" in req.h:
        raise InvalidRequest("Cannot specify both Range header and partNumber query parameter")
    return int(text)


def _part_headers(
    req: Request, info: ObjectVersion, number: int, byte_range: tuple[int, int] | None
) -> list[tuple[str, str]]:
    """What a GET/HEAD ?partNumber=N adds: the parts count and the part's range
    (a multipart object), the part's checksum in checksum mode."""
    out = []
    if info.parts:
        out.append(("x-amz-mp-parts-count", str(len(info.parts))))
    if byte_range is not None:
        out.append(("Content-Range", f"bytes {byte_range[0]}-{byte_range[1]}/{info.size}"))
    if hdr.checksum_mode(req):
        out += hdr.checksum_headers(part_checksum(info, number))
    return out


def _expiration(req: Request, ctx: RequestContext, info: ObjectVersion) -> list[tuple[str, str]]:
    """``x-amz-expiration`` of a version a GET/HEAD read: only a current one expires."""
    if not info.is_latest or info.is_delete_marker:
        return []
    return expiration_headers(
        req.store, ctx, info.bucket, info.key, info.size, info.tags, info.last_modified_ns
    )


async def head_object(req: Request) -> Response:
    # Authenticated on the thread of ``head`` (app.FOLDED): everything that
    # may refuse the request is checked in there, after the signature.
    def head(ctx: RequestContext) -> tuple[ObjectVersion, list[tuple[str, str]], int | None]:
        bucket, key = req.object_path()
        hdr.refuse_write_sse(req)
        part = _part_number(req)
        info = req.store.head_object(
            ctx, bucket, key, version_id=req.params.get("versionId"), sse=hdr.read_sse(req),
            part_number=part, **_conditions(req),
        )  # fmt: skip
        return info, _expiration(req, ctx, info), part

    info, expiration, part = await req.run(head)
    headers = _override(req, hdr.version_headers(info)) + hdr.ssec_echo(req) + expiration
    if part is not None:
        byte_range = part_range(info, part)
        headers += _part_headers(req, info, part, byte_range)
        if byte_range is not None:
            length = byte_range[1] - byte_range[0] + 1
            return Response(206, headers, b"", length=length)
    elif hdr.checksum_mode(req):
        headers += hdr.checksum_headers(info.checksum)
    return Response(200, headers, b"", length=info.size)


async def get_object(req: Request) -> Response:
    # Authenticated on the thread of ``get`` (app.FOLDED), which also reads a
    # small object whole: one thread hand-off for the request.
    def get(
        ctx: RequestContext,
    ) -> tuple[Any, list[tuple[str, str]], Any, int | None, bytes | None]:
        bucket, key = req.object_path()
        hdr.refuse_write_sse(req)
        # Open and suffix ranges are resolved by the store on the version it reads.
        # So is a part (?partNumber=N): from the part sizes of that same version.
        byte_range = hdr.parse_range(req.h.get("range"))
        part = _part_number(req)
        reader = req.store.get_object(
            ctx,
            bucket,
            key,
            version_id=req.params.get("versionId"),
            range=byte_range,
            part_number=part,
            sse=hdr.read_sse(req),
            **_conditions(req),
        )
        try:
            expiration = _expiration(req, ctx, reader.info)
            data = None
            if reader.length <= INLINE_BODY:
                data = b"".join(reader)
                reader.close()
            return reader, expiration, byte_range, part, data
        except BaseException:
            reader.close()
            raise

    reader, expiration, byte_range, part, data = await req.run(get)
    info = reader.info
    if part is not None and not info.parts:
        part = None  # part 1 of an object not uploaded in parts: all of it
    headers = _override(req, hdr.version_headers(info)) + hdr.ssec_echo(req) + expiration
    status = 200
    if part is not None:
        status = 206
        headers += _part_headers(req, info, part, (reader.start, reader.start + reader.length - 1))
    elif byte_range is not None:
        status = 206
        end = reader.start + reader.length - 1
        headers.append(("Content-Range", f"bytes {reader.start}-{end}/{info.size}"))
    elif hdr.checksum_mode(req):  # a range's bytes are not what the checksum covers
        headers += hdr.checksum_headers(info.checksum)
    if data is not None:
        return Response(status, headers, data, length=reader.length)
    return Response(status, headers, _pieces(req, reader), length=reader.length)


async def _pieces(req: Request, reader: Any) -> AsyncIterator[bytes]:
    pieces = iter(reader)
    try:
        while True:
            piece = await threads.run_sync(lambda: next(pieces, None), req.app.limiter)
            if piece is None:
                return
            yield piece
    finally:
        reader.close()


def put_args(req: Request) -> dict[str, Any]:
    """The store's ``put_object`` arguments from a write's headers, besides the
    body: PutObject's, and POST Object's form fields read as headers (post.py)."""
    meta, sys_meta = hdr.user_meta(req)
    return {
        "content_type": req.h.get("content-type"),
        "user_meta": meta,
        "sys_meta": sys_meta,
        "if_match": req.h.get("if-match"),
        "if_none_match": req.h.get("if-none-match"),
        "sse": hdr.sse_request(req),
        "headers": hdr.object_headers(req),
        "checksum": hdr.body_checksum(req),
        "acl": acl_spec_from_headers(req.h),
        "tags": parse_tagging_header(req.h.get("x-amz-tagging")),
        "lock": lock_request(req),
    }


def put_headers(req: Request, result: Any) -> list[tuple[str, str]]:
    """The headers a write's answer carries: ETag, version, encryption, checksums."""
    assert req.body is not None
    headers = [("ETag", f'"{result.etag}"')]
    if result.version_id != "null":
        headers.append(("x-amz-version-id", result.version_id))
    headers += hdr.applied_sse_headers(req, result.sse, result.kms_key_id)
    headers += req.body.checksums
    return headers


async def put_object(req: Request) -> Response:
    if "x-amz-copy-source" in req.h:
        return await copy_object(req)
    args: dict[str, Any] = {}

    # Authenticated on the thread of ``put`` (app.FOLDED): the body and the
    # headers are looked at in there, after the signature.
    def put(ctx: RequestContext) -> tuple[Any, list[tuple[str, str]]]:
        assert req.body is not None
        bucket, key = req.object_path()
        if any(name.startswith("x-amz-object-lock-") for name in req.h):
            require_integrity(req)
        args.update(put_args(req))
        result = req.store.put_object(ctx, bucket, key, req.body.file(), **args)
        expiration = expiration_headers(
            req.store, ctx, bucket, key, result.size, args["tags"], result.last_modified_ns
        )
        return result, expiration

    result, expiration = await req.run_upload(put)
    return Response(200, put_headers(req, result) + expiration)


async def copy_object(req: Request) -> Response:
    src_bucket, src_key, src_version = hdr.copy_source(req)
    given = req.h.get("x-amz-metadata-directive")
    directive = (given or "COPY").upper()
    meta, sys_meta = hdr.user_meta(req)
    result = await req.run(
        req.store.copy_object,
        src_bucket,
        src_key,
        req.bucket,
        req.key,
        src_version_id=src_version,
        metadata_directive=directive if given is not None else None,
        content_type=req.h.get("content-type") if directive == "REPLACE" else None,
        user_meta=meta if directive == "REPLACE" else None,
        sys_meta=sys_meta if directive == "REPLACE" else None,
        sse=hdr.sse_request(req),
        src_sse=hdr.copy_source_sse(req),
        acl=acl_spec_from_headers(req.h),
        tagging_directive=req.h.get("x-amz-tagging-directive"),
        tags=parse_tagging_header(req.h.get("x-amz-tagging")),
        lock=lock_request(req),
        # The source's conditions, checked by the store on the version it copies.
        **_conditions(req, "x-amz-copy-source-"),
        headers=hdr.object_headers(req) if directive == "REPLACE" else None,
    )
    headers = []
    if result.version_id != "null":
        headers.append(("x-amz-version-id", result.version_id))
    if src_version:
        headers.append(("x-amz-copy-source-version-id", src_version))
    headers += hdr.applied_sse_headers(req, result.sse, result.kms_key_id)
    doc = xmldoc.root("CopyObjectResult")
    xmldoc.add(doc, "LastModified", xmldoc.iso_time(result.last_modified_ns))
    xmldoc.add(doc, "ETag", f'"{result.etag}"')
    return Response.xml(doc, headers=headers)


async def delete_object(req: Request) -> Response:
    version = req.params.get("versionId")
    result = await req.run(
        req.store.delete_object,
        req.bucket,
        req.key,
        version_id=version,
        bypass_governance=bypass_governance(req),
    )
    headers = []
    if result.delete_marker:
        headers.append(("x-amz-delete-marker", "true"))
    if result.version_id and result.version_id != "null":
        headers.append(("x-amz-version-id", result.version_id))
    return Response(204, headers)


async def delete_objects(req: Request) -> Response:
    doc = xmldoc.parse(await req.read_all(xmldoc.MAX_XML_BODY), "Delete")
    quiet = (xmldoc.child_text(doc, "Quiet") or "").lower() == "true"
    items: list[tuple[str, str | None]] = []
    for obj in xmldoc.children(doc, "Object"):
        key = xmldoc.exact_text(obj, "Key")
        if not key:
            raise MalformedXML("each Object needs a Key")
        items.append((key, xmldoc.child_text(obj, "VersionId") or None))
    if not items or len(items) > MAX_DELETE_KEYS:
        raise MalformedXML(f"Delete takes 1 to {MAX_DELETE_KEYS} objects")
    results = await req.run(
        req.store.delete_objects, req.bucket, items, bypass_governance=bypass_governance(req)
    )
    out = xmldoc.root("DeleteResult")
    for (key, version), result in zip(items, results, strict=True):
        if isinstance(result, ObjfsError):
            e = xmldoc.add(out, "Error")
            xmldoc.add_all(
                e,
                [
                    ("Key", key),
                    ("VersionId", version),
                    ("Code", result.code),
                    ("Message", public_message(result)),
                ],
            )
            continue
        if quiet:
            continue
        d = xmldoc.add(out, "Deleted")
        xmldoc.add(d, "Key", key)
        if version:
            xmldoc.add(d, "VersionId", version)
            if result.delete_marker:
                xmldoc.add(d, "DeleteMarker", True)
        elif result.delete_marker:
            xmldoc.add(d, "DeleteMarker", True)
            xmldoc.add(d, "DeleteMarkerVersionId", result.version_id)
    return Response.xml(out)
