"""The mount as other users see it: an ``allow_other`` mount used by root and by
second and third uids (``setpriv``, numeric ids: no passwd entries needed).

The other uids run with their working directory inside the mount and use
relative paths only: pytest's temporary directories are 0700, so the
mountpoint itself is reachable only by root.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .support import Mount

ALICE = 2001
BOB = 2002
CAROL = 2003
TEAM = 3000
# An interpreter other uids may run (a pyenv shim under /root is not one).
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


def as_user(uid: int, script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``sh -c script`` as ``uid`` (gid = uid, no supplementary groups) in ``cwd``."""
    return subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "sh", "-ec", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ok(uid: int, script: str, cwd: Path) -> str:
    result = as_user(uid, script, cwd)
    assert result.returncode == 0, f"uid {uid}: {script!r}: {result.stderr}"
    return result.stdout


def refused(uid: int, script: str, cwd: Path) -> str:
    result = as_user(uid, script, cwd)
    assert result.returncode != 0, f"uid {uid} could: {script!r}"
    return result.stderr


@pytest.fixture
def shared(mounter) -> Mount:  # type: ignore[no-untyped-def]
    return mounter(options="allow_other")


def test_sticky_directory_restricts_removal_and_rename(shared: Mount) -> None:
    tmp = shared.path / "tmp"
    tmp.mkdir()
    os.chmod(tmp, 0o1777)
    assert stat.S_IMODE(os.stat(tmp).st_mode) == 0o1777
    ok(ALICE, "echo a > a; mkdir da; mkfifo pa", tmp)
    ok(BOB, "echo b > b", tmp)
    assert os.stat(tmp / "a").st_uid == ALICE and os.stat(tmp / "b").st_uid == BOB
    # another user may not remove or rename what is not theirs
    assert "not permitted" in refused(BOB, "rm -f a", tmp)
    refused(BOB, "mv a mine", tmp)
    refused(BOB, "rmdir da", tmp)
    refused(BOB, "rm -f pa", tmp)
    refused(BOB, "mv b a", tmp)  # replacing ALICE's file is removing it
    assert sorted(os.listdir(tmp)) == ["a", "b", "da", "pa"]
    # the owner of the file may
    ok(ALICE, "mv a a2; rm a2; rm pa", tmp)
    # the owner of the directory may
    os.chown(tmp, CAROL, CAROL)
    ok(CAROL, "rm -f b", tmp)
    # root may
    (tmp / "da").rmdir()
    assert os.listdir(tmp) == []
    # without the sticky bit anyone with write permission may
    os.chmod(tmp, 0o777)
    ok(ALICE, "echo a > a", tmp)
    ok(BOB, "rm -f a", tmp)


def test_setgid_directory_passes_its_group_on(shared: Mount) -> None:
    team = shared.path / "team"
    team.mkdir()
    os.chown(team, 0, TEAM)
    os.chmod(team, 0o2777)
    ok(ALICE, "echo x > f; mkdir sub; mkfifo p; ln -s f l", team)
    for name in ("f", "sub", "p", "l"):
        assert os.lstat(team / name).st_gid == TEAM, name
        assert os.lstat(team / name).st_uid == ALICE, name
    assert os.stat(team / "sub").st_mode & stat.S_ISGID  # directories inherit the bit
    assert not os.stat(team / "f").st_mode & stat.S_ISGID
    os.chmod(team / "sub", 0o2777)
    ok(BOB, "echo y > sub/g", team)  # and it carries on down
    assert os.stat(team / "sub" / "g").st_gid == TEAM
    # outside a setgid directory a new entry takes the creator's group
    plain = shared.path / "plain"
    plain.mkdir(mode=0o777)
    os.chmod(plain, 0o777)
    ok(ALICE, "echo x > f", plain)
    assert os.stat(plain / "f").st_gid == ALICE


def test_special_files_and_times_as_another_user(shared: Mount) -> None:
    home = shared.path / "home"
    home.mkdir()
    os.chown(home, ALICE, ALICE)
    ok(ALICE, "mkfifo p; chmod 600 p; mv p q", home)
    st = os.lstat(home / "q")
    assert stat.S_ISFIFO(st.st_mode) and st.st_uid == ALICE and stat.S_IMODE(st.st_mode) == 0o600
    # devices need CAP_MKNOD: the kernel refuses before the mount is asked
    assert "not permitted" in refused(ALICE, "mknod c c 1 3", home)
    # a Unix socket bound by one user, connected to by another
    script = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "s.bind('sock'); s.listen(1)\n"
        "print('ready', flush=True)\n"
        "c, _ = s.accept(); c.sendall(b'hi from alice'); c.close()\n"
    )
    server = subprocess.Popen(
        ["setpriv", f"--reuid={ALICE}", f"--regid={ALICE}", "--clear-groups"]
        + [PYTHON, "-c", script],
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stderr is not None
        assert server.stdout.readline() == "ready\n", server.stderr.read()
        os.chmod(home, 0o755)
        os.chmod(home / "sock", 0o777)
        got = ok(
            BOB,
            f'{PYTHON} -c "import socket; s = socket.socket(socket.AF_UNIX); '
            "s.connect('sock'); print(s.recv(100).decode())\"",
            home,
        )
        assert got.strip() == "hi from alice"
    finally:
        server.wait(timeout=10)
    assert os.lstat(home / "sock").st_uid == ALICE
    # chmod/chown of another user's special file is refused, utimes too
    refused(BOB, "chmod 666 q", home)
    refused(BOB, "touch -d @5 q", home)
    os.chmod(home, 0o777)
    ok(ALICE, "echo data > shared; chmod 666 shared", home)
    ok(BOB, "touch shared", home)  # UTIME_NOW is allowed to a writer
    refused(BOB, "touch -d @5 shared", home)  # an explicit time is the owner's
    ok(ALICE, "touch -d @5 shared", home)
    assert os.stat(home / "shared").st_mtime_ns == 5_000_000_000
    # rm of another user's file in a writable directory (no sticky bit): allowed
    ok(BOB, "rm -f q", home)
