"""Lifecycle rules seen through the mount: ``.versions/`` shrinks after a run made
elsewhere, and ``lifecycle_interval=`` runs the rules inside the mount daemon."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from objfs.store import OWNER, Store

from .support import Mount
from .test_freshness import eventually

pytestmark = pytest.mark.fuse
DAY_NS = 86_400 * 10**9


def test_versions_dir_shrinks_after_a_run(mnt: Mount) -> None:
    path = mnt.path / "notes.txt"
    for text in (b"one", b"two", b"three"):
        path.write_bytes(text)
    vdir = mnt.path / ".versions" / "notes.txt"
    assert len(os.listdir(vdir)) == 3
    with Store.open(mnt.store) as store:
        rule = {
            "ID": "old",
            "Status": "Enabled",
            "Filter": {},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        }
        store.put_bucket_lifecycle(OWNER, "vers", [rule])
        report = store.apply_lifecycle(OWNER, "vers", now_ns=time.time_ns() + 3 * DAY_NS)
    assert report.noncurrent_expired == 2
    eventually(lambda: len(os.listdir(vdir)) == 1)
    assert path.read_bytes() == b"three"  # the current version stays


def test_mount_option_runs_the_rules(mounter: Callable[..., Mount], fs_store: Path) -> None:
    with Store.open(fs_store) as store:
        rule = {
            "ID": "past",
            "Status": "Enabled",
            "Filter": {"Prefix": "tmp/"},
            "Expiration": {"Date": "2015-01-01"},
        }
        store.put_bucket_lifecycle(OWNER, "plain", [rule])
    m = mounter(bucket="plain", options="lifecycle_interval=0.2")
    (m.path / "tmp").mkdir()
    (m.path / "tmp" / "scratch").write_bytes(b"x")
    (m.path / "kept").write_bytes(b"y")
    eventually(lambda: not (m.path / "tmp" / "scratch").exists(), within=5)
    assert (m.path / "kept").read_bytes() == b"y"
