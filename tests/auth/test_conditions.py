"""Every condition operator, with IfExists, Null and the set qualifiers."""

from __future__ import annotations

from typing import Any

import pytest

from objfs.auth.policy import OPERATORS
from tests.auth.support import ALICE, allow, decide, ip, obj

ABSENT = object()
NOW = "2026-11-30T11:00:00Z"

# (operator, key, policy value(s), request value or ABSENT, condition holds?)
# fmt: off
TABLE: list[tuple[str, str, Any, Any, bool]] = [
    ("StringEquals", "s3:prefix", "a", "a", True),
    ("StringEquals", "s3:prefix", "a", "A", False),
    ("StringEquals", "s3:prefix", "a", ABSENT, False),
    ("StringEquals", "s3:prefix", ["a", "b"], "b", True),
    ("StringEquals", "s3:prefix", "a*", "abc", False),
    ("StringEquals", "s3:prefix", "a*", "a*", True),
    ("StringEquals", "s3:max-keys", 10, "10", True),
    ("StringNotEquals", "s3:prefix", "a", "b", True),
    ("StringNotEquals", "s3:prefix", ["a", "b"], "b", False),
    ("StringNotEquals", "s3:prefix", "a", ABSENT, True),
    ("StringEqualsIgnoreCase", "s3:prefix", "ABC", "abc", True),
    ("StringEqualsIgnoreCase", "s3:prefix", "ABC", "abd", False),
    ("StringNotEqualsIgnoreCase", "s3:prefix", "ABC", "abc", False),
    ("StringNotEqualsIgnoreCase", "s3:prefix", "ABC", "x", True),
    ("StringLike", "s3:prefix", "docs/*", "docs/a/b", True),
    ("StringLike", "s3:prefix", "docs/*", "doc", False),
    ("StringLike", "s3:prefix", "d?cs", "docs", True),
    ("StringLike", "s3:prefix", "Docs*", "docs", False),
    ("StringLike", "s3:prefix", "docs/*", ABSENT, False),
    ("StringNotLike", "s3:prefix", "docs/*", "img/a", True),
    ("StringNotLike", "s3:prefix", ["img/*", "docs/*"], "docs/a", False),
    ("StringNotLike", "s3:prefix", "docs/*", ABSENT, True),
    ("NumericEquals", "s3:max-keys", 10, "10", True),
    ("NumericEquals", "s3:max-keys", "10", "10.0", True),
    ("NumericEquals", "s3:max-keys", 10, "ten", False),
    ("NumericNotEquals", "s3:max-keys", 10, "11", True),
    ("NumericNotEquals", "s3:max-keys", 10, "10", False),
    ("NumericNotEquals", "s3:max-keys", 10, ABSENT, True),
    ("NumericLessThan", "s3:max-keys", 100, "99", True),
    ("NumericLessThan", "s3:max-keys", 100, "100", False),
    ("NumericLessThan", "s3:max-keys", 100, ABSENT, False),
    ("NumericLessThanEquals", "s3:max-keys", 100, "100", True),
    ("NumericLessThanEquals", "s3:max-keys", 100, "101", False),
    ("NumericGreaterThan", "s3:max-keys", 5, "6", True),
    ("NumericGreaterThan", "s3:max-keys", 5, "5", False),
    ("NumericGreaterThanEquals", "s3:max-keys", 5, "5", True),
    ("NumericGreaterThanEquals", "s3:max-keys", 5, "4.5", False),
    ("DateEquals", "aws:CurrentTime", NOW, NOW, True),
    ("DateEquals", "aws:CurrentTime", 1796036400, NOW, True),
    ("DateEquals", "aws:CurrentTime", NOW, "2026-11-30T12:00:00+01:00", True),
    ("DateNotEquals", "aws:CurrentTime", NOW, "2026-11-30T11:00:01Z", True),
    ("DateNotEquals", "aws:CurrentTime", NOW, NOW, False),
    ("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z", NOW, True),
    ("DateLessThan", "aws:CurrentTime", "2020-01-01", NOW, False),
    ("DateLessThanEquals", "aws:CurrentTime", NOW, NOW, True),
    ("DateGreaterThan", "aws:CurrentTime", "2026-11-30", NOW, True),
    ("DateGreaterThan", "aws:CurrentTime", NOW, NOW, False),
    ("DateGreaterThanEquals", "aws:CurrentTime", NOW, NOW, True),
    ("DateGreaterThanEquals", "aws:EpochTime", "2026-12-01T00:00:00Z", "1796036400", False),
    ("DateLessThan", "aws:CurrentTime", "2030-01-01", "not a date", False),
    ("Bool", "aws:SecureTransport", "true", True, True),
    ("Bool", "aws:SecureTransport", True, False, False),
    ("Bool", "aws:SecureTransport", "false", False, True),
    ("Bool", "aws:SecureTransport", "false", ABSENT, False),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", "10.1.2.3", True),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", "11.0.0.1", False),
    ("IpAddress", "aws:SourceIp", ["192.0.2.0/24", "10.0.0.0/8"], "10.9.9.9", True),
    ("IpAddress", "aws:SourceIp", "192.0.2.7", "192.0.2.7", True),
    ("IpAddress", "aws:SourceIp", "2001:db8::/32", "2001:db8::1", True),
    ("IpAddress", "aws:SourceIp", "2001:db8::/32", "10.0.0.1", False),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", "::ffff:10.0.0.1", False),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", "garbage", False),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", ABSENT, False),
    ("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", "11.0.0.1", True),
    ("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", "10.0.0.1", False),
    ("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", ABSENT, True),
    ("ArnEquals", "aws:SourceArn", "arn:aws:iam::1:user/alice", "arn:aws:iam::1:user/alice", True),
    ("ArnEquals", "aws:SourceArn", "arn:aws:iam::1:user/alice", "arn:aws:iam::2:user/alice", False),
    ("ArnLike", "aws:SourceArn", "arn:aws:iam::*:user/*", "arn:aws:iam::123:user/alice", True),
    ("ArnLike", "aws:SourceArn", "arn:aws:iam::*:user/alice", "arn:aws:iam::1:2:user/alice", False),
    ("ArnLike", "aws:SourceArn", "arn:aws:iam::*:user/*", "arn:aws:iam::1:user/a:b", True),
    ("ArnLike", "aws:SourceArn", "arn:aws:iam::*", "arn:aws:iam::1:user/a", False),
    ("ArnLike", "aws:SourceArn", "*", "anything", True),
    ("ArnLike", "aws:SourceArn", "arn:aws:iam::*:user/*", "not-an-arn", False),
    ("ArnNotEquals", "aws:SourceArn", "arn:aws:iam::1:user/alice", "arn:aws:iam::1:user/bob", True),
    ("ArnNotLike", "aws:SourceArn", "arn:aws:iam::*:user/a*", "arn:aws:iam::1:user/alice", False),
    ("ArnNotLike", "aws:SourceArn", "arn:aws:iam::*:user/a*", ABSENT, True),
    ("ArnLike", "aws:SourceArn", "arn:aws:iam::*:user/a*", ABSENT, False),
    ("Null", "s3:x-amz-server-side-encryption", "true", ABSENT, True),
    ("Null", "s3:x-amz-server-side-encryption", "true", "AES256", False),
    ("Null", "s3:x-amz-server-side-encryption", False, "AES256", True),
    ("Null", "s3:x-amz-server-side-encryption", "false", ABSENT, False),
    ("Null", "s3:x-amz-server-side-encryption", "true", [], True),
    ("StringEqualsIfExists", "s3:prefix", "a", ABSENT, True),
    ("StringEqualsIfExists", "s3:prefix", "a", "b", False),
    ("StringEqualsIfExists", "s3:prefix", "a", "a", True),
    ("StringNotLikeIfExists", "s3:prefix", "a*", "abc", False),
    ("NumericLessThanIfExists", "s3:max-keys", 10, ABSENT, True),
    ("NumericLessThanIfExists", "s3:max-keys", 10, "20", False),
    ("DateLessThanIfExists", "aws:CurrentTime", NOW, ABSENT, True),
    ("BoolIfExists", "aws:MultiFactorAuthPresent", "false", ABSENT, True),
    ("BoolIfExists", "aws:MultiFactorAuthPresent", "false", True, False),
    ("IpAddressIfExists", "aws:SourceIp", "10.0.0.0/8", ABSENT, True),
    ("ArnLikeIfExists", "aws:SourceArn", "arn:*:*:*:*:*", ABSENT, True),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["a", "b"], ["b", "c"], True),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["a", "b"], ["c", "d"], False),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["a", "b"], ABSENT, False),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["a", "b"], [], False),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], ["a", "b"], True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], ["a", "c"], False),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], ABSENT, True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], [], True),
    ("ForAnyValue:StringNotEquals", "aws:TagKeys", "a", ["a", "b"], True),
    ("ForAnyValue:StringNotEquals", "aws:TagKeys", "a", ["a"], False),
    ("ForAllValues:StringNotEquals", "aws:TagKeys", "a", ["b", "c"], True),
    ("ForAllValues:StringNotEquals", "aws:TagKeys", "a", ["a", "b"], False),
    ("ForAnyValue:StringLike", "aws:TagKeys", "team-*", ["x", "team-a"], True),
    ("ForAllValues:StringLike", "aws:TagKeys", "team-*", ["x", "team-a"], False),
    ("ForAnyValue:StringLikeIfExists", "aws:TagKeys", "team-*", ABSENT, True),
    ("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", "a", ["b"], False),
    ("ForAnyValue:NumericGreaterThan", "aws:TagKeys", 5, ["1", "9"], True),
    ("ForAllValues:NumericGreaterThan", "aws:TagKeys", 5, ["1", "9"], False),
    ("ForAnyValue:IpAddress", "aws:TagKeys", "10.0.0.0/8", ["1.1.1.1", "10.0.0.9"], True),
    # without a qualifier a multi-valued key matches when any value does
    ("StringEquals", "aws:TagKeys", "a", ["b", "a"], True),
    ("StringNotEquals", "aws:TagKeys", "a", ["b", "a"], False),
    # condition keys are case-insensitive
    ("StringEquals", "S3:Prefix", "a", "a", True),
    # variables inside condition values
    ("StringEquals", "s3:prefix", "${aws:username}", "alice", True),
    ("StringEquals", "s3:prefix", "${aws:username}/", "bob/", False),
    ("StringLike", "s3:prefix", "home/${aws:username}/*", "home/alice/x", True),
    ("StringLike", "s3:prefix", "${aws:nosuch}", "", False),
    ("StringNotEquals", "s3:prefix", "${aws:nosuch}", "x", True),
    ("StringLike", "s3:prefix", "${aws:nosuch, 'dflt'}*", "dflt-1", True),
    ("ArnLike", "aws:SourceArn", "arn:aws:iam::*:user/${aws:username}", "arn:aws:iam::1:user/alice", True),
]
# fmt: on


def _holds(op: str, key: str, values: Any, got: Any) -> bool:
    pol = ip(allow("s3:GetObject", "*", Condition={op: {key: values}}))
    ctx = {} if got is ABSENT else {key: got}
    return decide(ALICE, "s3:GetObject", obj("b", "k"), identity={"p": pol}, context=ctx).allowed


@pytest.mark.parametrize(("op", "key", "values", "got", "expected"), TABLE)
def test_condition_operator(op: str, key: str, values: Any, got: Any, expected: bool) -> None:
    assert _holds(op, key, values, got) is expected


def test_every_operator_is_in_the_table() -> None:
    named = {row[0].split(":")[-1].removesuffix("IfExists") for row in TABLE}
    assert named == set(OPERATORS)


def test_keys_and_operators_are_anded_values_ored() -> None:
    cond = {
        "StringEquals": {"s3:prefix": ["a", "b"], "s3:delimiter": "/"},
        "NumericLessThanEquals": {"s3:max-keys": 100},
    }
    pol = {"p": ip(allow("s3:ListBucket", "*", Condition=cond))}

    def ok(**ctx: Any) -> bool:
        c = {k.replace("_", "-").replace("s3-", "s3:"): v for k, v in ctx.items()}
        return decide(ALICE, "s3:ListBucket", "arn:aws:s3:::b", identity=pol, context=c).allowed

    assert ok(s3_prefix="b", s3_delimiter="/", s3_max_keys=50)
    assert not ok(s3_prefix="c", s3_delimiter="/", s3_max_keys=50)
    assert not ok(s3_prefix="a", s3_delimiter="-", s3_max_keys=50)
    assert not ok(s3_prefix="a", s3_delimiter="/", s3_max_keys=500)
    assert not ok(s3_prefix="a", s3_max_keys=50)


def test_empty_condition_block_always_holds() -> None:
    pol = ip(allow("s3:GetObject", "*", Condition={}))
    assert decide(ALICE, "s3:GetObject", obj("b", "k"), identity={"p": pol}).allowed
