"""Where chunk files live: an abstract backend and the local-directory one.

A backend stores opaque named blobs. It knows nothing about frames, keys or
domains (that is ``objfs.chunks.store``).

``LocalBackend`` invariants:
- a blob named ``abcdef...`` lives at ``ROOT/ab/abcdef...``: 256 fan-out
  directories (one level: a second level would cost two mkdirs per chunk
  of a small store; ext4's hashed directories hold millions of entries
  well), created on demand and never removed (removing them would
  race with a concurrent ``put`` into them);
- ``put`` writes a temporary file ``.tmp-...`` in the final directory and
  renames it into place, so a reader sees either nothing or the whole blob.
  It does **not** fsync: durability is batched in ``sync(names)``, which the
  store calls before a durable metadata commit (DESIGN.md, invariant 2);
- a large frame in an aligned buffer (the chunk store's sealing buffer) is
  written with O_DIRECT, its last partial block through the page cache: no
  copy of the data into fresh page-cache pages and no writeback later (on
  this VM that copy cost 0.3-2 s of CPU per GiB of sequential write, varying
  with the host; O_DIRECT ~0.1 s). Where the file system refuses O_DIRECT,
  everything goes through the page cache;
- temporary files left by a crash are never listed by ``iterate`` and are
  removed by ``cleanup_temp``;
- a blob's mtime is when it was last written or ``touch``ed (dedup hit), so
  GC grace periods measured from it protect chunks a pending write uses;
- a full disk (ENOSPC, EDQUOT) is ``StoreFull``; a missing blob on ``get`` is
  ``IntegrityError``. No partial blob is ever left under a final name.
"""

from __future__ import annotations

import abc
import ctypes
import errno
import fcntl
import itertools
import logging
import mmap
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from objfs.errors import AccessDenied, IntegrityError, InternalError, InvalidArgument, StoreFull

if TYPE_CHECKING:
    from _ctypes import CFuncPtr  # ctypes' function pointer (ctypes._CFuncPtr)

log = logging.getLogger(__name__)

Buffer = bytes | bytearray | memoryview
TEMP_PREFIX = ".tmp-"
# preadv2 flag: fail with EAGAIN instead of waiting for the disk (Linux 4.14+).
_RWF_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)
_NAME_RE = re.compile(r"[0-9a-f]{8,128}")
_FANOUT_RE = re.compile(r"[0-9a-f]{2}")


def _load_syncfs() -> CFuncPtr | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_syncfs = _load_syncfs()


def _load_sync_file_range() -> CFuncPtr | None:
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    fn.restype = ctypes.c_int
    return fn


# sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE): start writing a new chunk
# file's pages to disk now, without waiting (ctypes releases the GIL).
_sync_file_range = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2
_SYNCFS_MIN = 4  # below this, per-file fsync is cheaper than flushing the filesystem


def _parts(data: Buffer | Sequence[Buffer]) -> Sequence[Buffer]:
    if isinstance(data, bytes | bytearray | memoryview):
        return (data,)
    return data


class _TmpTag:
    """``pid.random`` of this process (renewed in a forked child) and a counter:
    unique temporary names without two syscalls (getpid, getrandom) per chunk."""

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self.tag = f"{os.getpid()}.{os.urandom(4).hex()}"
        self.count = itertools.count()


_tmp_tag = _TmpTag()


def _tmp_suffix() -> str:
    return f"{_tmp_tag.tag}.{next(_tmp_tag.count)}"


_DIRECT = getattr(os, "O_DIRECT", 0)
_DIRECT_ALIGN = 4096  # O_DIRECT wants offsets, lengths and buffers block aligned
_DIRECT_MIN = 64 << 10  # smaller chunk files go through the page cache
_thread_buf = threading.local()  # per-thread O_DIRECT buffers (``get_streaming``)
_HUGE = 2 << 20  # a transparent huge page (x86-64)


def _huge_buffer(n: int) -> memoryview:
    """At least ``n`` bytes (a multiple of 2 MiB) of anonymous memory, aligned to
    and asking for transparent huge pages where the kernel allows them: an
    O_DIRECT read pins the buffer's pages (get_user_pages) for every chunk it
    reads, one huge page instead of 256 small ones per MiB."""
    size = -(-max(n, 1) // _HUGE) * _HUGE
    area = mmap.mmap(-1, size + _HUGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        area.madvise(mmap.MADV_HUGEPAGE)
    except (AttributeError, OSError):  # no THP here: small pages, same bytes
        pass
    addr = ctypes.addressof(ctypes.c_char.from_buffer(area))
    skip = -addr % _HUGE
    return memoryview(area)[skip : skip + size]


class ChunkBackend(abc.ABC):
    """Storage for named, immutable blobs (names are lowercase hex)."""

    # True for a backend that cannot touch a blob nor delete one only if it
    # was not touched (S3): writers then dedup against the database's chunk
    # rows only, and gc decides from rows and leases (objfs/store/chunkgc.py).
    gc_by_rows = False

    @abc.abstractmethod
    def put(self, name: str, data: Buffer | Sequence[Buffer]) -> None:
        """Store ``data`` (one buffer, or pieces written back to back) under ``name``.

        Atomic: the name shows the old blob, nothing, or the whole new blob.
        Not durable until ``sync``.
        """

    @abc.abstractmethod
    def sync(self, names: Iterable[str]) -> None:
        """Make the named blobs durable (survive a power cut)."""

    @abc.abstractmethod
    def get(self, name: str) -> bytes:
        """The whole blob; a missing one is ``IntegrityError``."""

    def get_streaming(self, name: str) -> bytes | memoryview:
        """The whole blob for a one-pass reader (sequential read-ahead).

        May be a view of a per-thread buffer that the calling thread's next
        call overwrites: decode it before calling again, keep nothing of it.
        """
        return self.get(name)

    def get_prefix(self, name: str, n: int) -> bytes:
        """The first ``n`` bytes of a blob (backends may do better than ``get``)."""
        return self.get(name)[:n]

    def open_blob_nowait(self, name: str) -> BlobReader | None:
        """A reader whose ``pread_nowait`` may answer from memory, or None.

        For callers that must not wait for storage (the mount's event loop):
        backends without a page cache to ask return None.
        """
        return None

    def open_blob(self, name: str) -> BlobReader:
        """A reader of parts of one blob (a missing blob is ``IntegrityError``).

        Backends that can read a range without the whole blob (a file's
        ``pread``, an HTTP range GET) should override this.
        """
        return _WholeBlob(self.get(name))

    @abc.abstractmethod
    def delete(self, name: str) -> None:
        """Remove a blob; removing a missing one is not an error."""

    def discard_unless_touched(self, name: str, cutoff: float) -> int | None:
        """Remove a blob unless its mtime is newer than ``cutoff``; returns bytes freed.

        gc's delete: a writer that dedups onto the blob touches it, and that
        touch must either keep the blob or find it gone (and write it
        again), never lose it in between. This fallback checks then deletes;
        backends that can should close that gap (LocalBackend does).
        """
        st = self.stat(name)
        if st is None or st[0] > cutoff:
            return None
        self.delete(name)
        return st[1]

    @abc.abstractmethod
    def exists(self, name: str) -> bool: ...

    @abc.abstractmethod
    def sync_all(self) -> None:
        """Make every blob written so far durable."""

    @abc.abstractmethod
    def stat(self, name: str) -> tuple[float, int] | None:
        """(last write or touch time, stored size); None if it does not exist."""

    @abc.abstractmethod
    def touch(self, name: str) -> bool:
        """Refresh a blob's mtime; False if it does not exist.

        Garbage collection spares young blobs, so touching a blob that a new
        write dedups onto protects it until that write's metadata commits.
        """

    @abc.abstractmethod
    def iterate(self) -> Iterator[tuple[str, float]]:
        """Every stored blob as (name, mtime), in no particular order."""

    def inventory(self) -> Iterator[tuple[str, int]]:
        """Every stored blob as (name, stored size), in no particular order."""
        for name, _ in self.iterate():
            st = self.stat(name)
            if st is not None:
                yield name, st[1]

    def cleanup_temp(self, older_than_s: float) -> int:
        """Remove leftovers of interrupted writes; returns how many."""
        return 0


class BlobReader:
    """Reads byte ranges of one blob; a context manager that releases it."""

    def pread(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (fewer only at the blob's end)."""
        raise NotImplementedError

    def advise_random(self) -> None:
        """Hint: only the ranges asked for will be read (no read-ahead)."""

    def pread_nowait(self, offset: int, n: int) -> bytes | bytearray | None:
        """Exactly ``n`` bytes at ``offset`` if they are in memory now, else None."""
        return None

    def close(self) -> None:
        pass

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _WholeBlob(BlobReader):
    def __init__(self, data: bytes) -> None:
        self._data = data

    def pread(self, offset: int, n: int) -> bytes:
        return self._data[offset : offset + n]


class _FileBlob(BlobReader):
    def __init__(self, backend: LocalBackend, name: str, fd: int) -> None:
        self._backend = backend
        self._name = name
        self._fd = fd

    def pread(self, offset: int, n: int) -> bytes:
        try:
            return os.pread(self._fd, n, offset)
        except OSError as exc:
            if exc.errno == errno.EIO:
                raise IntegrityError(f"chunk {self._name} cannot be read: disk I/O error") from exc
            raise self._backend._os_error(exc, f"reading chunk {self._name}") from exc

    def advise_random(self) -> None:
        try:
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_RANDOM)
        except (OSError, AttributeError):
            pass

    def pread_nowait(self, offset: int, n: int) -> bytes | bytearray | None:
        if _RWF_NOWAIT is None:
            return None
        buf = bytearray(n)
        # On a miss the kernel still starts reading the range (the slow path
        # then waits for it); random-access advice keeps that to the range
        # instead of a read-ahead window twice a segment's size.
        self.advise_random()
        try:
            got = os.preadv(self._fd, [buf], offset, _RWF_NOWAIT)
        except OSError:
            return None  # EAGAIN (not cached) or anything else: the slow path says
        return buf if got == n else None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidArgument(f"bad chunk name {name!r}: expected 8-128 lowercase hex digits")
    return name


class LocalBackend(ChunkBackend):
    """Blobs as files in a fan-out directory tree under ``root``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._root_s = os.fspath(self.root)
        self._lock = threading.Lock()
        self._no_direct = False  # O_DIRECT refused here: ``get_streaming`` reads plainly
        self._no_direct_write = False  # O_DIRECT refused here: ``put`` writes plainly
        # Directories whose entries changed by creating a fan-out directory:
        # fsynced by the next sync() so the new directory survives a power cut.
        self._dirty_dirs: set[str] = set()

    def __repr__(self) -> str:
        return f"LocalBackend({self._root_s!r})"

    def path(self, name: str) -> str:
        check_name(name)
        return f"{self._root_s}/{name[0:2]}/{name}"

    # ---- errors ----------------------------------------------------------------------

    def _os_error(self, exc: OSError, doing: str) -> Exception:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StoreFull(
                f"no space left on the store's disk ({self._root_s}) while {doing}: "
                "free space, or run 'objfs gc' to drop unreferenced chunks"
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            return AccessDenied(f"permission denied on the chunk store {self._root_s} ({doing})")
        if exc.errno == errno.EROFS:
            return InternalError(f"the chunk store {self._root_s} is on a read-only filesystem")
        return InternalError(f"chunk store I/O error while {doing}: {exc.strerror or exc}")

    # ---- writes ----------------------------------------------------------------------

    def _make_dirs(self, name: str) -> None:
        try:
            os.mkdir(f"{self._root_s}/{name[0:2]}", 0o700)
        except FileExistsError:
            return
        with self._lock:
            self._dirty_dirs.add(self._root_s)

    def put(self, name: str, data: Buffer | Sequence[Buffer]) -> None:
        final = self.path(name)
        tmp = f"{final.rsplit('/', 1)[0]}/{TEMP_PREFIX}{name}.{_tmp_suffix()}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        direct = not self._no_direct_write and _direct_ok(data)
        try:
            try:
                fd = os.open(tmp, flags | (_DIRECT if direct else 0), 0o600)
            except FileNotFoundError:
                self._make_dirs(name)
                fd = os.open(tmp, flags | (_DIRECT if direct else 0), 0o600)
            except OSError as exc:
                if not direct or exc.errno != errno.EINVAL:
                    raise
                self._no_direct_write = True  # this file system does not do O_DIRECT
                direct = False
                fd = os.open(tmp, flags, 0o600)
        except OSError as exc:
            raise self._os_error(exc, f"writing chunk {name}") from exc
        try:
            try:
                if direct:
                    if not _write_direct(fd, data):  # type: ignore[arg-type]
                        self._no_direct_write = True
                else:
                    _write_all(fd, _parts(data))
                if _sync_file_range is not None:
                    # Early writeback: the disk works while later chunks are
                    # sealed, so the flush before a durable commit (``sync``)
                    # finds little left to write. Advisory: errors ignored.
                    _sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)
            finally:
                os.close(fd)
            os.replace(tmp, final)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise self._os_error(exc, f"writing chunk {name}") from exc

    def sync_all(self) -> None:
        """Make every blob written so far durable (one filesystem flush)."""
        if _syncfs is None:
            os.sync()
            return
        fd = os.open(self._root_s, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _syncfs(fd) != 0:
                err = ctypes.get_errno()
                raise self._os_error(OSError(err, os.strerror(err)), "syncing chunks")
        finally:
            os.close(fd)
        with self._lock:
            self._dirty_dirs.clear()

    def sync(self, names: Iterable[str]) -> None:
        names = list(names)
        if len(names) >= _SYNCFS_MIN and _syncfs is not None:
            # One filesystem flush is one journal commit; N fsyncs are N.
            for name in names:
                if not os.path.exists(self.path(name)):
                    raise IntegrityError(f"chunk {name} vanished before it was made durable")
            self.sync_all()
            return
        dirs: set[str] = set()
        for name in names:
            path = self.path(name)
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except FileNotFoundError:
                raise IntegrityError(
                    f"chunk {name} vanished before it was made durable ({path})"
                ) from None
            except OSError as exc:
                raise self._os_error(exc, f"syncing chunk {name}") from exc
            try:
                os.fsync(fd)
            except OSError as exc:
                raise self._os_error(exc, f"syncing chunk {name}") from exc
            finally:
                os.close(fd)
            dirs.add(path.rsplit("/", 1)[0])
        with self._lock:
            dirs |= self._dirty_dirs
            self._dirty_dirs.clear()
        try:
            for d in dirs:
                _fsync_dir(d)
        except OSError as exc:
            with self._lock:  # retry them next time
                self._dirty_dirs |= dirs
            raise self._os_error(exc, "syncing the chunk directories") from exc

    def delete(self, name: str) -> None:
        try:
            os.unlink(self.path(name))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self._os_error(exc, f"deleting chunk {name}") from exc

    def discard_unless_touched(self, name: str, cutoff: float) -> int | None:
        # Move the file aside first: a touch now fails (the writer writes the
        # chunk again), and a touch that came before shows in the mtime of
        # the moved file, which then goes back unless a new copy took its place.
        final = self.path(name)
        aside = (
            f"{final.rsplit('/', 1)[0]}/{TEMP_PREFIX}gc-{name}.{os.getpid()}.{os.urandom(4).hex()}"
        )
        try:
            os.rename(final, aside)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._os_error(exc, f"deleting chunk {name}") from exc
        try:
            st = os.stat(aside)
            if st.st_mtime > cutoff:
                try:
                    os.link(aside, final)  # never over a copy written meanwhile
                except FileExistsError:
                    pass
                except OSError:  # no hard links here: put it back as it was
                    os.rename(aside, final)
                return None
            return st.st_size
        except OSError as exc:
            raise self._os_error(exc, f"deleting chunk {name}") from exc
        finally:
            try:
                os.unlink(aside)
            except FileNotFoundError:
                pass

    # ---- reads -----------------------------------------------------------------------

    def get(self, name: str) -> bytes:
        path = self.path(name)
        try:
            with open(path, "rb", buffering=0) as f:
                return f.read()
        except FileNotFoundError:
            raise IntegrityError(f"chunk {name} is missing ({path})") from None
        except OSError as exc:
            if exc.errno == errno.EIO:
                raise IntegrityError(f"chunk {name} cannot be read: disk I/O error") from exc
            raise self._os_error(exc, f"reading chunk {name}") from exc

    def get_prefix(self, name: str, n: int) -> bytes:
        path = self.path(name)
        try:
            with open(path, "rb", buffering=0) as f:
                return f.read(n)
        except FileNotFoundError:
            raise IntegrityError(f"chunk {name} is missing ({path})") from None
        except OSError as exc:
            raise self._os_error(exc, f"reading chunk {name}") from exc

    def get_streaming(self, name: str) -> bytes | memoryview:
        """``get`` with O_DIRECT into a per-thread buffer, where the file system allows.

        A chunk read ahead for a sequential reader is decoded once and then
        served from the decoded segments: reading it through the page cache
        costs page allocation and a copy per page (about half the kernel
        time of a cold sequential read, measured), and copying it into a new
        bytes object costs one more pass. Falls back to ``get`` (file
        systems without O_DIRECT, such as tmpfs; odd sizes). The buffer is a
        transparent huge page (``_huge_buffer``): pinning it for the device
        is cheap and the read is not split into 4 KiB segments. The result
        is a view of that buffer: valid until this thread's next call.
        """
        if not _DIRECT or self._no_direct:
            return self.get(name)
        path = self.path(name)
        try:
            fd = os.open(path, os.O_RDONLY | _DIRECT)
        except FileNotFoundError:
            raise IntegrityError(f"chunk {name} is missing ({path})") from None
        except OSError:
            self._no_direct = True  # EINVAL: this file system does not do O_DIRECT
            return self.get(name)
        try:
            size = os.fstat(fd).st_size
            want = (size // _DIRECT_ALIGN + 1) * _DIRECT_ALIGN
            buf = getattr(_thread_buf, "buf", None)
            if buf is None or len(buf) < want:
                buf = _thread_buf.buf = _huge_buffer(want)
            try:
                n = os.preadv(fd, [buf[:want]], 0)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._no_direct = True
                return self.get(name)
        except OSError as exc:
            if exc.errno == errno.EIO:
                raise IntegrityError(f"chunk {name} cannot be read: disk I/O error") from exc
            raise self._os_error(exc, f"reading chunk {name}") from exc
        finally:
            os.close(fd)
        if n != size:  # changed under us (cannot happen to a sealed chunk): the plain way
            return self.get(name)
        return buf[:n]

    def open_blob(self, name: str) -> BlobReader:
        path = self.path(name)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise IntegrityError(f"chunk {name} is missing ({path})") from None
        except OSError as exc:
            raise self._os_error(exc, f"reading chunk {name}") from exc
        return _FileBlob(self, name, fd)

    def open_blob_nowait(self, name: str) -> BlobReader | None:
        # Opening a chunk read recently is a dentry-cache lookup; a missing
        # or unreadable one is reported by the slow path (open_blob).
        try:
            fd = os.open(self.path(name), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        return _FileBlob(self, name, fd)

    def exists(self, name: str) -> bool:
        return self.stat(name) is not None

    def stat(self, name: str) -> tuple[float, int] | None:
        try:
            st = os.stat(self.path(name))
        except FileNotFoundError:
            return None
        return st.st_mtime, st.st_size

    def touch(self, name: str) -> bool:
        try:
            os.utime(self.path(name))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._os_error(exc, f"touching chunk {name}") from exc
        return True

    def _leaf_dirs(self) -> Iterator[str]:
        for top in scandir_or_empty(self._root_s):
            if top.is_dir(follow_symlinks=False) and _FANOUT_RE.fullmatch(top.name):
                yield top.path

    def iterate(self) -> Iterator[tuple[str, float]]:
        for d in self._leaf_dirs():
            for entry in scandir_or_empty(d):
                if entry.name.startswith(TEMP_PREFIX) or not _NAME_RE.fullmatch(entry.name):
                    continue
                try:
                    yield entry.name, entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:  # deleted while we listed
                    continue

    def cleanup_temp(self, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        removed = 0
        for d in self._leaf_dirs():
            for entry in scandir_or_empty(d):
                if not entry.name.startswith(TEMP_PREFIX):
                    continue
                try:
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    continue
        if removed:
            log.info("removed %d leftover temporary chunk files", removed)
        return removed


def _write_all(fd: int, parts: Sequence[Buffer]) -> None:
    views = [memoryview(p).cast("B") for p in parts if len(p)]
    while views:
        n = os.writev(fd, views)
        while n:
            if n >= len(views[0]):
                n -= len(views[0])
                views.pop(0)
            else:
                views[0] = views[0][n:]
                n = 0


def _direct_ok(data: Buffer | Sequence[Buffer]) -> bool:
    """Whether ``put`` may write ``data`` with O_DIRECT: one writable buffer
    (a sealing scratch buffer) of at least ``_DIRECT_MIN`` bytes whose start
    is ``_DIRECT_ALIGN``-aligned."""
    if not _DIRECT or not isinstance(data, memoryview) or data.readonly:
        return False
    if len(data) < _DIRECT_MIN or not data.c_contiguous or data.itemsize != 1:
        return False
    return ctypes.addressof(ctypes.c_char.from_buffer(data)) % _DIRECT_ALIGN == 0


def _write_direct(fd: int, data: memoryview) -> bool:
    """Write ``data`` into the empty file ``fd`` opened with O_DIRECT: its
    aligned head straight from the buffer to the disk (no page-cache copy),
    the last partial block through the page cache (O_DIRECT cleared).

    False: the file system refused the O_DIRECT write (EINVAL: it wants
    another alignment); the file was then written through the page cache.
    """
    head = len(data) - len(data) % _DIRECT_ALIGN
    pos = 0
    refused = False
    try:
        while pos < head:
            pos += os.write(fd, data[pos:head])
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        refused = True
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~_DIRECT)
    if refused:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        pos = 0
    while pos < len(data):
        pos += os.write(fd, data[pos:])
    return not refused


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def scandir_or_empty(path: str) -> list[os.DirEntry[str]]:
    """The entries of a directory, none if it is missing (a fan-out directory
    not made yet; LocalBackend's chunks, the S3 backend's frame cache)."""
    try:
        with os.scandir(path) as it:
            return list(it)
    except FileNotFoundError:
        return []
