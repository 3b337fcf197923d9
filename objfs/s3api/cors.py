"""CORS over HTTP: Get/Put/DeleteBucketCors, the preflight ``OPTIONS``, and the
headers of actual cross-origin requests.

XML in and out; the rules, their validation and which one matches are the
store's (``objfs/store/cors.py``). A preflight is answered without
authentication, as S3 answers it: 200 with the allow headers for the first
rule matching origin, method and every requested header, 403
``AccessForbidden`` otherwise. Any other request carrying ``Origin`` gets
``Access-Control-Allow-Origin`` / ``-Allow-Methods`` / ``-Expose-Headers`` /
``-Max-Age`` and ``Vary`` when a rule allows it (matched on
``Access-Control-Request-Method`` when the request names one, as S3 does),
error responses included.
"""

from __future__ import annotations

from typing import Any

import trio

from objfs.errors import (
    AccessForbidden,
    InvalidRequest,
    MalformedXML,
    NoSuchCORSConfiguration,
    ObjfsError,
)
from objfs.s3api import xmldoc
from objfs.s3api.request import Request, Response
from objfs.store import ANONYMOUS_IDENTITY, RequestContext
from objfs.store.cors import CORSRule, split_header_list

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
_XML_FIELDS = (  # XML element -> S3's JSON field
    ("AllowedOrigin", "AllowedOrigins"),
    ("AllowedMethod", "AllowedMethods"),
    ("AllowedHeader", "AllowedHeaders"),
    ("ExposeHeader", "ExposeHeaders"),
)


def rules_from_xml(body: bytes) -> list[dict[str, Any]]:
    """A ``<CORSConfiguration>`` body in S3's JSON shape (the store validates it)."""
    doc = xmldoc.parse(body, "CORSConfiguration")
    rules: list[dict[str, Any]] = []
    for element in doc:
        if xmldoc.local(element.tag) != "CORSRule":
            raise MalformedXML(f"unexpected <{xmldoc.local(element.tag)}> in CORSConfiguration")
        rule: dict[str, Any] = {}
        for child in element:
            tag, text = xmldoc.local(child.tag), (child.text or "").strip()
            field = dict(_XML_FIELDS).get(tag)
            if field is not None:
                rule.setdefault(field, []).append(text)
            elif tag in rule:
                raise MalformedXML(f"<{tag}> given twice in a CORSRule")
            else:
                rule[tag] = text  # MaxAgeSeconds, ID; anything else the store refuses
        rules.append(rule)
    return rules


def rules_to_xml(rules: tuple[CORSRule, ...]) -> Response:
    doc = xmldoc.root("CORSConfiguration")
    for rule in rules:
        el = xmldoc.add(doc, "CORSRule")
        if rule.id is not None:
            xmldoc.add(el, "ID", rule.id)
        for tag, values in (
            ("AllowedHeader", rule.allowed_headers),
            ("AllowedMethod", rule.allowed_methods),
            ("AllowedOrigin", rule.allowed_origins),
            ("ExposeHeader", rule.expose_headers),
        ):
            for value in values:
                xmldoc.add(el, tag, value)
        if rule.max_age_seconds is not None:
            xmldoc.add(el, "MaxAgeSeconds", rule.max_age_seconds)
    return Response.xml(doc)


async def get_cors(req: Request) -> Response:
    return rules_to_xml(await req.run(req.store.get_bucket_cors, req.bucket))


async def put_cors(req: Request) -> Response:
    rules = rules_from_xml(await req.read_all(xmldoc.MAX_XML_BODY))
    await req.run(req.store.put_bucket_cors, req.bucket, rules)
    return Response(200)


async def delete_cors(req: Request) -> Response:
    await req.run(req.store.delete_bucket_cors, req.bucket)
    return Response(204)


def _allow_origin(rule: CORSRule, origin: str) -> list[tuple[str, str]]:
    if rule.allowed_origins == ("*",):
        return [("Access-Control-Allow-Origin", "*")]
    return [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true")]


async def _match(
    req: Request, bucket: str, origin: str, method: str, headers: list[str]
) -> CORSRule | None:
    anon = RequestContext(ANONYMOUS_IDENTITY, "api")
    return await trio.to_thread.run_sync(
        lambda: req.store.cors_match(anon, bucket, origin, method, headers),
        limiter=req.app.limiter,
    )


async def preflight(req: Request) -> Response:
    """``OPTIONS``: S3 answers it without credentials."""
    origin = req.h.get("origin")
    method = req.h.get("access-control-request-method")
    if not origin:
        raise InvalidRequest("Insufficient information. Origin request header needed.")
    if not method:
        raise InvalidRequest("Invalid Access-Control-Request-Method")
    if req.bucket is None:
        raise AccessForbidden("CORSResponse: Bucket not found")
    requested = split_header_list(req.h.get("access-control-request-headers"))
    try:
        rule = await _match(req, req.bucket, origin, method, requested)
    except NoSuchCORSConfiguration:
        raise AccessForbidden("CORSResponse: CORS is not enabled for this bucket.") from None
    if rule is None:
        raise AccessForbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the "
            "evalution of Origin, request method / Access-Control-Request-Method or "
            "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
        )
    headers = _allow_origin(rule, origin)
    headers.append(("Access-Control-Allow-Methods", ", ".join(rule.allowed_methods)))
    if requested:
        headers.append(("Access-Control-Allow-Headers", ", ".join(requested)))
    if rule.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ", ".join(rule.expose_headers)))
    if rule.max_age_seconds is not None:
        headers.append(("Access-Control-Max-Age", str(rule.max_age_seconds)))
    headers.append(("Vary", VARY))
    return Response(200, headers)


async def actual_request_headers(req: Request) -> list[tuple[str, str]]:
    """The CORS headers of a non-preflight request with ``Origin`` (none if no rule allows it)."""
    origin = req.h.get("origin")
    if not origin or req.bucket is None:
        return []
    # S3 matches on Access-Control-Request-Method when the request names one.
    method = req.h.get("access-control-request-method") or req.method
    try:
        rule = await _match(req, req.bucket, origin, method, [])
    except ObjfsError:  # no bucket, no configuration: a plain answer
        return []
    if rule is None:
        return []
    return actual_headers(rule, origin)


def actual_headers(rule: CORSRule, origin: str) -> list[tuple[str, str]]:
    """What S3 adds to an actual request a rule allows: the origin, the rule's
    methods, exposed headers and max age (as a preflight, but no Allow-Headers)."""
    headers = _allow_origin(rule, origin)
    headers.append(("Access-Control-Allow-Methods", ", ".join(rule.allowed_methods)))
    if rule.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ", ".join(rule.expose_headers)))
    if rule.max_age_seconds is not None:
        headers.append(("Access-Control-Max-Age", str(rule.max_age_seconds)))
    headers.append(("Vary", VARY))
    return headers
