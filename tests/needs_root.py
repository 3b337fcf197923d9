"""Root-only tests: skipped for a developer who is not root, never skipped in CI.

CI (``.ci/run``: ``CI`` and ``OBJFS_REQUIRE_ROOT=1``) runs the suite as root,
with sudo when its user is not (the Makefile's ``test``); a root-only test
that finds itself without root there fails instead of skipping.
"""

from __future__ import annotations

import os

import pytest


def root_required() -> bool:
    return os.environ.get("OBJFS_REQUIRE_ROOT") == "1" or bool(os.environ.get("CI"))


def require_root(why: str) -> None:
    """Return if root; else skip, or fail under CI."""
    if os.geteuid() == 0:
        return
    if root_required():
        pytest.fail(f"{why}, and CI must run it: run the tests as root (make test uses sudo)")
    pytest.skip(f"{why} (not root)")


def cannot_run(why: str) -> None:
    """A root-only test found its setup impossible: skip, or fail under CI."""
    if root_required():
        pytest.fail(why)
    pytest.skip(why)
