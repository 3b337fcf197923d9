"""A minimal pyfuse3 + trio passthrough filesystem: the FUSE ceiling baseline.

The benchmarks compare objfs with this file system mounted over a plain
directory: whatever this one costs is the price of FUSE plus pyfuse3 plus one
Python event loop, which objfs cannot beat, only approach.

Usage (runs in the foreground until unmounted or sent SIGTERM/SIGINT)::

    python tests/bench/passthrough.py SOURCE_DIR MOUNTPOINT [--threads] [--no-writeback] [--debug]

Choices that keep the comparison fair with objfs:
- the kernel writeback cache is on (objfs enables it too); with it the
  kernel may read from a file opened write-only and handles O_APPEND itself,
  so write-only opens become read-write and O_APPEND is dropped;
- read and write are plain ``pread``/``pwrite`` on the event loop thread:
  measured here, that beats a hop through ``trio.to_thread`` per request
  (cold 1 GiB read 0.8-1.1 GB/s against 0.35-0.45 GB/s), so it is the
  higher ceiling. ``--threads`` moves them to worker threads, as objfs
  must for its hashing and AES-GCM, to see what the hop itself costs.
  fsync always runs in a thread: it blocks for a disk flush.

Invariants: every FUSE inode number handed to the kernel maps to one
(st_dev, st_ino) of the source tree and to the path it was last seen at,
until the kernel forgets it; the root is ``pyfuse3.ROOT_INODE``. Errors of
the underlying calls reach the kernel as their errno; anything else is
logged and answered with EIO so the mount never dies under a benchmark.
"""

from __future__ import annotations

import argparse
import errno
import functools
import logging
import os
import signal
import stat
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pyfuse3
import trio

log = logging.getLogger("objfs.bench.passthrough")

T = TypeVar("T")


def _guard(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Turn OSError into FUSEError(errno) and anything unexpected into EIO."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return await fn(*args, **kwargs)
        except pyfuse3.FUSEError:
            raise
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno or errno.EIO) from None
        except Exception:
            log.exception("unexpected error in %s", fn.__name__)
            raise pyfuse3.FUSEError(errno.EIO) from None

    return wrapper


class Passthrough(pyfuse3.Operations):
    """Mirror ``source`` at the mount point, one syscall per request."""

    def __init__(self, source: str, *, writeback: bool = True, threads: bool = False) -> None:
        super().__init__()
        self._threads = threads
        self.enable_writeback_cache = writeback
        self._writeback = writeback
        root = os.lstat(source)
        self._path: dict[int, str] = {pyfuse3.ROOT_INODE: source}
        self._ino: dict[tuple[int, int], int] = {(root.st_dev, root.st_ino): pyfuse3.ROOT_INODE}
        self._key: dict[int, tuple[int, int]] = {pyfuse3.ROOT_INODE: (root.st_dev, root.st_ino)}
        self._lookups: dict[int, int] = {pyfuse3.ROOT_INODE: 1}
        self._next_ino = pyfuse3.ROOT_INODE + 1
        self._dirs: dict[int, list[tuple[bytes, os.stat_result]]] = {}
        self._dirs_path: dict[int, str] = {}
        self._next_dh = 1

    # -- inode bookkeeping ------------------------------------------------

    def _inode_path(self, ino: int) -> str:
        try:
            return self._path[ino]
        except KeyError:
            raise pyfuse3.FUSEError(errno.ENOENT) from None

    def _child(self, parent: int, name: bytes) -> str:
        return os.path.join(self._inode_path(parent), os.fsdecode(name))

    def _remember(self, path: str, st: os.stat_result, *, count: bool = True) -> int:
        key = (st.st_dev, st.st_ino)
        ino = self._ino.get(key)
        if ino is None:
            ino = self._next_ino
            self._next_ino += 1
            self._ino[key] = ino
            self._key[ino] = key
            self._lookups[ino] = 0
        self._path[ino] = path
        if count:
            self._lookups[ino] += 1
        return ino

    def _attrs(self, st: os.stat_result, ino: int) -> pyfuse3.EntryAttributes:
        entry = pyfuse3.EntryAttributes()
        entry.st_ino = ino
        entry.generation = 0
        entry.entry_timeout = 1.0
        entry.attr_timeout = 1.0
        entry.st_mode = st.st_mode
        entry.st_nlink = st.st_nlink
        entry.st_uid = st.st_uid
        entry.st_gid = st.st_gid
        entry.st_rdev = st.st_rdev
        entry.st_size = st.st_size
        entry.st_blksize = st.st_blksize
        entry.st_blocks = st.st_blocks
        entry.st_atime_ns = st.st_atime_ns
        entry.st_mtime_ns = st.st_mtime_ns
        entry.st_ctime_ns = st.st_ctime_ns
        return entry

    def _entry(self, path: str) -> pyfuse3.EntryAttributes:
        st = os.lstat(path)
        return self._attrs(st, self._remember(path, st))

    # -- metadata ---------------------------------------------------------

    @_guard
    async def lookup(self, parent_inode: int, name: bytes, ctx: Any = None) -> Any:
        return self._entry(self._child(parent_inode, name))

    @_guard
    async def forget(self, inode_list: list[tuple[int, int]]) -> None:
        for ino, nlookup in inode_list:
            if ino == pyfuse3.ROOT_INODE or ino not in self._lookups:
                continue
            self._lookups[ino] -= nlookup
            if self._lookups[ino] <= 0:
                del self._lookups[ino]
                del self._path[ino]
                del self._ino[self._key.pop(ino)]

    @_guard
    async def getattr(self, inode: int, ctx: Any = None) -> Any:
        path = self._inode_path(inode)
        return self._attrs(os.lstat(path), inode)

    @_guard
    async def setattr(self, inode: int, attr: Any, fields: Any, fh: Any, ctx: Any) -> Any:
        path = self._inode_path(inode)
        if fields.update_size:
            if fh is not None:
                os.ftruncate(fh, attr.st_size)
            else:
                os.truncate(path, attr.st_size)
        if fields.update_mode:
            os.chmod(path, stat.S_IMODE(attr.st_mode))
        if fields.update_uid or fields.update_gid:
            uid = attr.st_uid if fields.update_uid else -1
            gid = attr.st_gid if fields.update_gid else -1
            os.chown(path, uid, gid, follow_symlinks=False)
        if fields.update_atime or fields.update_mtime:
            st = os.lstat(path)
            atime = attr.st_atime_ns if fields.update_atime else st.st_atime_ns
            mtime = attr.st_mtime_ns if fields.update_mtime else st.st_mtime_ns
            os.utime(path, ns=(atime, mtime), follow_symlinks=False)
        return self._attrs(os.lstat(path), inode)

    @_guard
    async def readlink(self, inode: int, ctx: Any) -> bytes:
        return os.fsencode(os.readlink(self._inode_path(inode)))

    @_guard
    async def statfs(self, ctx: Any) -> Any:
        sv = os.statvfs(self._path[pyfuse3.ROOT_INODE])
        out = pyfuse3.StatvfsData()
        for name in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail"):
            setattr(out, name, getattr(sv, name))
        for name in ("f_files", "f_ffree", "f_favail", "f_namemax"):
            setattr(out, name, getattr(sv, name))
        return out

    # -- directories ------------------------------------------------------

    @_guard
    async def opendir(self, inode: int, ctx: Any) -> int:
        path = self._inode_path(inode)
        entries = []
        # Snapshot at opendir: the offset cookie is an index into it, which
        # stays stable however the directory changes while it is listed.
        with os.scandir(path) as it:
            for de in it:
                try:
                    entries.append((os.fsencode(de.name), de.stat(follow_symlinks=False)))
                except FileNotFoundError:
                    continue
        entries.sort()
        dh = self._next_dh
        self._next_dh += 1
        self._dirs[dh] = entries
        self._dirs_path[dh] = path
        return dh

    @_guard
    async def readdir(self, fh: int, start_id: int, token: Any) -> None:
        entries = self._dirs[fh]
        base = self._dirs_path[fh]
        # Cookies start at 3: small values are reserved by some kernels.
        for index in range(max(start_id - 3, 0), len(entries)):
            name, st = entries[index]
            path = os.path.join(base, os.fsdecode(name))
            ino = self._remember(path, st, count=False)
            if not pyfuse3.readdir_reply(token, name, self._attrs(st, ino), index + 4):
                break
            self._lookups[ino] += 1

    @_guard
    async def releasedir(self, fh: int) -> None:
        self._dirs.pop(fh, None)
        self._dirs_path.pop(fh, None)

    @_guard
    async def mkdir(self, parent_inode: int, name: bytes, mode: int, ctx: Any) -> Any:
        path = self._child(parent_inode, name)
        os.mkdir(path, mode)
        return self._entry(path)

    @_guard
    async def rmdir(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        os.rmdir(self._child(parent_inode, name))

    @_guard
    async def unlink(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        os.unlink(self._child(parent_inode, name))

    @_guard
    async def symlink(self, parent_inode: int, name: bytes, target: bytes, ctx: Any) -> Any:
        path = self._child(parent_inode, name)
        os.symlink(os.fsdecode(target), path)
        return self._entry(path)

    @_guard
    async def rename(
        self,
        parent_old: int,
        name_old: bytes,
        parent_new: int,
        name_new: bytes,
        flags: int,
        ctx: Any,
    ) -> None:
        if flags:
            raise pyfuse3.FUSEError(errno.EINVAL)
        old = self._child(parent_old, name_old)
        new = self._child(parent_new, name_new)
        os.rename(old, new)
        # Re-point every known inode at or below the old path.
        prefix = old + os.sep
        for ino, path in list(self._path.items()):
            if path == old:
                self._path[ino] = new
            elif path.startswith(prefix):
                self._path[ino] = new + path[len(old) :]

    @_guard
    async def link(self, inode: int, new_parent_inode: int, new_name: bytes, ctx: Any) -> Any:
        path = self._child(new_parent_inode, new_name)
        os.link(self._inode_path(inode), path)
        return self._entry(path)

    # -- files ------------------------------------------------------------

    def _open_flags(self, flags: int) -> int:
        if self._writeback:
            if flags & os.O_ACCMODE == os.O_WRONLY:
                flags = (flags & ~os.O_ACCMODE) | os.O_RDWR
            flags &= ~os.O_APPEND
        return flags

    @_guard
    async def open(self, inode: int, flags: int, ctx: Any) -> Any:
        fd = os.open(self._inode_path(inode), self._open_flags(flags))
        return pyfuse3.FileInfo(fh=fd)

    @_guard
    async def create(self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: Any) -> Any:
        path = self._child(parent_inode, name)
        fd = os.open(path, self._open_flags(flags) | os.O_CREAT | os.O_TRUNC, mode)
        return pyfuse3.FileInfo(fh=fd), self._entry(path)

    @_guard
    async def read(self, fh: int, off: int, size: int) -> bytes:
        if self._threads:
            return await trio.to_thread.run_sync(os.pread, fh, size, off)
        return os.pread(fh, size, off)

    @_guard
    async def write(self, fh: int, off: int, buf: bytes) -> int:
        if self._threads:
            return await trio.to_thread.run_sync(os.pwrite, fh, buf, off)
        return os.pwrite(fh, buf, off)

    @_guard
    async def flush(self, fh: int) -> None:
        return None

    @_guard
    async def fsync(self, fh: int, datasync: bool) -> None:
        await trio.to_thread.run_sync(os.fdatasync if datasync else os.fsync, fh)

    @_guard
    async def release(self, fh: int) -> None:
        os.close(fh)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="passthrough.py",
        description="Mount SOURCE at MOUNTPOINT through pyfuse3 (benchmark baseline).",
    )
    parser.add_argument("source", help="directory to mirror")
    parser.add_argument("mountpoint", help="empty directory to mount on")
    parser.add_argument(
        "--no-writeback", action="store_true", help="leave the kernel writeback cache off"
    )
    parser.add_argument("--threads", action="store_true", help="run read/write in worker threads")
    parser.add_argument("--debug", action="store_true", help="log every FUSE request")
    return parser.parse_args(argv)


async def _serve(stop_token: list[trio.lowlevel.TrioToken]) -> None:
    stop_token.append(trio.lowlevel.current_trio_token())
    await pyfuse3.main(min_tasks=4, max_tasks=16)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    for path, what in ((args.source, "source"), (args.mountpoint, "mountpoint")):
        if not os.path.isdir(path):
            print(f"passthrough.py: {what} {path!r} is not a directory", file=sys.stderr)
            return 2
    ops = Passthrough(
        os.path.abspath(args.source), writeback=not args.no_writeback, threads=args.threads
    )
    options = set(pyfuse3.default_options)
    options.add("fsname=passthrough")
    options.add("subtype=passthrough")
    if args.debug:
        options.add("debug")
    try:
        pyfuse3.init(ops, args.mountpoint, options)
    except RuntimeError as exc:
        print(f"passthrough.py: cannot mount {args.mountpoint}: {exc}", file=sys.stderr)
        return 1
    tokens: list[trio.lowlevel.TrioToken] = []

    def _terminate(signum: int, frame: object) -> None:
        # Signal handlers run in the main thread between bytecodes; reach
        # the trio loop through its token so the unmount is orderly.
        if tokens:
            tokens[0].run_sync_soon(pyfuse3.terminate)

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    try:
        trio.run(_serve, tokens)
    finally:
        pyfuse3.close(unmount=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
