"""S3 Object Lock: a bucket's lock configuration, each version's retention and legal hold.

Two collaborators of the ``Store`` (see core.py for the invariants every
call keeps): ``LockRules``, the checks other groups call inside their own
requests (a write's lock headers, a new version's lock, whether a version
may go, the governance bypass), built before the ``VersionCommitter``,
which calls them; and ``ObjectLock``, the requests (the bucket's
configuration, a version's retention and legal hold), which commit through
the committer.

The bucket's configuration lives in its ``config`` record under
``object_lock`` (``ObjectLockConfig.to_obj``); each version's state in its
row (``lock_mode``, ``lock_until``, ``legal_hold``: ``ObjectLockState``).

Invariants:
- a bucket with Object Lock keeps versioning Enabled for good (core.py's
  ``set_bucket_versioning`` refuses anything else), and its lock cannot be
  turned off again;
- no version row whose lock holds (``ObjectLockState.holds``) is removed:
  every removal of a version row goes through ``VersionCommitter.drop``
  (commit.py), which calls ``LockRules.check_not_locked`` first. A GOVERNANCE
  retention gives way only to a caller that asked for the bypass
  (``x-amz-bypass-governance-retention``) and holds
  ``s3:BypassGovernanceRetention``; COMPLIANCE and a legal hold never;
- a retention in force may be extended by anyone allowed
  ``s3:PutObjectRetention``; shortened, removed or changed in mode only
  under GOVERNANCE with the bypass; never under COMPLIANCE.

Time: "now" is the store's ``Clock`` (clock.py; tests set ``store.clock``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from objfs.errors import (
    AccessDenied,
    InvalidArgument,
    InvalidBucketState,
    InvalidRequest,
    InvalidRetentionPeriod,
    NoSuchObjectLockConfiguration,
    ObjectLockConfigurationNotFoundError,
    ObjectLocked,
)
from objfs.meta.db import Database
from objfs.store import records as rec
from objfs.store.access import Need, requires
from objfs.store.authorizer import decode_config
from objfs.store.clock import Clock
from objfs.store.commit import VersionCommitter
from objfs.store.configs import BucketConfigs
from objfs.store.records import Col
from objfs.store.seam import Seam
from objfs.store.types import (
    NO_LOCK,
    ObjectLockState,
    ObjectVersion,
    RequestContext,
    Versioning,
)
from objfs.store.versions import Versions

LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
MAX_DAYS = 36500  # S3's limits for a default retention
MAX_YEARS = 100
_DAY_NS = 86400 * 10**9
NOT_ENABLED = "Bucket is missing Object Lock Configuration"


@dataclass(slots=True, frozen=True)
class ObjectLockConfig:
    """A bucket's Object Lock configuration: on (it cannot be turned off), and
    an optional default retention (``mode`` with ``days`` or ``years``)."""

    mode: str | None = None
    days: int | None = None
    years: int | None = None

    def validate(self) -> None:
        if self.mode is None:
            if self.days is not None or self.years is not None:
                raise InvalidArgument("a default retention period needs a Mode")
            return
        if self.mode not in LOCK_MODES:
            raise InvalidArgument(
                f"retention mode must be GOVERNANCE or COMPLIANCE, not {self.mode!r}"
            )
        if (self.days is None) == (self.years is None):
            raise InvalidArgument("a default retention needs Days or Years (one of them)")
        if self.days is not None and not 0 < self.days <= MAX_DAYS:
            raise InvalidRetentionPeriod(
                f"Default retention period must be a positive integer value (at most {MAX_DAYS} days)"
            )
        if self.years is not None and not 0 < self.years <= MAX_YEARS:
            raise InvalidRetentionPeriod(
                f"Default retention period must be a positive integer value (at most {MAX_YEARS} years)"
            )

    def until_ns(self, now_ns: int) -> int | None:
        """The retain-until date the default gives a version made at ``now_ns``."""
        if self.days is not None:
            return now_ns + self.days * _DAY_NS
        if self.years is not None:
            when = datetime.fromtimestamp(now_ns / 1e9, UTC)
            try:
                later = when.replace(year=when.year + self.years)
            except ValueError:  # 29 February
                later = when.replace(year=when.year + self.years, day=28)
            return int(later.timestamp()) * 10**9 + now_ns % 10**9
        return None

    def to_obj(self) -> dict[str, Any]:
        return {"enabled": True, "mode": self.mode, "days": self.days, "years": self.years}

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any]) -> ObjectLockConfig:
        return cls(obj.get("mode"), obj.get("days"), obj.get("years"))


def lock_of_row(row: Sequence[Any]) -> ObjectLockState:
    """The Object Lock state of a ``queries.VERSION_COLUMNS`` row."""
    return ObjectLockState(row[Col.LOCK_MODE], row[Col.LOCK_UNTIL], bool(row[Col.LEGAL_HOLD]))


def _when(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9))


class LockRules:
    """The Object Lock checks other requests make; see the module docstring.

    Built with the database (a bucket's row the request read already), the
    bucket configurations, the seam (the caller's right to set a lock or
    to bypass one, decided inside the request) and the store's clock."""

    def __init__(self, *, db: Database, configs: BucketConfigs, seam: Seam, clock: Clock) -> None:
        self.db = db
        self.configs = configs
        self.seam = seam
        self.clock = clock

    def now_ns(self) -> int:
        return int(self.clock() * 1e9)

    def config(self, cur: Any, bucket: str) -> ObjectLockConfig | None:
        """The bucket's Object Lock configuration, None when lock is off
        (NoSuchBucket without the bucket). Reads the row the request read already."""
        self.configs.info(cur, bucket)  # NoSuchBucket; remembers the row with its config
        row = self.db.remembered(cur, ("bucket", bucket))
        if row is None:
            obj = self.configs.get(cur, bucket).get("object_lock")
        else:
            blob = row[8]  # type: ignore[index]
            obj = decode_config(blob).get("object_lock") if blob else None
        return ObjectLockConfig.from_obj(obj) if obj else None

    def require(self, cur: Any, bucket: str) -> ObjectLockConfig:
        conf = self.config(cur, bucket)
        if conf is None:
            raise InvalidRequest(NOT_ENABLED)
        return conf

    def check_request(
        self, ctx: RequestContext, bucket: str, key: str, lock: ObjectLockState | None
    ) -> None:
        """What a write asks for (PUT, copy, CreateMultipartUpload headers),
        before any data is read: a lock-enabled bucket, a mode with a date in
        the future, and the caller's right to set them."""
        if not lock:
            return
        if (lock.mode is None) != (lock.until_ns is None):
            raise InvalidArgument(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode "
                "must both be supplied"
            )
        if lock.mode is not None and lock.mode not in LOCK_MODES:
            raise InvalidArgument("Unknown wormMode directive.")
        if lock.until_ns is not None and lock.until_ns <= self.now_ns():
            raise InvalidArgument("The retain until date must be in the future!")
        with self.db.read() as cur:
            self.require(cur, bucket)
        if lock.mode is not None:
            self.seam.check(ctx, "s3:PutObjectRetention", bucket, key, None, {})
        if lock.legal_hold:
            self.seam.check(ctx, "s3:PutObjectLegalHold", bucket, key, None, {})

    def for_new_version(self, cur: Any, bucket: str, lock: ObjectLockState) -> ObjectLockState:
        """The lock a new version gets: the request's, else the bucket's default
        retention (with the request's legal hold)."""
        conf = self.config(cur, bucket)
        if conf is None:
            if lock:
                raise InvalidRequest(NOT_ENABLED)
            return NO_LOCK
        if lock.mode is None and conf.mode is not None:
            return ObjectLockState(conf.mode, conf.until_ns(self.now_ns()), lock.legal_hold)
        return lock

    def check_not_locked(self, row: Sequence[Any], *, bypass_governance: bool = False) -> None:
        """Raise ``ObjectLocked`` if the version ``row`` may not be removed now.

        Every removal of a version row calls it (``VersionCommitter.drop``): the
        API's and the mount's deletes, lifecycle expiry, anything later.
        ``bypass_governance``: the caller asked for the bypass and holds
        ``s3:BypassGovernanceRetention`` (``may_bypass``)."""
        if row[Col.DM]:
            return
        lock = lock_of_row(row)
        if not lock:
            return
        now = self.now_ns()
        if not lock.holds(now):
            return
        key = bytes(row[Col.KEY]).decode("utf-8", "replace")
        where = f"version {row[Col.VERSION_ID]} of s3://{row[Col.BUCKET]}/{key}"
        if lock.legal_hold:
            raise ObjectLocked(f"{where} is under a legal hold: remove the hold first")
        if lock.mode == "GOVERNANCE" and bypass_governance:
            return
        if lock.mode == "GOVERNANCE":
            raise ObjectLocked(
                f"{where} is under GOVERNANCE retention until {_when(lock.until_ns or 0)} "
                "(only s3:BypassGovernanceRetention with the bypass may delete it)"
            )
        raise ObjectLocked(
            f"{where} is under COMPLIANCE retention until {_when(lock.until_ns or 0)}: "
            "nobody may delete it before then"
        )

    def may_bypass(
        self,
        ctx: RequestContext,
        cur: Any,
        bucket: str,
        key: str,
        version_id: str | None,
    ) -> bool:
        """Whether the caller holds ``s3:BypassGovernanceRetention`` on the object."""
        extra = {"s3:VersionId": version_id} if version_id else {}
        try:
            self.seam.check(
                ctx, "s3:BypassGovernanceRetention", bucket, key, version_id, extra, cur=cur
            )
        except AccessDenied:
            return False
        return True


class ObjectLock:
    """The Object Lock requests; see the module docstring.

    Built with the database, the bucket configurations, the ``LockRules``,
    the ``Versions`` (the version a request names), the committer (a
    version's lock is amended in place) and the seam (the decorators)."""

    def __init__(
        self,
        *,
        db: Database,
        configs: BucketConfigs,
        rules: LockRules,
        versions: Versions,
        committer: VersionCommitter,
        seam: Seam,
    ) -> None:
        self.db = db
        self.configs = configs
        self.rules = rules
        self.versions = versions
        self.committer = committer
        self.seam = seam

    @requires(Need("s3:PutBucketObjectLockConfiguration", key=None))
    def put_object_lock_configuration(
        self, ctx: RequestContext, bucket: str, config: ObjectLockConfig
    ) -> ObjectLockConfig:
        """Turn Object Lock on (a bucket with versioning Enabled) and set its
        default retention (``config.mode`` None: no default)."""
        config.validate()
        with self.db.write(durable=True) as cur:
            info = self.configs.info(cur, bucket)
            if self.rules.config(cur, bucket) is None and info.versioning is not Versioning.ENABLED:
                raise InvalidBucketState(
                    "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
                )
            self.configs.set(cur, bucket, object_lock=config.to_obj())
        return config

    @requires(Need("s3:GetBucketObjectLockConfiguration", key=None))
    def get_object_lock_configuration(self, ctx: RequestContext, bucket: str) -> ObjectLockConfig:
        with self.db.read() as cur:
            conf = self.rules.config(cur, bucket)
        if conf is None:
            raise ObjectLockConfigurationNotFoundError(
                "Object Lock configuration does not exist for this bucket"
            )
        return conf

    # -- retention and legal hold of one version ----------------------------------------

    @requires(Need("s3:PutObjectRetention"))
    def put_object_retention(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        mode: str | None,
        until_ns: int | None,
        *,
        version_id: str | None = None,
        bypass_governance: bool = False,
    ) -> ObjectVersion:
        """Set (``mode`` and ``until_ns``) or remove (both None) a version's
        retention; see the module docstring for what needs the bypass."""
        if (mode is None) != (until_ns is None):
            raise InvalidArgument("a retention needs both a Mode and a RetainUntilDate")
        if mode is not None and mode not in LOCK_MODES:
            raise InvalidArgument(f"retention mode must be GOVERNANCE or COMPLIANCE, not {mode!r}")
        now = self.rules.now_ns()
        if until_ns is not None and until_ns <= now:
            raise InvalidArgument("The retain until date must be in the future!")
        with self.db.write(durable=ctx.durable) as cur:
            self.rules.require(cur, bucket)
            row, latest = self.versions.resolve(cur, bucket, key, version_id)
            old = lock_of_row(row)
            if old.mode is not None and old.until_ns is not None and old.until_ns > now:
                weaker = mode != old.mode or until_ns is None or until_ns < old.until_ns
                if weaker and old.mode == "COMPLIANCE":
                    raise ObjectLocked(
                        f"s3://{bucket}/{key} is under COMPLIANCE retention until "
                        f"{_when(old.until_ns)}: it can only be extended"
                    )
                if weaker and not (
                    bypass_governance
                    and self.rules.may_bypass(ctx, cur, bucket, key, row[Col.VERSION_ID])
                ):
                    raise ObjectLocked(
                        f"s3://{bucket}/{key} is under GOVERNANCE retention until "
                        f"{_when(old.until_ns)}: shortening or changing it needs "
                        "s3:BypassGovernanceRetention and the bypass"
                    )
            row = self.committer.amend(cur, row, lock_mode=mode, lock_until=until_ns)
        return rec.version_from_row(row, is_latest=latest)

    @requires(Need("s3:GetObjectRetention"))
    def get_object_retention(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
    ) -> ObjectLockState:
        """The version's lock state; ``NoSuchObjectLockConfiguration`` without a retention."""
        with self.db.read() as cur:
            self.rules.require(cur, bucket)
            row, _ = self.versions.resolve(cur, bucket, key, version_id)
        lock = lock_of_row(row)
        if lock.mode is None:
            raise NoSuchObjectLockConfiguration(
                "The specified object does not have a ObjectLock configuration"
            )
        return lock

    @requires(Need("s3:PutObjectLegalHold"))
    def put_object_legal_hold(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        on: bool,
        *,
        version_id: str | None = None,
    ) -> ObjectVersion:
        with self.db.write(durable=ctx.durable) as cur:
            self.rules.require(cur, bucket)
            row, latest = self.versions.resolve(cur, bucket, key, version_id)
            row = self.committer.amend(cur, row, legal_hold=int(bool(on)))
        return rec.version_from_row(row, is_latest=latest)

    @requires(Need("s3:GetObjectLegalHold"))
    def get_object_legal_hold(
        self,
        ctx: RequestContext,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
    ) -> bool:
        with self.db.read() as cur:
            self.rules.require(cur, bucket)
            row, _ = self.versions.resolve(cur, bucket, key, version_id)
        return bool(row[Col.LEGAL_HOLD])
