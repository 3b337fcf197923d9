"""Object Lock over HTTP: ``?object-lock`` (bucket), ``?retention`` and
``?legal-hold`` (object), and the ``x-amz-object-lock-*`` headers of writes
and reads. Parsing and rendering only: every rule is the store's
(store/objectlock.py); a document of the wrong shape is ``MalformedXML``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from objfs.errors import InvalidArgument, InvalidRequest, MalformedXML
from objfs.s3api import xmldoc
from objfs.s3api.request import Request, Response
from objfs.store import ObjectLockConfig, ObjectLockState, ObjectVersion
from objfs.store.objectlock import LOCK_MODES

MAX_LOCK_BODY = 64 << 10
BYPASS = "x-amz-bypass-governance-retention"


def parse_date_ns(text: str, error: type[Exception] = InvalidArgument) -> int:
    """An ISO 8601 date-time (``2030-01-01T00:00:00Z``, fractions allowed) in ns;
    a date without a zone is UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise error(f"not an ISO 8601 date: {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = int(when.timestamp())
    return seconds * 10**9 + when.microsecond * 1000


def bypass_governance(req: Request) -> bool:
    return req.h.get(BYPASS, "").strip().lower() == "true"


def lock_request(req: Request) -> ObjectLockState:
    """The ``x-amz-object-lock-*`` headers of a PUT, copy or CreateMultipartUpload."""
    mode = req.h.get("x-amz-object-lock-mode")
    until = req.h.get("x-amz-object-lock-retain-until-date")
    hold = req.h.get("x-amz-object-lock-legal-hold")
    if mode is None and until is None and hold is None:
        return ObjectLockState()
    if mode is not None and mode not in LOCK_MODES:
        raise InvalidArgument("Unknown wormMode directive.")
    if hold is not None and hold not in ("ON", "OFF"):
        raise InvalidArgument("Legal Hold must be either of 'ON' or 'OFF'")
    until_ns = parse_date_ns(until) if until is not None else None
    return ObjectLockState(mode, until_ns, hold == "ON")


def require_integrity(
    req: Request, what: str = "Put Object requests with Object Lock parameters"
) -> None:
    """S3: a PutObject that sets Object Lock, and PutObjectLockConfiguration,
    PutObjectRetention and PutObjectLegalHold, must carry Content-MD5 or a checksum."""
    if any(
        name == "content-md5"
        or (name.startswith("x-amz-checksum-") and name != "x-amz-checksum-type")
        or name == "x-amz-sdk-checksum-algorithm"
        or (name == "x-amz-trailer" and value.lower().startswith("x-amz-checksum-"))
        for name, value in req.h.items()
    ):
        return
    raise InvalidRequest(f"Content-MD5 OR x-amz-checksum- HTTP header is required for {what}")


def lock_headers(info: ObjectVersion) -> list[tuple[str, str]]:
    """What GET and HEAD say about a version's lock."""
    out = []
    lock = info.lock
    if lock.mode is not None and lock.until_ns is not None:
        out.append(("x-amz-object-lock-mode", lock.mode))
        out.append(("x-amz-object-lock-retain-until-date", xmldoc.iso_time(lock.until_ns)))
    if lock.legal_hold:
        out.append(("x-amz-object-lock-legal-hold", "ON"))
    return out


# -- the bucket's configuration ----------------------------------------------------


async def put_object_lock_configuration(req: Request) -> Response:
    require_integrity(req, "this request")
    doc = xmldoc.parse(await req.read_all(MAX_LOCK_BODY), "ObjectLockConfiguration")
    if xmldoc.child_text(doc, "ObjectLockEnabled") != "Enabled":
        raise MalformedXML("ObjectLockEnabled must be Enabled")
    rules = xmldoc.children(doc, "Rule")
    config = ObjectLockConfig()
    if len(rules) > 1:
        raise MalformedXML("ObjectLockConfiguration holds at most one Rule")
    if rules:
        defaults = xmldoc.children(rules[0], "DefaultRetention")
        if len(defaults) != 1:
            raise MalformedXML("the Rule needs one DefaultRetention")
        mode = xmldoc.child_text(defaults[0], "Mode")
        days = xmldoc.child_text(defaults[0], "Days")
        years = xmldoc.child_text(defaults[0], "Years")
        if mode not in LOCK_MODES:
            raise MalformedXML("DefaultRetention needs a Mode of GOVERNANCE or COMPLIANCE")
        if (days is None) == (years is None):
            raise MalformedXML("DefaultRetention needs Days or Years, not both")
        config = ObjectLockConfig(mode, _int(days), _int(years))
    await req.run(req.store.put_object_lock_configuration, req.bucket, config)
    return Response(200)


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise MalformedXML(f"not a whole number: {text!r}") from None


async def get_object_lock_configuration(req: Request) -> Response:
    conf = await req.run(req.store.get_object_lock_configuration, req.bucket)
    doc = xmldoc.root("ObjectLockConfiguration")
    xmldoc.add(doc, "ObjectLockEnabled", "Enabled")
    if conf.mode is not None:
        default = xmldoc.add(xmldoc.add(doc, "Rule"), "DefaultRetention")
        xmldoc.add_all(default, [("Mode", conf.mode), ("Days", conf.days), ("Years", conf.years)])
    return Response.xml(doc)


# -- one version's retention and legal hold ------------------------------------------


async def put_object_retention(req: Request) -> Response:
    require_integrity(req, "this request")
    doc = xmldoc.parse(await req.read_all(MAX_LOCK_BODY), "Retention")
    mode = xmldoc.child_text(doc, "Mode")
    until = xmldoc.child_text(doc, "RetainUntilDate")
    if mode is not None and mode not in LOCK_MODES:
        raise MalformedXML("Retention Mode must be GOVERNANCE or COMPLIANCE")
    if (mode is None) != (until is None):
        raise MalformedXML("Retention needs both a Mode and a RetainUntilDate, or neither")
    until_ns = parse_date_ns(until, MalformedXML) if until is not None else None
    await req.run(
        req.store.put_object_retention,
        req.bucket,
        req.key,
        mode,
        until_ns,
        version_id=req.params.get("versionId"),
        bypass_governance=bypass_governance(req),
    )
    return Response(200)


async def get_object_retention(req: Request) -> Response:
    lock = await req.run(
        req.store.get_object_retention,
        req.bucket,
        req.key,
        version_id=req.params.get("versionId"),
    )
    doc = xmldoc.root("Retention")
    xmldoc.add(doc, "Mode", lock.mode)
    xmldoc.add(doc, "RetainUntilDate", xmldoc.iso_time(lock.until_ns or 0))
    return Response.xml(doc)


async def put_object_legal_hold(req: Request) -> Response:
    require_integrity(req, "this request")
    doc = xmldoc.parse(await req.read_all(MAX_LOCK_BODY), "LegalHold")
    status = xmldoc.child_text(doc, "Status")
    if status not in ("ON", "OFF"):
        raise MalformedXML("LegalHold Status must be ON or OFF")
    await req.run(
        req.store.put_object_legal_hold,
        req.bucket,
        req.key,
        status == "ON",
        version_id=req.params.get("versionId"),
    )
    return Response(200)


async def get_object_legal_hold(req: Request) -> Response:
    on = await req.run(
        req.store.get_object_legal_hold,
        req.bucket,
        req.key,
        version_id=req.params.get("versionId"),
    )
    doc = xmldoc.root("LegalHold")
    xmldoc.add(doc, "Status", "ON" if on else "OFF")
    return Response.xml(doc)
