"""Policies: the grammar (``grammar``), condition operators (``conditions``),
and wildcard/variable strings (``patterns``). Evaluation is in
``objfs.auth.evaluate``.
"""

from objfs.auth.policy.conditions import OPERATORS, Condition, Operator
from objfs.auth.policy.grammar import (
    BUCKET_POLICY_MAX_BYTES,
    IDENTITY_POLICY_MAX_CHARS,
    Effect,
    Kind,
    Policy,
    PrincipalSet,
    Statement,
    parse_bucket_policy,
    parse_identity_policy,
    parse_policy,
    policy_from_obj,
    to_json,
    to_obj,
)
from objfs.auth.policy.patterns import Pattern, parse_pattern

__all__ = [
    "BUCKET_POLICY_MAX_BYTES",
    "IDENTITY_POLICY_MAX_CHARS",
    "OPERATORS",
    "Condition",
    "Effect",
    "Kind",
    "Operator",
    "Pattern",
    "Policy",
    "PrincipalSet",
    "Statement",
    "parse_bucket_policy",
    "parse_identity_policy",
    "parse_pattern",
    "parse_policy",
    "policy_from_obj",
    "to_json",
    "to_obj",
]
