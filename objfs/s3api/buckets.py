"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation."""

from __future__ import annotations

import base64

from objfs.auth.acl import acl_spec_from_headers
from objfs.auth.ownership import MODES
from objfs.errors import InvalidArgument
from objfs.s3api import xmldoc
from objfs.s3api.request import Request, Response

MAX_BUCKETS = 10000  # S3's ceiling for max-buckets


def _page_of_buckets(req: Request, found: list) -> tuple[list, str | None]:
    """S3's ListBuckets paging (``prefix``, ``bucket-region``, ``max-buckets``,
    ``continuation-token``): the buckets of this page, by name, and the token of
    the next one (None on the last page). The token is the last name, opaque."""
    text = req.params.get("max-buckets")
    limit = MAX_BUCKETS
    if text is not None:
        if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_BUCKETS:
            raise InvalidArgument(f"max-buckets must be 1 to {MAX_BUCKETS}, not {text!r}")
        limit = int(text)
    after = ""
    token = req.params.get("continuation-token")
    if token is not None:
        try:
            after = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
        except (ValueError, UnicodeError):
            raise InvalidArgument("The continuation token provided is incorrect") from None
    prefix = req.params.get("prefix", "")
    region = req.params.get("bucket-region")
    chosen = sorted(
        (b for b in found if b.name.startswith(prefix) and b.name > after),
        key=lambda b: b.name,
    )
    chosen = [b for b in chosen if region is None or b.region == region]
    page = chosen[:limit]
    more = len(chosen) > limit
    nxt = base64.urlsafe_b64encode(page[-1].name.encode()).decode() if more else None
    return page, nxt


async def list_buckets(req: Request) -> Response:
    found = await req.run(req.store.list_buckets)
    page, continuation = _page_of_buckets(req, found)
    identity = req.ctx.identity  # type: ignore[union-attr]
    doc = xmldoc.root("ListAllMyBucketsResult")
    owner = xmldoc.add(doc, "Owner")
    xmldoc.add_all(owner, [("ID", identity.canonical_id or ""), ("DisplayName", identity.name)])
    listed = xmldoc.add(doc, "Buckets")
    if continuation is not None:
        xmldoc.add(doc, "ContinuationToken", continuation)
    if "prefix" in req.params:
        xmldoc.add(doc, "Prefix", req.params["prefix"])
    for info in page:
        b = xmldoc.add(listed, "Bucket")
        xmldoc.add_all(
            b,
            [
                ("Name", info.name),
                ("CreationDate", xmldoc.iso_time(info.created_ns)),
                ("BucketRegion", info.region),
            ],
        )
    return Response.xml(doc)


async def create_bucket(req: Request) -> Response:
    region = req.app.region
    body = await req.read_all(64 << 10)
    if body.strip():
        doc = xmldoc.parse(body, "CreateBucketConfiguration")
        region = xmldoc.child_text(doc, "LocationConstraint") or region
    acl = acl_spec_from_headers(req.h)
    ownership = req.h.get("x-amz-object-ownership")
    if ownership is not None and ownership not in MODES:
        raise InvalidArgument(f"Invalid x-amz-object-ownership header: {ownership}")
    lock = req.h.get("x-amz-bucket-object-lock-enabled", "").strip().lower() == "true"
    await req.run(
        req.store.create_bucket,
        req.bucket,
        region=region,
        acl=acl,
        ownership=ownership,
        object_lock=lock,
    )
    return Response(200, [("Location", f"/{req.bucket}")])


async def head_bucket(req: Request) -> Response:
    info = await req.run(req.store.head_bucket, req.bucket)
    return Response(200, [("x-amz-bucket-region", info.region)])


async def delete_bucket(req: Request) -> Response:
    await req.run(req.store.delete_bucket, req.bucket)
    return Response(204)


async def get_bucket_location(req: Request) -> Response:
    region = await req.run(req.store.get_bucket_location, req.bucket)
    doc = xmldoc.root("LocationConstraint")
    doc.text = "" if region == "us-east-1" else region
    return Response.xml(doc)
