"""fsck and garbage collection.

fsck checks the store against its invariants: every chunk a version or an
upload part names exists and authenticates, reference counts equal the
manifest entries, ``objects`` points at each key's newest version, manifests
add up to the object size. ``repair`` fixes what can be fixed without losing
data (reference counts, the latest pointers, orphan chunks) and *reports*
objects whose data is damaged; it never drops them silently.

gc removes chunks nothing references: rows whose count fell to 0 and files
without a row (left by a crash or an aborted write), once they are older
than a grace period, so writes in flight elsewhere are never raced.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from objfs.errors import IntegrityError, KMSDisabled, KMSInvalidState, KMSNotFound, ObjfsError
from objfs.meta import queries as q
from objfs.store import records as rec

if TYPE_CHECKING:
    from objfs.store.core import Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FsckReport:
    problems: list[str] = field(default_factory=list)
    damaged_objects: list[tuple[str, str, str]] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    chunks_checked: int = 0
    versions_checked: int = 0
    orphan_chunks: int = 0
    # Referenced chunks by frame format (1: pre-segment, 2: segments): a store
    # upgraded from format 1 holds both until its old data is rewritten.
    chunk_formats: dict[int, int] = field(default_factory=dict)
    inline_chunks: int = 0  # referenced chunks that live in the database, not a file

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(slots=True)
class GcReport:
    chunks_removed: int = 0
    bytes_freed: int = 0
    temp_files_removed: int = 0


class MaintenanceMixin:
    def fsck(
        self: Store,
        *,
        repair: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> FsckReport:
        report = FsckReport()
        refs: Counter[bytes] = Counter()
        owners: dict[bytes, list[tuple[str, str, str]]] = {}
        domains: dict[bytes, bytes] = {}
        with self.db.read() as cur:
            sources = [
                *((b, k, v, d, m, "version") for b, k, v, d, m in q.all_manifests(cur)),
                *((b, k, u, d, m, "upload") for b, k, u, d, m in q.all_part_manifests(cur)),
            ]
            sizes = q.version_sizes(cur)
            rows = q.chunk_rows(cur)
            stale_latest = q.stale_latest(cur)
        for bucket, key, vid, domain_id, blob, kind in sources:
            manifest = rec.unpack_manifest(blob)
            name = (
                bucket,
                key.decode("utf-8", "replace"),
                vid if kind == "version" else f"upload:{vid}",
            )
            if kind == "version":
                report.versions_checked += 1
                total = sum(r.length for r in manifest)
                if total != sizes.get((bucket, key, vid)):
                    report.problems.append(
                        f"s3://{name[0]}/{name[1]} version {vid}: manifest covers {total} bytes, "
                        f"size says {sizes.get((bucket, key, vid))}"
                    )
                    report.damaged_objects.append(name)
            for ref in manifest:
                if ref.chunk_id is None:
                    continue
                refs[ref.chunk_id] += 1
                owners.setdefault(ref.chunk_id, []).append(name)
                domains[ref.chunk_id] = domain_id
        # Reference counts.
        fixes: list[tuple[bytes, bytes, int, int]] = []
        for chunk_id, count in refs.items():
            row = rows.get(chunk_id)
            if row is None or row[1] != count:
                report.problems.append(
                    f"chunk {chunk_id.hex()}: {count} references, counted "
                    f"{None if row is None else row[1]}"
                )
                fixes.append((chunk_id, domains[chunk_id], count, row[2] if row else 0))
        for chunk_id, (domain_id, count, length) in rows.items():
            if chunk_id not in refs and count != 0:
                report.problems.append(f"chunk {chunk_id.hex()}: counted {count}, referenced 0")
                fixes.append((chunk_id, domain_id, 0, length))
        for bucket, key in stale_latest:
            report.problems.append(
                f"s3://{bucket}/{key.decode('utf-8', 'replace')}: latest pointer is stale"
            )
        repairable = set(report.problems) - {p for p in report.problems if "manifest covers" in p}
        # Data: every referenced chunk must exist and authenticate.
        total = len(refs)
        damaged: set[bytes] = set()
        for i, chunk_id in enumerate(refs):
            try:
                self._verify_chunk(domains[chunk_id], chunk_id)
                fmt = self.chunks.read_header(chunk_id).version
                report.chunk_formats[fmt] = report.chunk_formats.get(fmt, 0) + 1
                report.inline_chunks += self.chunks.home(chunk_id) == "inline"
            except ObjfsError as err:
                damaged.add(chunk_id)
                report.problems.append(str(err))
            report.chunks_checked += 1
            if progress is not None:
                progress(i + 1, total)
        for chunk_id in damaged:
            for name in owners[chunk_id]:
                if name not in report.damaged_objects:
                    report.damaged_objects.append(name)
        # Orphans: files nobody references (a crash leaves these; not a problem).
        orphans = [cid for cid, _ in self.chunks.iter_ids() if cid not in refs]
        report.orphan_chunks = len(orphans)
        if repair:
            with self.db.write(durable=True) as cur:
                for chunk_id, domain_id, count, length in fixes:
                    q.set_refs(cur, chunk_id, domain_id, count, length)
                    report.repaired.append(
                        f"reference count of chunk {chunk_id.hex()} set to {count}"
                    )
                for bucket, key in stale_latest:
                    q.refresh_latest(cur, bucket, key)
                    report.repaired.append(f"latest pointer of s3://{bucket}/{key.decode()} fixed")
            gc = self.gc(grace_seconds=0)
            if gc.chunks_removed:
                report.repaired.append(f"removed {gc.chunks_removed} unreferenced chunks")
            # What is repaired is no longer a problem; damaged data stays reported.
            report.problems = [p for p in report.problems if p not in repairable]
        return report

    def _verify_chunk(self: Store, domain_id: bytes, chunk_id: bytes) -> None:
        with self.db.read() as cur:
            row = q.get_domain(cur, domain_id)
        # Without the key (SSE-C: the customer's; KMS: disabled or deleted)
        # only the frame can be checked, not the data.
        frame_only = row is not None and row[1] == "SSE-C"
        domain = None
        if not frame_only:
            try:
                domain = self._domain(domain_id)
            except (KMSDisabled, KMSInvalidState, KMSNotFound):
                frame_only = True
        if frame_only or domain is None:
            if self.chunks.read_domain_id(chunk_id) != domain_id:
                raise IntegrityError(f"chunk {chunk_id.hex()} is damaged: wrong domain")
            return
        self.chunks.get(domain, chunk_id, cached=False)

    def gc(self: Store, *, grace_seconds: float = 3600) -> GcReport:
        """Remove chunks no version or part references, older than the grace period."""
        report = GcReport()
        cutoff = time.time() - grace_seconds
        with self.db.read() as cur:
            known = set(q.chunk_rows(cur))
        orphans = [
            cid for cid, mtime in self.chunks.iter_ids() if cid not in known and mtime <= cutoff
        ]

        def remove(chunk_id: bytes) -> bool:
            # A write that dedups onto a chunk touches it first: spare young ones.
            st = self.chunks.stat(chunk_id)
            if st is not None and st[0] > cutoff:
                return False
            self.chunks.delete(chunk_id)
            report.chunks_removed += 1
            report.bytes_freed += st[1] if st else 0
            return True

        with self.db.write(durable=True) as cur:
            for chunk_id in q.dead_chunks(cur, int(cutoff * 1e9)):
                if remove(chunk_id):
                    q.forget_chunk(cur, chunk_id)
            for chunk_id in orphans:
                if not q.chunk_known(cur, chunk_id):
                    remove(chunk_id)
        report.temp_files_removed = self.chunks.cleanup_temp(max(grace_seconds, 0))
        return report
