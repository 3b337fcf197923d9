"""``.versions/``: every version reachable, oldest first, restorable with cp."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from objfs.store import OWNER, Store

from .support import Mount, run

pytestmark = pytest.mark.fuse


def test_versions_in_order_delete_marker_and_restore(mnt: Mount) -> None:
    path = mnt.path / "doc.txt"
    for i in range(4):  # create + 3 overwrites
        path.write_text(f"version {i}\n")
    vdir = mnt.path / ".versions" / "doc.txt"
    names = sorted(os.listdir(vdir))
    assert len(names) == 4
    assert [(vdir / n).read_text() for n in names] == [f"version {i}\n" for i in range(4)]
    assert run(["ls", str(vdir)]).split() == names  # ls sorts oldest -> newest
    store = Store.open(mnt.store)
    try:
        ids = [v.version_id for v in reversed(store.key_versions(OWNER, "vers", "doc.txt"))]
    finally:
        store.close()
    assert [n.split("_", 1)[1] for n in names] == ids

    path.unlink()
    assert not path.exists()
    names = sorted(os.listdir(vdir))
    assert len(names) == 5 and names[-1].endswith(".deleted")
    assert (vdir / names[-1]).stat().st_size == 0
    assert ".versions" not in os.listdir(mnt.path)  # hidden unless show_versions
    assert "doc.txt" in os.listdir(mnt.path / ".versions")  # deleted keys mirrored

    shutil.copyfile(vdir / names[1], path)  # restore version 1
    assert path.read_text() == "version 1\n"


def test_version_files_are_read_only_and_deletable(mnt: Mount) -> None:
    path = mnt.path / "d" / "f"
    path.parent.mkdir()
    path.write_text("one")
    path.write_text("two")
    vdir = mnt.path / ".versions" / "d" / "f"
    first, second = sorted(os.listdir(vdir))
    with pytest.raises(OSError) as err:
        (vdir / first).write_text("x")
    assert err.value.errno in (errno.EROFS, errno.EACCES)
    with pytest.raises(OSError) as err:
        os.rename(vdir / first, vdir / "other")
    assert err.value.errno == errno.EROFS
    assert os.getxattr(vdir / first, "user.s3.version_id").decode() == first.split("_", 1)[1]
    os.unlink(vdir / second)  # permanent delete of the latest: "one" is current again
    assert sorted(os.listdir(vdir)) == [first]
    assert path.read_text() == "one"


def test_show_versions_option(mounter: Callable[..., Mount]) -> None:
    m = mounter(options="show_versions")
    (m.path / "x").write_text("1")
    assert sorted(os.listdir(m.path)) == [".versions", "x"]


def _versions(mnt: Mount, key: str) -> list[bytes]:
    store = Store.open(mnt.store)
    try:
        out = []
        for v in reversed(store.key_versions(OWNER, "vers", key)):
            with store.get_object(OWNER, "vers", key, version_id=v.version_id) as r:
                out.append(r.read())
        return out
    finally:
        store.close()


def test_a_close_by_a_child_between_open_trunc_and_write_makes_no_empty_version(
    mnt: Mount,
) -> None:
    """Every fork + exec closes the descriptors a child inherited, and each close
    is a flush of the open file: one landing between open(O_TRUNC) and the first
    write must not commit the emptied file as a version of its own."""
    path = mnt.path / "f"
    path.write_bytes(b"old")
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        subprocess.run([sys.executable, "-c", "pass"], pass_fds=(fd,), check=True)
        os.write(fd, b"new")
    finally:
        os.close(fd)
    assert path.read_bytes() == b"new"
    assert _versions(mnt, "f") == [b"old", b"new"]
    # Truncated and closed with no write: still an (empty) version, at release.
    os.close(os.open(path, os.O_WRONLY | os.O_TRUNC))
    assert path.read_bytes() == b""
    deadline = time.monotonic() + 10
    while len(_versions(mnt, "f")) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _versions(mnt, "f") == [b"old", b"new", b""]
