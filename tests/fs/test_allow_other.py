"""``allow_other``: a second user reads, writes and is refused by mode bits.

The mount runs as root; the other user is uid/gid 4242 in a child process.
The forked child gets a descriptor of the mountpoint opened by root (pytest's
temporary directories are private to root) and works relative to it, so
only the mount's own checks decide: the kernel's ``allow_other`` gate and
``default_permissions`` over the modes and owners the mount reports.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable

import pytest
from needs_root import require_root

from .support import Mount

pytestmark = pytest.mark.fuse

OTHER = 4242


def _checks(root: int) -> dict[str, list[object]]:
    """What uid OTHER can do in the mount whose root directory is fd ``root``."""
    out: dict[str, list[object]] = {"uid": [os.getuid()]}

    def attempt(name: str, fn: Callable[[], object]) -> None:
        try:
            out[name] = ["ok", fn()]
        except OSError as exc:
            out[name] = [errno.errorcode.get(exc.errno or 0, str(exc.errno)), None]

    def read(path: str) -> str:
        fd = os.open(path, os.O_RDONLY, dir_fd=root)
        try:
            return os.read(fd, 100).decode()
        finally:
            os.close(fd)

    def write(path: str, data: str, flags: int = os.O_WRONLY | os.O_TRUNC) -> str:
        fd = os.open(path, flags, 0o644, dir_fd=root)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)
        return read(path)

    attempt("list", lambda: sorted(os.listdir(root)))
    attempt("read_public", lambda: read("public.txt"))
    attempt("read_secret", lambda: read("secret.txt"))
    attempt("write_readonly", lambda: write("public.txt", "overwritten"))
    attempt("write_shared_file", lambda: write("open.txt", "written by 4242"))
    attempt("create_in_shared", lambda: write("shared/mine.txt", "mine", os.O_WRONLY | os.O_CREAT))
    attempt("owner_of_mine", lambda: os.stat("shared/mine.txt", dir_fd=root).st_uid)
    attempt("create_in_root_dir", lambda: write("intruder.txt", "x", os.O_WRONLY | os.O_CREAT))
    attempt("chmod_not_mine", lambda: os.chmod("public.txt", 0o666, dir_fd=root))
    return out


def as_other_user(mountpoint: os.PathLike[str]) -> dict[str, list[object]]:
    """Run ``_checks`` in a forked child that has become uid/gid OTHER."""
    root = os.open(mountpoint, os.O_RDONLY | os.O_DIRECTORY)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        status = 1
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(OTHER)
            os.setuid(OTHER)
            os.write(write_fd, json.dumps(_checks(root)).encode())
            status = 0
        except BaseException as exc:  # noqa: BLE001 - reported through the pipe
            os.write(write_fd, json.dumps({"error": [repr(exc)]}).encode())
        finally:
            os._exit(status)
    os.close(write_fd)
    os.close(root)
    with os.fdopen(read_fd, "rb") as f:
        text = f.read().decode()
    _, status = os.waitpid(pid, 0)
    got = json.loads(text)
    assert status == 0 and "error" not in got, got
    return got


def _populate(path: os.PathLike[str]) -> None:
    from pathlib import Path

    root = Path(path)
    (root / "public.txt").write_text("for everyone")
    os.chmod(root / "public.txt", 0o644)
    (root / "secret.txt").write_text("root only")
    os.chmod(root / "secret.txt", 0o600)
    (root / "open.txt").write_text("anyone may write")
    os.chmod(root / "open.txt", 0o666)
    (root / "shared").mkdir()
    os.chmod(root / "shared", 0o777)
    os.chmod(root, 0o755)


def test_second_user_on_an_allow_other_mount(mounter: Callable[..., Mount]) -> None:
    require_root("a second uid needs root to switch to")
    m = mounter(options="allow_other")
    _populate(m.path)
    got = as_other_user(m.path)
    assert got["uid"] == [OTHER]
    assert got["list"] == ["ok", ["open.txt", "public.txt", "secret.txt", "shared"]]
    assert got["read_public"] == ["ok", "for everyone"]
    assert got["read_secret"][0] == "EACCES"
    assert got["write_readonly"][0] == "EACCES"
    assert got["write_shared_file"] == ["ok", "written by 4242"]
    assert got["create_in_shared"] == ["ok", "mine"]
    assert got["owner_of_mine"] == ["ok", OTHER]
    assert got["create_in_root_dir"][0] == "EACCES"
    assert got["chmod_not_mine"][0] == "EPERM"
    # What the other user did is what the owner sees; what it was refused is untouched.
    assert (m.path / "open.txt").read_text() == "written by 4242"
    assert (m.path / "shared" / "mine.txt").stat().st_uid == OTHER
    assert (m.path / "public.txt").read_text() == "for everyone"
    assert not (m.path / "intruder.txt").exists()
    assert (os.stat(m.path / "public.txt").st_mode & 0o777) == 0o644


def test_without_allow_other_the_second_user_is_shut_out(mounter: Callable[..., Mount]) -> None:
    require_root("a second uid needs root to switch to")
    m = mounter()
    _populate(m.path)
    got = as_other_user(m.path)
    assert got["list"][0] == "EACCES"
    assert got["read_public"][0] == "EACCES"
    assert got["write_shared_file"][0] == "EACCES"
