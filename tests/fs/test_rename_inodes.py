"""A rename through the mount keeps every inode number (issue 19 item 14).

The mount's own rename used to reach its change poller as an outside
change ~0.3 s later: every node under a renamed directory got a new inode,
so a process inside it failed getcwd() with ENOENT and open descriptors no
longer matched their names.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .support import Mount

pytestmark = pytest.mark.fuse

CWD_PROBE = """
import os, sys, time
os.chdir(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
print(os.getcwd(), flush=True)
print(sorted(os.listdir(".")), flush=True)
"""


def inodes(root: Path) -> dict[str, int]:
    found = {".": root.stat().st_ino}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            found[str(full.relative_to(root))] = full.stat().st_ino
    return found


@pytest.mark.parametrize("bucket", ["plain", "vers"])
def test_a_renamed_directory_keeps_its_inodes_and_its_users(
    mounter: Callable[..., Mount], bucket: str
) -> None:
    m = mounter(bucket=bucket)
    d = m.path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "a").write_bytes(b"a")
    (d / "sub" / "b").write_bytes(b"b")
    (d / "sub" / "c").symlink_to("b")
    before = inodes(d)
    fd = os.open(d / "a", os.O_RDONLY)
    probe = subprocess.Popen(
        [sys.executable, "-c", CWD_PROBE, str(d / "sub")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert probe.stdout is not None and probe.stdout.readline() == "ready\n"
        os.rename(d, m.path / "e")
        time.sleep(1.0)  # several rounds of the change poller
        after = inodes(m.path / "e")
        assert after == before
        assert os.fstat(fd).st_ino == (m.path / "e" / "a").stat().st_ino
        assert os.pread(fd, 1, 0) == b"a"
        out, _ = probe.communicate("go\n", timeout=30)
        assert out.splitlines() == [str(m.path / "e" / "sub"), "['b', 'c']"]
    finally:
        os.close(fd)
        probe.kill()
    # A file rename keeps the file's inode too.
    ino = (m.path / "e" / "a").stat().st_ino
    os.rename(m.path / "e" / "a", m.path / "e" / "moved")
    time.sleep(1.0)
    assert (m.path / "e" / "moved").stat().st_ino == ino
