"""Mount lifecycle: background mount with readiness, errors, umount, signals,
sd_notify, mount.objfs, read-only and prefix mounts."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from objfs.fs.daemon import mount_command, umount_command
from objfs.store import OWNER, Store

from .support import Mount

pytestmark = pytest.mark.fuse


@pytest.fixture
def mountpoint(fuse_ok: None, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "bg"
    path.mkdir()
    yield path
    if os.path.ismount(path):
        subprocess.run(["fusermount3", "-u", str(path)], capture_output=True)
    if os.path.ismount(path):
        subprocess.run(["fusermount3", "-uz", str(path)], capture_output=True)


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_background_mount_is_ready_on_return(
    fs_store: Path, mountpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "bg.log"
    assert mount_command(str(fs_store), "vers", str(mountpoint), f"log={log}", False) == 0
    assert os.path.ismount(mountpoint)  # no waiting: ready when the command returned
    (mountpoint / "f").write_text("x")
    assert umount_command(str(mountpoint)) == 0
    assert not os.path.ismount(mountpoint)
    assert umount_command(str(mountpoint)) == 1
    assert "is not mounted" in _one_line(capsys.readouterr().err)
    store = Store.open(fs_store)
    try:
        with store.get_object(OWNER, "vers", "f") as reader:
            assert reader.read() == b"x"
    finally:
        store.close()
    assert "ERROR" not in log.read_text() and "Traceback" not in log.read_text()


def test_sd_notify_ready(
    fs_store: Path, mountpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(sock_path))
        sock.settimeout(10)
        monkeypatch.setenv("NOTIFY_SOCKET", str(sock_path))
        assert mount_command(str(fs_store), "vers", str(mountpoint), "", False) == 0
        assert sock.recv(100) == b"READY=1"
    assert umount_command(str(mountpoint)) == 0


@pytest.mark.parametrize("background", [False, True])
def test_mount_errors_are_one_line(
    fs_store: Path,
    mountpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    background: bool,
) -> None:
    fg = not background

    def fails(store: str, bucket: str, mnt: Path, opts: str = "", status: int = 1) -> str:
        assert mount_command(store, bucket, str(mnt), opts, fg) == status
        assert not os.path.ismount(mountpoint)
        return _one_line(capsys.readouterr().err)

    assert "cannot open store" in fails(str(tmp_path / "nostore"), "vers", mountpoint)
    assert "no such bucket: nope" in fails(str(fs_store), "nope", mountpoint)
    assert "does not exist" in fails(str(fs_store), "vers", tmp_path / "missing")
    (tmp_path / "file").write_text("")
    assert "not a directory" in fails(str(fs_store), "vers", tmp_path / "file")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert "not empty" in fails(str(fs_store), "vers", tmp_path / "full")
    assert "unknown mount option: colour" in fails(str(fs_store), "vers", mountpoint, "colour", 2)
    missing_key = f"cse_key_file={tmp_path / 'no.key'}"
    assert "cannot read key file" in fails(str(fs_store), "vers", mountpoint, missing_key)


def test_already_mounted(mnt: Mount, capsys: pytest.CaptureFixture[str]) -> None:
    assert mount_command(str(mnt.store), "vers", str(mnt.path), "", False) == 1
    assert "already mounted" in _one_line(capsys.readouterr().err)


def test_sigterm_commits_and_unmounts_even_when_busy(mnt: Mount) -> None:
    (mnt.path / "done").write_bytes(b"closed before the signal")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time; f=open(sys.argv[1]); time.sleep(60)",
            str(mnt.path / "done"),
        ],
    )
    try:
        assert mnt.proc is not None
        mnt.proc.send_signal(signal.SIGTERM)
        assert mnt.proc.wait(timeout=30) == 0
        assert not os.path.ismount(mnt.path)
    finally:
        holder.kill()
        holder.wait()
    store = Store.open(mnt.store)
    try:
        with store.get_object(OWNER, "vers", "done") as reader:
            assert reader.read() == b"closed before the signal"
    finally:
        store.close()


def test_read_only_mount(fs_store: Path, mounter: Callable[..., Mount]) -> None:
    store = Store.open(fs_store)
    try:
        store.put_object(OWNER, "plain", "a/b.txt", b"data")
    finally:
        store.close()
    m = mounter(bucket="plain", options="ro")
    assert (m.path / "a" / "b.txt").read_bytes() == b"data"
    for action in (
        lambda: (m.path / "new").write_text("x"),
        lambda: (m.path / "a" / "b.txt").write_text("x"),
        lambda: os.mkdir(m.path / "d"),
        lambda: os.unlink(m.path / "a" / "b.txt"),
    ):
        with pytest.raises(OSError) as err:
            action()
        assert err.value.errno == errno.EROFS


def test_mount_helper_with_prefix(fs_store: Path, mountpoint: Path) -> None:
    store = Store.open(fs_store)
    try:
        store.put_object(OWNER, "plain", "sub/dir/f", b"inside")
        store.put_object(OWNER, "plain", "outside", b"not shown")
    finally:
        store.close()
    helper = [sys.executable, "-m", "objfs.cli.mount_helper"]
    opts = f"store={fs_store},defaults,_netdev,x-systemd.requires=foo"
    fake = subprocess.run(helper + ["plain/sub", str(mountpoint), "-f", "-o", opts])
    assert fake.returncode == 0 and not os.path.ismount(mountpoint)
    bad = subprocess.run(helper + ["plain", str(mountpoint), "-o", "weird"], capture_output=True)
    assert bad.returncode == 2 and b"unknown mount option: weird" in bad.stderr
    result = subprocess.run(
        helper + ["plain/sub", str(mountpoint), "-s", "-o", opts + ",weird"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert os.listdir(mountpoint) == ["dir"]
    (mountpoint / "dir" / "g").write_text("new")
    assert umount_command(str(mountpoint)) == 0
    store = Store.open(fs_store)
    try:
        assert store.head_object(OWNER, "plain", "sub/dir/g").size == 3
    finally:
        store.close()


def test_a_reply_the_kernel_no_longer_waits_for_is_not_an_error(tmp_path: Path) -> None:
    """pyfuse3 logs an ERROR when a reply finds its request gone (ENOENT: the
    caller was interrupted, or an unmount aborted the connection mid-request,
    e.g. the asynchronous RELEASE of a file closed right before it); the
    daemon's log says it at INFO. Any other failed reply stays an ERROR."""
    import logging

    from objfs.fs.lifecycle import setup_logging
    from objfs.fs.options import MountOptions

    log_file = tmp_path / "daemon.log"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(MountOptions(log_file=str(log_file)), to_stderr=False)
        pyfuse3_log = logging.getLogger("pyfuse3")
        pyfuse3_log.error("fuse_release(): fuse_reply_* failed with %s", os.strerror(errno.ENOENT))
        pyfuse3_log.error("fuse_read(): fuse_reply_* failed with %s", os.strerror(errno.EINVAL))
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], level = saved
        root.setLevel(level)
    lines = log_file.read_text().splitlines()
    assert len(lines) == 2
    assert " INFO pyfuse3: fuse_release()" in lines[0]
    assert "no longer waited" in lines[0]
    assert " ERROR pyfuse3: fuse_read()" in lines[1]
