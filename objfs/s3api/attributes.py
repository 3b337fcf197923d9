"""GetObjectAttributes (GET ?attributes): what HEAD knows, as an XML document.

The store's HeadObject gives the version (with its checksum and, for a
completed multipart upload, its part sizes and checksums); this module picks
the attributes ``x-amz-object-attributes`` names and pages the parts with
``x-amz-max-parts`` / ``x-amz-part-number-marker``.
"""

from __future__ import annotations

from objfs.errors import InvalidArgument
from objfs.s3api import headers as hdr
from objfs.s3api import xmldoc
from objfs.s3api.request import Request, Response

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")


def _wanted(req: Request) -> set[str]:
    text = req.h.get("x-amz-object-attributes", "")
    names = {n.strip() for n in text.split(",") if n.strip()}
    if not names:
        raise InvalidArgument("x-amz-object-attributes must name at least one attribute")
    unknown = names - set(ATTRIBUTES)
    if unknown:
        raise InvalidArgument(f"Invalid attribute name specified: {sorted(unknown)[0]}")
    return names


def _number(req: Request, name: str, default: int) -> int:
    text = req.h.get(name)
    if text is None or text.strip() == "":
        return default
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        raise InvalidArgument(f"{name} must be a non-negative integer")
    return int(text)


async def get_object_attributes(req: Request) -> Response:
    wanted = _wanted(req)
    max_parts = min(_number(req, "x-amz-max-parts", 1000), 1000)
    marker = _number(req, "x-amz-part-number-marker", 0)
    version = req.params.get("versionId")
    info = await req.run(
        req.store.head_object, req.bucket, req.key, version_id=version, sse=hdr.read_sse(req)
    )
    doc = xmldoc.root("GetObjectAttributesResponse")
    if "ETag" in wanted:
        xmldoc.add(doc, "ETag", info.etag)
    checksum = info.checksum
    if "Checksum" in wanted and checksum is not None and checksum.value is not None:
        e = xmldoc.add(doc, "Checksum")
        xmldoc.add(e, f"Checksum{checksum.algorithm}", checksum.value)
        xmldoc.add(e, "ChecksumType", checksum.type)
    if "ObjectParts" in wanted and info.parts:
        numbers = [n for n in range(1, len(info.parts) + 1) if n > marker]
        page = numbers[:max_parts]
        e = xmldoc.add(doc, "ObjectParts")
        xmldoc.add_all(
            e,
            [
                ("PartsCount", len(info.parts)),  # boto3: TotalPartsCount
                ("PartNumberMarker", marker),
                ("NextPartNumberMarker", page[-1] if page else marker),
                ("MaxParts", max_parts),
                ("IsTruncated", len(numbers) > len(page)),
            ],
        )
        for n in page:
            p = xmldoc.add(e, "Part")
            xmldoc.add(p, "PartNumber", n)
            xmldoc.add(p, "Size", info.parts[n - 1])
            value = info.part_checksums[n - 1] if info.part_checksums else None
            if checksum is not None and value is not None:
                xmldoc.add(p, f"Checksum{checksum.algorithm}", value)
    if "StorageClass" in wanted:
        xmldoc.add(doc, "StorageClass", "STANDARD")
    if "ObjectSize" in wanted:
        xmldoc.add(doc, "ObjectSize", info.size)
    headers = [("Last-Modified", hdr.http_date(info.last_modified_ns))]
    if info.version_id != "null":
        headers.append(("x-amz-version-id", info.version_id))
    return Response.xml(doc, headers=headers + hdr.ssec_echo(req))
