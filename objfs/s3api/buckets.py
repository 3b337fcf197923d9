"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation."""

from __future__ import annotations

from objfs.auth.acl import acl_spec_from_headers
from objfs.s3api import xmldoc
from objfs.s3api.request import Request, Response


async def list_buckets(req: Request) -> Response:
    found = await req.run(req.store.list_buckets)
    identity = req.ctx.identity  # type: ignore[union-attr]
    doc = xmldoc.root("ListAllMyBucketsResult")
    owner = xmldoc.add(doc, "Owner")
    xmldoc.add_all(owner, [("ID", identity.canonical_id or ""), ("DisplayName", identity.name)])
    listed = xmldoc.add(doc, "Buckets")
    for info in found:
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
    lock = req.h.get("x-amz-bucket-object-lock-enabled", "").strip().lower() == "true"
    await req.run(req.store.create_bucket, req.bucket, region=region, acl=acl, object_lock=lock)
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
