"""Object Lock through the mount: a locked version cannot be deleted by unlink(2).

In a bucket whose default retention locks every new version, ``rm`` of a
file in ``.versions/`` fails with EPERM and the daemon logs why (one INFO
line); ``rm`` of the live file still works (a delete marker, as S3), and
the version goes once its lock is lifted.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from objfs.store import OWNER, ObjectLockConfig, Store

from .support import Mount

pytestmark = pytest.mark.fuse


def test_locked_version_unlink_is_eperm(fs_store: Path, mounter: Callable[..., Mount]) -> None:
    with Store.open(fs_store) as store:
        store.put_object_lock_configuration(OWNER, "vers", ObjectLockConfig("GOVERNANCE", 1))
    mnt = mounter()
    path = mnt.path / "ledger.txt"
    path.write_text("entry 1\n")

    vdir = mnt.path / ".versions" / "ledger.txt"
    (only,) = os.listdir(vdir)
    # The lock is readable as xattrs, on the file and on its version file; not settable.
    for where in (path, vdir / only):
        assert os.getxattr(where, "user.s3.lock_mode") == b"GOVERNANCE"
        assert os.getxattr(where, "user.s3.lock_until").endswith(b"Z")
    with pytest.raises(OSError) as err:
        os.setxattr(path, "user.s3.lock_mode", b"COMPLIANCE")
    assert err.value.errno == errno.EPERM
    # Its S3 metadata is locked with its data; its tags are not (as S3).
    with pytest.raises(OSError) as err:
        os.setxattr(path, "user.owner", b"someone")
    assert err.value.errno == errno.EPERM
    os.setxattr(path, "user.s3.tag.audit", b"2026")
    assert os.getxattr(path, "user.s3.tag.audit") == b"2026"
    with pytest.raises(OSError) as err:
        os.unlink(vdir / only)
    assert err.value.errno == errno.EPERM
    assert os.listdir(vdir) == [only]
    log = mnt.log_text()
    assert "unlink refused" in log and "GOVERNANCE retention" in log

    # rm of the live file: a delete marker on top, the locked version stays.
    path.unlink()
    assert not path.exists()
    assert len(os.listdir(vdir)) == 2

    # Lifted (the owner, with the bypass): now the version can go.
    version_id = only.split("_", 1)[1]
    with Store.open(fs_store) as store:
        store.put_object_retention(
            OWNER, "vers", "ledger.txt", None, None, version_id=version_id, bypass_governance=True
        )
    os.unlink(vdir / only)
    assert len(os.listdir(vdir)) == 1
