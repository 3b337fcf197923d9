"""AttrDefaults: the batch attribute maker readdir uses gives what ``file`` gives."""

from __future__ import annotations

import itertools
import stat

import pytest

from objfs.fs.attrs import AttrDefaults
from objfs.store.types import SystemMeta

FIELDS = (
    "st_ino st_mode st_nlink st_uid st_gid st_rdev st_size st_blksize st_blocks "
    "st_atime_ns st_mtime_ns st_ctime_ns generation entry_timeout attr_timeout"
).split()

METAS = [
    SystemMeta(),
    SystemMeta(mode=0o100600),
    SystemMeta(mode=0o4755, atime_ns=1, ctime_ns=2),
    SystemMeta(uid=0, gid=0),
    SystemMeta(mtime_ns=11),
    SystemMeta(atime_ns=3),
    SystemMeta(ctime_ns=-4, mtime_ns=9),
    SystemMeta(symlink="target/\udcff"),
    SystemMeta(mode=stat.S_IFIFO | 0o644),
    SystemMeta(mode=stat.S_IFSOCK | 0o600),
    SystemMeta(mode=stat.S_IFCHR | 0o600, rdev=259),
    SystemMeta(mode=stat.S_IFBLK | 0o660, uid=7, gid=8, rdev=2049),
]


@pytest.mark.parametrize("read_only", [False, True])
def test_file_maker_matches_file(read_only: bool) -> None:
    d = AttrDefaults(
        uid=1000, gid=100, umask=0o027, attr_timeout=1.5, entry_timeout=2.5, mount_time_ns=77
    )
    make = d.file_maker(read_only)
    for meta, size, modified in itertools.product(METAS, (0, 1, 513, 10**12), (0, 123, -5)):
        for _ in range(2):  # the first call of a SystemMeta and a remembered one
            want = d.file(42, size, modified, meta, read_only)
            got = make(42, size, modified, meta)
            for name in FIELDS:
                assert getattr(got, name) == getattr(want, name), (meta, size, modified, name)
