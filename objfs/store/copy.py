"""Moving a store: ``objfs store copy`` makes another directory the same store.

The target gets every metadata row of the source verbatim (same buckets,
version ids, seqs, dates, etags, users, keys, policies, ACLs, KMS keys,
encryption domains, uploads in progress: objfs/meta/copy_rows.py), every
sealed chunk frame verbatim (frames are encrypted and named by keyed ids, so
they move as opaque blobs) and the source's master key (its ``keys/``
directory; the key goes nowhere else). Its metadata and chunks live where
the caller says (``chunks_url``; ``meta_url`` once the store knows how).

Order, so that a copy is resumable and never half-usable:

1. *prepare*: the target directory is absent or empty (else refused, unless
   it is the unfinished target of a copy of this same store, see below). A
   marker ``COPYING`` (JSON: the source's identity, the target's URLs) is
   written first; then ``Store.init`` makes the target's empty store in
   ``.copy-init/`` (it checks the chunk location is empty and working),
   ``keys/`` is replaced by the source's, and its entries move up into the
   target, the metadata last and hidden (``meta.db.copying``): ``objfs``
   finds no store there until the copy is done;
2. *snapshot*: every row of the source, read in ONE read transaction, so a
   live source gives a consistent copy;
3. *chunks*: the frames of the chunks the snapshot's rows name (not what the
   source's backend lists), skipping those already at the target (listed
   once): a re-run after a crash or Ctrl-C continues where the last stopped;
4. *metadata*: all rows in ONE write transaction of the target, then the
   metadata is unhidden (rows in: the marker records it);
5. *fsck* of the target, reading every chunk; the marker goes when it is
   clean. A re-run of a copy whose rows are in never writes rows again
   (someone may use the target by then): it copies what the target's own
   rows name and is missing, and checks again.

A re-run with a marker of another store or of other URLs is refused with
what to do; one copy at a time holds the target (a lock on its directory).
Nothing here writes to the source. The snapshot is held in memory (about
the size of the source's metadata) until its rows are written.
"""

from __future__ import annotations

import contextlib
import fcntl
import inspect
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from objfs.chunks.backend import ChunkBackend
from objfs.chunks.urls import open_backend, parse_chunks_url
from objfs.crypto.keyring import Keyring
from objfs.errors import IntegrityError, InvalidArgument, InvalidRequest
from objfs.meta import copy_rows
from objfs.meta.copy_rows import Snapshot, StoredChunk
from objfs.meta.db import Database
from objfs.store.core import Store
from objfs.store.types import OWNER

log = logging.getLogger(__name__)

MARKER = "COPYING"  # in the target while a copy is unfinished
STAGING = ".copy-init"  # where Store.init makes the target's empty store
HIDDEN = ".copying"  # suffix of the target's metadata until its rows are in
META_NAMES = ("meta.db", "meta.url")  # an SQLite store's database, a PostgreSQL store's URL
SYNC_EVERY = 256  # chunks copied between syncs of the target's backend
WORKERS = 8  # chunks in flight (an S3 location answers in milliseconds, not microseconds)


@dataclass(slots=True)
class CopyReport:
    """What a copy did (``--json`` prints it)."""

    target: str
    chunks_url: str
    meta_url: str | None
    resumed: bool = False
    objects: int = 0  # keys whose latest version is not a delete marker
    versions: int = 0  # versions and delete markers
    uploads: int = 0  # multipart uploads in progress
    chunks: int = 0  # chunks stored in the chunk location that the rows name
    chunks_copied: int = 0
    chunks_present: int = 0  # already at the target (a re-run)
    chunks_missing_dead: int = 0  # unreferenced at the source and gone there (gc's)
    bytes: int = 0  # data bytes of those chunks
    bytes_copied: int = 0
    seconds: float = 0.0
    fsck_ok: bool = False
    fsck_problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CopyProgress:
    """What a copy reports as it goes; every method a no-op here (the CLI draws)."""

    def phase(self, name: str) -> None:
        """``chunks``, ``metadata`` or ``fsck`` begins."""

    def start(self, chunks: int, nbytes: int) -> None:
        """The chunk phase's totals."""

    def advance(self, chunks: int, nbytes: int) -> None:
        """``chunks`` more chunks (``nbytes`` data bytes) are at the target."""

    def checked(self, done: int, total: int) -> None:
        """fsck of the target has read ``done`` of ``total`` chunks."""


def copy_store(
    source: Store,
    target: str | os.PathLike[str],
    *,
    chunks_url: str = "file:",
    meta_url: str | None = None,
    master_key_file: str | os.PathLike[str] | None = None,
    progress: CopyProgress | None = None,
) -> CopyReport:
    """Make ``target`` a copy of ``source`` (see the module docstring).

    ``master_key_file``: the key the source was opened with, if given
    explicitly (the target is opened with it too); else the source's
    ``keys/master.key`` or the systemd credential, as ``Keyring.load`` finds it.
    """
    started = time.monotonic()
    progress = progress or CopyProgress()
    path = Path(target).absolute()
    chunks_url = str(parse_chunks_url(chunks_url))
    if meta_url is not None and "meta_url" not in inspect.signature(Store.init).parameters:
        raise InvalidArgument(
            "this objfs keeps metadata only in SQLite: --to-meta needs an objfs that "
            "supports PostgreSQL metadata"
        )
    if path.exists() and source.path.exists() and path.samefile(source.path):
        raise InvalidArgument(f"{path} is the source store itself: copy to another directory")
    key_file = Path(master_key_file) if master_key_file is not None else None
    wanted = {"source": _identity(source), "chunks_url": chunks_url, "meta_url": meta_url}
    report = CopyReport(target=str(path), chunks_url=chunks_url, meta_url=meta_url)
    if path.exists() and not path.is_dir():
        raise InvalidRequest(f"{path} exists and is not a directory: choose an empty directory")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _exclusive(path):
        marker = _prepare(path, wanted, report)
        _copy(source, path, marker, report, progress, key_file)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _copy(
    source: Store,
    path: Path,
    marker: dict[str, Any],
    report: CopyReport,
    progress: CopyProgress,
    key_file: Path | None,
) -> None:
    """Steps 1 (the rest) to 5 of the module docstring, holding the target."""
    chunks_url, meta_url = report.chunks_url, report.meta_url
    if not marker.get("rows") and not _initialised(path):
        _init_target(path, source, chunks_url, meta_url, key_file)
    target_backend = open_backend(chunks_url, path, cache_bytes=0)
    if marker.get("rows"):
        # The rows are in: never write them again; fill in what they name.
        with _open_target(path, key_file) as store:
            with store.db.read() as cur:
                snapshot = copy_rows.read_snapshot(cur)
        _count(report, snapshot)
        progress.phase("chunks")
        _copy_chunks(
            source.chunks.backend, target_backend, snapshot.stored_chunks(), report, progress
        )
    else:
        with source.db.read() as cur:  # one snapshot of a possibly live source
            snapshot = copy_rows.read_snapshot(cur)
        _count(report, snapshot)
        progress.phase("chunks")
        _copy_chunks(
            source.chunks.backend, target_backend, snapshot.stored_chunks(), report, progress
        )
        progress.phase("metadata")
        _write_rows(path, snapshot, key_file)
        marker["rows"] = True
        _write_marker(path, marker)
    progress.phase("fsck")
    with _open_target(path, key_file) as store:
        fsck = store.fsck(OWNER, progress=progress.checked)
    report.fsck_ok = fsck.ok
    report.fsck_problems = list(fsck.problems)
    if fsck.ok:
        (path / MARKER).unlink()
        _fsync_dir(path)


# -- the target directory ----------------------------------------------------------


def _identity(source: Store) -> dict[str, Any]:
    """What tells one store from another (not secret): its creation time and
    the id of its SSE-S3 domain, both made once by ``Store.init``."""
    created = source.db.get_meta("created")
    domain = source.db.get_meta("sse_s3_domain")
    return {
        "created": int(created) if isinstance(created, int | str) else None,
        "sse_s3_domain": bytes(domain).hex() if isinstance(domain, bytes | memoryview) else None,
    }


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((path / MARKER).read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as err:
        raise InvalidRequest(
            f"{path / MARKER} is unreadable ({err}): remove {path} and copy again"
        ) from None
    return data if isinstance(data, dict) else None


def _write_marker(path: Path, marker: dict[str, Any]) -> None:
    tmp = path / (MARKER + ".tmp")
    with open(tmp, "w") as f:
        json.dump(marker, f, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path / MARKER)
    _fsync_dir(path)


def _prepare(path: Path, wanted: dict[str, Any], report: CopyReport) -> dict[str, Any]:
    """The target's marker: a new one in an absent or empty directory, or the
    one of an unfinished copy of this store to the same places."""
    if any(path.iterdir()):
        marker = _read_marker(path)
        if marker is None:
            raise InvalidRequest(
                f"{path} is not empty and holds no unfinished copy: copy into an empty "
                "or new directory"
            )
        if marker.get("source") != wanted["source"]:
            raise InvalidRequest(
                f"{path} holds an unfinished copy of another store: remove it or choose "
                "another directory"
            )
        for name, flag in (("chunks_url", "--to-chunks"), ("meta_url", "--to-meta")):
            if marker.get(name) != wanted[name]:
                raise InvalidRequest(
                    f"the unfinished copy in {path} was started with "
                    f"{flag} {marker.get(name) or '(none)'} (this time: "
                    f"{wanted[name] or '(none)'}); run it again with the same {flag}, "
                    "or remove it and copy into an empty directory"
                )
        report.resumed = True
        return marker
    path.chmod(0o700)  # it will hold the master key and the metadata
    marker = dict(wanted, rows=False)
    _write_marker(path, marker)
    return marker


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """One copy at a time into ``path``: a lock on the directory itself, held
    for the whole copy (the kernel drops it when the process dies)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InvalidRequest(
                f"another `objfs store copy` is copying into {path}: wait for it to end"
            ) from None
        yield
    finally:
        os.close(fd)


def _initialised(path: Path) -> bool:
    """The target's empty store is in place (its metadata hidden or, rows in, not)."""
    return any((path / name).exists() or (path / (name + HIDDEN)).exists() for name in META_NAMES)


def _init_target(
    path: Path, source: Store, chunks_url: str, meta_url: str | None, key_file: Path | None
) -> None:
    """An empty store with the source's master key, metadata hidden (step 1)."""
    # What an interrupted init left (no chunk has been copied before it ends).
    for entry in path.iterdir():
        if entry.name != MARKER:
            _remove(entry)
    staging = path / STAGING
    source_key = Keyring.key_path(source.path / "keys", key_file)
    kwargs: dict[str, Any] = {"chunks_url": chunks_url, "master_key_file": source_key}
    if meta_url is not None:
        kwargs["meta_url"] = meta_url
    Store.init(staging, **kwargs).close()
    keys = staging / "keys"
    for entry in (
        sorted((source.path / "keys").iterdir()) if (source.path / "keys").is_dir() else []
    ):
        if entry.is_file():
            dest = keys / entry.name
            shutil.copyfile(entry, dest)
            dest.chmod(0o600)
            with open(dest, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(keys)
    entries = sorted(staging.iterdir(), key=lambda e: e.name in META_NAMES)  # metadata last
    for entry in entries:
        hidden = entry.name in META_NAMES
        os.rename(entry, path / (entry.name + HIDDEN if hidden else entry.name))
    staging.rmdir()
    _fsync_dir(path)


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _open_target(path: Path, key_file: Path | None) -> Iterator[Store]:
    store = Store.open(path, master_key_file=key_file)
    try:
        yield store
    finally:
        store.close()


# -- chunks --------------------------------------------------------------------------


def _count(report: CopyReport, snapshot: Snapshot) -> None:
    report.objects = sum(1 for dm in snapshot.column("objects", "delete_marker") if not dm)
    report.versions = snapshot.count("versions")
    report.uploads = snapshot.count("uploads")


def _copy_chunks(
    source: ChunkBackend,
    target: ChunkBackend,
    chunks: Sequence[StoredChunk],
    report: CopyReport,
    progress: CopyProgress,
) -> None:
    """Every frame ``chunks`` names to ``target``, unless it is there already."""
    report.chunks = len(chunks)
    report.bytes = sum(c.length for c in chunks)
    progress.start(report.chunks, report.bytes)
    present = {name for name, _ in target.iterate()}  # one listing, then only puts
    todo = [c for c in chunks if c.chunk_id.hex() not in present]
    report.chunks_present = len(chunks) - len(todo)
    progress.advance(report.chunks_present, report.bytes - sum(c.length for c in todo))

    def one(chunk: StoredChunk) -> bool:
        name = chunk.chunk_id.hex()
        try:
            frame = source.get(name)
        except IntegrityError:
            if chunk.refs == 0 and not source.exists(name):
                return False  # dead at the source, and gc already took its frame
            raise IntegrityError(
                f"chunk {name}, which the source's metadata names, is missing from its chunk "
                "location: run `objfs fsck` on the source"
            ) from None
        target.put(name, frame)
        return True

    unsynced: list[str] = []
    window = WORKERS * 4  # bounded: Ctrl-C or an error waits for few chunks
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="objfs-copy") as pool:
        for start in range(0, len(todo), window):
            batch = todo[start : start + window]
            for chunk, stored in zip(batch, pool.map(one, batch), strict=True):
                if stored:
                    report.chunks_copied += 1
                    report.bytes_copied += chunk.length
                    unsynced.append(chunk.chunk_id.hex())
                else:
                    report.chunks_missing_dead += 1
                progress.advance(1, chunk.length)
            if len(unsynced) >= SYNC_EVERY:
                target.sync(unsynced)
                unsynced = []
    target.sync(unsynced)  # durable before the rows that name them commit


# -- metadata ------------------------------------------------------------------------


def _write_rows(path: Path, snapshot: Snapshot, key_file: Path | None) -> None:
    """All rows in one transaction of the target, then its metadata unhidden."""
    hidden = path / ("meta.db" + HIDDEN)
    if hidden.exists():  # SQLite: written while nothing can find it
        db = Database.open(hidden)
        try:
            with db.write(durable=True) as cur:
                copy_rows.replace_all(cur, snapshot)
        finally:
            db.close()
        for suffix in ("-wal", "-shm"):  # the last close of a WAL database removes them
            leftover = Path(str(hidden) + suffix)
            if leftover.exists():
                os.rename(leftover, path / ("meta.db" + suffix))
        os.rename(hidden, path / "meta.db")
        _fsync_dir(path)
        return
    url = path / ("meta.url" + HIDDEN)
    if url.exists():  # PostgreSQL: the URL is needed to reach the rows
        os.rename(url, path / "meta.url")
        _fsync_dir(path)
    with _open_target(path, key_file) as store, store.db.write(durable=True) as cur:
        copy_rows.replace_all(cur, snapshot)
