"""Is a bucket public? S3's rule for GetBucketPolicyStatus, as pure functions.

An ACL is public when it grants anything to AllUsers or AuthenticatedUsers.
A bucket policy is public when one of its Allow statements names everyone
(``"*"`` or ``{"AWS": "*"}``) without a condition that pins the caller to
fixed values (a source address, VPC, account, ARN, user id or organisation):
such a statement lets anyone in. NotPrincipal is only allowed in a Deny, so
it never makes a policy public.
"""

from __future__ import annotations

from objfs.auth.acl import Acl, Group
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
    }
)


def acl_is_public(acl: Acl | None) -> bool:
    """The ACL grants something to AllUsers or AuthenticatedUsers."""
    return acl is not None and any(g.grantee.uri in PUBLIC_GROUPS for g in acl.grants)


def statement_is_public(st: Statement) -> bool:
    if st.effect is not Effect.ALLOW or st.principal is None or st.not_principal:
        return False
    if not st.principal.everyone:
        return False
    return not any(c.key.lower() in FIXING_KEYS for c in st.conditions)


def policy_is_public(policy: Policy | None) -> bool:
    """Some Allow statement of the policy lets anyone in (see the module docstring)."""
    return policy is not None and any(statement_is_public(s) for s in policy.statements)
