"""Bucket configuration and ACLs: versioning, policy, encryption, bucket and object ACLs.

XML (or JSON for policies) in and out; validation and every rule (who may,
MFA delete, malformed policies, canned ACLs) is the store's.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from objfs.auth.acl import (
    Acl,
    AclSpec,
    Grant,
    Grantee,
    acl_spec_from_headers,
    parse_permission,
)
from objfs.auth.public import PublicAccessBlock
from objfs.errors import InvalidArgument, MalformedXML, UnresolvableGrantByEmailAddress
from objfs.s3api import xmldoc
from objfs.s3api.request import Request, Response
from objfs.store import Versioning

MAX_POLICY_BODY = 20 << 10


# -- versioning -----------------------------------------------------------------


async def get_versioning(req: Request) -> Response:
    info = await req.run(req.store.get_bucket_versioning, req.bucket)
    doc = xmldoc.root("VersioningConfiguration")
    if info.versioning is not Versioning.UNVERSIONED:
        xmldoc.add(doc, "Status", info.versioning.value)
        xmldoc.add(doc, "MfaDelete", "Enabled" if info.mfa_delete else "Disabled")
    return Response.xml(doc)


async def put_versioning(req: Request) -> Response:
    doc = xmldoc.parse(await req.read_all(64 << 10), "VersioningConfiguration")
    status = xmldoc.child_text(doc, "Status")
    mfa = xmldoc.child_text(doc, "MfaDelete")
    if status not in ("Enabled", "Suspended"):
        raise MalformedXML("VersioningConfiguration needs a Status of Enabled or Suspended")
    if mfa not in (None, "Enabled", "Disabled"):
        raise MalformedXML("MfaDelete must be Enabled or Disabled")
    mfa_delete = None if mfa is None else mfa == "Enabled"
    await req.run(req.store.set_bucket_versioning, req.bucket, status, mfa_delete=mfa_delete)
    return Response(200)


# -- policy -----------------------------------------------------------------------


async def get_policy(req: Request) -> Response:
    text = await req.run(req.store.get_bucket_policy, req.bucket)
    return Response(200, [("Content-Type", "application/json")], text.encode())


async def put_policy(req: Request) -> Response:
    body = await req.read_all(MAX_POLICY_BODY + 4096)
    await req.run(req.store.put_bucket_policy, req.bucket, body)
    return Response(204)


async def delete_policy(req: Request) -> Response:
    await req.run(req.store.delete_bucket_policy, req.bucket)
    return Response(204)


async def get_policy_status(req: Request) -> Response:
    public = await req.run(req.store.get_bucket_policy_status, req.bucket)
    doc = xmldoc.root("PolicyStatus")
    xmldoc.add(doc, "IsPublic", public)
    return Response.xml(doc)


# -- Block Public Access -----------------------------------------------------------------

_BLOCKS = (
    ("BlockPublicAcls", "block_public_acls"),
    ("IgnorePublicAcls", "ignore_public_acls"),
    ("BlockPublicPolicy", "block_public_policy"),
    ("RestrictPublicBuckets", "restrict_public_buckets"),
)


async def get_public_access_block(req: Request) -> Response:
    conf = await req.run(req.store.get_public_access_block, req.bucket)
    doc = xmldoc.root("PublicAccessBlockConfiguration")
    for tag, attr in _BLOCKS:
        xmldoc.add(doc, tag, bool(getattr(conf, attr)))
    return Response.xml(doc)


async def put_public_access_block(req: Request) -> Response:
    doc = xmldoc.parse(await req.read_all(64 << 10), "PublicAccessBlockConfiguration")
    values: dict[str, bool] = {}
    for tag, attr in _BLOCKS:
        text = (xmldoc.child_text(doc, tag) or "false").strip().lower()
        if text not in ("true", "false"):
            raise MalformedXML(f"{tag} must be true or false")
        values[attr] = text == "true"
    await req.run(req.store.put_public_access_block, req.bucket, PublicAccessBlock(**values))
    return Response(200)


async def delete_public_access_block(req: Request) -> Response:
    await req.run(req.store.delete_public_access_block, req.bucket)
    return Response(204)


# -- Object Ownership ---------------------------------------------------------------------


async def get_ownership_controls(req: Request) -> Response:
    mode = await req.run(req.store.get_bucket_ownership_controls, req.bucket)
    doc = xmldoc.root("OwnershipControls")
    xmldoc.add(xmldoc.add(doc, "Rule"), "ObjectOwnership", mode)
    return Response.xml(doc)


async def put_ownership_controls(req: Request) -> Response:
    doc = xmldoc.parse(await req.read_all(64 << 10), "OwnershipControls")
    rules = xmldoc.children(doc, "Rule")
    if len(rules) != 1:
        raise MalformedXML("OwnershipControls needs exactly one Rule")
    mode = xmldoc.child_text(rules[0], "ObjectOwnership")
    await req.run(req.store.put_bucket_ownership_controls, req.bucket, mode)
    return Response(200)


async def delete_ownership_controls(req: Request) -> Response:
    await req.run(req.store.delete_bucket_ownership_controls, req.bucket)
    return Response(204)


# -- encryption ---------------------------------------------------------------------


async def get_encryption(req: Request) -> Response:
    info = await req.run(req.store.get_bucket_encryption, req.bucket)
    doc = xmldoc.root("ServerSideEncryptionConfiguration")
    rule = xmldoc.add(doc, "Rule")
    default = xmldoc.add(rule, "ApplyServerSideEncryptionByDefault")
    xmldoc.add(default, "SSEAlgorithm", info.encryption)
    if info.kms_key_id:
        xmldoc.add(default, "KMSMasterKeyID", info.kms_key_id)
    xmldoc.add(rule, "BucketKeyEnabled", False)
    return Response.xml(doc)


async def put_encryption(req: Request) -> Response:
    doc = xmldoc.parse(await req.read_all(64 << 10), "ServerSideEncryptionConfiguration")
    rules = xmldoc.children(doc, "Rule")
    if len(rules) != 1:
        raise MalformedXML("ServerSideEncryptionConfiguration needs exactly one Rule")
    defaults = xmldoc.children(rules[0], "ApplyServerSideEncryptionByDefault")
    if len(defaults) != 1:
        raise MalformedXML("the Rule needs one ApplyServerSideEncryptionByDefault")
    algorithm = xmldoc.child_text(defaults[0], "SSEAlgorithm")
    if algorithm not in ("AES256", "aws:kms"):
        raise MalformedXML("SSEAlgorithm must be AES256 or aws:kms")
    key = xmldoc.child_text(defaults[0], "KMSMasterKeyID") or None
    await req.run(req.store.set_bucket_encryption, req.bucket, algorithm, key)
    return Response(200)


async def delete_encryption(req: Request) -> Response:
    # As S3 since 2023: without a configuration, new objects get SSE-S3.
    await req.run(req.store.set_bucket_encryption, req.bucket, "AES256")
    return Response(204)


# -- server access logging ---------------------------------------------------------------


async def get_logging(req: Request) -> Response:
    conf = await req.run(req.store.get_bucket_logging, req.bucket)
    doc = xmldoc.root("BucketLoggingStatus")
    if conf is not None:
        enabled = xmldoc.add(doc, "LoggingEnabled")
        xmldoc.add(enabled, "TargetBucket", conf.target_bucket)
        xmldoc.add(enabled, "TargetPrefix", conf.target_prefix)
        key_format = xmldoc.add(enabled, "TargetObjectKeyFormat")
        if conf.partition_date_source is None:
            xmldoc.add(key_format, "SimplePrefix")
        else:
            partitioned = xmldoc.add(key_format, "PartitionedPrefix")
            xmldoc.add(partitioned, "PartitionDateSource", conf.partition_date_source)
    return Response.xml(doc)


def _partition_date_source(enabled: ET.Element) -> str | None:
    """LoggingEnabled's TargetObjectKeyFormat: None for SimplePrefix (the default)."""
    formats = xmldoc.children(enabled, "TargetObjectKeyFormat")
    if not formats:
        return None
    simple = xmldoc.children(formats[0], "SimplePrefix")
    partitioned = xmldoc.children(formats[0], "PartitionedPrefix")
    if len(formats) != 1 or len(simple) + len(partitioned) != 1:
        raise MalformedXML("TargetObjectKeyFormat holds one SimplePrefix or PartitionedPrefix")
    if simple:
        return None
    source = xmldoc.child_text(partitioned[0], "PartitionDateSource") or "EventTime"
    if source not in ("EventTime", "DeliveryTime"):
        raise MalformedXML("PartitionDateSource must be EventTime or DeliveryTime")
    return source


async def put_logging(req: Request) -> Response:
    doc = xmldoc.parse(await req.read_all(64 << 10), "BucketLoggingStatus")
    enabled = xmldoc.children(doc, "LoggingEnabled")
    if not enabled:  # an empty BucketLoggingStatus turns logging off
        await req.run(req.store.delete_bucket_logging, req.bucket)
        return Response(200)
    if len(enabled) != 1:
        raise MalformedXML("BucketLoggingStatus holds at most one LoggingEnabled")
    target = xmldoc.child_text(enabled[0], "TargetBucket")
    if not target:
        raise MalformedXML("LoggingEnabled needs a TargetBucket")
    prefix = xmldoc.exact_text(enabled[0], "TargetPrefix") or ""
    await req.run(
        req.store.put_bucket_logging,
        req.bucket,
        target,
        prefix,
        partition_date_source=_partition_date_source(enabled[0]),
    )
    return Response(200)


# -- ACLs ------------------------------------------------------------------------------


def _acl_document(acl: Acl) -> ET.Element:
    doc = xmldoc.root("AccessControlPolicy")
    ET.register_namespace("xsi", xmldoc.XSI)
    owner = xmldoc.add(doc, "Owner")
    xmldoc.add_all(owner, [("ID", acl.owner_id), ("DisplayName", acl.owner_display_name)])
    grants = xmldoc.add(doc, "AccessControlList")
    for grant in acl.grants:
        g = xmldoc.add(grants, "Grant")
        ge = grant.grantee
        kind = "Group" if ge.uri is not None else "CanonicalUser"
        grantee = ET.SubElement(g, "Grantee", {f"{{{xmldoc.XSI}}}type": kind})
        if ge.uri is not None:
            xmldoc.add(grantee, "URI", ge.uri.value)
        else:
            xmldoc.add_all(grantee, [("ID", ge.id), ("DisplayName", ge.display_name)])
        xmldoc.add(g, "Permission", grant.permission.value)
    return doc


def _grants_from_xml(body: bytes) -> tuple[Grant, ...]:
    doc = xmldoc.parse(body, "AccessControlPolicy")
    out: list[Grant] = []
    for acl in xmldoc.children(doc, "AccessControlList"):
        for g in xmldoc.children(acl, "Grant"):
            grantees = xmldoc.children(g, "Grantee")
            perm = xmldoc.child_text(g, "Permission")
            if len(grantees) != 1 or not perm:
                raise MalformedXML("each Grant needs one Grantee and a Permission")
            uri = xmldoc.child_text(grantees[0], "URI")
            cid = xmldoc.child_text(grantees[0], "ID")
            email = xmldoc.child_text(grantees[0], "EmailAddress")
            try:
                if uri:
                    grantee = Grantee.group(uri)
                elif cid:
                    grantee = Grantee.user(cid.lower())
                elif email:
                    raise UnresolvableGrantByEmailAddress(
                        f"no user has the e-mail address {email!r} (objfs users have none)"
                    )
                else:
                    raise InvalidArgument("a Grantee needs an ID or a URI")
                out.append(Grant(grantee, parse_permission(perm)))
            except ValueError:
                raise InvalidArgument(f"unknown grantee group {uri!r}") from None
    return tuple(out)


async def _acl_request(req: Request) -> AclSpec:
    spec = acl_spec_from_headers(req.h)
    body = await req.read_all(256 << 10)
    if body.strip():
        if spec.given:
            raise InvalidArgument("give an ACL in the body or in headers, not both")
        # An empty AccessControlList is S3's "revoke every grant".
        return AclSpec(grants=_grants_from_xml(body))
    if not spec.given:
        raise MalformedXML("PutAcl needs x-amz-acl, x-amz-grant-* headers or a body")
    return spec


async def get_bucket_acl(req: Request) -> Response:
    acl = await req.run(req.store.get_bucket_acl, req.bucket)
    return Response.xml(_acl_document(acl))


async def put_bucket_acl(req: Request) -> Response:
    acl = await _acl_request(req)
    await req.run(req.store.put_bucket_acl, req.bucket, acl=acl)
    return Response(200)


async def get_object_acl(req: Request) -> Response:
    version = req.params.get("versionId")
    acl = await req.run(req.store.get_object_acl, req.bucket, req.key, version_id=version)
    return Response.xml(_acl_document(acl))


async def put_object_acl(req: Request) -> Response:
    acl = await _acl_request(req)
    version = req.params.get("versionId")
    await req.run(req.store.put_object_acl, req.bucket, req.key, version_id=version, acl=acl)
    return Response(200)
