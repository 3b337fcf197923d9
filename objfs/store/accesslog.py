"""Server access logs: a bucket's logging configuration, capture and delivery.

Two collaborators of the ``Store``: ``BucketLoggingRequests``, the requests
(``put_bucket_logging``, ``get_bucket_logging``, ``delete_bucket_logging``,
``flush_access_logs``; the ``Store`` delegates them, ``store.bucket_logging``),
and ``AccessLog`` (``store.access_log``), which records requests and
delivers them (reading logs back is ``objfs/store/logquery.py``'s).

How a record travels:

1. **Capture.** The seam's decorator (``objfs/store/access.py``) times the
   outermost call of a thread and hands its outcome to ``AccessLog.record``:
   success (status by operation), an ``ObjfsError`` (its ``status`` and
   ``code``; ``AccessDenied`` is 403) or any other error (500). The bucket's
   configuration comes from the row the access check already read, so a
   bucket without logging costs nothing more. One record per request and
   per logged bucket it names (a copy is logged in both buckets, as S3 does).
2. **Pending.** The record's line is committed to ``access_log_pending``
   right after the request (``synchronous=FULL`` when the request was a
   durable write): from then on a crash of the process cannot lose it.
3. **Delivery.** A target's pending records become one object
   ``PREFIXYYYY-mm-DD-HH-MM-SS-UNIQUE`` in the target bucket, at most
   ``max_records`` per object, once ``max_records`` are pending or the
   oldest is ``max_age_s`` old (defaults 1,000 / 5 min). It happens at the
   end of the request that makes a batch due, at ``close()``, and on
   ``flush_access_logs``, so a mount or server needs no daemon. The object
   is written as the log-delivery principal, and its commit removes the
   delivered rows **in the same transaction** (durable): a record is either
   pending or delivered, never both, never neither.

Invariants: log delivery is never itself logged (it writes through no public
method), so a target that logs elsewhere cannot loop; a bucket never logs
into itself; whether the target accepts delivery is checked when logging is
configured (the target has the source bucket's owner, or grants the
LogDelivery group WRITE); records for a target that no longer exists are
dropped at delivery with a warning, as S3 does.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from objfs import __version__
from objfs.auth.identity import Identity, PrincipalKind
from objfs.errors import AccessDenied, InvalidArgument, InvalidTargetBucketForLogging, ObjfsError
from objfs.meta import auth_queries as aq
from objfs.meta import log_queries as lq
from objfs.meta import queries as q
from objfs.store.access import Need, internal, owner_only, requires
from objfs.store.authorizer import decode_config
from objfs.store.chunking import ChunkedBody, store_stream
from objfs.store.commit import NewVersion
from objfs.store.logformat import (
    DATE_AT_DELIVERY,
    LogRecord,
    Op,
    format_line,
    log_object_key,
    new_request_id,
    operations_of,
    outcome_sizes,
    partition_date,
    success_status,
)
from objfs.store.names import encode_key
from objfs.store.types import RequestContext

if TYPE_CHECKING:
    from objfs.chunks.store import ChunkStore
    from objfs.crypto.keyring import Domain
    from objfs.meta.db import Database
    from objfs.store.authorizer import AccessControl
    from objfs.store.commit import VersionCommitter
    from objfs.store.configs import BucketConfigs
    from objfs.store.leases import Leases
    from objfs.store.seam import Seam
    from objfs.store.types import BucketInfo

log = logging.getLogger(__name__)

DEFAULT_MAX_RECORDS = 1000
DEFAULT_MAX_AGE_S = 300.0
DELIVERY_CTX = RequestContext(Identity.log_delivery(), "log-delivery", log=False)
# What ``seen`` maps a bucket to: (owner name, decoded config), None: no such bucket.
Seen = dict[str, tuple[str, dict[str, Any]] | None]


@dataclass(slots=True, frozen=True)
class BucketLogging:
    """Where a bucket's access log goes."""

    bucket: str
    target_bucket: str
    target_prefix: str
    # None: log objects are PREFIX+NAME (S3's SimplePrefix); "EventTime" or
    # "DeliveryTime": PREFIX+ACCOUNT/REGION/BUCKET/YYYY/mm/DD/+NAME, dated by the
    # request's time or by the delivery's (S3's PartitionedPrefix).
    partition_date_source: str | None = None


@dataclass(slots=True, frozen=True)
class DeliveredLog:
    """One log object written by delivery."""

    bucket: str
    key: str
    records: int


class AccessLog:
    """Capture and delivery of access-log records; see the module docstring."""

    def __init__(
        self,
        db: Database,
        access: AccessControl,
        *,
        leases: Leases,
        chunks: ChunkStore,
        chunk_size: int,
        bucket_of: Callable[[Any, str], BucketInfo],
        write_domain: Callable[..., tuple[Domain, str, str | None]],
        committer: VersionCommitter,
    ) -> None:
        """``access``: canonical ids of owners and requesters; delivery writes
        log objects with the rest: ``leases`` (gc spares a write in flight),
        ``chunks`` and ``chunk_size``, ``bucket_of(cur, name)`` (the target
        bucket's record), ``write_domain(bucket_info, sse, ctx, key)`` (its
        default encryption) and the ``committer``."""
        self.db = db
        self.access = access
        self.leases = leases
        self.chunks = chunks
        self.chunk_size = chunk_size
        self._bucket = bucket_of
        self._write_domain = write_domain
        self.committer = committer
        self.max_records = DEFAULT_MAX_RECORDS
        self.max_age_s = DEFAULT_MAX_AGE_S
        self._schema_ok = False
        self._deadline: float | None = None  # monotonic: when a known batch falls due
        self._delivering = threading.Lock()

    # -- capture -------------------------------------------------------------------

    def record(
        self,
        ctx: RequestContext,
        method: str,
        needs: tuple[Any, ...],
        args: Mapping[str, Any],
        seen: Seen,
        started_ns: int,
        started_mono: int,
        result: object = None,
        error: BaseException | None = None,
    ) -> None:
        """Keep the record(s) of one finished request; never raises."""
        try:
            logged = self.targets(ctx, method, needs, args, seen, error)
            if logged:
                self._record(ctx, args, logged, started_ns, started_mono, result, error)
        except Exception:  # noqa: BLE001 - the request itself is done; say so, go on
            log.warning("could not keep the access log record of %s", method, exc_info=True)

    def targets(
        self,
        ctx: RequestContext,
        method: str,
        needs: tuple[Any, ...],
        args: Mapping[str, Any],
        seen: Seen,
        error: BaseException | None = None,
    ) -> list[tuple[Any, str, str, dict[str, Any]]]:
        """(operation, bucket, bucket owner, logging target) of each record ``record``
        would write for this request; empty when it writes none. Reads only."""
        if ctx.identity.kind is PrincipalKind.LOG_DELIVERY:
            return []
        if not ctx.log and not isinstance(error, AccessDenied):  # every refusal is logged
            return []
        logged = []
        for op in operations_of(method, needs):
            if op.failures_only and error is None:
                continue
            bucket = args.get(op.bucket) if op.bucket else None
            if not isinstance(bucket, str):
                continue
            if bucket not in seen:
                with self.db.read() as cur:
                    row = aq.bucket_access(cur, bucket)
                seen[bucket] = None if row is None else (row[0], decode_config(row[1]))
            entry = seen[bucket]
            if entry is None:
                continue
            target = entry[1].get("logging")
            if target:
                logged.append((op, bucket, entry[0], target))
        return logged

    def _record(
        self,
        ctx: RequestContext,
        args: Mapping[str, Any],
        logged: list[tuple[Any, str, str, dict[str, Any]]],
        started_ns: int,
        started_mono: int,
        result: object,
        error: BaseException | None,
    ) -> None:
        took_ms = (time.monotonic_ns() - started_mono) // 1_000_000
        if error is None:
            sent, size, version = outcome_sizes(result)
        else:
            sent, size, version = None, None, None
        request_id = ctx.request_id or new_request_id()
        when = datetime.fromtimestamp(started_ns / 1e9, UTC)
        # A durable write's record is as durable as the write; reads' records
        # survive a crash of the process (synchronous=NORMAL), not a power cut.
        durable = ctx.durable and any(
            not op.operation.startswith(("REST.GET.", "REST.HEAD.")) for op, *_ in logged
        )
        rows = []
        with self.db.write(durable=durable) as cur:
            self._ensure_schema(cur)
            for op, bucket, owner, target in logged:
                for key, asked_version, outcome, item_result in _entries(op, args, result, error):
                    if outcome is None:
                        status, code = success_status(op.operation), None
                    elif isinstance(outcome, ObjfsError):
                        status, code = outcome.status, outcome.code
                    else:
                        status, code = 500, "InternalError"
                    if item_result is not None:  # one item of a batch: its own outcome
                        item_version = getattr(item_result, "version_id", None)
                        item_sent, item_size = None, None
                    else:
                        item_version, item_sent, item_size = version, sent, size
                    signed = ctx.interface == "api" and ctx.auth_type is not None
                    line = format_line(
                        LogRecord(
                            bucket_owner=self.access.canonical_id_of(cur, owner) or owner,
                            bucket=bucket,
                            time=when,
                            remote_ip=ctx.remote_addr,
                            requester=self._requester(ctx.identity),
                            request_id=request_id,
                            operation=op.operation,
                            key=key,
                            request_uri=ctx.request_uri,
                            http_status=status,
                            error_code=code,
                            bytes_sent=item_sent or 0,
                            object_size=item_size,
                            total_time_ms=took_ms,
                            turn_around_ms=took_ms,
                            referer=None,
                            user_agent=ctx.user_agent or f"objfs/{__version__} ({ctx.interface})",
                            version_id=asked_version or item_version,
                            host_id=None,
                            signature_version=(ctx.signature_version or "SigV4")
                            if signed
                            else None,
                            cipher_suite=ctx.cipher_suite,
                            auth_type=ctx.auth_type if signed else None,
                            host_header=ctx.host_header,
                            tls_version=ctx.tls_version,
                        )
                    )
                    prefix = str(target.get("target_prefix") or "") + _partition(target, started_ns)
                    rows.append((str(target["target_bucket"]), prefix, bucket, started_ns, line))
            lq.insert_pending(cur, rows)
            for target_bucket, prefix in {(r[0], r[1]) for r in rows}:
                count, oldest = lq.target_backlog(cur, target_bucket, prefix)
                if count >= self.max_records:
                    self._deadline = time.monotonic()  # full: ``after_request`` delivers
                else:
                    self._note_deadline(oldest)

    def add_pending(
        self, cur: Any, target: Mapping[str, Any], bucket: str, started_ns: int, line: str
    ) -> None:
        """Keep one record ``line`` about ``bucket`` made outside a request (a
        lifecycle change's, expiry.py) in the caller's write transaction ``cur``:
        pending for ``target`` (the bucket's ``logging`` configuration) and
        delivered as any other; ``started_ns`` dates it."""
        self._ensure_schema(cur)
        prefix = str(target.get("target_prefix") or "") + _partition(target, started_ns)
        lq.insert_pending(cur, [(str(target["target_bucket"]), prefix, bucket, started_ns, line)])
        self._note_deadline(started_ns)

    def _requester(self, who: Identity) -> str | None:
        if who.kind is PrincipalKind.ANONYMOUS:
            return None
        if who.is_owner:
            return who.canonical_id or self.access.owner_id()
        return who.canonical_id or who.name

    def _note_deadline(self, oldest_ns: int | None) -> None:
        if oldest_ns is None:
            return
        age_s = (time.time_ns() - oldest_ns) / 1e9
        deadline = time.monotonic() + max(0.0, self.max_age_s - age_s)
        if self._deadline is None or deadline < self._deadline:
            self._deadline = deadline

    def after_request(self) -> None:
        """End of any request: deliver when a batch this process knows of is due."""
        deadline = self._deadline
        if deadline is not None and time.monotonic() >= deadline:
            try:
                self.deliver_due()
            except Exception:  # noqa: BLE001 - the next request or close() retries
                log.warning("access log delivery failed; it will be retried", exc_info=True)

    def _ensure_schema(self, cur: Any) -> None:
        if not self._schema_ok:
            lq.ensure_schema(cur)
            self._schema_ok = True

    def _has_schema(self) -> bool:
        if not self._schema_ok:
            with self.db.read() as cur:
                self._schema_ok = lq.has_schema(cur)
        return self._schema_ok

    # -- delivery --------------------------------------------------------------------

    def deliver_due(self, *, everything: bool = False) -> list[DeliveredLog]:
        """Deliver every target whose batch is full or old (all pending: ``everything``)."""
        if not self._has_schema():
            return []
        if not self._delivering.acquire(blocking=everything):
            return []  # another thread of this process is at it
        try:
            with internal(
                self.access.requests, DELIVERY_CTX
            ):  # nothing delivery calls is a request
                return self._deliver(everything)
        finally:
            self._delivering.release()

    def _deliver(self, everything: bool) -> list[DeliveredLog]:
        with self.db.read() as cur:
            backlogs = lq.backlogs(cur)
        now_ns = time.time_ns()
        self._deadline = None
        delivered: list[DeliveredLog] = []
        for target, prefix, count, oldest in backlogs:
            old = now_ns - oldest >= self.max_age_s * 1e9
            if everything or old or count >= self.max_records:
                delivered += self._deliver_target(target, prefix, full_only=not (everything or old))
            else:
                self._note_deadline(oldest)
        return delivered

    def _deliver_target(self, target: str, prefix: str, *, full_only: bool) -> list[DeliveredLog]:
        delivered: list[DeliveredLog] = []
        while True:
            with self.db.read() as cur:
                batch = lq.pending_batch(cur, target, prefix, self.max_records)
                exists = q.get_bucket(cur, target) is not None
            if not batch or (full_only and len(batch) < self.max_records):
                if batch:
                    self._note_deadline_of(target, prefix)
                return delivered
            ids = [r[0] for r in batch]
            if not exists:
                with self.db.write(durable=True) as cur:
                    dropped = lq.delete_target(cur, target, prefix)
                log.warning(
                    "access log target bucket %r is gone: dropped %d record(s)", target, dropped
                )
                return delivered
            body = ("\n".join(r[1] for r in batch) + "\n").encode("utf-8")
            key = log_object_key(prefix, datetime.now(UTC))
            with self.db.read() as cur:
                info = self._bucket(cur, target)
            try:
                with self.leases.hold():  # gc never takes chunks of a write in flight
                    self._write_log_object(info, target, key, body, ids)
            except _Raced:
                return delivered  # another process delivers this target right now
            delivered.append(DeliveredLog(target, key, len(ids)))

    def _write_log_object(
        self, info: Any, target: str, key: str, body: bytes, ids: list[int]
    ) -> None:
        """Store one log object; commit it with the removal of its pending rows."""
        domain, label, kms = self._write_domain(info, None, DELIVERY_CTX, key)
        stored = store_stream(self.chunks, domain, ChunkedBody(body, self.chunk_size))
        self.committer.make_durable(stored.manifest)
        with self.db.write(durable=True) as cur:
            if lq.delete_pending(cur, ids) != len(ids):
                raise _Raced
            self.committer.commit(
                cur,
                target,
                encode_key(key),
                NewVersion(
                    manifest=stored.manifest,
                    size=stored.size,
                    etag=hashlib.md5(body).hexdigest(),
                    content_type="text/plain",
                    user_meta=None,
                    sys_meta=None,
                    sse=label,
                    kms_key_id=kms,
                    domain_id=domain.domain_id,
                ),
            )

    def _note_deadline_of(self, target: str, prefix: str) -> None:
        with self.db.read() as cur:
            self._note_deadline(lq.target_backlog(cur, target, prefix)[1])

    def pending(self) -> int:
        """Records captured and not yet delivered (all targets)."""
        if not self._has_schema():
            return 0
        with self.db.read() as cur:
            return lq.count_pending(cur)

    def close(self) -> None:
        """The store closes: deliver what is due; never fails the close."""
        try:
            self.deliver_due()
        except Exception:  # noqa: BLE001 - records stay pending for the next process
            # e.g. Ctrl-C left the connection mid-transaction: quiet, nothing is lost
            log.debug("access log delivery at close failed; records stay pending", exc_info=True)


PARTITION_DATE_SOURCES = ("EventTime", "DeliveryTime")


def _partition(target: Mapping[str, Any], started_ns: int) -> str:
    """The partition path a record of a logging ``target`` config goes under."""
    source = target.get("partition")
    if source is None:
        return ""
    path = str(target.get("partition_path") or "")
    if source == "EventTime":
        return path + partition_date(datetime.fromtimestamp(started_ns / 1e9, UTC))
    return path + DATE_AT_DELIVERY


class _Raced(Exception):
    """Another process delivered (some of) these records first: roll back."""


class BucketLoggingRequests:
    """The requests of server access logging: a bucket's logging configuration
    (put/get/delete) and delivery on demand (``flush_access_logs``); the
    ``Store`` delegates them (``objfs/store/facade/bucket_logging.py``).

    Built with the database, the bucket configurations (a bucket's record and
    its ``logging`` entry), the authorization data (canonical ids; completing
    the requester's identity), the seam (the decorators, and whether a target
    accepts log delivery) and the store's ``AccessLog`` (delivery). Holds no
    state of its own: the configuration lives in the bucket's config map, the
    pending records in the ``AccessLog``'s tables."""

    def __init__(
        self,
        *,
        db: Database,
        configs: BucketConfigs,
        access: AccessControl,
        seam: Seam,
        access_log: AccessLog,
    ) -> None:
        self.db = db
        self.configs = configs
        self.access = access
        self.seam = seam
        self.access_log = access_log

    @requires(Need("s3:PutBucketLogging", key=None))
    def put_bucket_logging(
        self,
        ctx: RequestContext,
        bucket: str,
        target_bucket: str,
        target_prefix: str = "",
        *,
        partition_date_source: str | None = None,
    ) -> BucketLogging:
        """Log every request on ``bucket`` into ``target_bucket`` under ``target_prefix``
        (partitioned by account, region, bucket and date: ``partition_date_source``)."""
        if partition_date_source not in (None, *PARTITION_DATE_SOURCES):
            raise InvalidArgument(
                f"PartitionDateSource is EventTime or DeliveryTime, not {partition_date_source!r}"
            )
        if target_bucket == bucket:
            raise InvalidArgument(
                f"bucket {bucket!r} cannot log into itself: it would log its own log writes "
                "and grow without bound; choose another target bucket"
            )
        if len(target_prefix.encode("utf-8")) > 900:
            raise InvalidArgument("the target prefix is at most 900 bytes")
        with self.db.read() as cur:
            source = self.configs.info(cur, bucket)
            row = aq.bucket_access(cur, target_bucket)
        if row is None:
            raise InvalidTargetBucketForLogging(
                f"the target bucket for logging does not exist: {target_bucket!r}"
            )
        if not ctx.identity.is_owner:
            # As S3: the target must let the logging service write there for
            # this source bucket and this requester's account.
            if not self._accepts_log_delivery(target_bucket, target_prefix, bucket, ctx):
                raise AccessDenied(
                    f"Access Denied: bucket {target_bucket!r} does not let the logging service "
                    f"write under {target_prefix!r} for bucket {bucket!r}: allow it in the "
                    'target\'s policy ({"Service": "logging.s3.amazonaws.com"}, s3:PutObject) '
                    "or give it the log-delivery-write ACL"
                )
        elif row[0] != source.owner and not self._accepts_log_delivery(
            target_bucket, target_prefix, bucket, ctx
        ):
            raise InvalidTargetBucketForLogging(
                f"bucket {target_bucket!r} belongs to {row[0]}, not to {source.owner}, and "
                "does not grant log delivery: give it the log-delivery-write ACL "
                f"(objfs acl put s3://{target_bucket} --canned log-delivery-write)"
            )
        config: dict[str, Any] = {"target_bucket": target_bucket, "target_prefix": target_prefix}
        if partition_date_source is not None:
            owner_id = self.access.canonical_id_of_reading(source.owner)
            config["partition"] = partition_date_source
            config["partition_path"] = f"{owner_id}/{source.region}/{bucket}/"
        with self.db.write(durable=True) as cur:
            if aq.bucket_access(cur, target_bucket) is None:
                raise InvalidTargetBucketForLogging(
                    f"the target bucket for logging was just deleted: {target_bucket!r}"
                )
            self.configs.set(cur, bucket, logging=config)
        return BucketLogging(bucket, target_bucket, target_prefix, partition_date_source)

    def _accepts_log_delivery(
        self, target: str, prefix: str, source: str, requester: RequestContext
    ) -> bool:
        """The target's policy or ACL lets the log delivery put ``prefix`` objects
        for ``source`` (aws:SourceArn) on behalf of ``requester`` (aws:SourceAccount)."""
        who = self.access.complete(requester.identity)
        context = {
            "aws:SourceArn": f"arn:aws:s3:::{source}",
            "aws:SourceAccount": who.canonical_id or "",
        }
        decision = self.seam.decide(DELIVERY_CTX, "s3:PutObject", target, prefix, context)
        return decision.allowed

    @requires(Need("s3:GetBucketLogging", key=None))
    def get_bucket_logging(self, ctx: RequestContext, bucket: str) -> BucketLogging | None:
        """Where ``bucket`` logs, or None when logging is off."""
        with self.db.read() as cur:
            config = self.configs.get(cur, bucket).get("logging")
        if not config:
            return None
        return BucketLogging(
            bucket,
            config["target_bucket"],
            config.get("target_prefix") or "",
            config.get("partition"),
        )

    @requires(Need("s3:PutBucketLogging", key=None))
    def delete_bucket_logging(self, ctx: RequestContext, bucket: str) -> None:
        """Turn logging off; records already captured are still delivered."""
        with self.db.write(durable=True) as cur:
            self.configs.set(cur, bucket, logging=None)

    @owner_only("objfs:FlushAccessLogs")
    def flush_access_logs(self, ctx: RequestContext) -> list[DeliveredLog]:
        """Deliver every pending record now, whatever the batch size and age."""
        return self.access_log.deliver_due(everything=True)


def _entries(
    op: Op, args: Mapping[str, Any], result: object, error: BaseException | None
) -> list[tuple[str | None, str | None, BaseException | None, object]]:
    """(key, asked version, error, item result) of each record ``op`` makes for a call.

    One record per call; an op over a batch (``Op.items``: DeleteObjects'
    ``BATCH.DELETE.OBJECT``) one per item, each with its own outcome, and
    none when the whole call failed."""
    if op.items is None:
        key = args.get(op.key) if op.key else None
        asked = args.get(op.version) if op.version else None
        return [(key if isinstance(key, str) else None, asked, error, None)]
    if error is not None or not isinstance(result, list):
        return []
    items = args.get(op.items) or []
    out: list[tuple[str | None, str | None, BaseException | None, object]] = []
    for (key, version_id), outcome in zip(items, result, strict=False):
        failed = outcome if isinstance(outcome, BaseException) else None
        out.append((key, version_id, failed, None if failed else outcome))
    return out
