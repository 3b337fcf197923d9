"""Tagging requests: ``?tagging`` on objects and buckets, and the ``x-amz-tagging`` header.

Two parsers any handler may call (PutObject, CreateMultipartUpload,
CopyObject, a POST form's ``tagging`` field):

- ``parse_tagging_xml(body)``: a ``<Tagging><TagSet><Tag><Key/><Value/></Tag>...``
  document, parsed strictly (anything else in it is ``MalformedXML``);
- ``parse_tagging_header(value)``: the URL-encoded query string of
  ``x-amz-tagging`` (``a=1&b``: a key without ``=`` has the empty value).

Both refuse a key given twice; the limits and alphabet are the store's
(``objfs.store.tagging.check_tags``), checked where the tags are used.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from objfs.errors import InvalidArgument, InvalidTag, MalformedXML
from objfs.s3api import xmldoc
from objfs.s3api.request import Request, Response
from objfs.store.tagging import tag_pairs

MAX_TAGGING_BODY = 64 << 10


def parse_tagging_xml(body: bytes) -> dict[str, str]:
    """The tag set of a ``Tagging`` document; ``MalformedXML`` unless it has
    exactly that shape (one TagSet; each Tag one Key and at most one Value)."""
    doc = xmldoc.parse(body, "Tagging")
    sets = list(doc)
    if len(sets) != 1 or xmldoc.local(sets[0].tag) != "TagSet":
        raise MalformedXML("a Tagging document holds exactly one TagSet")
    pairs = []
    for tag in sets[0]:
        if xmldoc.local(tag.tag) != "Tag":
            raise MalformedXML(f"unexpected <{xmldoc.local(tag.tag)}> in a TagSet")
        fields = [xmldoc.local(c.tag) for c in tag]
        if fields.count("Key") != 1 or fields.count("Value") > 1 or set(fields) - {"Key", "Value"}:
            raise MalformedXML("each Tag has one Key and one Value")
        pairs.append((xmldoc.exact_text(tag, "Key") or "", xmldoc.exact_text(tag, "Value") or ""))
    return tag_pairs(pairs)


def parse_tagging_header(value: str | None) -> dict[str, str] | None:
    """The tags of an ``x-amz-tagging`` header (None when absent); a key given
    twice is ``InvalidArgument``, as S3 answers it for the header."""
    if value is None:
        return None
    pairs = []
    for item in value.split("&"):
        if not item:
            continue
        key, _, val = item.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(val)))
    try:
        return tag_pairs(pairs)
    except InvalidTag:
        raise InvalidArgument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
            "parameters without tag name duplicates."
        ) from None


def tagging_document(tags: dict[str, str]) -> xmldoc.ET.Element:
    """A ``Tagging`` answer; tags in key order."""
    doc = xmldoc.root("Tagging")
    tag_set = xmldoc.add(doc, "TagSet")
    for key in sorted(tags):
        tag = xmldoc.add(tag_set, "Tag")
        xmldoc.add(tag, "Key", key)
        xmldoc.add(tag, "Value", tags[key])
    return doc


def _version_header(version_id: str) -> list[tuple[str, str]]:
    return [] if version_id == "null" else [("x-amz-version-id", version_id)]


# -- objects ------------------------------------------------------------------------


async def get_object_tagging(req: Request) -> Response:
    info = await req.run(
        req.store.get_object_tagging,
        req.bucket,
        req.key,
        version_id=req.params.get("versionId"),
    )
    return Response.xml(tagging_document(info.tags), headers=_version_header(info.version_id))


async def put_object_tagging(req: Request) -> Response:
    tags = parse_tagging_xml(await req.read_all(MAX_TAGGING_BODY))
    info = await req.run(
        req.store.put_object_tagging,
        req.bucket,
        req.key,
        tags,
        version_id=req.params.get("versionId"),
    )
    return Response(200, _version_header(info.version_id))


async def delete_object_tagging(req: Request) -> Response:
    info = await req.run(
        req.store.delete_object_tagging,
        req.bucket,
        req.key,
        version_id=req.params.get("versionId"),
    )
    return Response(204, _version_header(info.version_id))


# -- buckets ------------------------------------------------------------------------


async def get_bucket_tagging(req: Request) -> Response:
    tags = await req.run(req.store.get_bucket_tagging, req.bucket)
    return Response.xml(tagging_document(tags))


async def put_bucket_tagging(req: Request) -> Response:
    tags = parse_tagging_xml(await req.read_all(MAX_TAGGING_BODY))
    await req.run(req.store.put_bucket_tagging, req.bucket, tags)
    return Response(204)


async def delete_bucket_tagging(req: Request) -> Response:
    await req.run(req.store.delete_bucket_tagging, req.bucket)
    return Response(204)
