"""Lifecycle over HTTP: Get/Put/DeleteBucketLifecycleConfiguration and ``x-amz-expiration``.

XML in and out, in S3's JSON shape in between; the rules, their validation
and execution are the store's (``objfs/store/expiry_rules.py``,
``objfs/store/expiry.py``). The legacy PutBucketLifecycle (same ``?lifecycle``
sub-resource, a top-level ``Prefix`` per rule) is the same call.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from objfs.errors import MalformedXML
from objfs.s3api import xmldoc
from objfs.s3api.request import Request, Response
from objfs.store.expiry_rules import expiration_header

_LISTS = {  # repeated XML element -> its JSON list
    ("Rule", "Transition"): "Transitions",
    ("Rule", "NoncurrentVersionTransition"): "NoncurrentVersionTransitions",
    ("And", "Tag"): "Tags",
}
_KEEP_EXACT = {"Prefix", "Key", "Value", "ID"}  # strings whose whitespace counts
_CONTAINERS = {  # elements that hold others: empty, they are an empty object
    "Filter",
    "And",
    "Tag",
    "Expiration",
    "NoncurrentVersionExpiration",
    "AbortIncompleteMultipartUpload",
    "Transition",
    "NoncurrentVersionTransition",
}


def _element(el: ET.Element) -> Any:
    """An XML element in S3's JSON shape: text for a leaf, a dict for the others."""
    kids = list(el)
    if not kids:
        text = el.text or ""
        if xmldoc.local(el.tag) in _CONTAINERS and not text.strip():
            return {}
        return text if xmldoc.local(el.tag) in _KEEP_EXACT else text.strip()
    out: dict[str, Any] = {}
    parent = xmldoc.local(el.tag)
    for kid in kids:
        tag = xmldoc.local(kid.tag)
        listed = _LISTS.get((parent, tag))
        if listed is not None:
            out.setdefault(listed, []).append(_element(kid))
        elif tag in out:
            raise MalformedXML(f"<{tag}> given twice in <{parent}>")
        else:
            out[tag] = _element(kid)
    return out


def rules_from_xml(body: bytes) -> list[dict[str, Any]]:
    doc = xmldoc.parse(body, "LifecycleConfiguration")
    rules = []
    for el in doc:
        if xmldoc.local(el.tag) != "Rule":
            raise MalformedXML(f"unexpected <{xmldoc.local(el.tag)}> in LifecycleConfiguration")
        rule = _element(el)
        if not isinstance(rule, dict):
            raise MalformedXML("an empty <Rule>")
        rules.append(rule)
    return rules


def _render(parent: ET.Element, tag: str, value: Any) -> None:
    if isinstance(value, dict):
        el = xmldoc.add(parent, tag)
        for name, inner in value.items():
            _render(el, name, inner)
    elif isinstance(value, list):
        single = {v: k[1] for k, v in _LISTS.items()}[tag]
        for item in value:
            _render(parent, single, item)
    else:
        xmldoc.add(parent, tag, value)


def rules_to_xml(rules: list[dict[str, Any]]) -> Response:
    doc = xmldoc.root("LifecycleConfiguration")
    for rule in rules:
        _render(doc, "Rule", rule)
    return Response.xml(doc)


async def get_lifecycle(req: Request) -> Response:
    return rules_to_xml(await req.run(req.store.get_bucket_lifecycle, req.bucket))


async def put_lifecycle(req: Request) -> Response:
    rules = rules_from_xml(await req.read_all(xmldoc.MAX_XML_BODY))
    await req.run(req.store.put_bucket_lifecycle, req.bucket, rules)
    return Response(200)


async def delete_lifecycle(req: Request) -> Response:
    await req.run(req.store.delete_bucket_lifecycle, req.bucket)
    return Response(204)


def expiration_headers(
    store: Any,
    ctx: Any,
    bucket: str,
    key: str,
    size: int,
    tags: dict[str, str] | None,
    created_ns: int,
) -> list[tuple[str, str]]:
    """``x-amz-expiration`` of a current version an Expiration rule will expire.

    Called on the worker thread of the request's own store call (GET, HEAD,
    PUT), so the answer costs one read there, not another thread hop."""
    found = store.lifecycle_expiration(ctx, bucket, key, size, tags, created_ns)
    return [("x-amz-expiration", expiration_header(found))] if found else []
