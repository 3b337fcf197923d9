"""The policy grammar: what is accepted, what is refused and how it says so."""

from __future__ import annotations

import json

import pytest

from objfs.auth.policy import (
    Effect,
    Kind,
    parse_bucket_policy,
    parse_identity_policy,
    parse_policy,
    to_json,
)
from objfs.errors import MalformedPolicy

ALLOW_READ = {
    "Effect": "Allow",
    "Principal": "*",
    "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::photos/*",
}


def bucket(*statements: dict, **top: object) -> str:
    doc = {"Version": "2012-10-17", **top, "Statement": list(statements)}
    return json.dumps(doc)


def identity(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def without(d: dict, *keys: str) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def test_a_full_bucket_policy_parses_into_typed_records() -> None:
    text = bucket(
        ALLOW_READ,
        {
            "Sid": "DenyInsecure",
            "Effect": "Deny",
            "NotPrincipal": {"AWS": ["alice", "arn:aws:iam::123456789012:user/bob"]},
            "NotAction": ["s3:Get*", "s3:List?ucket"],
            "NotResource": "arn:aws:s3:::photos/public/*",
            "Condition": {
                "Bool": {"aws:SecureTransport": False},
                "ForAnyValue:StringLikeIfExists": {"s3:prefix": ["a*", "b?"]},
                "NumericLessThan": {"s3:max-keys": 100},
            },
        },
        Id="photos-policy",
    )
    p = parse_bucket_policy(text, bucket="photos")
    assert p.kind is Kind.BUCKET and p.version == "2012-10-17" and p.id == "photos-policy"
    first, second = p.statements
    assert first.effect is Effect.ALLOW and first.principal and first.principal.everyone
    assert second.sid == "DenyInsecure" and second.not_principal and second.not_action
    assert second.not_resource
    assert [c.operator.name for c in second.conditions] == [
        "Bool",
        "ForAnyValue:StringLikeIfExists",
        "NumericLessThan",
    ]
    assert second.principal is not None and len(second.principal.aws) == 2


def test_statement_may_be_a_single_object_and_version_2008_is_accepted() -> None:
    text = json.dumps({"Version": "2008-10-17", "Statement": ALLOW_READ})
    p = parse_bucket_policy(text)
    assert len(p.statements) == 1 and p.version == "2008-10-17" and not p.variables


def test_canonical_json_round_trips_and_normalises() -> None:
    text = """{ "Statement" : [ { "Effect":"Allow", "Principal": {"AWS": ["*"]},
        "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::b"],
        "Condition": {"StringEquals": {"s3:prefix": ["x"]}} } ], "Version": "2012-10-17" }"""
    p = parse_bucket_policy(text)
    out = to_json(p)
    assert json.loads(out) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:GetObject",
                "Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::b"],
                "Condition": {"StringEquals": {"s3:prefix": "x"}},
            }
        ],
    }
    assert parse_bucket_policy(out) == p
    assert parse_bucket_policy(to_json(p, indent=2)) == p
    assert to_json(parse_bucket_policy(out)) == out


def test_identity_policy_round_trips() -> None:
    text = identity(
        {
            "Sid": "Home",
            "Effect": "Allow",
            "Action": ["s3:*Object", "s3:ListBucket"],
            "Resource": "arn:aws:s3:::home/${aws:username}/*",
            "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
        }
    )
    p = parse_identity_policy(text)
    assert parse_identity_policy(to_json(p)) == p
    assert parse_policy(text.encode(), "identity") == p


ST = ALLOW_READ


# fmt: off
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        (b"\xff\xfe", "not valid UTF-8"),
        ("[]", "must be a JSON object, got a list"),
        ('"x"', "must be a JSON object, got a string"),
        ("null", "must be a JSON object, got null"),
        ('{"Version":"2012-10-17","Statement":[],"Statment":1}', 'unknown policy field "Statment"'),
        ('{"Version":"2012-10-18","Statement":[]}', 'Version must be "2012-10-17"'),
        ('{"Version":"2012-10-17"}', "has no Statement"),
        ('{"Version":"2012-10-17","Statement":[]}', "non-empty list"),
        ('{"Version":"2012-10-17","Statement":"x"}', "Statement must be an object"),
        ('{"Version":"2012-10-17","Statement":[1]}', "Statement[0] must be an object"),
        ('{"Version":"2012-10-17","Id":5,"Statement":[]}', "Id must be a string"),
        ('{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}', "duplicate field"),
        ('{"Version":NaN}', "not valid JSON"),
        ("[" * 5000 + "]" * 5000, "JSON"),
        ('{"Version": ' + "1" * 5000 + "}", "not valid JSON"),
        (bucket({**ST, "Condition": {"StringEquals": {"s3:prefix": "X"}}}).replace('"X"', "1e999"), "out of range"),
        (bucket({**ST, "Condition": {"StringEquals": {"s3:prefix": 1e300}}}).replace("1e+300", "Infinity"), "Infinity is not valid JSON"),
        (bucket(ST, {**ST, "Effect": "Alow", "Sid": "DenyPut"}), 'Statement[1] (Sid "DenyPut"): Effect must be "Allow" or "Deny", got "Alow"'),
        (bucket(without(ST, "Effect")), "Statement[0]: Effect must be"),
        (bucket({**ST, "Sid": 3}), "Statement[0]: Sid must be a string"),
        (bucket({**ST, "Actions": "s3:GetObject"}), 'Statement[0]: unknown field "Actions"'),
        (bucket(without(ST, "Action")), "Statement[0]: Action or NotAction: exactly one"),
        (bucket({**ST, "NotAction": "s3:PutObject"}), "Action or NotAction: exactly one"),
        (bucket({**ST, "NotResource": "*"}), "Resource or NotResource: exactly one"),
        (bucket({**ST, "Action": []}), "Action must be a string or a non-empty list"),
        (bucket({**ST, "Action": [""]}), "Action must hold non-empty strings"),
        (bucket({**ST, "Action": 5}), "Action must be a string or a non-empty list"),
        (bucket({**ST, "Action": "GetObject"}), 'Action "GetObject" is not "*" or "s3:ActionName"'),
        (bucket({**ST, "Action": "s3:GetObjcet"}), "is not an S3 action objfs knows"),
        (bucket({**ST, "Action": "iam:CreateUser"}), 'only "s3:" actions'),
        (bucket({**ST, "Action": "s3:Get Object"}), 'is not "*"'),
        (bucket({**ST, "Resource": "photos/*"}), 'Resource "photos/*" must be "*" or start with'),
        (bucket({**ST, "Resource": "arn:aws:s3:::"}), "must be"),
        (bucket({**ST, "Resource": ["arn:aws:s3:::b/${aws:username"]}), "unclosed policy variable"),
        (bucket({**ST, "Resource": "arn:aws:s3:::b/${nokey}"}), "bad policy variable"),
        (bucket(without(ST, "Principal")), "Principal or NotPrincipal: exactly one is required"),
        (bucket({**ST, "NotPrincipal": "*"}), "exactly one is required"),
        (bucket({**ST, "Principal": "alice"}), 'Principal must be "*" or an object'),
        (bucket({**ST, "Principal": {}}), "Principal must be"),
        (bucket({**ST, "Principal": {"Federated": "x"}}), 'unknown principal type "Federated"'),
        (bucket({**{k: v for k, v in ST.items() if k != "Principal"}, "NotPrincipal": {"AWS": "bob"}}),
         'NotPrincipal may only be used with "Effect": "Deny"'),
        (bucket({**ST, "Principal": {"AWS": "not a name!"}}), "is not a user name or IAM ARN"),
        (bucket({**ST, "Principal": {"AWS": []}}), "Principal.AWS must be a string or a non-empty"),
        (bucket({**ST, "Principal": {"CanonicalUser": "abc"}}), "is not a 64-hex canonical id"),
        (bucket({**ST, "Condition": []}), "Condition must be an object"),
        (bucket({**ST, "Condition": {"StringEqual": {"s3:prefix": "a"}}}), 'unknown condition operator "StringEqual"'),
        (bucket({**ST, "Condition": {"ForSomeValues:StringEquals": {"s3:prefix": "a"}}}), "unknown set qualifier"),
        (bucket({**ST, "Condition": {"NullIfExists": {"s3:prefix": "true"}}}), "Null takes no IfExists"),
        (bucket({**ST, "Condition": {"StringEquals": {}}}), "Condition.StringEquals must be a non-empty object"),
        (bucket({**ST, "Condition": {"StringEquals": "x"}}), "must be a non-empty object"),
        (bucket({**ST, "Condition": {"StringEquals": {"s3:prefx": "a"}}}), 'unknown condition key "s3:prefx"'),
        (bucket({**ST, "Condition": {"StringEquals": {"s3:prefix": []}}}), "must not be an empty list"),
        (bucket({**ST, "Condition": {"StringEquals": {"s3:prefix": {"a": 1}}}}), "values must be strings"),
        (bucket({**ST, "Condition": {"StringEquals": {"s3:prefix": None}}}), "values must be strings"),
        (bucket({**ST, "Condition": {"NumericLessThan": {"s3:max-keys": "ten"}}}), "NumericLessThan needs numbers"),
        (bucket({**ST, "Condition": {"NumericLessThan": {"s3:max-keys": True}}}), "needs numbers"),
        (bucket({**ST, "Condition": {"DateLessThan": {"aws:CurrentTime": "tomorrow"}}}), "needs ISO 8601 dates"),
        (bucket({**ST, "Condition": {"Bool": {"aws:SecureTransport": "yes"}}}), 'Bool needs "true" or "false"'),
        (bucket({**ST, "Condition": {"Null": {"s3:prefix": 1}}}), 'Null needs "true" or "false"'),
        (bucket({**ST, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}}}), "IpAddress needs IP addresses"),
    ],
)
# fmt: on
def test_malformed_bucket_policies_name_statement_and_field(text: str | bytes, message: str) -> None:
    with pytest.raises(MalformedPolicy) as exc:
        parse_bucket_policy(text)
    assert message in str(exc.value)
    assert exc.value.code == "MalformedPolicy" and exc.value.status == 400


def test_identity_policy_must_not_name_a_principal() -> None:
    with pytest.raises(MalformedPolicy, match=r"Statement\[0\]: Principal is not allowed"):
        parse_identity_policy(identity(ALLOW_READ))
    with pytest.raises(MalformedPolicy, match="NotPrincipal is not allowed"):
        parse_identity_policy(identity({**without(ALLOW_READ, "Principal"), "NotPrincipal": "*"}))
    assert parse_identity_policy(identity(without(ALLOW_READ, "Principal")))


def test_bucket_policy_resources_must_be_in_the_bucket_when_it_is_known() -> None:
    ok = [
        "*",
        "arn:aws:s3:::photos",
        "arn:aws:s3:::photos/*",
        "arn:aws:s3:::photos/a/b",
        "arn:aws:s3:::pho*",
        "arn:aws:s3:::photos/${aws:username}/*",
    ]
    for r in ok:
        parse_bucket_policy(bucket({**ALLOW_READ, "Resource": r}), bucket="photos")
    for r in ["arn:aws:s3:::photos2", "arn:aws:s3:::other/*", "arn:aws:s3:::photosx*"]:
        with pytest.raises(MalformedPolicy, match='does not name bucket "photos"'):
            parse_bucket_policy(bucket({**ALLOW_READ, "Resource": r}), bucket="photos")


def test_size_limits() -> None:
    pad = "x" * (20 * 1024)
    big = json.dumps({"Version": "2012-10-17", "Id": pad, "Statement": ALLOW_READ})
    with pytest.raises(MalformedPolicy, match=r"limit is 20480 \(20 KiB\)"):
        parse_bucket_policy(big)
    # just under the limit is fine
    fit = json.dumps({"Version": "2012-10-17", "Id": "", "Statement": ALLOW_READ})
    pad = "x" * (20 * 1024 - len(fit.encode()))
    assert parse_bucket_policy(fit.replace('"Id": ""', f'"Id": "{pad}"'))
    st = without(ALLOW_READ, "Principal")
    many = identity(*[{**st, "Sid": f"S{i}"} for i in range(80)])
    with pytest.raises(MalformedPolicy, match="limit is 6144"):
        parse_identity_policy(many)
    # whitespace does not count toward the identity limit
    spaced = json.dumps(json.loads(identity(*[{**st, "Sid": f"S{i}"} for i in range(40)])), indent=8)
    assert len(spaced) > 6144
    assert parse_identity_policy(spaced)


def test_condition_values_of_every_json_scalar_type_are_kept_as_written() -> None:
    text = bucket(
        {
            **ALLOW_READ,
            "Condition": {
                "NumericGreaterThanEquals": {"s3:max-keys": [1, "2", 3.5]},
                "DateGreaterThan": {"aws:CurrentTime": [1700000000, "2024-01-01"]},
                "Bool": {"aws:SecureTransport": "True"},
                "Null": {"s3:x-amz-server-side-encryption": True},
                "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]},
                "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"},
                "StringEquals": {"aws:RequestTag/project": "x"},
            },
        }
    )
    p = parse_bucket_policy(text)
    assert parse_bucket_policy(to_json(p)) == p
    assert json.loads(to_json(p))["Statement"][0]["Condition"]["NumericGreaterThanEquals"] == {
        "s3:max-keys": [1, "2", 3.5]
    }


def test_messages_stay_on_one_line() -> None:
    with pytest.raises(MalformedPolicy) as exc:
        parse_bucket_policy(bucket({**ALLOW_READ, "Sid": "a\nb" + "x" * 200, "Effect": "Maybe"}))
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith('Statement[0] (Sid "a\\nbxxx') and len(msg) < 200


def test_bucket_policies_may_repeat_sids_and_leave_out_resource() -> None:
    # As S3-compatible servers take them (the conformance suite's logging
    # policies repeat a Sid); a statement without Resource names nothing.
    p = parse_bucket_policy(bucket({**ST, "Sid": "A"}, {**without(ST, "Resource"), "Sid": "A"}))
    assert [s.sid for s in p.statements] == ["A", "A"]
    assert p.statements[1].resources == ()
    assert parse_bucket_policy(to_json(p)) == p
    # Identity policies keep IAM's rules.
    st = without(ST, "Principal")
    with pytest.raises(MalformedPolicy, match="Sid must be unique"):
        parse_identity_policy(identity({**st, "Sid": "A"}, {**st, "Sid": "A"}))
    with pytest.raises(MalformedPolicy, match="Resource or NotResource: exactly one"):
        parse_identity_policy(identity(without(st, "Resource")))
