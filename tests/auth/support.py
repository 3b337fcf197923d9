"""Builders shared by the auth tests: identities, policies from dicts, requests."""

from __future__ import annotations

import json
from typing import Any

from objfs.auth.evaluate import Decision, Request, evaluate
from objfs.auth.identity import Identity
from objfs.auth.policy import Policy, parse_bucket_policy, parse_identity_policy

OWNER_ID = "0" * 63 + "1"
ALICE_ID = "a" * 64
BOB_ID = "b" * 64
CAROL_ID = "c" * 64

OWNER = Identity.owner(OWNER_ID)
ALICE = Identity.user("alice", ALICE_ID)
BOB = Identity.user("bob", BOB_ID)
CAROL = Identity.user("carol", CAROL_ID)
ANON = Identity.anonymous()


def bp(*statements: dict[str, Any], version: str = "2012-10-17") -> Policy:
    """A bucket policy from statement dicts (Principal defaults to "*")."""
    sts = [s if "NotPrincipal" in s else {"Principal": "*", **s} for s in statements]
    return parse_bucket_policy(json.dumps({"Version": version, "Statement": sts}))


def ip(*statements: dict[str, Any], version: str = "2012-10-17") -> Policy:
    """An identity policy from statement dicts."""
    return parse_identity_policy(json.dumps({"Version": version, "Statement": list(statements)}))


def allow(action: str | list[str], resource: str | list[str], **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(action: str | list[str], resource: str | list[str], **more: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}


def obj(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def bkt(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def decide(
    who: Identity,
    action: str,
    resource: str,
    *,
    identity: dict[str, Policy] | None = None,
    bucket: Policy | None = None,
    acl: Any = None,
    bucket_owner: str | None = BOB_ID,
    object_owner: str | None = None,
    context: dict[str, Any] | None = None,
) -> Decision:
    req = Request(who, action, resource, bucket_owner, object_owner, context or {})
    return evaluate(req, identity, bucket, acl)
