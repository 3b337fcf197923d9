"""fsck and garbage collection, safe to run on a live store.

fsck checks the store against its invariants: every chunk a version or an
upload part names exists and authenticates, reference counts equal the
references the manifests own (all entries of a part or of a version without
a base, the entries a version adds to its base otherwise: store/refcount.py),
each base link names an older live version of the same domain, ``objects``
points at each key's newest version, manifests add up to the object size. Each deviation is a ``Finding`` (kind, bucket,
key, version, chunk, repaired or not). ``repair`` fixes what can be fixed
without losing data (reference counts, base links, the latest pointers) and *reports*
objects whose data is damaged; it never drops them silently.

gc removes chunks nothing references: rows whose count fell to 0 and files
without a row (left by a crash or an aborted write). What follows is gc of
a backend that can touch a chunk (LocalBackend); a backend that cannot
(S3, ``gc_by_rows``) is collected from database rows and leases alone, by
the protocol of store/chunkgc.py (``RowGC``).

**Writers in flight are never raced** (store/leases.py has the lease
itself). A chunk is stored before the commit naming it, so for a while it
is referenced by nothing. gc and ``fsck --repair`` keep such chunks alive
by construction, not by a time window:

- gc runs in one write transaction (it holds the metadata lock, so no
  commit and no lease publication interleaves). In it, it drops expired
  leases and computes the **cutoff**: the oldest ``since`` among the live
  leases (this process's own writes from memory) minus ``LEASE_MARGIN_S``
  (file mtimes come from a coarse kernel clock), and at most
  ``now - grace``. It removes only dead rows whose count fell to 0 before
  the cutoff and files whose mtime is older than the cutoff.
- A writer whose lease gc did not see publishes it after gc's transaction,
  and stores chunks only after that: they cannot be among gc's victims.
- A write that dedups onto an existing unreferenced chunk touches it (its
  mtime becomes newer than the cutoff). gc deletes a file by moving it
  aside and checking the mtime there (``discard_unless_touched``): a touch
  either came first (the file goes back) or finds no file (the writer
  stores the chunk again). A commit still checks that chunks it revives
  exist, and fails rather than commit a hole.
- A crashed writer stops renewing its lease; after ``expires`` gc drops the
  row and collects the crashed writer's chunks like any orphan.

``fsck --repair`` recomputes reference counts and latest pointers inside
the write transaction that writes them (never from an earlier snapshot, so
commits racing the check cannot be undone), and removes orphans only through
gc, with no grace but under the same leases. A chunk that fails to verify is
reported only if a version or part that named it still does afterwards (a
version deleted or replaced while fsck ran is not damage).

``Maintenance`` is a collaborator of the ``Store`` (``store.maintenance``;
its requests, store administration for the owner only, are delegated by
facade/maintenance.py). Dependencies: the database, the chunk store, this
process's writer lease (``leases``: its own writes in progress), the
encryption domains (to authenticate a chunk), the free-space guard
(``space``: gc and fsck work on a full disk, and gc remakes the reserve)
and the seam (its decorators). fsck's repair runs gc's work inside its own
request (``_repair_gc``), not a second request.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from objfs.chunks.store import ChunkStore
from objfs.errors import IntegrityError, KMSDisabled, KMSInvalidState, KMSNotFound, ObjfsError
from objfs.meta import queries as q
from objfs.meta.db import Cursor, Database
from objfs.store import records as rec
from objfs.store.access import owner_only
from objfs.store.chunkgc import RowGC
from objfs.store.domains import Domains
from objfs.store.leases import LeaseInfo, Leases
from objfs.store.refcount import Tally, owned, tally_refs
from objfs.store.seam import Seam
from objfs.store.space import Space, frees_space
from objfs.store.types import RequestContext

log = logging.getLogger(__name__)

# File mtimes lag the fine clock by up to a kernel tick; a lease's start is
# moved back by this much before it bounds what gc may take.
LEASE_MARGIN_S = 1.0

# Finding kinds: what each means, and whether metadata repair fixes it.
FINDING_KINDS: dict[str, tuple[str, bool]] = {
    "damaged-chunk": ("a chunk a version or part names is missing or fails to verify", False),
    "size-mismatch": ("a version's manifest does not add up to its size", False),
    "refcount": ("a chunk's reference count differs from the manifests naming it", True),
    "stale-latest": ("a key's latest pointer does not name its newest version", True),
    "base-link": (
        "a version's base (what its references are counted against) is not an older "
        "live version of its domain",
        True,
    ),
}


@dataclass(slots=True, frozen=True)
class Finding:
    """One thing fsck found. ``version`` is ``upload:ID`` for a multipart part."""

    kind: str
    message: str
    bucket: str | None = None
    key: str | None = None
    version: str | None = None
    chunk: str | None = None  # hex id
    repaired: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class FsckReport:
    findings: list[Finding] = field(default_factory=list)
    chunks_checked: int = 0
    versions_checked: int = 0
    orphan_chunks: int = 0  # unreferenced chunk files seen (not a problem: gc's work)
    chunks_removed: int = 0  # by the gc that --repair runs
    # Referenced chunks by frame format (1: pre-segment, 2: segments): a store
    # upgraded from format 1 holds both until its old data is rewritten.
    chunk_formats: dict[int, int] = field(default_factory=dict)
    inline_chunks: int = 0  # referenced chunks that live in the database, not a file
    # Unreferenced chunks gc may not remove yet, and why ("held by the writer
    # lease of pid N on HOST: PROGRAM until TIME"): a write in flight.
    orphans_held: int = 0
    orphans_held_by: str | None = None

    @property
    def ok(self) -> bool:
        return all(f.repaired for f in self.findings)

    @property
    def problems(self) -> list[str]:
        return [f.message for f in self.findings if not f.repaired]

    @property
    def repaired(self) -> list[str]:
        done = [f.message for f in self.findings if f.repaired]
        if self.chunks_removed:
            done.append(f"removed {self.chunks_removed} unreferenced chunks")
        return done

    @property
    def damaged_objects(self) -> list[tuple[str, str, str]]:
        out: list[tuple[str, str, str]] = []
        for f in self.findings:
            if f.kind in ("damaged-chunk", "size-mismatch") and f.bucket is not None:
                name = (f.bucket, f.key or "", f.version or "")
                if name not in out:
                    out.append(name)
        return out


@dataclass(slots=True)
class GcReport:
    chunks_removed: int = 0
    bytes_freed: int = 0
    temp_files_removed: int = 0
    leases_expired: int = 0
    cutoff_ns: int = 0  # nothing written or touched after this was a candidate
    changes_pruned: int = 0  # change-feed rows forgotten (all but KEEP_CHANGES)
    # Unreferenced chunks older than the grace that a writer lease still
    # covers (kept: a write in flight may commit them), and which lease.
    held: int = 0
    held_by: str | None = None
    # A store gc runs by rows (S3, store/chunkgc.py): unreferenced chunks
    # doomed and waiting for their second grace before their objects go.
    doomed: int = 0


# Change-feed rows gc keeps: a mount polls the feed every 0.3 s, so only one
# that stood still through this many changes elsewhere finds a gap (it then
# drops all its caches, ``ChangeFeedGap``). ~100 bytes a row: ~10 MB kept,
# against a row per commit and delete forever.
KEEP_CHANGES = 100_000
PRUNE_BATCH = 20_000  # change-feed seqs forgotten per transaction


# Who names a chunk: (bucket, raw key, version id or upload id, "version" or
# "upload", the version's seq or the part's number). A seq is never reused,
# unlike a version id ("null" in an unversioned bucket names every new version).
Owner = tuple[str, bytes, str, str, int]


def _label(owner: Owner) -> tuple[str, str, str]:
    bucket, key, vid, kind, _ = owner
    return bucket, key.decode("utf-8", "replace"), vid if kind == "version" else f"upload:{vid}"


class Maintenance:
    """fsck, gc and the writer leases' listing; see the module docstring. Built
    with the database, the chunk store, the writer lease, the encryption
    domains, the free-space guard and the seam."""

    def __init__(
        self,
        *,
        db: Database,
        chunks: ChunkStore,
        leases: Leases,
        domains: Domains,
        space: Space,
        seam: Seam,
    ) -> None:
        self.db = db
        self.chunks = chunks
        self.leases = leases
        self.domains = domains
        self.space = space
        self.seam = seam
        # gc of a backend that cannot touch (S3): from rows and leases only.
        self.row_gc = RowGC(db=db, chunks=chunks, leases=leases, oldest_hold=self._oldest_hold)

    @frees_space  # works on a full disk (store/space.py)
    @owner_only("objfs:Fsck")
    def fsck(
        self,
        ctx: RequestContext,
        *,
        repair: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> FsckReport:
        report = FsckReport()
        owners: dict[bytes, list[Owner]] = {}
        domains: dict[bytes, bytes] = {}
        with self.db.read() as cur:  # one snapshot
            sizes = q.version_sizes(cur)
            for owner, domain_id, manifest in _sources(cur):
                if owner[3] == "version":
                    report.versions_checked += 1
                    total = sum(r.length for r in manifest)
                    size = sizes.get(owner[:3])
                    if total != size:
                        bucket, key, vid = _label(owner)
                        report.findings.append(
                            Finding(
                                "size-mismatch",
                                f"s3://{bucket}/{key} version {vid}: manifest covers {total} "
                                f"bytes, size says {size}",
                                bucket,
                                key,
                                vid,
                            )
                        )
                for ref in manifest:
                    if ref.chunk_id is not None:
                        owners.setdefault(ref.chunk_id, []).append(owner)
                        domains[ref.chunk_id] = domain_id
            if not repair:
                report.findings += _metadata_findings(cur, fix=False)
        if repair:
            # Recomputed and written under the lock: nothing commits in between.
            with self.db.write(durable=True) as cur:
                report.findings += _metadata_findings(cur, fix=True)
        # Data: every referenced chunk must exist and authenticate.
        total = len(owners)
        for i, (chunk_id, names) in enumerate(owners.items()):
            try:
                self._verify_chunk(domains[chunk_id], chunk_id)
                fmt = self.chunks.read_header(chunk_id).version
                report.chunk_formats[fmt] = report.chunk_formats.get(fmt, 0) + 1
                report.inline_chunks += self.chunks.home(chunk_id) == "inline"
            except ObjfsError as err:
                for owner in self._still_there(chunk_id, names):
                    bucket, key, vid = _label(owner)
                    report.findings.append(
                        Finding("damaged-chunk", str(err), bucket, key, vid, chunk_id.hex())
                    )
            report.chunks_checked += 1
            if progress is not None:
                progress(i + 1, total)
        # Orphans: files nobody references (crash leftovers, writes in flight).
        orphans = [mtime for cid, mtime in self.chunks.iter_ids() if cid not in owners]
        report.orphan_chunks = len(orphans)
        if repair:
            gc = self._repair_gc()
            report.chunks_removed = gc.chunks_removed
            report.orphans_held, report.orphans_held_by = gc.held, gc.held_by
        elif orphans:
            with self.db.read() as cur:
                since, why = self._oldest_hold(cur, time.time_ns())
            if since is not None:
                if self.chunks.backend.gc_by_rows:  # no mtimes: any live lease may own one
                    report.orphans_held = len(orphans)
                else:
                    cutoff_s = since / 1e9 - LEASE_MARGIN_S
                    report.orphans_held = sum(1 for mtime in orphans if mtime >= cutoff_s)
                report.orphans_held_by = why if report.orphans_held else None
        return report

    def _oldest_hold(self, cur: Cursor, now: int) -> tuple[int | None, str | None]:
        """The oldest ``since`` of the live writer leases (this process's own
        writes from memory) and, for people, which lease it is."""
        holds: list[tuple[int, str]] = []
        for row in q.list_leases(cur):
            lease = LeaseInfo(*row)
            if lease.expires_ns > now and lease.lease_id != self.leases.lease_id:
                until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(lease.expires_ns / 1e9))
                holds.append(
                    (lease.since_ns, f"held by the writer lease of {lease.holder} until {until}")
                )
        mine = self.leases.oldest_active()
        if mine is not None:
            holds.append((mine, f"held by writes in progress in this process (pid {os.getpid()})"))
        if not holds:
            return None, None
        return min(holds)

    def _still_there(self, chunk_id: bytes, names: list[Owner]) -> list[Owner]:
        """The owners in ``names`` that still name ``chunk_id`` (a fresh snapshot)."""
        with self.db.read() as cur:
            out = []
            for owner in names:
                if owner[3] == "version":
                    if q.version_seq_exists(cur, owner[4]):  # manifests never change
                        out.append(owner)
                    continue
                blob = q.part_manifest(cur, owner[2], owner[4])  # a part can be re-sent
                if blob is not None and any(
                    r.chunk_id == chunk_id for r in rec.unpack_manifest(blob)
                ):
                    out.append(owner)
            return out

    def _verify_chunk(self, domain_id: bytes, chunk_id: bytes) -> None:
        with self.db.read() as cur:
            row = q.get_domain(cur, domain_id)
        # Without the key (SSE-C: the customer's; KMS: disabled or deleted)
        # only the frame can be checked, not the data.
        frame_only = row is not None and row[1] == "SSE-C"
        domain = None
        if not frame_only:
            try:
                domain = self.domains.domain(domain_id)
            except (KMSDisabled, KMSInvalidState, KMSNotFound):
                frame_only = True
        if frame_only or domain is None:
            if self.chunks.read_domain_id(chunk_id) != domain_id:
                raise IntegrityError(f"chunk {chunk_id.hex()} is damaged: wrong domain")
            return
        self.chunks.get(domain, chunk_id, cached=False)

    @owner_only("objfs:Fsck")
    def writer_leases(self, ctx: RequestContext) -> list[LeaseInfo]:
        """Every writer lease in the store, expired ones (crashed writers) included."""
        with self.db.read() as cur:
            return [LeaseInfo(*row) for row in q.list_leases(cur)]

    @frees_space  # works on a full disk (store/space.py)
    @owner_only("objfs:GarbageCollect")
    def gc(self, ctx: RequestContext, *, grace_seconds: float = 3600) -> GcReport:
        """Remove chunks no version or part references and no writer lease covers,
        and all but the newest ``KEEP_CHANGES`` rows of the change feed."""
        return self._gc(grace_seconds)

    @frees_space  # as ``gc``: on a full disk, gc's work runs once more (not fsck's)
    def _repair_gc(self) -> GcReport:
        """``fsck --repair``'s gc, with no grace, inside fsck's request."""
        return self._gc(0)

    def _gc(self, grace_seconds: float) -> GcReport:
        """``gc``'s work (``gc`` and ``_repair_gc``: not a request of its own)."""
        if self.chunks.backend.gc_by_rows:
            done = self.row_gc.run(grace_seconds)
            report = GcReport(
                chunks_removed=done.chunks_removed,
                bytes_freed=done.bytes_freed,
                temp_files_removed=done.temp_files_removed,
                leases_expired=done.leases_expired,
                cutoff_ns=done.cutoff_ns,
                held=done.held,
                held_by=done.held_by,
                doomed=done.doomed,
            )
        else:
            report = self._gc_by_mtimes(grace_seconds)
        # In short transactions of their own: a first gc of a big old store
        # must not hold up the mounts' commits while it forgets millions.
        finished = False
        while not finished:
            with self.db.write() as cur:
                gone, finished = q.prune_changes(cur, KEEP_CHANGES, PRUNE_BATCH)
            report.changes_pruned += gone
        if report.leases_expired:
            log.info("gc: %d expired writer lease(s) dropped", report.leases_expired)
        self.space.restore_reserve()  # gc may have made room for it again
        return report

    def _gc_by_mtimes(self, grace_seconds: float) -> GcReport:
        """gc of a backend that can touch (LocalBackend): see the module docstring."""
        report = GcReport()
        # Listed first (a long walk must not hold the lock); each candidate is
        # checked again under the lock, and files newer than the cutoff stay.
        listed = list(self.chunks.iter_ids())
        with self.db.write(durable=True) as cur:
            now = time.time_ns()
            report.leases_expired = q.drop_expired_leases(cur, now)
            since, why = self._oldest_hold(cur, now)
            graced = now - int(grace_seconds * 1e9)
            cutoff = graced
            if since is not None:
                cutoff = min(cutoff, since - int(LEASE_MARGIN_S * 1e9))
            report.cutoff_ns = cutoff
            cutoff_s = cutoff / 1e9

            def remove(chunk_id: bytes) -> bool:
                freed = self.chunks.discard_unless_touched(chunk_id, cutoff_s)
                if freed is None:
                    return False
                report.chunks_removed += 1
                report.bytes_freed += freed
                return True

            for chunk_id in q.dead_chunks(cur, cutoff):
                home = self.chunks.home(chunk_id)
                # An inline chunk lives in this transaction's database: a writer
                # can only take it up under the same lock, so it goes with its row.
                if home == "inline":
                    report.chunks_removed += 1
                if home == "inline" or remove(chunk_id) or home is None:
                    q.forget_chunk(cur, chunk_id)
            for chunk_id, mtime in listed:
                if mtime >= graced / 1e9 or q.chunk_known(cur, chunk_id):
                    continue
                if mtime < cutoff_s:
                    remove(chunk_id)
                else:  # past the grace, but a writer lease covers it
                    report.held += 1
            if cutoff < graced:  # dead rows past the grace that a lease still covers
                report.held += len(q.dead_chunks(cur, graced)) - len(q.dead_chunks(cur, cutoff))
            report.held_by = why if report.held else None
            report.temp_files_removed = self.chunks.cleanup_temp(max(0.0, now / 1e9 - cutoff_s))
        return report


def _sources(cur: Cursor) -> list[tuple[Owner, bytes, list[Any]]]:
    """(owner, domain id, manifest) of every version that holds data and every part."""
    out: list[tuple[Owner, bytes, list[Any]]] = []
    for b, k, v, d, m, seq in q.all_manifests(cur):
        out.append(((b, k, v, "version", seq), d, rec.unpack_manifest(m)))
    for b, k, u, d, m, number in q.all_part_manifests(cur):
        out.append(((b, k, u, "upload", number), d, rec.unpack_manifest(m)))
    return out


def _metadata_findings(cur: Cursor, *, fix: bool) -> list[Finding]:
    """Reference counts and latest pointers, from the cursor's transaction.

    With ``fix`` (inside a write transaction) each deviation is corrected
    as it is found, from the same state it was computed from.
    """
    findings: list[Finding] = []
    refs: Counter[bytes] = Counter()
    domains: dict[bytes, bytes] = {}
    sources = _sources(cur)
    tallies: dict[int, tuple[Tally, bytes]] = {}  # version seq -> (tally, domain)
    for owner, domain_id, manifest in sources:
        if owner[3] == "version":
            tallies[owner[4]] = (tally_refs(manifest), domain_id)
    bases = q.all_bases(cur)
    for owner, domain_id, manifest in sources:
        if owner[3] != "version":
            for ref in manifest:
                if ref.chunk_id is not None:
                    refs[ref.chunk_id] += 1
                    domains[ref.chunk_id] = domain_id
            continue
        seq = owner[4]
        mine = tallies[seq][0]
        base_seq = bases.get(seq)
        base = None
        if base_seq is not None:
            found = tallies.get(base_seq)
            if found is None or found[1] != domain_id or base_seq >= seq:
                bucket, key, vid = _label(owner)
                if fix:
                    q.set_version_base(cur, seq, None)
                findings.append(
                    Finding(
                        "base-link",
                        f"s3://{bucket}/{key} version {vid}: its base (seq {base_seq}) is not an "
                        "older live version of its domain; it now counts all its references",
                        bucket,
                        key,
                        vid,
                        repaired=fix,
                    )
                )
            else:
                base = found[0]
        for chunk_id, n in owned(mine, base).items():
            refs[chunk_id] += n
        for chunk_id in mine.counts:
            domains[chunk_id] = domain_id
    rows = q.chunk_rows(cur)
    wrong: list[tuple[bytes, bytes, int, int, int | None]] = []
    for chunk_id, count in refs.items():
        row = rows.get(chunk_id)
        if row is None or row[1] != count:
            wrong.append(
                (chunk_id, domains[chunk_id], count, row[2] if row else 0, row[1] if row else None)
            )
    for chunk_id, (domain_id, count, length) in rows.items():
        if chunk_id not in refs and count != 0:
            wrong.append((chunk_id, domain_id, 0, length, count))
    for chunk_id, domain_id, count, length, counted in wrong:
        if fix:
            q.set_refs(cur, chunk_id, domain_id, count, length)
        findings.append(
            Finding(
                "refcount",
                f"chunk {chunk_id.hex()}: {count} references, counted {counted}",
                chunk=chunk_id.hex(),
                repaired=fix,
            )
        )
    findings += _inline_findings(cur, fix=fix)
    top_version, top_change = q.version_seq_top(cur)
    if top_version > top_change:
        # Format 4 numbers versions from the change feed: the next commit
        # would take a seq a version holds already (and fail).
        if fix:
            q.add_change_at(cur, top_version, "", b"")
        findings.append(
            Finding(
                "change-sequence",
                f"the change sequence ({top_change}) is behind the newest version "
                f"(seq {top_version})",
                repaired=fix,
            )
        )
    for bucket, raw in q.stale_latest(cur):
        name = raw.decode("utf-8", "replace")
        if fix:
            q.refresh_latest(cur, bucket, raw)
            q.add_change(cur, bucket, raw)
        findings.append(
            Finding(
                "stale-latest",
                f"s3://{bucket}/{name}: latest pointer is stale",
                bucket,
                name,
                repaired=fix,
            )
        )
    return findings


def _inline_findings(cur: Cursor, *, fix: bool) -> list[Finding]:
    """Inline frames their chunk row does not point at (format 4: a frame is
    found through ``chunks.inline_row``): linked to a chunk row that has no
    frame, else dropped (a chunk row points at another copy, or none is left)."""
    findings: list[Finding] = []
    linked: set[bytes] = set()
    for row, chunk_id, frameless in q.unlinked_inlines(cur):
        if frameless and chunk_id not in linked:
            linked.add(chunk_id)
            if fix:
                q.link_inlines(cur, {chunk_id: row})
            message = f"chunk {chunk_id.hex()}: its inline frame was not linked from its row"
            kind = "inline-link"
        else:
            if fix:
                q.drop_inline_row(cur, row)
            message = f"chunk {chunk_id.hex()}: an inline frame no chunk row points at"
            kind = "orphan-inline"
        findings.append(Finding(kind, message, chunk=chunk_id.hex(), repaired=fix))
    return findings
