"""Generated junk and mutated policies: the parser answers MalformedPolicy or a Policy.

Never another exception; and whatever it accepts survives the canonical
serialiser unchanged.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from objfs.auth.policy import Kind, Policy, parse_policy, to_json
from objfs.errors import MalformedPolicy

VALID: dict[str, Any] = {
    "Version": "2012-10-17",
    "Id": "p1",
    "Statement": [
        {
            "Sid": "Read",
            "Effect": "Allow",
            "Principal": {"AWS": ["alice", "arn:aws:iam::1:user/bob"], "CanonicalUser": "a" * 64},
            "Action": ["s3:GetObject", "s3:List*"],
            "Resource": ["arn:aws:s3:::b/${aws:username}/*", "arn:aws:s3:::b"],
            "Condition": {
                "StringLike": {"s3:prefix": ["${aws:username}/*", "x?"]},
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                "ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": ["a"]},
                "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
                "NumericGreaterThan": {"s3:max-keys": 1},
                "Null": {"s3:x-amz-server-side-encryption": "false"},
                "Bool": {"aws:SecureTransport": True},
                "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"},
            },
        },
        {
            "Effect": "Deny",
            "NotPrincipal": "*",
            "NotAction": "s3:PutObject",
            "NotResource": "*",
        },
    ],
}

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "*",
            "Allow",
            "Deny",
            "s3:GetObject",
            "s3:*",
            "arn:aws:s3:::b/*",
            "${aws:username}",
            "${",
            "2012-10-17",
            "10.0.0.0/8",
            "true",
            "",
            "StringEquals",
            "ForAllValues:Bool",
        ]
    )
)
KEYS = st.text(max_size=12) | st.sampled_from(
    ["Version", "Statement", "Effect", "Action", "Resource", "Principal", "Condition", "AWS",
     "Sid", "NotAction", "NotResource", "NotPrincipal", "StringLike", "s3:prefix", "Id"]
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
)


def check(text: str | bytes) -> None:
    for kind in (Kind.BUCKET, Kind.IDENTITY):
        try:
            p = parse_policy(text, kind)
        except MalformedPolicy as e:
            assert str(e)
            continue
        assert isinstance(p, Policy)
        assert parse_policy(to_json(p), kind) == p


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


def mutate(doc: Any, path: tuple[Any, ...], how: str, value: Any, key: str) -> Any:
    doc = copy.deepcopy(doc)
    if not path:
        return value
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1]
    if how == "replace":
        parent[last] = value
    elif how == "delete":
        del parent[last]
    elif how == "add" and isinstance(parent, dict):
        parent[key] = value
    elif how == "add":
        parent.append(value)
    elif how == "wrap":
        parent[last] = [parent[last]]
    elif how == "rename" and isinstance(parent, dict):
        parent[key] = parent.pop(last)
    return doc


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(JSON)
def test_random_json_values(value: Any) -> None:
    check(json.dumps(value))


@FAST
@given(st.data())
def test_mutated_valid_policies(data: st.DataObject) -> None:
    doc = VALID
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths(doc)))
        how = data.draw(st.sampled_from(["replace", "delete", "add", "wrap", "rename"]))
        doc = mutate(doc, path, how, data.draw(JSON), data.draw(KEYS))
    check(json.dumps(doc))


@FAST
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_random_text_and_bytes(text: str | bytes) -> None:
    check(text)


@FAST
@given(st.text(max_size=60), st.sampled_from(["Action", "Resource", "Sid", "Effect", "Version"]))
def test_random_strings_in_fields(s: str, field: str) -> None:
    doc = copy.deepcopy(VALID)
    if field == "Version":
        doc["Version"] = s
    else:
        doc["Statement"][0][field] = s
    check(json.dumps(doc))
    check(json.dumps(doc).encode("utf-8", "surrogatepass"))


def test_the_seed_policy_is_valid_as_a_bucket_policy() -> None:
    p = parse_policy(json.dumps(VALID), Kind.BUCKET)
    assert len(p.statements) == 2 and len(p.statements[0].conditions) == 8
