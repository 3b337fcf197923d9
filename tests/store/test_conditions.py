"""S3's conditions on a version read or copied (objfs/store/conditions.py):
RFC 7232 precedence for GET/HEAD, every failure 412 for a copy source."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from objfs.errors import NotModified, PreconditionFailed
from objfs.store.conditions import check_copy_conditions, check_read_conditions

S = 1_000_000_000
INFO = SimpleNamespace(etag="abc", last_modified_ns=100 * S + 5)
OTHER = "zzz"

# (if_match, if_none_match, if_modified_since_s, if_unmodified_since_s) -> GET's outcome
CASES = [
    ((None, None, None, None), None),
    (("abc", None, None, None), None),
    (('"abc", "x"', None, None, None), None),
    (("*", None, None, None), None),
    ((OTHER, None, None, None), PreconditionFailed),
    ((None, None, None, 99), PreconditionFailed),
    ((None, None, None, 100), None),  # whole seconds: not modified after
    (("abc", None, None, 99), None),  # a matching If-Match overrides If-Unmodified-Since
    ((None, "abc", None, None), NotModified),
    ((None, OTHER, None, None), None),
    ((None, None, 100, None), NotModified),
    ((None, None, 99, None), None),
    ((None, OTHER, 100, None), None),  # If-None-Match overrides If-Modified-Since
    ((OTHER, "abc", None, None), PreconditionFailed),  # 412 before 304
]


def _call(check, conditions):
    im, inm, ims, ius = conditions
    check(INFO, im, inm, ims and ims * S, ius and ius * S)


@pytest.mark.parametrize(("conditions", "outcome"), CASES)
def test_read_conditions(conditions, outcome):
    if outcome is None:
        _call(check_read_conditions, conditions)
    else:
        with pytest.raises(outcome):
            _call(check_read_conditions, conditions)


@pytest.mark.parametrize(("conditions", "outcome"), CASES)
def test_copy_source_conditions_fail_412_never_304(conditions, outcome):
    if outcome is None:
        _call(check_copy_conditions, conditions)
    else:
        with pytest.raises(PreconditionFailed):
            _call(check_copy_conditions, conditions)
