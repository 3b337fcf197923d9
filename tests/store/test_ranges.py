"""S3's byte-range rule (objfs/store/ranges.py), the one the store, the HTTP
API and the CLI's client-side encrypted downloads all apply."""

from __future__ import annotations

import pytest

from objfs.errors import InvalidRange
from objfs.store.ranges import copy_source_range, resolve_range

SATISFIABLE = [
    # (spec, size, inclusive range served)
    ((0, 0), 10, (0, 0)),
    ((0, 9), 10, (0, 9)),
    ((2, 100), 10, (2, 9)),  # a last byte past the end is clamped
    ((3, None), 10, (3, 9)),  # open: to the end
    ((9, None), 10, (9, 9)),
    ((None, 4), 10, (6, 9)),  # suffix: the last 4 bytes
    ((None, 50), 10, (0, 9)),  # a suffix longer than the object: all of it
]

UNSATISFIABLE = [
    ((10, None), 10),  # a start past the end
    ((10, 20), 10),
    ((5, 4), 10),  # last before first
    ((None, 0), 10),  # suffix of 0 bytes
    ((None, None), 10),
    ((0, None), 0),  # nothing of an empty object
    ((0, 0), 0),
    ((None, 3), 0),
]


@pytest.mark.parametrize(("spec", "size", "served"), SATISFIABLE)
def test_satisfiable(spec, size, served):
    assert resolve_range(spec, size) == served


@pytest.mark.parametrize(("spec", "size"), UNSATISFIABLE)
def test_unsatisfiable(spec, size):
    with pytest.raises(InvalidRange):
        resolve_range(spec, size)


def test_copy_source_range_must_lie_inside():
    assert copy_source_range((0, 9), 10) == (0, 9)
    for spec in [(0, 10), (5, 4), (-1, 3), (10, 10)]:
        with pytest.raises(InvalidRange):
            copy_source_range(spec, 10)
