"""The S3 actions objfs knows, and the condition keys that go with them.

Owns one table, written once as data (``ACTIONS``): for each action its
name, whether it acts on the service, a bucket or an object, which
action-specific condition keys it sets, and whether it is a *management*
action (bucket configuration, policy, ACL) that the store owner always keeps,
an *owner-only* objfs action (fsck, gc, users, ...) that no policy grants,
or an *account* action (ListAllMyBuckets, CreateBucket) that every
authenticated user may do in its own account unless a policy denies it.

Invariants: names are unique and case-insensitively unique; every condition
key named by an action is in ``CONDITION_KEYS``; ``lookup`` is
case-insensitive as IAM action matching is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    """What the action's resource is."""

    SERVICE = "service"  # no bucket: ListAllMyBuckets, objfs admin actions
    BUCKET = "bucket"  # arn:aws:s3:::BUCKET
    OBJECT = "object"  # arn:aws:s3:::BUCKET/KEY


@dataclass(slots=True, frozen=True)
class ActionInfo:
    """One row of the action table."""

    name: str
    level: Level
    condition_keys: frozenset[str] = frozenset()
    management: bool = False  # the store owner may always do it
    owner_only: bool = False  # nobody but the store owner, whatever policies say
    # Each user is its own account: any authenticated principal may do it
    # (in its own account: list its own buckets, create one) unless denied.
    account: bool = False


# Keys every request carries (or may carry), whatever the action.
GLOBAL_CONDITION_KEYS: frozenset[str] = frozenset(
    {
        "aws:CurrentTime",
        "aws:EpochTime",
        "aws:SecureTransport",
        "aws:SourceIp",
        "aws:UserAgent",
        "aws:Referer",
        "aws:username",
        "aws:userid",
        "aws:PrincipalType",
        "aws:PrincipalArn",
        "aws:SourceArn",
        "aws:SourceAccount",
        "aws:PrincipalAccount",
        "aws:MultiFactorAuthPresent",
        "aws:MultiFactorAuthAge",
        "aws:TokenIssueTime",
        "aws:RequestedRegion",
        "aws:TagKeys",
        "s3:authType",
        "s3:signatureversion",
        "s3:signatureAge",
        "s3:TlsVersion",
        "s3:x-amz-content-sha256",
    }
)

# Condition keys whose name continues after a slash (a tag key).
CONDITION_KEY_PREFIXES: tuple[str, ...] = (
    "aws:RequestTag/",
    "aws:ResourceTag/",
    "aws:PrincipalTag/",
    "s3:ExistingObjectTag/",
    "s3:RequestObjectTag/",
)

_LIST = frozenset({"s3:prefix", "s3:delimiter", "s3:max-keys"})
_VERSION = frozenset({"s3:VersionId"})
_GRANTS = frozenset(
    {
        "s3:x-amz-acl",
        "s3:x-amz-grant-read",
        "s3:x-amz-grant-write",
        "s3:x-amz-grant-read-acp",
        "s3:x-amz-grant-write-acp",
        "s3:x-amz-grant-full-control",
    }
)
_PUT = (
    frozenset(
        {
            "s3:x-amz-server-side-encryption",
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
            "s3:x-amz-server-side-encryption-customer-algorithm",
            "s3:x-amz-copy-source",
            "s3:x-amz-metadata-directive",
            "s3:x-amz-storage-class",
            "s3:RequestObjectTagKeys",
            "s3:object-lock-mode",
            "s3:object-lock-retain-until-date",
            "s3:object-lock-legal-hold",
        }
    )
    | _GRANTS
)
# Object tag keys (s3:ExistingObjectTag/<key>) are matched by prefix, not listed.
_TAGS: frozenset[str] = frozenset()

BKT, OBJ, SVC = Level.BUCKET, Level.OBJECT, Level.SERVICE


def _a(name: str, level: Level, keys: frozenset[str] = frozenset(), **flags: bool) -> ActionInfo:
    return ActionInfo(name, level, keys, **flags)


ACTIONS: tuple[ActionInfo, ...] = (
    # service
    _a("s3:ListAllMyBuckets", SVC, account=True),
    _a("s3:CreateBucket", BKT, _GRANTS | {"s3:LocationConstraint"}, account=True),
    _a("s3:DeleteBucket", BKT),
    # bucket data
    _a("s3:ListBucket", BKT, _LIST),
    _a("s3:ListBucketVersions", BKT, _LIST),
    _a("s3:ListBucketMultipartUploads", BKT, _LIST),
    # object data
    _a("s3:GetObject", OBJ, _TAGS),
    _a("s3:GetObjectVersion", OBJ, _TAGS | _VERSION),
    _a("s3:GetObjectAttributes", OBJ, _TAGS),
    _a("s3:GetObjectVersionAttributes", OBJ, _TAGS | _VERSION),
    _a("s3:PutObject", OBJ, _PUT),
    _a("s3:DeleteObject", OBJ, _TAGS),
    _a("s3:DeleteObjectVersion", OBJ, _TAGS | _VERSION),
    _a("s3:RestoreObject", OBJ),
    _a("s3:AbortMultipartUpload", OBJ),
    _a("s3:ListMultipartUploadParts", OBJ),
    _a("s3:GetObjectTagging", OBJ, _TAGS),
    _a("s3:GetObjectVersionTagging", OBJ, _TAGS | _VERSION),
    _a("s3:PutObjectTagging", OBJ, _TAGS | {"s3:RequestObjectTagKeys"}),
    _a("s3:PutObjectVersionTagging", OBJ, _TAGS | _VERSION | {"s3:RequestObjectTagKeys"}),
    _a("s3:DeleteObjectTagging", OBJ, _TAGS),
    _a("s3:DeleteObjectVersionTagging", OBJ, _TAGS | _VERSION),
    _a("s3:GetObjectRetention", OBJ, _VERSION),
    _a(
        "s3:PutObjectRetention",
        OBJ,
        _VERSION
        | {
            "s3:object-lock-mode",
            "s3:object-lock-retain-until-date",
            "s3:object-lock-remaining-retention-days",
        },
    ),
    _a("s3:GetObjectLegalHold", OBJ, _VERSION),
    _a("s3:PutObjectLegalHold", OBJ, _VERSION | {"s3:object-lock-legal-hold"}),
    _a("s3:BypassGovernanceRetention", OBJ, _VERSION),
    # object ACLs: management (the store owner cannot be locked out of them)
    _a("s3:GetObjectAcl", OBJ, _TAGS, management=True),
    _a("s3:GetObjectVersionAcl", OBJ, _TAGS | _VERSION, management=True),
    _a("s3:PutObjectAcl", OBJ, _TAGS | _GRANTS, management=True),
    _a("s3:PutObjectVersionAcl", OBJ, _TAGS | _GRANTS | _VERSION, management=True),
    # bucket configuration: management
    _a("s3:GetBucketAcl", BKT, management=True),
    _a("s3:PutBucketAcl", BKT, _GRANTS, management=True),
    _a("s3:GetBucketPolicy", BKT, management=True),
    _a("s3:PutBucketPolicy", BKT, management=True),
    _a("s3:DeleteBucketPolicy", BKT, management=True),
    _a("s3:GetBucketPolicyStatus", BKT, management=True),
    _a("s3:GetBucketVersioning", BKT, management=True),
    _a("s3:PutBucketVersioning", BKT, management=True),
    _a("s3:GetBucketLogging", BKT, management=True),
    _a("s3:PutBucketLogging", BKT, management=True),
    _a("s3:GetEncryptionConfiguration", BKT, management=True),
    _a("s3:PutEncryptionConfiguration", BKT, management=True),
    _a("s3:GetLifecycleConfiguration", BKT, management=True),
    _a("s3:PutLifecycleConfiguration", BKT, management=True),
    _a("s3:GetBucketCORS", BKT, management=True),
    _a("s3:PutBucketCORS", BKT, management=True),
    _a("s3:GetBucketTagging", BKT, management=True),
    _a("s3:PutBucketTagging", BKT, management=True),
    _a("s3:GetBucketLocation", BKT, management=True),
    _a("s3:GetBucketOwnershipControls", BKT, management=True),
    _a("s3:PutBucketOwnershipControls", BKT, management=True),
    _a("s3:GetBucketPublicAccessBlock", BKT, management=True),
    _a("s3:PutBucketPublicAccessBlock", BKT, management=True),
    _a("s3:GetBucketObjectLockConfiguration", BKT, management=True),
    _a("s3:PutBucketObjectLockConfiguration", BKT, management=True),
    _a("s3:GetBucketNotification", BKT, management=True),
    _a("s3:PutBucketNotification", BKT, management=True),
    # objfs administration: the store owner only; no policy can grant these
    _a("objfs:Fsck", SVC, owner_only=True),
    _a("objfs:GarbageCollect", SVC, owner_only=True),
    _a("objfs:Sync", SVC, owner_only=True),
    _a("objfs:FlushAccessLogs", SVC, owner_only=True),
    _a("objfs:ApplyLifecycle", SVC, owner_only=True),
    _a("objfs:ReadChangeFeed", SVC, owner_only=True),
    _a("objfs:ManageUsers", SVC, owner_only=True),
    _a("objfs:ManageKms", SVC, owner_only=True),
    _a("objfs:ManageMfa", SVC, owner_only=True),
)

_BY_NAME: dict[str, ActionInfo] = {a.name.lower(): a for a in ACTIONS}

_ACTION_KEYS: frozenset[str] = frozenset(k for a in ACTIONS for k in a.condition_keys)
CONDITION_KEYS: frozenset[str] = GLOBAL_CONDITION_KEYS | _ACTION_KEYS
_KEYS_LOWER: frozenset[str] = frozenset(k.lower() for k in CONDITION_KEYS)
_PREFIXES_LOWER: tuple[str, ...] = tuple(p.lower() for p in CONDITION_KEY_PREFIXES)


def lookup(name: str) -> ActionInfo | None:
    """The table row for ``name`` (case-insensitive), or None if unknown."""
    return _BY_NAME.get(name.lower())


def is_known_condition_key(key: str) -> bool:
    """True for a key objfs can set: a listed key or a tag key (``aws:RequestTag/x``)."""
    low = key.lower()
    if low in _KEYS_LOWER:
        return True
    return any(low.startswith(p) and len(low) > len(p) for p in _PREFIXES_LOWER)


def s3_actions() -> tuple[ActionInfo, ...]:
    """The actions a policy may name (the ``s3:`` ones)."""
    return tuple(a for a in ACTIONS if a.name.startswith("s3:"))
