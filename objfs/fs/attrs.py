"""POSIX attributes of mount entries, built from store records and mount defaults.

Owns the defaults rule: an object or directory without a mode/uid/gid/mtime
in its ``SystemMeta`` gets the mount's (uid/gid of the mounting user or
``uid=``/``gid=``; mode ``0666 & ~umask`` for files, ``0777 & ~umask`` for
directories; mtime = the object's last-modified time, or the mount time for a
directory without a marker). A mode is never reported as ``----------``
unless someone chmod-ed it so. File-type bits come from the entry kind, not
from stored metadata (a stored mode cannot turn an object into a directory);
an object is a symlink when ``sys_meta.symlink`` is set and a FIFO, socket
or device when its stored mode carries those type bits
(``objfs.store.sysmeta.file_type``). Times: atime/ctime default to mtime
(``SystemMeta.times``). Link counts: 1 for an object (0 once unlinked while
open), 2 + sub-directories for a directory.
Version files under ``.versions/`` are read-only (write bits cleared).
"""

from __future__ import annotations

import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import pyfuse3

from objfs.store.sysmeta import FILE_TYPES, file_type
from objfs.store.types import ObjectVersion, SystemMeta

BLKSIZE = 128 * 1024
READ_ONLY_MASK = ~0o222
NO_META = SystemMeta()  # nothing set: every default applies


class DirOwner(NamedTuple):
    """What a new entry inherits from its directory (``new_entry_meta``): the
    directory's mode and group, as its attributes show them."""

    st_mode: int
    st_gid: int


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

    def dir_owner(self, marker: ObjectVersion | None) -> DirOwner:
        """``directory``'s mode and group, without the rest of its attributes."""
        sys_meta = marker.sys_meta if marker is not None else NO_META
        gid = self.gid if sys_meta.gid is None else sys_meta.gid
        return DirOwner(stat.S_IFDIR | self.dir_perm(sys_meta), gid)

    def _base(
        self,
        ino: int,
        mode: int,
        size: int,
        times: tuple[int, int, int],
        uid: int | None,
        gid: int | None,
        nlink: int = 1,
        rdev: int = 0,
    ) -> pyfuse3.EntryAttributes:
        attr = pyfuse3.EntryAttributes()
        attr.st_ino = ino
        attr.generation = 0
        attr.entry_timeout = self.entry_timeout
        attr.attr_timeout = self.attr_timeout
        attr.st_mode = mode
        attr.st_nlink = nlink
        attr.st_uid = self.uid if uid is None else uid
        attr.st_gid = self.gid if gid is None else gid
        attr.st_rdev = rdev
        attr.st_size = size
        attr.st_blksize = BLKSIZE
        attr.st_blocks = (size + 511) // 512
        attr.st_atime_ns, attr.st_mtime_ns, attr.st_ctime_ns = times
        return attr

    def _file_parts(
        self, sys_meta: SystemMeta, read_only: bool
    ) -> tuple[int, int, int, int, int | None]:
        """(mode, uid, gid, rdev, size or None: the object's) of a file entry:
        all of ``file`` that depends on ``sys_meta`` and not on the version."""
        kind = file_type(sys_meta)
        perm = self.file_perm(sys_meta)
        rdev = 0
        size = None
        if kind == "symlink":
            assert sys_meta.symlink is not None
            size = len(sys_meta.symlink.encode("utf-8", "surrogateescape"))
        elif kind == "file":
            perm = perm & READ_ONLY_MASK if read_only else perm
        else:
            size = 0  # FIFOs, sockets and devices hold no data
            rdev = sys_meta.rdev or 0
        uid = self.uid if sys_meta.uid is None else sys_meta.uid
        gid = self.gid if sys_meta.gid is None else sys_meta.gid
        return FILE_TYPES[kind] | perm, uid, gid, rdev, size

    def file(
        self,
        ino: int,
        size: int,
        last_modified_ns: int,
        sys_meta: SystemMeta,
        read_only: bool = False,
        nlink: int = 1,
    ) -> pyfuse3.EntryAttributes:
        """A regular file, a symlink (``sys_meta.symlink``) or a special file (type bits)."""
        mode, uid, gid, rdev, own_size = self._file_parts(sys_meta, read_only)
        times = sys_meta.times(last_modified_ns)
        size = size if own_size is None else own_size
        return self._base(ino, mode, size, times, uid, gid, nlink, rdev)

    def file_maker(
        self, read_only: bool = False
    ) -> Callable[[int, int, int, SystemMeta], pyfuse3.EntryAttributes]:
        """``file`` (link count 1) for many entries in a row, e.g. one readdir
        reply: what depends on ``sys_meta`` alone is worked out once per
        ``SystemMeta`` object (a listing shares one among keys that carry the
        same attributes), the rest per entry; same attributes as ``file``."""
        parts: dict[int, tuple[int, int, int, int, int | None, Any]] = {}
        metas: list[SystemMeta] = []  # keeps each id() in ``parts`` its object's
        new = pyfuse3.EntryAttributes
        entry_timeout, attr_timeout = self.entry_timeout, self.attr_timeout

        def make(
            ino: int, size: int, last_modified_ns: int, sys_meta: SystemMeta
        ) -> pyfuse3.EntryAttributes:
            got = parts.get(id(sys_meta))
            if got is None:
                if sys_meta.mtime_ns is not None:
                    times: Any = sys_meta.times(0)  # the fallback is not used
                elif sys_meta.atime_ns is None and sys_meta.ctime_ns is None:
                    times = None  # all three are the last-modified time
                else:
                    times = sys_meta
                got = (*self._file_parts(sys_meta, read_only), times)
                parts[id(sys_meta)] = got
                metas.append(sys_meta)
            mode, uid, gid, rdev, own_size, times = got
            if own_size is not None:
                size = own_size
            attr = new()
            attr.st_ino = ino
            attr.generation = 0
            attr.entry_timeout = entry_timeout
            attr.attr_timeout = attr_timeout
            attr.st_mode = mode
            attr.st_nlink = 1
            attr.st_uid = uid
            attr.st_gid = gid
            attr.st_rdev = rdev
            attr.st_size = size
            attr.st_blksize = BLKSIZE
            attr.st_blocks = (size + 511) // 512
            if times is None:
                attr.st_atime_ns = attr.st_mtime_ns = attr.st_ctime_ns = last_modified_ns
            elif times.__class__ is tuple:
                attr.st_atime_ns, attr.st_mtime_ns, attr.st_ctime_ns = times
            else:
                attr.st_atime_ns, attr.st_mtime_ns, attr.st_ctime_ns = times.times(last_modified_ns)
            return attr

        return make

    def version(
        self, ino: int, version: ObjectVersion, read_only: bool = False
    ) -> pyfuse3.EntryAttributes:
        return self.file(ino, version.size, version.last_modified_ns, version.sys_meta, read_only)

    def directory(
        self,
        ino: int,
        marker: ObjectVersion | None,
        read_only: bool = False,
        *,
        subdirs: int = 0,
        changed: tuple[int | None, int | None, int | None] | None = None,
        newest_ns: int | None = None,
    ) -> pyfuse3.EntryAttributes:
        """A directory: ``marker`` its marker object (None: implicit, or root).

        ``subdirs`` makes the link count (2 + subdirs); ``changed`` is the
        (atime, mtime, ctime) this mount recorded for it (a listing, an entry
        change; None: nothing), each winning when newer than the marker's;
        an implicit directory's mtime is
        its newest child's (``newest_ns``), else the mount time.
        """
        sys_meta = marker.sys_meta if marker is not None else NO_META
        perm = self.dir_perm(sys_meta)
        if read_only:
            perm &= READ_ONLY_MASK
        if marker is not None:
            fallback = marker.last_modified_ns
        else:
            fallback = newest_ns if newest_ns is not None else self.mount_time_ns
        atime, mtime, ctime = sys_meta.times(fallback)
        if changed is not None:
            atime = max(atime, changed[0]) if changed[0] is not None else atime
            mtime = max(mtime, changed[1]) if changed[1] is not None else mtime
            ctime = max(ctime, changed[2]) if changed[2] is not None else ctime
        return self._base(
            ino,
            stat.S_IFDIR | perm,
            0,
            (atime, mtime, ctime),
            sys_meta.uid,
            sys_meta.gid,
            2 + subdirs,
        )


def new_entry_meta(
    mode: int,
    ctx: pyfuse3.RequestContext,
    parent: pyfuse3.EntryAttributes | DirOwner | None = None,
) -> SystemMeta:
    """POSIX attributes of an entry the caller creates now in ``parent``.

    All three times are now. In a set-group-ID directory the entry takes the
    directory's group, and a new directory inherits the set-group-ID bit
    (what ext4 and every BSD-style group inheritance do).
    """
    now = time.time_ns()
    gid = ctx.gid
    if parent is not None and parent.st_mode & stat.S_ISGID:
        gid = parent.st_gid
        if stat.S_ISDIR(mode):
            mode |= stat.S_ISGID
    return SystemMeta(mode=mode, uid=ctx.uid, gid=gid, mtime_ns=now, atime_ns=now, ctime_ns=now)
