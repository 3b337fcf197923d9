"""The Store: buckets and objects with S3 semantics, a thin facade over collaborators.

Owns the rules of S3-SEMANTICS.md (buckets, versions, delete markers,
conditions, copy, rename) through the collaborators it builds in
``__init__``, each with explicit keyword dependencies, none importing
``Store`` or touching another's private attributes
(``tests/store/test_access_seam.py``):

- shared: ``seam`` (seam.py: the decision and the access-log record of
  every request; the decorators of access.py reach only ``self.seam``),
  ``configs`` (configs.py: a bucket's record and configuration map),
  ``committer`` (commit.py: the one commit path of a ``NewVersion``),
  ``versions`` (versions.py: the version a request names; S3's DELETE),
  ``domains`` (domains.py: encryption domains), ``lock_rules``
  (objectlock.py: the Object Lock checks), ``extents`` (decoded
  manifests), ``leases``, ``space``, ``access_log``, ``mfa_codes``,
  ``time`` (the ``Clock``; tests set ``store.clock``);
- the requests, their public API kept on ``Store`` as same-named delegates
  (the ``facade/`` package, one class per collaborator): ``buckets``,
  ``change_feed`` (and ``sync``), ``objects``, ``listing``, ``multipart``,
  ``mount_ops``, ``maintenance``, ``tagging``, ``lifecycle``,
  ``object_lock``, ``bucket_logging``, and the administration: ``users``,
  ``mfa``, ``kms``, ``policies``, ``ownership``, ``cors``.

A request method never calls another: work two requests share is a named
internal method of their collaborator (access.py, nested requests).

Invariants after every call:
- chunks a committed version names are durable before the commit when the
  context asks for durability, and always written before the commit;
- ``objects`` points at the newest version row of each key;
- ``chunks.refs`` counts manifest entries naming each chunk (see meta.queries);
- every mutation appends to the change sequence in the same transaction
  (bucket configuration: key ``''``; the KMS: bucket and key ``''``);
- chunks stored for a commit that has not happened yet are covered by this
  process's writer lease (store/leases.py) from before they are written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

from objfs.chunks.backend import ChunkBackend, LocalBackend
from objfs.chunks.store import ChunkStore
from objfs.chunks.urls import DEFAULT_URL, check_backend, open_backend, parse_chunks_url
from objfs.crypto.keyring import Keyring
from objfs.errors import (
    AccessDenied,
    IntegrityError,
    InvalidArgument,
    InvalidRequest,
    StoreFormatError,
    StoreFull,
    StoreNotFound,
)
from objfs.meta import gc_queries as gq
from objfs.meta import queries as q
from objfs.meta.db import Database
from objfs.meta.pg import PgDatabase, check_url
from objfs.store.accesslog import AccessLog, BucketLoggingRequests
from objfs.store.authorizer import AccessControl
from objfs.store.buckets import Buckets
from objfs.store.changes import ChangeFeed
from objfs.store.chunkgc import ensure_schema as ensure_gc_schema
from objfs.store.clock import Clock
from objfs.store.commit import VersionCommitter
from objfs.store.configs import BucketConfigs
from objfs.store.cors import CORS
from objfs.store.domains import Domains
from objfs.store.expiry import Lifecycle
from objfs.store.extents import ExtentsCache
from objfs.store.facade import (
    AdminFacade,
    BucketLoggingFacade,
    BucketsFacade,
    ChangeFeedFacade,
    LifecycleFacade,
    ListingFacade,
    MaintenanceFacade,
    MountOpsFacade,
    MultipartFacade,
    ObjectLockFacade,
    ObjectsFacade,
    TaggingFacade,
)
from objfs.store.kms import KMS
from objfs.store.leases import Leases
from objfs.store.listing import Listing
from objfs.store.maintenance import Maintenance
from objfs.store.mfa import MFA, MFACodes
from objfs.store.mountops import MountOps
from objfs.store.multipart import Multipart
from objfs.store.objectlock import LockRules, ObjectLock
from objfs.store.objects import Objects
from objfs.store.ownership import Ownership
from objfs.store.policies import Policies
from objfs.store.seam import Seam
from objfs.store.space import Space
from objfs.store.tagging import Tagging
from objfs.store.users import Users
from objfs.store.versions import Versions

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1 << 20
# A store whose metadata lives in PostgreSQL: its directory holds this file
# (the libpq URL, one line, 0600) instead of meta.db, and keys/ as ever.
META_URL_FILE = "meta.url"
SQLITE_URL = "sqlite:"


def meta_url_of(path: Path) -> str:
    """The metadata URL of the store in ``path``: ``sqlite:`` (meta.db) or the
    PostgreSQL URL its ``meta.url`` holds."""
    try:
        return (path / META_URL_FILE).read_text().strip()
    except FileNotFoundError:
        return SQLITE_URL


class Store(
    ObjectsFacade,
    ListingFacade,
    MultipartFacade,
    MaintenanceFacade,
    BucketLoggingFacade,
    TaggingFacade,
    LifecycleFacade,
    ObjectLockFacade,
    BucketsFacade,
    ChangeFeedFacade,
    MountOpsFacade,
    AdminFacade,
):
    """An objfs store directory opened for use. Thread-safe."""

    def __init__(
        self,
        path: Path,
        db: Database,
        keyring: Keyring,
        *,
        backend: ChunkBackend | None = None,
        chunks_url: str = DEFAULT_URL,
    ) -> None:
        self.path = path
        self.db = db
        # Where the metadata lives: ``sqlite:`` (meta.db) or the PostgreSQL URL.
        self.meta_url = db.url if isinstance(db, PgDatabase) else SQLITE_URL
        self.attached = False  # init found the store there already (PostgreSQL)
        self.keyring = keyring
        self.chunk_size = int(cast(int, db.get_meta("chunk_size")))
        # Where the chunks live (chunks/urls.py): recorded at init, meta key ``chunks_url``.
        self.chunks_url = chunks_url
        self.chunks = ChunkStore(LocalBackend(path / "chunks") if backend is None else backend)
        # Small chunks live inline in the database (see chunking.store_stream).
        # One statement on this thread's connection: inside a write it sees
        # the frames that write inserted.
        self.chunks.inline_source = self._inline_frame
        if self.chunks.backend.gc_by_rows:
            # Writes dedup against chunk rows only; gc's table (store/chunkgc.py).
            self.chunks.known = self._known_chunk
            ensure_gc_schema(db)
        # New data stops at the free-space floor; deletes may use the reserve.
        self.space = Space(path)
        self.chunks.before_write = self.space.require_room
        self.time = Clock()  # "now" of TOTP codes and Object Lock; tests set ``clock``
        # Encryption domains (domains.py); given the KMS once it is built.
        self.domains = Domains(db=db, keyring=keyring)
        self.extents = ExtentsCache()  # decoded manifests by seq (extents.py)
        self.access = AccessControl(db)  # the authorization seam's data (authorizer.py)
        # This process's writer lease (store/leases.py); dropped even on a full disk.
        self.leases = Leases(db, on_full=self.space.release_reserve)
        self.configs = BucketConfigs(db=db, access=self.access)  # bucket record, config map
        self.mfa_codes = MFACodes(access=self.access, keyring=keyring, clock=self.time)
        # THE seam (seam.py): every decorated method's decision and log record;
        # it records into the access log once that is built (``log_to``).
        self.seam = Seam(db=db, access=self.access, access_log=None, mfa=self.mfa_codes)
        # Object Lock's checks (objectlock.py), which the committer calls.
        self.lock_rules = LockRules(db=db, configs=self.configs, seam=self.seam, clock=self.time)
        # The one commit path of new versions (commit.py).
        self.committer = VersionCommitter(
            self.chunks,
            self.access,
            bucket_of=self.configs.info,
            lock_for_new_version=self.lock_rules.for_new_version,
            check_not_locked=self.lock_rules.check_not_locked,
        )
        # The version a request names; S3's DELETE of one (versions.py).
        self.versions = Versions(bucket_of=self.configs.info, committer=self.committer)
        self.access_log = AccessLog(  # server access logs (accesslog.py)
            db,
            self.access,
            leases=self.leases,
            chunks=self.chunks,
            chunk_size=self.chunk_size,
            bucket_of=self.configs.info,
            write_domain=self.domains.write_domain,
            committer=self.committer,
        )
        self.seam.log_to(self.access_log)
        # The administration collaborators (their API: facade/'s delegates).
        self.users = Users(db=db, access=self.access, keyring=keyring, seam=self.seam)
        self.mfa = MFA(
            db=db, access=self.access, keyring=keyring, codes=self.mfa_codes, seam=self.seam
        )
        self.kms = KMS(
            db=db,
            keyring=keyring,
            seam=self.seam,
            domains=self.domains.cache,
            domain_lock=self.domains.lock,
        )
        self.domains.use_kms(self.kms)
        self.policies = Policies(db=db, access=self.access, configs=self.configs, seam=self.seam)
        self.ownership = Ownership(db=db, access=self.access, configs=self.configs, seam=self.seam)
        self.cors = CORS(db=db, configs=self.configs, seam=self.seam)
        # The data collaborators (their API: facade/'s delegates).
        self.buckets = Buckets(  # the bucket requests (buckets.py)
            db=db,
            access=self.access,
            configs=self.configs,
            mfa_codes=self.mfa_codes,
            kms=self.kms,
            lock_rules=self.lock_rules,
            seam=self.seam,
        )
        # The change sequence and sync (changes.py).
        self.change_feed = ChangeFeed(db=db, chunks=self.chunks, seam=self.seam)
        self.object_lock = ObjectLock(
            db=db,
            configs=self.configs,
            rules=self.lock_rules,
            versions=self.versions,
            committer=self.committer,
            seam=self.seam,
        )
        # The mount's renames, times, directory facts and writers (mountops.py).
        self.mount_ops = MountOps(
            db=db,
            chunks=self.chunks,
            chunk_size=self.chunk_size,
            space=self.space,
            leases=self.leases,
            seam=self.seam,
            configs=self.configs,
            committer=self.committer,
            extents=self.extents,
            kms=self.kms,
            domains=self.domains,
            versions=self.versions,
        )
        # Listings (listing.py): read-only, one snapshot per request.
        self.listing = Listing(db=db, configs=self.configs, access=self.access, seam=self.seam)
        # fsck and gc (maintenance.py): store administration, on a full disk too.
        self.maintenance = Maintenance(
            db=db,
            chunks=self.chunks,
            leases=self.leases,
            domains=self.domains,
            space=self.space,
            seam=self.seam,
        )
        # Bucket logging's requests (accesslog.py); delivery is the access log's.
        self.bucket_logging = BucketLoggingRequests(
            db=db,
            configs=self.configs,
            access=self.access,
            seam=self.seam,
            access_log=self.access_log,
        )
        # The tagging requests (tagging.py): a version's tags, a bucket's.
        self.tagging = Tagging(
            db=db,
            versions=self.versions,
            committer=self.committer,
            configs=self.configs,
            seam=self.seam,
        )
        # Lifecycle (expiry.py): its configuration, x-amz-expiration, apply_lifecycle.
        self.lifecycle = Lifecycle(
            db=db,
            configs=self.configs,
            versions=self.versions,
            access=self.access,
            access_log=self.access_log,
            space=self.space,
            seam=self.seam,
        )
        # Objects: read, write, copy, delete, amend metadata (objects.py).
        self.objects = Objects(
            db=db,
            chunks=self.chunks,
            chunk_size=self.chunk_size,
            space=self.space,
            leases=self.leases,
            seam=self.seam,
            configs=self.configs,
            committer=self.committer,
            extents=self.extents,
            domains=self.domains,
            versions=self.versions,
            lock_rules=self.lock_rules,
            mfa_codes=self.mfa_codes,
        )
        # Multipart uploads (multipart.py): parts stored as chunks, completed by the committer.
        self.multipart = Multipart(
            db=db,
            chunks=self.chunks,
            chunk_size=self.chunk_size,
            space=self.space,
            leases=self.leases,
            access=self.access,
            seam=self.seam,
            configs=self.configs,
            lock_rules=self.lock_rules,
            domains=self.domains,
            committer=self.committer,
            versions=self.versions,
            extents=self.extents,
        )

    def _inline_frame(self, chunk_id: bytes) -> bytes | None:
        with self.db.peek() as cur:
            return q.get_inline(cur, chunk_id)

    def _known_chunk(self, chunk_id: bytes) -> bool:
        with self.db.peek() as cur:
            return gq.dedup_hit(cur, chunk_id)

    @property
    def clock(self) -> Callable[[], float]:
        """Where "now" comes from (TOTP codes, Object Lock); tests set it to step
        through time: the source of the store's ``Clock`` (clock.py)."""
        return self.time.source

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.time.source = clock

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        master_key_file: str | os.PathLike[str] | None = None,
        chunks_url: str = DEFAULT_URL,
        meta_url: str | None = None,
    ) -> Store:
        """A new store in ``path`` (absent or empty), its chunks where ``chunks_url``
        says (chunks/urls.py). A URL other than ``file:`` must name an empty,
        working location: init puts, reads and deletes a probe there first, and
        on any failure leaves ``path`` as it found it.

        ``meta_url``: ``sqlite:`` (None: the default, ``meta.db`` in ``path``)
        or a ``postgresql://`` URL (``_init_postgres``: ``path`` becomes the
        node-local descriptor of the store there, made or attached to)."""
        path = Path(path)
        if meta_url is not None and meta_url != SQLITE_URL:
            return cls._init_postgres(
                path,
                meta_url=meta_url,
                chunk_size=chunk_size,
                master_key_file=master_key_file,
                chunks_url=chunks_url,
            )
        if not 64 * 1024 <= chunk_size <= 64 << 20 or chunk_size & (chunk_size - 1):
            raise InvalidArgument("chunk size must be a power of two from 64 KiB to 64 MiB")
        chunks_url = str(parse_chunks_url(chunks_url))  # the canonical form is recorded
        if (path / "meta.db").exists() or (path / META_URL_FILE).exists():
            raise InvalidRequest(f"{path} already holds an objfs store")
        if path.exists() and any(path.iterdir()):
            raise InvalidRequest(f"{path} exists and is not empty: choose an empty directory")
        if master_key_file is not None:
            # A bad key file must not leave a half-made store behind.
            keyring = Keyring.load(path / "keys", Path(master_key_file))
        made = not path.exists()
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            backend = cls._new_backend(path, chunks_url)
        except BaseException:
            _undo_init(path, made)
            raise
        path.chmod(0o700)  # the store holds the master key and the database: owner power
        if master_key_file is None:
            keyring = Keyring.create(path / "keys")
        else:
            (path / "keys").mkdir(mode=0o700, exist_ok=True)
        plain, plain_rec = keyring.new_domain("none")
        sse_s3, sse_rec = keyring.new_domain("AES256")
        db = Database.create(
            path / "meta.db",
            {
                "chunk_size": chunk_size,
                "created": time.time_ns(),
                "plain_domain": plain.domain_id,
                "sse_s3_domain": sse_s3.domain_id,
                "chunks_url": chunks_url,
            },
        )
        with db.write(durable=True) as cur:
            q.insert_domain(cur, plain.domain_id, plain.kind, plain_rec)
            q.insert_domain(cur, sse_s3.domain_id, sse_s3.kind, sse_rec)
        store = cls(path, db, keyring, backend=backend, chunks_url=chunks_url)
        store.space.restore_reserve()
        return store

    @classmethod
    def _init_postgres(
        cls,
        path: Path,
        *,
        meta_url: str,
        chunk_size: int,
        master_key_file: str | os.PathLike[str] | None,
        chunks_url: str,
    ) -> Store:
        """``init`` with PostgreSQL metadata. ``path`` (absent, empty, or holding
        only ``keys/`` copied from a node) gets ``meta.url`` and ``keys/``. If
        the URL's schema holds no store, one is made there; else this attaches
        to it, never re-initialising: the chunks URL must be the store's and the
        master key must open its SSE-S3 domain."""
        check_url(meta_url)
        if (path / "meta.db").exists() or (path / META_URL_FILE).exists():
            raise InvalidRequest(f"{path} already holds an objfs store")
        if path.exists() and any(p.name != "keys" for p in path.iterdir()):
            raise InvalidRequest(f"{path} exists and is not empty: choose an empty directory")
        if not 64 * 1024 <= chunk_size <= 64 << 20 or chunk_size & (chunk_size - 1):
            raise InvalidArgument("chunk size must be a power of two from 64 KiB to 64 MiB")
        chunks_url = str(parse_chunks_url(chunks_url))
        keys = path / "keys"
        have_key = master_key_file is not None or Keyring.key_path(keys).is_file()
        if have_key:  # a bad key file must not leave a half-made store behind
            keyring = Keyring.load(keys, Path(master_key_file) if master_key_file else None)
        made = not path.exists()
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.chmod(0o700)
        db: PgDatabase | None = None
        try:
            if not have_key:  # removed again below if the store turns out to exist
                keyring = Keyring.create(keys)
            plain, plain_rec = keyring.new_domain("none")
            sse_s3, sse_rec = keyring.new_domain("AES256")
            meta = {
                "chunk_size": chunk_size,
                "created": time.time_ns(),
                "plain_domain": plain.domain_id,
                "sse_s3_domain": sse_s3.domain_id,
                "chunks_url": chunks_url,
            }
            db, new = PgDatabase.create_or_attach(meta_url, meta)
            if new:
                backend = cls._new_backend(path, chunks_url)
                with db.write(durable=True) as cur:
                    q.insert_domain(cur, plain.domain_id, plain.kind, plain_rec)
                    q.insert_domain(cur, sse_s3.domain_id, sse_s3.kind, sse_rec)
            else:
                recorded = str(db.get_meta("chunks_url"))
                if recorded != chunks_url:
                    raise InvalidArgument(
                        f"the store at {meta_url} keeps its chunks at {recorded}, not "
                        f"{chunks_url}: give --chunks {recorded}"
                    )
                if not have_key:
                    raise InvalidRequest(
                        f"{meta_url} already holds a store: its master key is needed to "
                        "attach to it: copy keys/ from a node or give --master-key-file"
                    )
                if parse_chunks_url(chunks_url).is_default:
                    raise InvalidRequest(
                        f"the store at {meta_url} keeps its chunks in the chunks/ directory "
                        "of the node that made it (file:): only that directory opens it"
                    )
                backend = cls._open_backend(path, chunks_url)
            keys.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(path / META_URL_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(meta_url + "\n")
            store = cls(path, db, keyring, backend=backend, chunks_url=chunks_url)
            store.attached = not new
            try:
                store.domains.domain(store.domains.store_domain_id("sse_s3_domain"))
            except (IntegrityError, AccessDenied) as exc:
                raise InvalidRequest(
                    f"wrong master key for the store at {meta_url}: copy keys/ from a node "
                    "or give --master-key-file"
                ) from exc
        except BaseException:
            if db is not None:
                db.close()
            if made:
                shutil.rmtree(path, ignore_errors=True)
            else:
                (path / META_URL_FILE).unlink(missing_ok=True)
                if not have_key:
                    shutil.rmtree(keys, ignore_errors=True)
                with contextlib.suppress(OSError):
                    (path / "chunks").rmdir()
            raise
        return store

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, master_key_file: str | os.PathLike[str] | None = None
    ) -> Store:
        path = Path(path)
        if (path / META_URL_FILE).is_file():
            return cls._open_postgres(path, master_key_file=master_key_file)
        if not (path / "meta.db").is_file():
            raise StoreNotFound(f"no objfs store at {path}: run `objfs init` or pass --store")
        try:
            db = Database.open(path / "meta.db")
        except StoreFull:
            # No room for the WAL and its index (meta.db-wal, -shm) that the
            # last process to close removed: the reserve makes it.
            if not Space(path).release_reserve():
                raise
            db = Database.open(path / "meta.db")
        try:
            chunks_url = str(db.get_meta("chunks_url") or DEFAULT_URL)  # absent: before URLs
            backend = cls._open_backend(path, chunks_url)
            keyring = Keyring.load(
                path / "keys", Path(master_key_file) if master_key_file else None
            )
            store = cls(path, db, keyring, backend=backend, chunks_url=chunks_url)
            store.domains.domain(store.domains.store_domain_id("sse_s3_domain"))
        except BaseException:
            db.close()
            raise
        store.space.restore_reserve()  # made again once there is room (store/space.py)
        return store

    @classmethod
    def _open_postgres(
        cls, path: Path, *, master_key_file: str | os.PathLike[str] | None = None
    ) -> Store:
        """``open`` of a store whose ``meta.url`` names its PostgreSQL schema."""
        db = PgDatabase.open_url(meta_url_of(path))
        try:
            chunks_url = str(db.get_meta("chunks_url") or DEFAULT_URL)
            backend = cls._open_backend(path, chunks_url)
            keyring = Keyring.load(
                path / "keys", Path(master_key_file) if master_key_file else None
            )
            store = cls(path, db, keyring, backend=backend, chunks_url=chunks_url)
            store.domains.domain(store.domains.store_domain_id("sse_s3_domain"))
        except BaseException:
            db.close()
            raise
        return store

    @staticmethod
    def _new_backend(path: Path, chunks_url: str) -> ChunkBackend:
        """The chunk backend of a store being made in ``path``: ``file:`` makes
        ``chunks/`` as ever; any other URL is checked (empty, and a probe
        blob round-trips) and ``chunks/`` is not made, so an objfs that
        predates chunks URLs refuses the store instead of finding no data."""
        where = parse_chunks_url(chunks_url)
        if where.is_default:
            (path / "chunks").mkdir(mode=0o700, exist_ok=True)
            return LocalBackend(path / "chunks")
        if where.path is not None and where.path.is_dir() and any(where.path.iterdir()):
            raise InvalidRequest(
                f"the chunk directory {where.path} is not empty: give each store an empty "
                "directory of its own (a store's gc deletes every chunk it does not know)"
            )
        backend = open_backend(chunks_url, path)
        check_backend(backend, chunks_url)
        return backend

    @staticmethod
    def _open_backend(path: Path, chunks_url: str) -> ChunkBackend:
        where = parse_chunks_url(chunks_url)
        if where.is_default and not (path / "chunks").is_dir():
            raise StoreFormatError(f"{path} has no chunks/ directory: the store is damaged")
        if where.scheme == "file" and where.path is not None and not where.path.is_dir():
            raise StoreFormatError(
                f"the chunk directory {where.path} of the store at {path} is missing: "
                "mount or restore it"
            )
        return open_backend(chunks_url, path)

    def close(self) -> None:
        self.access_log.close()  # delivers what is due
        self.leases.close()
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _undo_init(path: Path, made: bool) -> None:
    """Leave ``path`` as ``Store.init`` found it: absent, or empty (init refuses
    anything else, so whatever is in it now is init's own)."""
    if made:
        shutil.rmtree(path, ignore_errors=True)
        return
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
