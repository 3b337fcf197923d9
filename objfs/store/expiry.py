"""Lifecycle: a bucket's lifecycle configuration and the store applying it.

``Lifecycle`` is the ``Store``'s collaborator (``store.lifecycle``; see
core.py for the invariants every call keeps) for the public API: ``put_bucket_lifecycle``/``get_bucket_lifecycle``/
``delete_bucket_lifecycle`` (S3's Put/Get/DeleteBucketLifecycleConfiguration;
the rules, their validation and their arithmetic are ``expiry_rules.py``'s),
``lifecycle_expiration`` (what ``x-amz-expiration`` announces for a version)
and ``apply_lifecycle``, which does what every enabled rule says is due at
``now_ns`` (injectable: tests need not wait days):

- **Expiration** (Days or Date) of a current version: in a versioned bucket
  a delete marker is added (``S3.CREATE.DELETEMARKER``), in an unversioned
  one the object goes (``S3.EXPIRE.OBJECT``);
- a **delete marker left alone** (the key's only version) is removed by an
  ``ExpiredObjectDeleteMarker`` or Days/Date rule covering it;
- **NoncurrentVersionExpiration**: a version is noncurrent from the creation
  of the next newer one; it goes NoncurrentDays later (rounded up to
  midnight UTC), unless it is one of the NewerNoncurrentVersions newest
  noncurrent versions;
- **AbortIncompleteMultipartUpload**: an upload DaysAfterInitiation old is
  aborted (``S3.DELETE.UPLOAD``).

Invariants: each key (each upload) is decided and changed in its own small
write transaction, which re-reads it first, so a run killed at any point
leaves every key either before or after its change and a second run finishes
the work without doing anything twice. Every removal goes through the store's
own deletion (``Versions.delete``, multipart.py's ``drop_upload``), never around it. A version whose
Object Lock holds (``ObjectLockState.holds``) is never removed, nor a
version of a bucket with MFA delete on (S3 allows no lifecycle there: the
configuration is refused). Each change writes its access-log record (S3's
lifecycle operations, requester ``AmazonS3``) in the same transaction, so a
change is logged exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from objfs.errors import InvalidBucketState, NoSuchLifecycleConfiguration, ObjfsError
from objfs.meta import queries as q
from objfs.meta.db import Cursor, Database
from objfs.store import records as rec
from objfs.store.access import Need, owner_only, requires
from objfs.store.expiry_rules import (
    DAY_NS,
    LifecycleRule,
    current_expiry,
    next_midnight,
    parse_rules,
)
from objfs.store.logformat import LogRecord, format_line, new_request_id
from objfs.store.multipart import drop_upload
from objfs.store.records import Col
from objfs.store.space import frees_space
from objfs.store.types import ObjectVersion, RequestContext, Versioning

if TYPE_CHECKING:
    from objfs.store.accesslog import AccessLog
    from objfs.store.authorizer import AccessControl
    from objfs.store.configs import BucketConfigs
    from objfs.store.seam import Seam
    from objfs.store.space import Space
    from objfs.store.types import BucketInfo
    from objfs.store.versions import Versions

log = logging.getLogger(__name__)

PAGE = 1000  # version rows read per scan step (one read transaction each)
REQUESTER = "AmazonS3"  # who the access log says acted (S3's lifecycle records)
EXPIRE_OBJECT = "S3.EXPIRE.OBJECT"
CREATE_DELETEMARKER = "S3.CREATE.DELETEMARKER"
DELETE_UPLOAD = "S3.DELETE.UPLOAD"


@dataclass(slots=True)
class LifecycleReport:
    """What one ``apply_lifecycle`` run did (and left alone)."""

    buckets: int = 0
    expired: int = 0  # current versions of unversioned buckets removed
    delete_markers_added: int = 0  # current versions expired in versioned buckets
    delete_markers_removed: int = 0  # expired object delete markers
    noncurrent_expired: int = 0
    uploads_aborted: int = 0
    kept_locked: int = 0  # due, but an Object Lock holds the version
    actions: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    # (operation, bucket, key, version id) of each change, in order

    def as_dict(self) -> dict[str, Any]:
        return {
            "buckets": self.buckets,
            "expired": self.expired,
            "delete_markers_added": self.delete_markers_added,
            "delete_markers_removed": self.delete_markers_removed,
            "noncurrent_expired": self.noncurrent_expired,
            "uploads_aborted": self.uploads_aborted,
            "kept_locked": self.kept_locked,
            "actions": [list(a) for a in self.actions],
        }


@dataclass(frozen=True, slots=True)
class _Step:
    kind: str  # "current", "marker", "noncurrent"
    version_id: str | None  # None: the current version (a delete marker is added)


def plan_key(
    info: BucketInfo,
    rules: Sequence[LifecycleRule],
    key: str,
    versions: Sequence[ObjectVersion],
    now_ns: int,
) -> tuple[list[_Step], int]:
    """(the removals due for one key, newest version first, how many a lock keeps).

    ``versions``: every version of the key, newest first. Pure: decides, changes nothing.
    """
    steps: list[_Step] = []
    locked = 0
    if not versions:
        return steps, locked
    permanent_ok = not info.mfa_delete
    # noncurrent versions: noncurrent since the next newer version was created
    for index in range(1, len(versions)):
        version = versions[index]
        since = versions[index - 1].last_modified_ns
        newer_noncurrent = index - 1
        due = False
        for rule in rules:
            if not rule.enabled or rule.noncurrent_days is None:
                continue
            if not rule.filter.matches(key, version.size, version.tags):
                continue
            if rule.newer_noncurrent is not None and newer_noncurrent < rule.newer_noncurrent:
                continue
            if now_ns >= next_midnight(since + rule.noncurrent_days * DAY_NS):
                due = True
                break
        if due and permanent_ok:
            if version.lock.holds(now_ns):
                locked += 1
            else:
                steps.append(_Step("noncurrent", version.version_id))
    current = versions[0]
    remaining = len(versions) - sum(1 for s in steps if s.kind == "noncurrent")
    if current.is_delete_marker:
        if remaining == 1 and permanent_ok and _marker_expires(rules, key):
            steps.append(_Step("marker", current.version_id))
        return steps, locked
    expiry = current_expiry(rules, key, current.size, current.tags, current.last_modified_ns)
    if expiry is not None and now_ns >= expiry[0]:
        # Unversioned or suspended: the expiry (a null delete marker, or the
        # removal) replaces the key's null version, wherever it is in the list.
        replaced = None
        if info.versioning is not Versioning.ENABLED:
            replaced = next((v for v in versions if v.version_id == "null"), None)
        if replaced is not None and replaced.lock.holds(now_ns):
            locked += 1  # the null version would go: its lock keeps it
        elif not (replaced is not None and info.mfa_delete):
            steps.append(_Step("current", None))
    return steps, locked


def _marker_expires(rules: Iterable[LifecycleRule], key: str) -> bool:
    """An expired object delete marker (no version left behind it) goes under a rule
    with ExpiredObjectDeleteMarker, or with an Expiration by Days/Date, as in S3."""
    for rule in rules:
        if not rule.enabled or not rule.filter.matches(key, 0, {}):
            continue
        if rule.expired_delete_marker or rule.expiration_days or rule.expiration_date_ns:
            return True
    return False


class Lifecycle:
    """The lifecycle requests: a bucket's configuration, ``x-amz-expiration``
    and ``apply_lifecycle``; the ``Store`` delegates them
    (``objfs/store/facade/lifecycle.py``). See the module docstring.

    Built with the database, the bucket configurations (a bucket's record; its
    ``lifecycle`` and ``logging`` entries), the ``Versions`` (every removal of
    a version: ``versions.delete``, which keeps the Object Lock and MFA-delete
    rules), the authorization data (the canonical id of a bucket's owner in a
    record; an aborted upload's parts), the store's ``AccessLog`` (a change's
    record, delivery at the end of a run), the free-space guard (on a full
    disk ``apply_lifecycle`` releases the reserve and runs once more:
    ``frees_space``) and the seam (the decorators).
    Holds no state of its own."""

    def __init__(
        self,
        *,
        db: Database,
        configs: BucketConfigs,
        versions: Versions,
        access: AccessControl,
        access_log: AccessLog,
        space: Space,
        seam: Seam,
    ) -> None:
        self.db = db
        self.configs = configs
        self.versions = versions
        self.access = access
        self.access_log = access_log
        self.space = space
        self.seam = seam

    # -- configuration ---------------------------------------------------------------

    @requires(Need("s3:PutLifecycleConfiguration", key=None))
    def put_bucket_lifecycle(
        self, ctx: RequestContext, bucket: str, rules: Iterable[Any]
    ) -> list[dict[str, Any]]:
        """Validate and set the bucket's lifecycle rules (S3's JSON shape); returns
        them as GetBucketLifecycleConfiguration will (generated IDs filled in)."""
        parsed = parse_rules(rules)
        with self.db.write(durable=True) as cur:
            info = self.configs.info(cur, bucket)
            if info.mfa_delete:
                raise InvalidBucketState(
                    f"bucket {bucket!r} has MFA delete enabled: S3 allows no lifecycle "
                    "configuration on such a bucket"
                )
            stored = [r.obj for r in parsed]
            self.configs.set(cur, bucket, lifecycle=stored)
        return stored

    @requires(Need("s3:GetLifecycleConfiguration", key=None))
    def get_bucket_lifecycle(self, ctx: RequestContext, bucket: str) -> list[dict[str, Any]]:
        """The rules as put; NoSuchLifecycleConfiguration without any."""
        with self.db.read() as cur:
            stored = self.configs.get(cur, bucket).get("lifecycle")
        if not stored:
            raise NoSuchLifecycleConfiguration("The lifecycle configuration does not exist")
        return list(stored)

    @requires(Need("s3:PutLifecycleConfiguration", key=None))  # S3: Delete needs Put
    def delete_bucket_lifecycle(self, ctx: RequestContext, bucket: str) -> None:
        with self.db.write(durable=True) as cur:
            self.configs.set(cur, bucket, lifecycle=None)

    def _lifecycle_rules(self, cur: Cursor, bucket: str) -> tuple[LifecycleRule, ...]:
        stored = self.configs.get(cur, bucket).get("lifecycle")
        return parse_rules(stored) if stored else ()

    @requires()  # about a version the caller has just been allowed to read or write
    def lifecycle_expiration(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        size: int,
        tags: Mapping[str, str] | None,
        created_ns: int,
    ) -> tuple[int, str] | None:
        """(expiry ns, rule id) of the Expiration rule that will expire this current
        version (``x-amz-expiration``), or None."""
        try:
            with self.db.read() as cur:
                rules = self._lifecycle_rules(cur, bucket)
        except ObjfsError:  # the bucket went meanwhile: the request itself succeeded
            return None
        if not rules:
            return None
        return current_expiry(rules, key, size, tags or {}, created_ns)

    # -- execution ---------------------------------------------------------------------

    @frees_space
    @owner_only("objfs:ApplyLifecycle")
    def apply_lifecycle(
        self, ctx: RequestContext, bucket: str | None = None, *, now_ns: int | None = None
    ) -> LifecycleReport:
        """Apply every enabled rule of ``bucket`` (None: of every bucket) as due at
        ``now_ns`` (default: now). See the module docstring."""
        now = time.time_ns() if now_ns is None else now_ns
        report = LifecycleReport()
        with self.db.read() as cur:
            names = [bucket] if bucket is not None else [r[0] for r in q.list_buckets(cur)]
            work = []
            for name in names:
                rules = self._lifecycle_rules(cur, name)  # NoSuchBucket for a named one
                if rules and any(r.enabled for r in rules):
                    work.append((name, rules))
        for name, rules in work:
            report.buckets += 1
            self._apply_versions(name, rules, now, report)
            self._apply_uploads(name, rules, now, report)
        self.access_log.after_request()
        return report

    def _apply_versions(
        self, bucket: str, rules: Sequence[LifecycleRule], now: int, report: LifecycleReport
    ) -> None:
        after: bytes | None = None
        while True:
            with self.db.read() as cur:
                info = self.configs.info(cur, bucket)
                rows = q.list_versions(cur, bucket, after, None, None, PAGE)
            if not rows:
                return
            # Whole keys only: a key cut by the page end is read again in the next page.
            keys: dict[bytes, list[Any]] = {}
            for row in rows:
                keys.setdefault(row[Col.KEY], []).append(row)
            if len(rows) == PAGE and len(keys) > 1:
                keys.pop(rows[-1][Col.KEY])
            key_rows: list[Any] | None
            for raw, key_rows in keys.items():
                if len(rows) == PAGE and len(keys) == 1:
                    key_rows = None  # one key fills the page: read it whole
                self._apply_key(info, rules, raw, key_rows, now, report)
            after = max(keys)

    def _apply_key(
        self,
        info: BucketInfo,
        rules: Sequence[LifecycleRule],
        raw: bytes,
        rows: list[Any] | None,
        now: int,
        report: LifecycleReport,
    ) -> None:
        key = raw.decode("utf-8", "replace")
        if rows is not None:
            steps, locked = plan_key(info, rules, key, _versions(rows), now)
            if not steps:
                report.kept_locked += locked
                return
        with self.db.write(durable=True) as cur:
            info = self.configs.info(cur, info.name)  # as this transaction sees it
            versions = _versions(q.key_versions(cur, info.name, raw))
            steps, locked = plan_key(info, rules, key, versions, now)
            report.kept_locked += locked
            refused = False
            for step in steps:
                if step.kind == "marker" and refused:
                    continue  # a noncurrent version stays: the marker is not alone
                try:
                    result = self.versions.delete(cur, info.name, raw, key, step.version_id)
                except ObjfsError as err:  # a refusal of the deletion path (a lock)
                    log.info("lifecycle left s3://%s/%s alone: %s", info.name, key, err)
                    report.kept_locked += 1
                    refused = True
                    continue
                if step.kind == "current" and result.delete_marker:
                    op = CREATE_DELETEMARKER
                    report.delete_markers_added += 1
                elif step.kind == "current":
                    op = EXPIRE_OBJECT
                    report.expired += 1
                elif step.kind == "marker":
                    op = EXPIRE_OBJECT
                    report.delete_markers_removed += 1
                else:
                    op = EXPIRE_OBJECT
                    report.noncurrent_expired += 1
                version = result.version_id if step.kind == "current" else step.version_id
                report.actions.append((op, info.name, key, version))
                self._lifecycle_log(cur, info, op, key, version)

    def _apply_uploads(
        self, bucket: str, rules: Sequence[LifecycleRule], now: int, report: LifecycleReport
    ) -> None:
        aborting = [r for r in rules if r.enabled and r.abort_upload_days is not None]
        if not aborting:
            return
        with self.db.read() as cur:
            uploads = q.list_uploads(cur, bucket, b"", None)
        for upload in uploads:
            upload_id, raw, created = upload[0], upload[2], upload[3]
            key = raw.decode("utf-8", "replace")
            if not _upload_due(aborting, key, created, now):
                continue
            with self.db.write(durable=True) as cur:
                info = self.configs.info(cur, bucket)
                again = q.get_upload(cur, upload_id)
                if again is None:
                    continue  # completed or aborted meanwhile
                drop_upload(cur, self.access, upload_id)
                q.add_change(cur, bucket, raw)
                report.uploads_aborted += 1
                report.actions.append((DELETE_UPLOAD, bucket, key, None))
                self._lifecycle_log(cur, info, DELETE_UPLOAD, key, None)

    def _lifecycle_log(
        self, cur: Cursor, info: BucketInfo, operation: str, key: str, version: str | None
    ) -> None:
        """The access-log record of one lifecycle change, in the change's transaction."""
        target = self.configs.get(cur, info.name).get("logging")
        if not target:
            return
        started = time.time_ns()
        line = format_line(
            LogRecord(
                bucket_owner=self.access.canonical_id_of(cur, info.owner) or info.owner,
                bucket=info.name,
                time=datetime.fromtimestamp(started / 1e9, UTC),
                remote_ip=None,
                requester=REQUESTER,
                request_id=new_request_id(),
                operation=operation,
                key=key,
                request_uri=None,
                http_status=None,  # S3 writes "-"
                error_code=None,
                bytes_sent=0,
                object_size=None,
                total_time_ms=None,
                turn_around_ms=None,
                referer=None,
                user_agent=None,
                version_id=version,
                host_id=None,
                signature_version=None,
                cipher_suite=None,
                auth_type=None,
                host_header=None,
                tls_version=None,
            )
        )
        self.access_log.add_pending(cur, target, info.name, started, line)


def _versions(rows: Sequence[Any]) -> list[ObjectVersion]:
    return [rec.version_from_row(row, is_latest=i == 0) for i, row in enumerate(rows)]


def _upload_due(rules: Iterable[LifecycleRule], key: str, created_ns: int, now: int) -> bool:
    for rule in rules:
        days = rule.abort_upload_days  # never None: the caller passes aborting rules
        if (
            days is not None
            and rule.filter.matches(key, 0, {})
            and now >= next_midnight(created_ns + days * DAY_NS)
        ):
            return True
    return False


class AppliesLifecycle(Protocol):
    """What ``LifecycleTimer`` runs: the ``Store``'s ``apply_lifecycle``."""

    def apply_lifecycle(
        self, ctx: RequestContext, bucket: str | None = None, *, now_ns: int | None = None
    ) -> LifecycleReport: ...


class LifecycleTimer:
    """``apply_lifecycle`` every ``interval`` seconds on a thread of its own, as the
    owner (``objfs serve --lifecycle-interval``, the mount's ``lifecycle_interval=``).

    The first run is one interval after ``start``; ``stop`` waits for a run in
    progress to finish its current key (each key is its own transaction, so
    even a process killed mid-run leaves nothing half-done)."""

    def __init__(
        self,
        store: AppliesLifecycle,  # the Store
        interval: float,
        bucket: str | None = None,
        ctx: RequestContext | None = None,
    ) -> None:
        from objfs.store.types import OWNER

        self.store = store
        self.interval = interval
        self.bucket = bucket  # None: every bucket
        self.ctx = ctx or OWNER
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LifecycleTimer:
        self._thread = threading.Thread(target=self._loop, name="objfs-lifecycle", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                report = self.store.apply_lifecycle(self.ctx, self.bucket)
            except Exception:  # noqa: BLE001 - the next run tries again
                log.warning("lifecycle run failed; retrying in %gs", self.interval, exc_info=True)
                continue
            if report.actions:
                log.info(
                    "lifecycle: %d change(s) in %d bucket(s)", len(report.actions), report.buckets
                )

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


__all__ = ["Lifecycle", "LifecycleReport", "LifecycleTimer", "plan_key"]
