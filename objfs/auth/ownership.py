"""S3 Object Ownership (a bucket's ``OwnershipControls``), as pure rules.

A bucket has one of three settings, or none (objfs's default, which
behaves as ``ObjectWriter``: S3-compatible servers where each user is its
own account):

- ``BucketOwnerEnforced``: ACLs are disabled. The bucket owner owns every
  object, whoever wrote it; ACLs grant nothing (policies decide). A request
  that sets an ACL other than ``bucket-owner-full-control`` (or its XML
  equivalent: only the bucket owner, FULL_CONTROL) is refused with
  ``AccessControlListNotSupported``; reading ACLs still works.
- ``BucketOwnerPreferred``: an object written with the
  ``bucket-owner-full-control`` canned ACL belongs to the bucket owner;
  any other belongs to its writer.
- ``ObjectWriter``: an object belongs to its writer.
"""

from __future__ import annotations

from objfs.auth.acl import Acl, AclSpec, Permission
from objfs.errors import AccessControlListNotSupported, MalformedXML

ENFORCED = "BucketOwnerEnforced"
PREFERRED = "BucketOwnerPreferred"
WRITER = "ObjectWriter"
MODES = (ENFORCED, PREFERRED, WRITER)

OWNER_FULL_CONTROL = "bucket-owner-full-control"


def check_mode(value: str | None) -> str:
    """``value`` if it is one of S3's three settings, else ``MalformedXML``."""
    if value not in MODES:
        raise MalformedXML(f"ObjectOwnership must be one of {', '.join(MODES)}, not {value!r}")
    return value


def owner_only(acl: Acl, owner_id: str) -> bool:
    """True when ``acl`` grants nothing to anyone but ``owner_id`` (its FULL_CONTROL)."""
    return all(
        g.grantee.id == owner_id and g.permission is Permission.FULL_CONTROL for g in acl.grants
    )


def check_acl_allowed(mode: str | None, spec: AclSpec | None, bucket_owner_id: str) -> None:
    """Refuse an ACL that a bucket with ACLs disabled does not accept.

    With ``BucketOwnerEnforced`` only no ACL, ``bucket-owner-full-control``
    or grants of FULL_CONTROL to the bucket owner alone are accepted.
    """
    if mode != ENFORCED or spec is None or not spec.given:
        return
    if spec.canned == OWNER_FULL_CONTROL:
        return
    if spec.grants and owner_only(spec.expand(bucket_owner_id), bucket_owner_id):
        return
    raise AccessControlListNotSupported("The bucket does not allow ACLs")


def bucket_owns(mode: str | None, spec: AclSpec | None) -> bool:
    """Does an object written with ``spec`` belong to the bucket owner (not its writer)?"""
    if mode == ENFORCED:
        return True
    return mode == PREFERRED and spec is not None and spec.canned == OWNER_FULL_CONTROL
