"""Is a bucket public? S3's rule for GetBucketPolicyStatus, as pure functions.

An ACL is public when it grants anything to AllUsers or AuthenticatedUsers.
A bucket policy is public when one of its Allow statements names everyone
(``"*"`` or ``{"AWS": "*"}``) without a condition that pins the caller to
fixed values (a source address, VPC, account, ARN, user id or organisation;
"fixed": no wildcard, no policy variable, an operator that must hold):
such a statement lets anyone in. NotPrincipal is only allowed in a Deny, so
it never makes a policy public.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from objfs.auth.acl import Acl, Group
from objfs.auth.policy.conditions import Condition, Family
from objfs.auth.policy.grammar import Effect, Policy, Statement

PUBLIC_GROUPS = frozenset({Group.ALL_USERS, Group.AUTHENTICATED_USERS})

# Condition keys that, given fixed values, keep an everyone-statement non-public.
FIXING_KEYS = frozenset(
    {
        "aws:sourceip",
        "aws:sourcearn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:userid",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "s3:dataaccesspointarn",
        "s3:dataaccesspointaccount",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    }
)


def acl_is_public(acl: Acl | None) -> bool:
    """The ACL grants something to AllUsers or AuthenticatedUsers."""
    return acl is not None and any(g.grantee.uri in PUBLIC_GROUPS for g in acl.grants)


def fixes_caller(c: Condition) -> bool:
    """Does condition ``c`` pin the caller to fixed values (S3's rule)?

    Only a key of ``FIXING_KEYS`` under a positive operator that must hold
    (not ``Not...``, not ``...IfExists``, not ``Null``, not ``ForAllValues``,
    which an absent key satisfies), with values that hold no wildcard and no
    policy variable; an address range of ``/0`` pins nothing.
    """
    op = c.operator
    if c.key.lower() not in FIXING_KEYS or op.spec.negated or op.if_exists:
        return False
    if op.spec.family is Family.NULL or op.qualifier == "ForAllValues":
        return False
    for raw in c.raw:
        text = str(raw)
        if "*" in text or "?" in text or "${" in text:
            return False
        if op.spec.family is Family.IP and text.strip().endswith("/0"):
            return False
    return bool(c.raw)


def statement_is_public(st: Statement) -> bool:
    if st.effect is not Effect.ALLOW or st.principal is None or st.not_principal:
        return False
    if not st.principal.everyone:
        return False
    return not any(fixes_caller(c) for c in st.conditions)


def policy_is_public(policy: Policy | None) -> bool:
    """Some Allow statement of the policy lets anyone in (see the module docstring)."""
    return policy is not None and any(statement_is_public(s) for s in policy.statements)


@dataclass(slots=True, frozen=True)
class PublicAccessBlock:
    """A bucket's S3 Block Public Access settings.

    ``block_public_acls``: a request putting a public ACL (bucket or object) is
    refused; ``ignore_public_acls``: grants to AllUsers/AuthenticatedUsers
    count for nothing; ``block_public_policy``: a public bucket policy is
    refused; ``restrict_public_buckets``: a public policy grants nothing to
    anyone but the bucket's owner and AWS services (``restricted``).
    """

    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    def to_obj(self) -> dict[str, bool]:
        return dataclasses.asdict(self)

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any] | None) -> PublicAccessBlock:
        if not obj:
            return cls()
        return cls(**{f.name: bool(obj.get(f.name)) for f in dataclasses.fields(cls)})


def without_public_grants(acl: Acl) -> Acl:
    """``acl`` with its grants to AllUsers and AuthenticatedUsers left out."""
    kept = tuple(g for g in acl.grants if g.grantee.uri not in PUBLIC_GROUPS)
    return Acl(acl.owner_id, kept, acl.owner_display_name)


def restricted(policy: Policy) -> Policy:
    """A public ``policy`` as RestrictPublicBuckets leaves it for anyone outside
    the bucket owner's account: its Deny statements and the Allow statements
    naming only AWS services (log delivery); every other grant, public or to a
    named account, is blocked. A policy that is not public is unchanged."""
    if not policy_is_public(policy):
        return policy
    kept = tuple(s for s in policy.statements if s.effect is not Effect.ALLOW or _services_only(s))
    return dataclasses.replace(policy, statements=kept)


def _services_only(st: Statement) -> bool:
    p = st.principal
    return (
        p is not None
        and not st.not_principal
        and not p.everyone
        and not p.aws
        and not p.canonical_users
        and bool(p.services)
    )
