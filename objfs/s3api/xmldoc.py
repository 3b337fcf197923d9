"""S3's XML bodies: rendered with xml.etree, untrusted input parsed with defusedxml.

Invariants: a request body is never parsed by the standard library's parser
(entity expansion, external entities and DTDs are refused); a body that is
not well-formed, too large or of the wrong shape is ``MalformedXML``; a key
or prefix is read with ``exact_text`` (whitespace is part of it).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from objfs.errors import MalformedXML

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MAX_XML_BODY = 2 << 20  # DeleteObjects: 1,000 keys of up to 1 KiB each, and markup


def root(tag: str) -> ET.Element:
    return ET.Element(tag, xmlns=NS)


def add(parent: ET.Element, tag: str, text: object = None) -> ET.Element:
    """A child element; ``text`` (if not None) rendered as S3 does (bools lower case)."""
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = ("true" if text else "false") if isinstance(text, bool) else str(text)
    return child


def add_all(parent: ET.Element, fields: Iterable[tuple[str, object]]) -> ET.Element:
    for tag, text in fields:
        if text is not None:
            add(parent, tag, text)
    return parent


def to_bytes(element: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="utf-8")


def iso_time(ns: int) -> str:
    """``2026-11-30T11:15:00.000Z``: S3's timestamp in XML bodies."""
    when = datetime.fromtimestamp(ns / 1e9, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse(body: bytes, expect: str) -> ET.Element:
    """Parse an untrusted request body whose root element is ``expect``."""
    try:
        doc = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ET.ParseError, DefusedXmlException, ValueError) as err:
        raise MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            f"published schema ({type(err).__name__})"
        ) from None
    if local(doc.tag) != expect:
        raise MalformedXML(f"expected a <{expect}> document, got <{local(doc.tag)}>")
    return doc


def local(tag: str) -> str:
    """The tag without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def children(element: ET.Element, tag: str) -> list[ET.Element]:
    return [c for c in element if local(c.tag) == tag]


def child_text(element: ET.Element, tag: str, default: str | None = None) -> str | None:
    """A child's text with surrounding whitespace dropped: for values from a
    closed set (a status, a number, an ETag), never for keys or prefixes."""
    text = exact_text(element, tag, default)
    return text.strip() if text is not None else None


def exact_text(element: ET.Element, tag: str, default: str | None = None) -> str | None:
    """A child's text exactly as sent: keys and prefixes are exact strings
    (``<Key>_ </Key>`` names the key ``"_ "``, not ``"_"``)."""
    for c in element:
        if local(c.tag) == tag:
            return c.text or ""
    return default
