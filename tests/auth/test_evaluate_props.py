"""Properties of evaluation over generated policies and requests.

- it always answers (a Decision with a one-line explanation), never raises;
- a Deny of everything denies everything but the owner's escape hatches;
- dropping Deny statements never turns an Allow into a Deny, and adding an
  Allow never does either (the decision is monotonic);
- the statement a Decision names does apply and has the Decision's effect.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from objfs.auth import actions
from objfs.auth.acl import canned_acl
from objfs.auth.evaluate import (
    Decision,
    Reason,
    Request,
    SourceKind,
    _context,
    evaluate,
    statement_applies,
)
from objfs.auth.identity import Identity
from objfs.auth.policy import Effect, Policy, parse_bucket_policy, parse_identity_policy
from tests.auth.support import ALICE, ANON, BOB, BOB_ID, OWNER

WHO = [OWNER, ALICE, BOB, ANON, Identity.log_delivery()]
ACTIONS = [a.name for a in actions.ACTIONS]
RESOURCES = [
    "arn:aws:s3:::photos",
    "arn:aws:s3:::photos/a.jpg",
    "arn:aws:s3:::photos/alice/x",
    "arn:aws:s3:::home/alice/notes",
    "arn:aws:s3:::*",
]
ACTION_PATTERNS = ["*", "s3:*", "s3:Get*", "s3:GetObject", "s3:Put*", "s3:List?ucket", "s3:*Acl"]
RESOURCE_PATTERNS = [
    "*",
    "arn:aws:s3:::photos",
    "arn:aws:s3:::photos/*",
    "arn:aws:s3:::*/${aws:username}/*",
    "arn:aws:s3:::home/*",
]
CONDITIONS: list[dict[str, Any]] = [
    {},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"StringLike": {"s3:prefix": ["a*", "${aws:username}/*"]}},
    {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"Null": {"s3:x-amz-server-side-encryption": "true"}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
    {"NumericLessThanIfExists": {"s3:max-keys": 10}},
    {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}},
]
PRINCIPALS: list[Any] = ["*", {"AWS": "alice"}, {"AWS": ["bob", "*"]}, {"CanonicalUser": BOB_ID}]
CONTEXTS: list[dict[str, Any]] = [
    {},
    {"aws:SecureTransport": True, "aws:SourceIp": "10.1.1.1", "s3:prefix": "alice/x"},
    {"aws:SecureTransport": False, "aws:SourceIp": "192.0.2.1", "s3:max-keys": "5"},
    {"aws:CurrentTime": "2026-11-30T11:00:00Z", "aws:TagKeys": ["a", "c"]},
    {"s3:x-amz-server-side-encryption": "AES256", "aws:TagKeys": []},
]


@st.composite
def statements(draw: st.DrawFn, bucket: bool) -> dict[str, Any]:
    s: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    neg = draw(st.booleans())
    s["NotAction" if neg else "Action"] = draw(st.sampled_from(ACTION_PATTERNS))
    neg = draw(st.booleans())
    s["NotResource" if neg else "Resource"] = draw(st.sampled_from(RESOURCE_PATTERNS))
    cond = draw(st.sampled_from(CONDITIONS))
    if cond:
        s["Condition"] = cond
    if bucket:
        # NotPrincipal only in a Deny: S3 (and objfs) refuse it in an Allow.
        neg = s["Effect"] == "Deny" and draw(st.integers(0, 4)) == 0
        s["NotPrincipal" if neg else "Principal"] = draw(st.sampled_from(PRINCIPALS))
    return s


def policy(sts: list[dict[str, Any]], bucket: bool) -> Policy:
    text = json.dumps({"Version": "2012-10-17", "Statement": sts})
    return parse_bucket_policy(text) if bucket else parse_identity_policy(text)


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    ident = draw(st.lists(st.lists(statements(False), min_size=1, max_size=3), max_size=2))
    bkt = draw(st.lists(statements(True), max_size=3))
    return {
        "request": Request(
            draw(st.sampled_from(WHO)),
            draw(st.sampled_from(ACTIONS)),
            draw(st.sampled_from(RESOURCES)),
            draw(st.sampled_from([BOB_ID, None])),
            None,
            draw(st.sampled_from(CONTEXTS)),
        ),
        "identity": ident,
        "bucket": bkt,
        "acl": draw(st.sampled_from([None, "private", "public-read", "authenticated-read"])),
    }


def run(case: dict[str, Any], identity=None, bucket=None) -> Decision:
    ident = case["identity"] if identity is None else identity
    bkt = case["bucket"] if bucket is None else bucket
    acl = canned_acl(case["acl"], BOB_ID) if case["acl"] else None
    return evaluate(
        case["request"],
        {f"p{i}": policy(sts, False) for i, sts in enumerate(ident)},
        policy(bkt, True) if bkt else None,
        acl,
    )


def escapes(d: Decision) -> bool:
    info = actions.lookup(d.action)
    return info is not None and (info.owner_only or (d.identity.is_owner and info.management))


PROPS = settings(max_examples=150, deadline=None)


@PROPS
@given(cases())
def test_always_answers_with_a_reason(case: dict[str, Any]) -> None:
    d = run(case)
    line = d.explain()
    assert line.startswith("Allowed" if d.allowed else "Denied") and "\n" not in line
    assert (d.reason is Reason.IMPLICIT_DENY) <= (not d.allowed)
    assert (d.reason is Reason.EXPLICIT_DENY) <= (not d.allowed)


@PROPS
@given(cases())
def test_deny_everything_denies_all_but_the_owner_escapes(case: dict[str, Any]) -> None:
    deny_all = {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}
    d = run(case, bucket=[*case["bucket"], deny_all])
    assert d.allowed == (escapes(d) and d.allowed)
    if not escapes(d):
        assert d.reason is Reason.EXPLICIT_DENY


@PROPS
@given(cases())
def test_monotonic(case: dict[str, Any]) -> None:
    d = run(case)
    if d.allowed:
        no_deny = [[s for s in sts if s["Effect"] == "Allow"] for sts in case["identity"]]
        no_deny = [sts for sts in no_deny if sts]
        b = [s for s in case["bucket"] if s["Effect"] == "Allow"]
        assert run(case, identity=no_deny, bucket=b or []).allowed
    allow_all = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
    more = run(case, bucket=[*case["bucket"], allow_all])
    assert more.allowed or not d.allowed
    if d.reason is Reason.EXPLICIT_DENY:
        assert not more.allowed


@PROPS
@given(cases())
def test_the_named_statement_applies(case: dict[str, Any]) -> None:
    d = run(case)
    src = d.source
    if src is None or src.kind is SourceKind.ACL:
        return
    if src.kind is SourceKind.BUCKET:
        st_ = policy(case["bucket"], True).statements[src.index]  # type: ignore[index]
    else:
        i = int(src.name[1:])
        st_ = policy(case["identity"][i], False).statements[src.index]  # type: ignore[index]
    req = case["request"]
    assert statement_applies(st_, req, _context(req))
    assert (st_.effect is Effect.ALLOW) == d.allowed
