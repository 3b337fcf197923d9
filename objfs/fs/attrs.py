"""POSIX attributes of mount entries, built from store records and mount defaults.

Owns the defaults rule: an object or directory without a mode/uid/gid/mtime
in its ``SystemMeta`` gets the mount's (uid/gid of the mounting user or
``uid=``/``gid=``; mode ``0666 & ~umask`` for files, ``0777 & ~umask`` for
directories; mtime = the object's last-modified time, or the mount time for a
directory without a marker). A mode is never reported as ``----------``
unless someone chmod-ed it so. File-type bits come from the entry kind, not
from stored metadata (a stored mode cannot turn an object into a directory);
the exception is a symlink, which is an object with ``sys_meta.symlink``.
Version files under ``.versions/`` are read-only (write bits cleared).
"""

from __future__ import annotations

import stat
import time
from dataclasses import dataclass

import pyfuse3

from objfs.store.types import ObjectVersion, SystemMeta

BLKSIZE = 128 * 1024
READ_ONLY_MASK = ~0o222


@dataclass(slots=True, frozen=True)
class AttrDefaults:
    uid: int
    gid: int
    umask: int
    attr_timeout: float
    entry_timeout: float
    mount_time_ns: int

    def file_perm(self, sys_meta: SystemMeta) -> int:
        if sys_meta.mode is not None:
            return stat.S_IMODE(sys_meta.mode)
        if sys_meta.symlink is not None:
            return 0o777
        return 0o666 & ~self.umask

    def dir_perm(self, sys_meta: SystemMeta | None) -> int:
        if sys_meta is not None and sys_meta.mode is not None:
            return stat.S_IMODE(sys_meta.mode)
        return 0o777 & ~self.umask

    def _base(
        self, ino: int, mode: int, size: int, mtime_ns: int, uid: int | None, gid: int | None
    ) -> pyfuse3.EntryAttributes:
        attr = pyfuse3.EntryAttributes()
        attr.st_ino = ino
        attr.generation = 0
        attr.entry_timeout = self.entry_timeout
        attr.attr_timeout = self.attr_timeout
        attr.st_mode = mode
        attr.st_nlink = 2 if stat.S_ISDIR(mode) else 1
        attr.st_uid = self.uid if uid is None else uid
        attr.st_gid = self.gid if gid is None else gid
        attr.st_rdev = 0
        attr.st_size = size
        attr.st_blksize = BLKSIZE
        attr.st_blocks = (size + 511) // 512
        attr.st_atime_ns = mtime_ns
        attr.st_mtime_ns = mtime_ns
        attr.st_ctime_ns = mtime_ns
        return attr

    def file(
        self,
        ino: int,
        size: int,
        last_modified_ns: int,
        sys_meta: SystemMeta,
        read_only: bool = False,
    ) -> pyfuse3.EntryAttributes:
        """A regular file or (``sys_meta.symlink`` set) a symlink."""
        if sys_meta.symlink is not None:
            mode = stat.S_IFLNK | self.file_perm(sys_meta)
            size = len(sys_meta.symlink.encode("utf-8", "surrogateescape"))
        else:
            perm = self.file_perm(sys_meta)
            mode = stat.S_IFREG | (perm & READ_ONLY_MASK if read_only else perm)
        mtime = sys_meta.mtime_ns if sys_meta.mtime_ns is not None else last_modified_ns
        return self._base(ino, mode, size, mtime, sys_meta.uid, sys_meta.gid)

    def version(
        self, ino: int, version: ObjectVersion, read_only: bool = False
    ) -> pyfuse3.EntryAttributes:
        return self.file(ino, version.size, version.last_modified_ns, version.sys_meta, read_only)

    def directory(
        self, ino: int, marker: ObjectVersion | None, read_only: bool = False
    ) -> pyfuse3.EntryAttributes:
        sys_meta = marker.sys_meta if marker is not None else None
        perm = self.dir_perm(sys_meta)
        if read_only:
            perm &= READ_ONLY_MASK
        if marker is None:
            mtime = self.mount_time_ns
        elif marker.sys_meta.mtime_ns is not None:
            mtime = marker.sys_meta.mtime_ns
        else:
            mtime = marker.last_modified_ns
        uid = sys_meta.uid if sys_meta is not None else None
        gid = sys_meta.gid if sys_meta is not None else None
        return self._base(ino, stat.S_IFDIR | perm, 0, mtime, uid, gid)


def new_entry_meta(mode: int, ctx: pyfuse3.RequestContext) -> SystemMeta:
    """POSIX attributes of an entry the caller creates now."""
    return SystemMeta(mode=mode, uid=ctx.uid, gid=ctx.gid, mtime_ns=time.time_ns())
