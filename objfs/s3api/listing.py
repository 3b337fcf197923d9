"""Listings: ListObjects (v1), ListObjectsV2, ListObjectVersions.

``encoding-type=url`` (boto3 asks for it) URL-encodes keys and prefixes in
the answer, as S3 does.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import quote

from objfs.errors import InvalidArgument
from objfs.s3api import xmldoc
from objfs.s3api.request import Request, Response
from objfs.store import ObjectVersion
from objfs.store.types import Owner


def url_encoder(req: Request):
    kind = req.params.get("encoding-type")
    if kind is None:
        return lambda text: text
    if kind != "url":
        raise InvalidArgument("encoding-type must be url")
    return lambda text: None if text is None else quote(text, safe="/")


def _contents(
    parent: ET.Element, tag: str, v: ObjectVersion, enc, owner: Owner | None = None, **extra: object
) -> None:
    e = xmldoc.add(parent, tag)
    xmldoc.add(e, "Key", enc(v.key))
    for name, value in extra.items():
        xmldoc.add(e, name, value)
    xmldoc.add(e, "LastModified", xmldoc.iso_time(v.last_modified_ns))
    if not v.is_delete_marker:
        xmldoc.add(e, "ETag", f'"{v.etag}"')
        xmldoc.add(e, "Size", v.size)
        xmldoc.add(e, "StorageClass", "STANDARD")
    if owner is not None:
        xmldoc.add_all(
            xmldoc.add(e, "Owner"), [("ID", owner.id), ("DisplayName", owner.display_name)]
        )


async def list_objects(req: Request) -> Response:
    v2 = req.params.get("list-type") == "2"
    if "list-type" in req.params and not v2:
        raise InvalidArgument("list-type must be 2")
    enc = url_encoder(req)
    prefix = req.params.get("prefix", "")
    delimiter = req.params.get("delimiter") or None
    max_keys = req.int_param("max-keys", 1000)
    token = req.params.get("continuation-token") if v2 else None
    start = req.params.get("start-after") if v2 else req.params.get("marker")
    # v1 Contents always carry their Owner; v2 only with fetch-owner=true (as S3).
    fetch_owner = req.params.get("fetch-owner", "").lower() == "true" if v2 else True
    result = await req.run(
        req.store.list_objects,
        req.bucket,
        prefix=prefix,
        delimiter=delimiter,
        max_keys=max_keys,
        start_after=start or None,
        continuation_token=token or None,
        fetch_owner=fetch_owner,
    )
    doc = xmldoc.root("ListBucketResult")
    xmldoc.add_all(
        doc,
        [
            ("Name", req.bucket),
            # v1 answers its Prefix as given even with encoding-type=url
            # (botocore decodes every other field, not this one).
            ("Prefix", enc(prefix) if v2 else prefix),
            ("Delimiter", enc(delimiter)),
            ("MaxKeys", max_keys),
            ("EncodingType", req.params.get("encoding-type")),
            ("IsTruncated", result.is_truncated),
        ],
    )
    if v2:
        xmldoc.add(doc, "KeyCount", result.key_count)
        xmldoc.add_all(
            doc,
            [
                ("ContinuationToken", token),
                ("NextContinuationToken", result.next_continuation_token),
                ("StartAfter", enc(start)),
            ],
        )
    else:
        xmldoc.add(doc, "Marker", enc(start or ""))
        if result.is_truncated:
            last = [v.key for v in result.contents] + list(result.common_prefixes)
            xmldoc.add(doc, "NextMarker", enc(max(last)) if last else None)
    for v in result.contents:
        _contents(doc, "Contents", v, enc, result.owners.get((v.key, v.version_id)))
    for p in result.common_prefixes:
        xmldoc.add(xmldoc.add(doc, "CommonPrefixes"), "Prefix", enc(p))
    return Response.xml(doc)


async def list_object_versions(req: Request) -> Response:
    enc = url_encoder(req)
    prefix = req.params.get("prefix", "")
    delimiter = req.params.get("delimiter") or None
    max_keys = req.int_param("max-keys", 1000)
    key_marker = req.params.get("key-marker") or None
    vid_marker = req.params.get("version-id-marker") or None
    result = await req.run(
        req.store.list_object_versions,
        req.bucket,
        prefix=prefix,
        delimiter=delimiter,
        max_keys=max_keys,
        key_marker=key_marker,
        version_id_marker=vid_marker,
        fetch_owner=True,
    )
    doc = xmldoc.root("ListVersionsResult")
    xmldoc.add_all(
        doc,
        [
            ("Name", req.bucket),
            ("Prefix", enc(prefix)),
            ("KeyMarker", enc(key_marker or "")),
            ("VersionIdMarker", vid_marker or ""),
            ("Delimiter", enc(delimiter)),
            ("MaxKeys", max_keys),
            ("EncodingType", req.params.get("encoding-type")),
            ("IsTruncated", result.is_truncated),
            ("NextKeyMarker", enc(result.next_key_marker)),
            ("NextVersionIdMarker", result.next_version_id_marker),
        ],
    )
    for v in result.versions:
        tag = "DeleteMarker" if v.is_delete_marker else "Version"
        owner = result.owners.get((v.key, v.version_id))
        _contents(doc, tag, v, enc, owner, VersionId=v.version_id, IsLatest=v.is_latest)
    for p in result.common_prefixes:
        xmldoc.add(xmldoc.add(doc, "CommonPrefixes"), "Prefix", enc(p))
    return Response.xml(doc)
