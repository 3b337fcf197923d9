"""Object tags on a real mount: ``user.s3.tag.KEY`` xattrs (see objfs/fs/xattrs.py).

Setting or removing a tag changes the file's current version in place (no
new version in ``.versions/``), S3 sees the tags, an edit of the file and a
rename keep them, and S3's refusals are EINVAL / ENOSPC.
"""

from __future__ import annotations

import errno
import os
import time

import pytest

from objfs.store import OWNER, Store

from .support import Mount

pytestmark = pytest.mark.fuse


def _tags(mnt: Mount, key: str) -> tuple[dict[str, str], int]:
    """(the key's latest tags, how many versions it has) as S3 sees them."""
    store = Store.open(mnt.store)
    try:
        versions = store.key_versions(OWNER, "vers", key)
        return store.get_object_tagging(OWNER, "vers", key).tags, len(versions)
    finally:
        store.close()


def test_tags_as_xattrs(mnt: Mount) -> None:
    path = mnt.path / "report.txt"
    path.write_text("draft")
    os.setxattr(path, "user.s3.tag.project", b"alpha")
    os.setxattr(path, "user.s3.tag.review", b"")
    assert os.getxattr(path, "user.s3.tag.project") == b"alpha"
    names = os.listxattr(path)
    assert "user.s3.tag.project" in names and "user.s3.tag.review" in names
    assert _tags(mnt, "report.txt") == ({"project": "alpha", "review": ""}, 1)
    assert len(os.listdir(mnt.path / ".versions" / "report.txt")) == 1  # in place
    assert path.read_text() == "draft"

    os.removexattr(path, "user.s3.tag.review")
    with pytest.raises(OSError) as err:
        os.getxattr(path, "user.s3.tag.review")
    assert err.value.errno == errno.ENODATA
    with pytest.raises(OSError) as err:
        os.removexattr(path, "user.s3.tag.review")
    assert err.value.errno == errno.ENODATA

    with open(path, "a") as f:  # an edit is a new version: it keeps the file's tags
        f.write(" v2")
    assert _tags(mnt, "report.txt") == ({"project": "alpha"}, 2)
    os.rename(path, mnt.path / "final.txt")  # so does a rename
    assert os.getxattr(mnt.path / "final.txt", "user.s3.tag.project") == b"alpha"
    old = sorted(os.listdir(mnt.path / ".versions" / "report.txt"))[0]
    assert os.getxattr(mnt.path / ".versions" / "report.txt" / old, "user.s3.tag.project") == (
        b"alpha"
    )


def test_s3s_refusals(mnt: Mount) -> None:
    path = mnt.path / "f"
    path.write_text("x")
    for name, value in (
        ("user.s3.tag.aws:reserved", b"v"),
        ("user.s3.tag." + "k" * 129, b"v"),
        ("user.s3.tag.k", b"v" * 257),
        ("user.s3.tag.semi;colon", b"v"),
    ):
        with pytest.raises(OSError) as err:
            os.setxattr(path, name, value)
        assert err.value.errno == errno.EINVAL, name
    for i in range(10):
        os.setxattr(path, f"user.s3.tag.t{i}", b"v")
    with pytest.raises(OSError) as err:
        os.setxattr(path, "user.s3.tag.eleventh", b"v")
    assert err.value.errno == errno.ENOSPC
    assert _tags(mnt, "f")[0] == {f"t{i}": "v" for i in range(10)}
    os.setxattr(path, "user.s3.tag.t0", b"changed")  # replacing one of ten is fine
    assert os.getxattr(path, "user.s3.tag.t0") == b"changed"


def test_tags_set_through_s3_show_in_the_mount(mnt: Mount) -> None:
    path = mnt.path / "shared.txt"
    path.write_text("x")
    store = Store.open(mnt.store)
    try:
        store.put_object_tagging(OWNER, "vers", "shared.txt", {"from": "s3"})
    finally:
        store.close()
    deadline = time.monotonic() + 10
    while "user.s3.tag.from" not in os.listxattr(path):
        assert time.monotonic() < deadline, "the mount never saw the tag"
        time.sleep(0.05)
    assert os.getxattr(path, "user.s3.tag.from") == b"s3"
