"""MFA delete through the mount: a version cannot be deleted for good by unlink(2).

With MFA delete on, ``rm`` of a file in ``.versions/`` fails with EPERM
(no code can come through a filesystem call) and the daemon's log names the
CLI command that takes one; ordinary writes and deletes (delete markers)
work as before, and the same version goes with a valid code from the CLI.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import time

import pytest

from objfs.auth import totp
from objfs.store import OWNER, Store

from .support import Mount

pytestmark = pytest.mark.fuse


def _code(secret: str, step: int) -> str:
    return totp.code_for_step(secret, step)


def test_versions_unlink_is_eperm_with_mfa_delete(mnt: Mount) -> None:
    path = mnt.path / "doc.txt"
    path.write_text("one\n")
    path.write_text("two\n")

    store = Store.open(mnt.store)
    try:
        serial, secret, _ = store.mfa_enable(OWNER)
        step = totp.step_at(time.time())
        with_code = dataclasses.replace(OWNER, mfa=f"{serial} {_code(secret, step)}")
        store.set_bucket_versioning(with_code, "vers", "Enabled", mfa_delete=True)
    finally:
        store.close()

    vdir = mnt.path / ".versions" / "doc.txt"
    first, second = sorted(os.listdir(vdir))
    with pytest.raises(OSError) as err:
        os.unlink(vdir / first)
    assert err.value.errno == errno.EPERM
    assert sorted(os.listdir(vdir)) == [first, second]
    version_id = first.split("_", 1)[1]
    hint = f'objfs rm s3://vers/doc.txt --version-id {version_id} --mfa "SERIAL CODE"'
    log = mnt.log_text()
    assert "MFA delete is enabled on bucket vers" in log and hint in log

    # Everything else works as before: writes, and deletes that add a marker.
    path.write_text("three\n")
    path.unlink()
    assert not path.exists()
    assert len(os.listdir(vdir)) == 4

    # The same version goes with a valid code (the next step: the first is spent).
    store = Store.open(mnt.store)
    try:
        with_code = dataclasses.replace(OWNER, mfa=f"{serial} {_code(secret, step + 1)}")
        store.delete_object(with_code, "vers", "doc.txt", version_id=version_id)
    finally:
        store.close()
    assert first not in os.listdir(vdir) and len(os.listdir(vdir)) == 3


def test_versions_unlink_works_without_mfa_delete(mnt: Mount) -> None:
    path = mnt.path / "f"
    path.write_text("a")
    path.write_text("b")
    vdir = mnt.path / ".versions" / "f"
    first, _ = sorted(os.listdir(vdir))
    os.unlink(vdir / first)
    assert len(os.listdir(vdir)) == 1
