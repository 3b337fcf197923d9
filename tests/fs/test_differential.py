"""Randomized differential test: the same seeded operations on the mount and on
a local directory must leave the same files, step by step and after a remount.

Operations: open/close of long-lived read-write handles, pwrite at any offset
(holes, chunk boundaries), append, truncate up and down, pread, rename (also
over an existing file and with handles open), unlink, mkdir, whole-file
rewrite; special files (FIFOs, character and block devices) made, renamed,
removed; chmod; utimensat with nanosecond, pre-1970 and post-2038 times.
After every step the entries the step touched are compared (content or
type, mode and device); the whole tree is compared every 100 steps, at the
end and after unmount + remount, with the mtime of every entry whose times
were last set explicitly.
"""

from __future__ import annotations

import os
import random
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from .support import Mount

pytestmark = pytest.mark.fuse

CHUNK = 1 << 20
STEPS = int(os.environ.get("OBJFS_DIFF_STEPS", "2000"))


def snapshot(root: Path) -> dict[str, object]:
    """Content of regular files; (type, mode, rdev) of everything else."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    out[os.path.relpath(path, root)] = (stat.S_IMODE(st.st_mode), f.read())
            else:
                out[os.path.relpath(path, root)] = (st.st_mode, st.st_rdev)
    return out


SPECIAL_KINDS = [
    (stat.S_IFIFO, 0),
    (stat.S_IFCHR, os.makedev(1, 3)),
    (stat.S_IFBLK, os.makedev(7, 1)),
]
TIMES_NS = [
    0,
    -1,
    -86_400 * 365 * 10**9 - 123,  # 1969
    1_700_000_000_123_456_789,
    (1 << 32) * 10**9 + 999_999_999,  # 2106
    (1 << 33) * 10**9 + 1,  # 2242: past int64 nanoseconds
]


class Twin:
    """Applies each operation to both trees and compares."""

    def __init__(self, a: Path, b: Path, rng: random.Random) -> None:
        self.roots = (a, b)
        self.rng = rng
        self.fds: dict[str, tuple[int, int]] = {}  # relative path -> (fd in a, fd in b)
        self.files: set[str] = set()
        self.specials: set[str] = set()
        self.timed: dict[str, int] = {}  # entry -> mtime it was last set to
        self.dirs = ["", "d1", "d2"]
        for d in self.dirs[1:]:
            for root in self.roots:
                (root / d).mkdir()

    def both(self, fn: Callable[[Path], object]) -> tuple[object, object]:
        results = []
        for root in self.roots:
            try:
                results.append(fn(root))
            except OSError as err:
                results.append(("error", err.errno))
        assert results[0] == results[1], results
        return results[0], results[1]

    def check(self, rel: str) -> None:
        def content(root: Path) -> bytes | None:
            try:
                return (root / rel).read_bytes()
            except FileNotFoundError:
                return None

        self.both(content)

    def check_meta(self, rel: str) -> None:
        def meta(root: Path) -> object:
            try:
                st = os.lstat(root / rel)
            except FileNotFoundError:
                return None
            return st.st_mode, st.st_rdev, st.st_size

        self.both(meta)

    def check_all(self) -> None:
        a, b = (snapshot(r) for r in self.roots)
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == b[key], key
        for rel, mtime in self.timed.items():
            for root in self.roots:
                assert os.lstat(root / rel).st_mtime_ns == mtime, (root, rel)

    def special_name(self) -> str:
        d = self.rng.choice(self.dirs)
        return os.path.join(d, f"s{self.rng.randrange(10)}") if d else f"s{self.rng.randrange(10)}"

    def meta_step(self, op: str) -> None:
        """A step on special files, modes or times."""
        rng = self.rng
        if op == "special":
            rel = self.special_name()
            kind, rdev = rng.choice(SPECIAL_KINDS)
            mode = kind | rng.choice([0o600, 0o644, 0o666, 0o1777, 0o2750])
            self.both(lambda r: os.mknod(r / rel, mode, rdev))
            self.specials.add(rel)
            self.check_meta(rel)
            return
        targets = sorted(self.files | self.specials)
        if not targets:
            return
        rel = rng.choice(targets)
        if op == "chmod":
            mode = rng.choice([0o400, 0o644, 0o755, 0o4755, 0o2711, 0o1600, 0o000])
            self.both(lambda r: os.chmod(r / rel, mode))
        elif op == "utime":
            atime, mtime = rng.choice(TIMES_NS), rng.choice(TIMES_NS)
            self.both(lambda r: os.utime(r / rel, ns=(atime, mtime)))
            self.timed[rel] = mtime
        elif op == "special-mv":
            if rel not in self.specials:
                return
            dst = self.special_name()
            if dst == rel:
                return
            self.both(lambda r: os.rename(r / rel, r / dst))
            self.specials.discard(rel)
            self.specials.add(dst)
            self.timed.pop(dst, None)
            if rel in self.timed:
                self.timed[dst] = self.timed.pop(rel)
            self.check_meta(dst)
        elif op == "special-rm":
            if rel not in self.specials:
                return
            self.both(lambda r: os.unlink(r / rel))
            self.specials.discard(rel)
            self.timed.pop(rel, None)
        self.check_meta(rel)

    def new_name(self) -> str:
        d = self.rng.choice(self.dirs)
        return os.path.join(d, f"f{self.rng.randrange(40)}") if d else f"f{self.rng.randrange(40)}"

    def data(self) -> bytes:
        size = self.rng.choice([1, 100, 4096, 70_000, 300_000])
        return self.rng.randbytes(size)

    def offset(self) -> int:
        return self.rng.choice(
            [
                0,
                self.rng.randrange(300_000),
                CHUNK - 10,
                CHUNK + self.rng.randrange(5000),
                self.rng.randrange(3 * CHUNK),
            ]
        )

    def close(self, rel: str) -> None:
        fa, fb = self.fds.pop(rel)
        os.close(fa)
        os.close(fb)

    def step(self) -> None:
        rng = self.rng
        op = rng.choices(
            [
                "write",
                "pwrite",
                "append",
                "truncate",
                "read",
                "open",
                "close",
                "rename",
                "unlink",
                "mkdir",
                "special",
                "special-mv",
                "special-rm",
                "chmod",
                "utime",
            ],
            weights=[4, 6, 2, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 2],
        )[0]
        if op in ("special", "special-mv", "special-rm", "chmod", "utime"):
            self.meta_step(op)
            return
        existing = sorted(self.files)
        rel = rng.choice(existing) if existing and rng.random() < 0.7 else self.new_name()
        if op in ("write", "pwrite", "append", "truncate"):
            self.timed.pop(rel, None)  # data changes move mtime to "now" on each side
        if op == "mkdir":
            name = f"d{rng.randrange(3, 9)}"
            if name not in self.dirs:
                self.both(lambda r: (r / name).mkdir())
                self.dirs.append(name)
            return
        if op == "write":
            data = self.data()
            if rel in self.fds:
                self.close(rel)
            self.both(lambda r: (r / rel).write_bytes(data))
            self.files.add(rel)
        elif op in ("pwrite", "append", "truncate", "read"):
            if rel not in self.files:
                return
            off, data, length = self.offset(), self.data(), rng.randrange(1, 400_000)
            fds = self.fds.get(rel)

            def act(root: Path) -> object:
                fd = fds[self.roots.index(root)] if fds else os.open(root / rel, os.O_RDWR)
                try:
                    if op == "pwrite":
                        return os.pwrite(fd, data, off)
                    if op == "append":
                        return os.pwrite(fd, data, os.fstat(fd).st_size)
                    if op == "truncate":
                        return os.ftruncate(fd, off)
                    return os.pread(fd, length, off)
                finally:
                    if not fds:
                        os.close(fd)

            self.both(act)
        elif op == "open":
            if rel in self.files and rel not in self.fds:
                fa = os.open(self.roots[0] / rel, os.O_RDWR)
                fb = os.open(self.roots[1] / rel, os.O_RDWR)
                self.fds[rel] = (fa, fb)
        elif op == "close":
            if rel in self.fds:
                self.close(rel)
        elif op == "rename":
            if rel not in self.files:
                return
            dst = self.new_name()
            if dst == rel:
                return
            if dst in self.fds:
                self.close(dst)
            self.both(lambda r: os.rename(r / rel, r / dst))
            self.files.discard(rel)
            self.files.add(dst)
            self.timed.pop(dst, None)
            if rel in self.timed:
                self.timed[dst] = self.timed.pop(rel)
            if rel in self.fds:
                self.fds[dst] = self.fds.pop(rel)
            self.check(dst)
        elif op == "unlink":
            if rel not in self.files:
                return
            if rel in self.fds:
                self.close(rel)
            self.both(lambda r: os.unlink(r / rel))
            self.files.discard(rel)
            self.timed.pop(rel, None)
        self.check(rel)

    def close_all(self) -> None:
        for rel in list(self.fds):
            self.close(rel)


@pytest.mark.parametrize("bucket", ["plain", "vers"])
def test_random_operations_match_a_local_directory(
    mounter: Callable[..., Mount], tmp_path: Path, bucket: str
) -> None:
    m = mounter(bucket=bucket)
    local = tmp_path / "local"
    local.mkdir()
    twin = Twin(local, m.path, random.Random(f"objfs-diff-{bucket}"))
    steps = STEPS if bucket == "plain" else STEPS // 4
    for i in range(steps):
        twin.step()
        if i % 100 == 99:
            twin.check_all()
    twin.close_all()
    assert twin.specials and twin.timed  # the special-file and time steps did happen
    twin.check_all()
    m.stop()
    m.start()
    twin.check_all()
