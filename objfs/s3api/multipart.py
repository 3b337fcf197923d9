"""Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts,
ListMultipartUploads."""

from __future__ import annotations

import re

from objfs.auth.acl import acl_spec_from_headers
from objfs.errors import InvalidArgument, MalformedXML
from objfs.s3api import headers as hdr
from objfs.s3api import listing, xmldoc
from objfs.s3api.objectlock import lock_request
from objfs.s3api.request import Request, Response
from objfs.s3api.tagging import parse_tagging_header
from objfs.store import checksums
from objfs.store.limits import MAX_PARTS


async def create_upload(req: Request) -> Response:
    checksum = checksums.upload_checksum(
        req.h.get("x-amz-checksum-algorithm"), req.h.get("x-amz-checksum-type")
    )
    meta, sys_meta = hdr.user_meta(req)
    sse = hdr.sse_request(req)
    upload_id = await req.run(
        req.store.create_multipart_upload,
        req.bucket,
        req.key,
        content_type=req.h.get("content-type"),
        user_meta=meta,
        sys_meta=sys_meta,
        sse=sse,
        headers=hdr.object_headers(req),
        checksum=checksum,
        acl=acl_spec_from_headers(req.h),
        tags=parse_tagging_header(req.h.get("x-amz-tagging")),
        lock=lock_request(req),
    )
    doc = xmldoc.root("InitiateMultipartUploadResult")
    xmldoc.add_all(doc, [("Bucket", req.bucket), ("Key", req.key), ("UploadId", upload_id)])
    headers = hdr.ssec_echo(req)
    if checksum is not None:
        headers += [
            ("x-amz-checksum-algorithm", checksum.algorithm),
            ("x-amz-checksum-type", checksum.type),
        ]
    if sse is not None and sse.mode in ("AES256", "aws:kms"):
        headers += hdr.sse_headers(sse.mode, sse.kms_key_id)
    return Response.xml(doc, headers=headers)


def _part_number(req: Request) -> int:
    text = req.params.get("partNumber", "")
    if not text.isascii() or not text.isdigit():
        raise InvalidArgument(f"partNumber must be an integer from 1 to {MAX_PARTS}")
    return int(text)


def _upload_id(req: Request) -> str:
    upload_id = req.params.get("uploadId")
    if not upload_id:
        raise InvalidArgument("this request needs an uploadId")
    return upload_id


_COPY_RANGE = re.compile(r"bytes=(\d+)-(\d+)")


async def upload_part(req: Request) -> Response:
    number = _part_number(req)
    upload_id = _upload_id(req)
    if "x-amz-copy-source" in req.h:
        return await _upload_part_copy(req, upload_id, number)
    assert req.body is not None
    part = await req.run_upload(
        req.store.upload_part,
        req.bucket,
        req.key,
        upload_id,
        number,
        req.body.file(),
        sse=hdr.read_sse(req),
        checksum=hdr.body_checksum(req),
    )
    headers = [("ETag", f'"{part.etag}"')]
    headers += hdr.applied_sse_headers(req, part.sse, part.kms_key_id) + req.body.checksums
    return Response(200, headers)


async def _upload_part_copy(req: Request, upload_id: str, number: int) -> Response:
    src_bucket, src_key, src_version = hdr.copy_source(req)
    src_range = None
    text = req.h.get("x-amz-copy-source-range")
    if text is not None:
        m = _COPY_RANGE.fullmatch(text.strip())
        if m is None:  # S3: a range it cannot read is a bad argument (400), not 416
            raise InvalidArgument("x-amz-copy-source-range must be bytes=FIRST-LAST")
        src_range = (int(m.group(1)), int(m.group(2)))
    part = await req.run(
        req.store.upload_part_copy,
        req.bucket,
        req.key,
        upload_id,
        number,
        src_bucket,
        src_key,
        src_version_id=src_version,
        src_range=src_range,
        src_sse=hdr.copy_source_sse(req),
        sse=hdr.read_sse(req),
        # The source's conditions, checked by the store on the version it copies.
        if_match=req.h.get("x-amz-copy-source-if-match"),
        if_none_match=req.h.get("x-amz-copy-source-if-none-match"),
        if_modified_since_ns=hdr.parse_http_date_ns(
            req.h.get("x-amz-copy-source-if-modified-since")
        ),
        if_unmodified_since_ns=hdr.parse_http_date_ns(
            req.h.get("x-amz-copy-source-if-unmodified-since")
        ),
    )
    doc = xmldoc.root("CopyPartResult")
    xmldoc.add(doc, "LastModified", xmldoc.iso_time(part.last_modified_ns))
    xmldoc.add(doc, "ETag", f'"{part.etag}"')
    if part.checksum is not None:
        xmldoc.add(doc, f"Checksum{part.checksum.algorithm}", part.checksum.value)
    headers = [("x-amz-copy-source-version-id", src_version)] if src_version else []
    headers += hdr.applied_sse_headers(req, part.sse, part.kms_key_id)
    return Response.xml(doc, headers=headers)


async def complete_upload(req: Request) -> Response:
    upload_id = _upload_id(req)
    doc = xmldoc.parse(await req.read_all(xmldoc.MAX_XML_BODY), "CompleteMultipartUpload")
    parts: list[tuple[int, str]] = []
    for p in xmldoc.children(doc, "Part"):
        number = xmldoc.child_text(p, "PartNumber") or ""
        etag = xmldoc.child_text(p, "ETag")
        if not number.isascii() or not number.isdigit() or not etag:
            raise MalformedXML("each Part needs a PartNumber and an ETag")
        parts.append((int(number), etag))
    result = await req.run(
        req.store.complete_multipart_upload,
        req.bucket,
        req.key,
        upload_id,
        parts,
        checksum=hdr.expected_checksum(req),
        if_match=req.h.get("if-match"),
        if_none_match=req.h.get("if-none-match"),
        sse=hdr.read_sse(req),
    )
    out = xmldoc.root("CompleteMultipartUploadResult")
    xmldoc.add_all(
        out,
        [
            ("Location", f"/{req.bucket}/{req.key}"),
            ("Bucket", req.bucket),
            ("Key", req.key),
            ("ETag", f'"{result.etag}"'),
        ],
    )
    if result.checksum is not None:
        xmldoc.add(out, f"Checksum{result.checksum.algorithm}", result.checksum.value)
        xmldoc.add(out, "ChecksumType", result.checksum.type)
    headers = [("x-amz-version-id", result.version_id)] if result.version_id != "null" else []
    headers += hdr.applied_sse_headers(req, result.sse, result.kms_key_id)
    return Response.xml(out, headers=headers)


async def abort_upload(req: Request) -> Response:
    await req.run(req.store.abort_multipart_upload, req.bucket, req.key, _upload_id(req))
    return Response(204)


async def list_parts(req: Request) -> Response:
    upload_id = _upload_id(req)
    marker = req.int_param("part-number-marker", 0, high=MAX_PARTS)
    max_parts = req.int_param("max-parts", 1000, low=1)
    parts = await req.run(req.store.list_parts, req.bucket, req.key, upload_id)
    after = [p for p in parts if p.part_number > marker]
    page = after[:max_parts]
    doc = xmldoc.root("ListPartsResult")
    xmldoc.add_all(
        doc,
        [
            ("Bucket", req.bucket),
            ("Key", req.key),
            ("UploadId", upload_id),
            ("PartNumberMarker", marker),
            ("NextPartNumberMarker", page[-1].part_number if page else marker),
            ("MaxParts", max_parts),
            ("IsTruncated", len(after) > len(page)),
            ("StorageClass", "STANDARD"),
        ],
    )
    for tag, who in (("Initiator", parts.initiator), ("Owner", parts.owner)):
        if who is not None and who[0] is not None:
            xmldoc.add_all(xmldoc.add(doc, tag), [("ID", who[0]), ("DisplayName", who[1])])
    for p in page:
        e = xmldoc.add(doc, "Part")
        xmldoc.add_all(
            e,
            [
                ("PartNumber", p.part_number),
                ("LastModified", xmldoc.iso_time(p.last_modified_ns)),
                ("ETag", f'"{p.etag}"'),
                ("Size", p.size),
            ],
        )
        if p.checksum is not None:
            xmldoc.add(e, f"Checksum{p.checksum.algorithm}", p.checksum.value)
    return Response.xml(doc)


async def list_uploads(req: Request) -> Response:
    enc = listing.url_encoder(req)
    prefix = req.params.get("prefix", "")
    delimiter = req.params.get("delimiter") or None
    key_marker = req.params.get("key-marker") or None
    upload_id_marker = req.params.get("upload-id-marker") or None
    max_uploads = req.int_param("max-uploads", 1000)
    page = await req.run(
        req.store.list_multipart_uploads,
        req.bucket,
        prefix=prefix,
        delimiter=delimiter,
        key_marker=key_marker,
        upload_id_marker=upload_id_marker if key_marker else None,
        max_uploads=max_uploads,
    )
    doc = xmldoc.root("ListMultipartUploadsResult")
    xmldoc.add_all(
        doc,
        [
            ("Bucket", req.bucket),
            ("KeyMarker", enc(key_marker or "")),
            ("UploadIdMarker", upload_id_marker or ""),
            ("NextKeyMarker", enc(page.next_key_marker)),
            ("NextUploadIdMarker", page.next_upload_id_marker),
            ("Prefix", enc(prefix)),
            ("Delimiter", enc(delimiter)),
            ("MaxUploads", max_uploads),
            ("EncodingType", req.params.get("encoding-type")),
            ("IsTruncated", page.is_truncated),
        ],
    )
    for u in page.uploads:
        e = xmldoc.add(doc, "Upload")
        xmldoc.add_all(
            e,
            [
                ("Key", enc(u.key)),
                ("UploadId", u.upload_id),
                ("Initiated", xmldoc.iso_time(u.initiated_ns)),
                ("StorageClass", "STANDARD"),
            ],
        )
        if u.initiator_id is not None:  # who created it; in one account also the owner
            for tag in ("Initiator", "Owner"):
                who = xmldoc.add(e, tag)
                xmldoc.add_all(who, [("ID", u.initiator_id), ("DisplayName", u.initiator_name)])
    for p in page.common_prefixes:
        xmldoc.add(xmldoc.add(doc, "CommonPrefixes"), "Prefix", enc(p))
    return Response.xml(doc)
