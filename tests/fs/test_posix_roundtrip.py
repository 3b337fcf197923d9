"""Backup tools round-trip a tree of every file type through the mount:
``rsync -aHAX --devices --specials`` and ``tar --xattrs``, in and back out,
compared with ``diff -r`` and with ``stat`` of every entry.
"""

from __future__ import annotations

import os
import re
import socket
import stat
from pathlib import Path

from .support import Mount, run

MTIME_NS = 1_234_567_890_123_456_789
SPECIAL_LINE = re.compile(
    r"^File (.+) is a (fifo|socket|character special file|block special file)"
    r" while file (.+) is a \2$"
)


def make_tree(root: Path) -> None:
    """Every file type, odd modes, owners, an xattr, nanosecond times."""
    root.mkdir()
    (root / "f").write_bytes(b"regular\n" * 1000)
    os.chmod(root / "f", 0o640)
    os.setxattr(root / "f", "user.note", b"hello")
    (root / "d").mkdir()
    (root / "d" / "g").write_bytes(b"")
    os.chmod(root / "d", 0o2750)
    os.chown(root / "d" / "g", 1234, 5678)
    (root / "sticky").mkdir()
    os.chmod(root / "sticky", 0o1777)
    os.symlink("f", root / "l")
    os.symlink("no/such/target", root / "dangling")
    os.mkfifo(root / "p", 0o600)
    os.mknod(root / "c", 0o620 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(root / "b", 0o660 | stat.S_IFBLK, os.makedev(7, 42))
    os.chown(root / "b", 0, 6)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "s"))
    sock.close()
    os.chmod(root / "s", 0o755)
    for i, path in enumerate(sorted(root.rglob("*"), reverse=True)):
        os.utime(path, ns=(MTIME_NS + i, MTIME_NS - i), follow_symlinks=False)
    os.utime(root, ns=(MTIME_NS, MTIME_NS))


def snapshot(
    root: Path, skip: frozenset[str] = frozenset(), mounted: bool = False
) -> dict[str, tuple[object, ...]]:
    """``stat`` of every entry (type, mode, owner, size, device, mtime) and xattrs
    (in the mount, without its read-only ``user.s3.*`` facts)."""
    out: dict[str, tuple[object, ...]] = {}
    for path in [root, *sorted(root.rglob("*"))]:
        rel = str(path.relative_to(root))
        if rel in skip:
            continue
        st = os.lstat(path)
        xattrs: tuple[tuple[str, bytes], ...] = ()
        if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
            names = sorted(
                n
                for n in os.listxattr(path)
                if n.startswith("user.") and not (mounted and n.startswith("user.s3."))
            )
            xattrs = tuple((n, os.getxattr(path, n)) for n in names)
        size = st.st_size if not stat.S_ISDIR(st.st_mode) else None
        mtime = st.st_mtime_ns if rel != "." else None  # the top is the copy's own
        out[rel] = (st.st_mode, st.st_uid, st.st_gid, size, st.st_rdev, mtime, xattrs)
    return out


def diff_r(a: Path, b: Path) -> list[str]:
    """``diff -r`` output, minus its notes on special files of the same type."""
    result = run(["diff", "-r", str(a), str(b)], check=False)
    return [line for line in result.splitlines() if not SPECIAL_LINE.match(line)]


def test_rsync_round_trip_keeps_every_type(mnt: Mount, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    into = mnt.path / "rsync"
    back = tmp_path / "back"
    # The mount's read-only S3 facts (user.s3.etag, ...) are no file's own
    # xattrs: rsync is told to leave them alone, as mount.objfs(8) says.
    opts = ["rsync", "-aHAX", "--devices", "--specials", "--filter=-x user.s3.*"]
    run([*opts, f"{src}/", f"{into}/"])
    run([*opts, f"{into}/", f"{back}/"])
    expected = snapshot(src)
    assert snapshot(into, mounted=True) == expected
    assert snapshot(back) == expected
    assert diff_r(src, into) == []
    assert diff_r(src, back) == []
    # a second rsync finds nothing to do: sizes and times all match
    out = run([*opts, "--itemize-changes", f"{src}/", f"{into}/"])
    assert [line for line in out.splitlines() if not line.startswith(".d")] == []
    # and the same after a remount: what rsync set is what the store kept
    mnt.stop()
    mnt.start()
    assert snapshot(into, mounted=True) == expected


def test_tar_round_trip_keeps_every_type(mnt: Mount, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    into = mnt.path / "tar"
    back = tmp_path / "back"
    into.mkdir()
    back.mkdir()
    tar = ["tar", "--xattrs", "--xattrs-include=user.*", "--xattrs-exclude=user.s3.*"]
    tar += ["--format=posix", "--numeric-owner"]
    archive = tmp_path / "a.tar"
    run([*tar, "-cf", str(archive), "-C", str(src), "."])  # tar leaves sockets out
    run([*tar, "-xpf", str(archive), "-C", str(into)])
    archive2 = tmp_path / "b.tar"
    run([*tar, "-cf", str(archive2), "-C", str(into), "."])
    run([*tar, "-xpf", str(archive2), "-C", str(back)])
    expected = snapshot(src, skip=frozenset({"s"}))
    assert snapshot(into, mounted=True) == expected
    assert snapshot(back) == expected
    assert [line for line in diff_r(src, back) if not line.startswith(f"Only in {src}: s")] == []


def test_rsync_out_of_the_mount_keeps_symlinks_fifos_and_devices(
    mnt: Mount, tmp_path: Path
) -> None:
    """Issue 19 item 5: every xattr name listed on an entry can be read from it.

    Linux answers ENODATA to reading any ``user.`` xattr of a symlink, FIFO,
    socket or device, whatever the file system says; listing the S3 facts on
    them made ``rsync -X`` fail on every such entry and leave it out.
    """
    src = tmp_path / "src"
    make_tree(src)
    into = mnt.path / "tree"
    opts = ["rsync", "-aHAX", "--devices", "--specials"]
    run([*opts, "--filter=-x user.s3.*", f"{src}/", f"{into}/"])
    for path in [into, *into.rglob("*")]:
        for name in os.listxattr(path, follow_symlinks=False):
            os.getxattr(path, name, follow_symlinks=False)  # no ENODATA
    expected = snapshot(src)
    # Out of the mount as the man page says, and as plain `rsync -aHAX`
    # (which then copies the facts of regular files as ordinary xattrs).
    for name, extra in (("filtered", ["--filter=-x user.s3.*"]), ("plain", [])):
        back = tmp_path / name
        run([*opts, *extra, f"{into}/", f"{back}/"])
        assert snapshot(back, mounted=True) == expected, name
        assert diff_r(src, back) == [], name
