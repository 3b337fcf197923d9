"""SSE-KMS: the store's local KMS (keys, aliases, rotation, states, audit).

A KMS key has one or more *materials* (32 secret bytes each, sealed by the
master key; see ``objfs/crypto/kms.py``); ``rotate`` adds one. The encryption
domain of SSE-KMS data is (key, material version): the first write under a
key's current material creates the domain (its DEK wrapped by that material),
later writes reuse it so chunks dedup inside it; after a rotation new writes
go to a new domain while old domains stay readable through the old material.

Invariants after every call:
- a key's state is read from meta.db on EVERY use, never from a cache, so a
  key disabled by another process is refused by the next read or write here;
  only unwrapped domains (immutable facts) are cached in memory;
- every store operation that uses a key with a request context (put, copy,
  writer commit: "GenerateDataKey"; get, read_range, copy source, opening a
  writer on an existing version: "Decrypt") leaves one audit row with time,
  principal, interface, operation, key, material version and bucket/key, also
  when refused (the row then carries the error code); uses without a context
  (fsck, internal paths) are audited when they unwrap material. Management
  calls are audited in their own transaction. HEAD reads metadata only and,
  as in S3, neither uses the key nor fails when it is disabled;
- ``schedule_key_deletion`` takes 7 to 30 days. **When that date passes the
  key's material is DESTROYED on the next KMS access of any process: every
  object encrypted under the key becomes unreadable, for good.** The rows are
  deleted with SQLite ``secure_delete`` and the WAL is truncated, so the
  sealed material does not linger in meta.db; copies of meta.db in backups
  still hold it (sealed by the master key) until those backups expire.
  The key row stays as a ``Deleted`` tombstone so the audit trail keeps it.

Audit rows are written with ``durable=False`` (they survive a crash of the
process, not necessarily a power cut); ``kms_prune_audit`` trims by time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from objfs.auth.identity import PrincipalKind
from objfs.crypto import kms as kc
from objfs.crypto.keyring import KIND_KMS, Domain, Keyring, kms_ref
from objfs.errors import (
    IntegrityError,
    InvalidArgument,
    InvalidRequest,
    KMSAlreadyExists,
    KMSDisabled,
    KMSInvalidState,
    KMSNotFound,
    ObjfsError,
)
from objfs.meta import kms_queries as kq
from objfs.meta import queries as q
from objfs.meta.db import Database
from objfs.store.access import Need, requires
from objfs.store.kms_types import KMSAuditEntry, KMSKeyInfo
from objfs.store.seam import Seam
from objfs.store.types import OWNER, BucketInfo, Identity, RequestContext, SSERequest

log = logging.getLogger(__name__)

# The KMS clock. Tests move it forward to run a scheduled deletion.
now_ns = time.time_ns

INTERNAL = RequestContext(Identity(PrincipalKind.OWNER, "objfs", "", "objfs"), "internal")
MAX_DESCRIPTION = 8192

# kms_keys row: key_id, description, owner, state, created, deletion, current_version
K_ID, K_DESC, K_OWNER, K_STATE, K_CREATED, K_DELETION, K_VERSION = range(7)


def _when(ns: int | None) -> str:
    if ns is None:
        return "an unknown date"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ns / 1e9))


def state_error(row: Sequence[Any]) -> ObjfsError | None:
    """Why data under this key can be neither read nor written now (None: it can)."""
    if row[K_STATE] == kc.STATE_ENABLED:
        return None
    return _unusable(row)


def _unusable(row: Sequence[Any]) -> ObjfsError:
    """Why data under this key, which is not Enabled, can be neither read nor written."""
    key_id, state = row[K_ID], row[K_STATE]
    if state == kc.STATE_DISABLED:
        return KMSDisabled(
            f"KMS key {key_id} is disabled (KMS.DisabledException): data under it can be "
            f"neither read nor written until it is re-enabled with `objfs kms enable {key_id}`"
        )
    if state == kc.STATE_PENDING:
        return KMSInvalidState(
            f"KMS key {key_id} is pending deletion (its material is destroyed on "
            f"{_when(row[K_DELETION])}): data under it can be neither read nor written; "
            f"`objfs kms cancel-deletion {key_id}` before then keeps the key (as Disabled)"
        )
    return KMSNotFound(
        f"KMS key {key_id} was deleted on {_when(row[K_DELETION])}: its key material is "
        "destroyed and data encrypted under it can never be read again"
    )


AUDIT_FOLD_S = 60  # see KMS._kms_audit_due


class KMS:
    """The store's KMS (``store.kms``): public ``kms_*`` calls and the hooks the
    encryption-domain code of ``core.py`` calls for ``aws:kms`` (``write_domain``,
    ``data_domain``, ``bucket_key``).

    ``domains``/``domain_lock``: the store's cache of unwrapped encryption
    domains, shared with ``core.py``; this drops the KMS domains of a key
    whose material it destroys."""

    def __init__(
        self,
        *,
        db: Database,
        keyring: Keyring,
        seam: Seam,
        domains: dict[bytes, Domain],
        domain_lock: threading.Lock,
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.seam = seam
        self._domains = domains
        self._domain_lock = domain_lock
        self._kms_recent: dict[tuple[object, ...], int] = {}  # audit folding
        self._kms_schema_ok = False

    # -- plumbing ------------------------------------------------------------

    def _kms_audit_due(
        self,
        ctx: RequestContext,
        operation: str,
        domain_id: bytes,
        bucket: str | None,
        key: str | None,
    ) -> bool:
        """Whether this use needs its own audit row.

        Repeated uses of one object by one principal through one interface
        within ``AUDIT_FOLD_S`` fold into the first row: the mount reads an
        object 128 KiB at a time, and a row per read would flood the trail
        (and cost a write transaction each). Refusals are always recorded.
        """
        now = now_ns()
        recent = self._kms_recent
        ident = (ctx.principal, ctx.interface, operation, domain_id, bucket, key)
        last = recent.get(ident)
        if last is not None and now - last < AUDIT_FOLD_S * 1_000_000_000:
            return False
        if len(recent) > 4096:
            recent.clear()
        recent[ident] = now
        return True

    def _kms_begin(self) -> None:
        """Before any KMS access: tables exist; expired deletions have run."""
        if not self._kms_schema_ok:
            with self.db.read() as cur:
                present = kq.has_schema(cur)
            if not present:
                with self.db.write(durable=True) as cur:
                    kq.ensure_schema(cur)
            self._kms_schema_ok = True
        with self.db.peek() as cur:
            expired = kq.expired_keys(cur, now_ns())
        if expired:
            self._kms_destroy_expired()

    def _kms_destroy_expired(self) -> None:
        now = now_ns()
        with self.db.write(durable=True) as cur:
            destroyed = kq.expired_keys(cur, now)
            for key_id in destroyed:
                kq.destroy_key_material(cur, key_id)
                kq.update_key(cur, key_id, state=kc.STATE_DELETED)
                _audit(cur, INTERNAL, "DeleteKey", key_id)
        if not destroyed:
            return
        with self._domain_lock:
            for domain_id in [d for d, dom in self._domains.items() if dom.kind == KIND_KMS]:
                del self._domains[domain_id]
        kq.checkpoint_truncate(self.db)
        for key_id in destroyed:
            log.warning(
                "KMS key %s: waiting period over, key material destroyed; "
                "data encrypted under it is now unreadable",
                key_id,
            )

    def _kms_resolve(
        self,
        cur: Any,
        ref: str | None,
        *,
        create_default: bool = False,
        ctx: RequestContext | None = None,
        allow_deleted: bool = False,
    ) -> tuple[Any, ...]:
        """The key row a reference names (None: the store's default key)."""
        if ref is None:
            key_id = kq.get_default_key(cur)
            if key_id is None:
                if not create_default:
                    raise KMSNotFound(
                        "the store has no default KMS key yet "
                        "(the first aws:kms write without a key id creates it)"
                    )
                key_id = self._kms_new_key(
                    cur,
                    ctx or INTERNAL,
                    "Default key for SSE-KMS without a key id (created on first use)",
                    default=True,
                )
        else:
            kind, value = kc.parse_key_ref(ref)
            key_id = value if kind == "id" else kq.get_alias(cur, value)
            if key_id is None:
                raise KMSNotFound(f"no KMS alias {value!r} (see `objfs kms ls`)")
        row = kq.get_key(cur, key_id)
        if row is None:
            raise KMSNotFound(f"no KMS key {ref or key_id!r} (see `objfs kms ls`)")
        if row[K_STATE] == kc.STATE_DELETED and not allow_deleted:
            raise _unusable(row)
        return row

    def _kms_new_key(
        self, cur: Any, ctx: RequestContext, description: str, *, default: bool = False
    ) -> str:
        key_id = kc.new_key_id()
        now = now_ns()
        seal_id, sealed, _ = kc.new_material(self.keyring)
        # The default key belongs to the store's owner, whoever's write created it.
        owner = OWNER.principal if default else ctx.principal
        kq.insert_key(cur, (key_id, description, owner, kc.STATE_ENABLED, now, None, 1))
        kq.insert_material(cur, key_id, 1, now, seal_id, sealed)
        if default:
            kq.insert_alias(cur, kc.DEFAULT_ALIAS, key_id)
            kq.set_default_key(cur, key_id)
        _audit(cur, ctx, "CreateKey", key_id, version=1)
        return key_id

    def _kms_open(self, domain_id: bytes, record: bytes, sealed: Sequence[Any]) -> Domain:
        material = kc.open_material(self.keyring, sealed[0], sealed[1])
        domain = self.keyring.open_kms_domain(domain_id, record, lambda _k, _v: material)
        with self._domain_lock:
            self._domains[domain_id] = domain
        return domain

    # -- hooks for core.py (not requests: inside one already checked) -------------------------------------------------------

    def write_domain(
        self,
        bucket: BucketInfo,
        sse: SSERequest | None,
        ctx: RequestContext | None = None,
        key: str | None = None,
    ) -> tuple[Domain, str, str]:
        """(domain, "aws:kms", key id) for new data; audits GenerateDataKey.

        The key: the request's key id, else the bucket default's when the
        request did not ask for aws:kms itself, else the store's default key.
        """
        if sse is not None and sse.kms_key_id:
            ref: str | None = sse.kms_key_id
        elif sse is not None and sse.mode == "aws:kms":
            ref = None
        else:
            ref = bucket.kms_key_id
        self._kms_begin()
        created: Domain | None = None
        opened: tuple[bytes, bytes, Any] | None = None
        with self.db.write() as cur:
            row = self._kms_resolve(cur, ref, create_default=True, ctx=ctx)
            key_id, version = row[K_ID], row[K_VERSION]
            err = state_error(row)
            domain_id = None
            if err is None:
                domain_id = kq.get_kms_domain(cur, key_id, version)
                if domain_id is None:
                    sealed = _sealed(cur, key_id, version)
                    material = kc.open_material(self.keyring, sealed[0], sealed[1])
                    created, record = self.keyring.new_kms_domain(key_id, version, material)
                    q.insert_domain(cur, created.domain_id, KIND_KMS, record)
                    kq.insert_kms_domain(cur, key_id, version, created.domain_id)
                    domain_id = created.domain_id
                elif domain_id not in self._domains:
                    domain_row = q.get_domain(cur, domain_id)
                    if domain_row is None:
                        raise IntegrityError(f"KMS domain {domain_id.hex()} has no record")
                    opened = (domain_id, domain_row[2], _sealed(cur, key_id, version))
            if ctx is not None or created is not None or opened is not None:
                _audit(
                    cur, ctx or INTERNAL, "GenerateDataKey", key_id, bucket.name, key, version, err
                )
        if err is not None:
            raise err
        if created is not None:
            with self._domain_lock:
                self._domains[created.domain_id] = created
            return created, KIND_KMS, key_id
        if opened is not None:
            return self._kms_open(*opened), KIND_KMS, key_id
        cached = self._domains.get(domain_id)  # type: ignore[arg-type]
        if cached is None:  # dropped by a concurrent destruction: the next call says why
            return self.write_domain(bucket, sse, ctx, key)
        return cached, KIND_KMS, key_id

    def data_domain(
        self,
        domain_id: bytes,
        record: bytes | None,
        ctx: RequestContext | None = None,
        bucket: str | None = None,
        key: str | None = None,
        operation: str = "Decrypt",
    ) -> Domain:
        """An aws:kms domain for a use of its data; checks the key's state every time."""
        self._kms_begin()
        cached = self._domains.get(domain_id)
        audit = ctx is not None and self._kms_audit_due(ctx, operation, domain_id, bucket, key)
        # A cached domain whose use needs no new audit row only reads the key state.
        with self.db.write() if audit or cached is None else self.db.read() as cur:
            if record is None:
                domain_row = q.get_domain(cur, domain_id)
                if domain_row is None:
                    raise IntegrityError(f"unknown encryption domain {domain_id.hex()}")
                record = bytes(domain_row[2])
            key_id, version = kms_ref(domain_id, record)
            row = kq.get_key(cur, key_id)
            if row is None:
                raise KMSNotFound(
                    f"the data is encrypted under KMS key {key_id}, which this store does not know"
                )
            err = state_error(row)
            if isinstance(err, KMSNotFound):
                raise err
            sealed = None
            if err is None and cached is None:
                sealed = _sealed(cur, key_id, version)
            if audit or sealed is not None or err is not None and ctx is not None:
                _audit(cur, ctx or INTERNAL, operation, key_id, bucket, key, version, err)
        if err is not None:
            raise err
        if cached is not None:
            return cached
        return self._kms_open(domain_id, record, sealed)  # type: ignore[arg-type]

    def bucket_key(self, ctx: RequestContext, mode: str, kms_key_id: str | None) -> str | None:
        """The key id a bucket default stores: validated (exists, not deleted)."""
        if mode != KIND_KMS:
            if kms_key_id:
                raise InvalidArgument("a KMS key id goes only with aws:kms encryption")
            return None
        if kms_key_id is None:
            return None  # the store's default key, created on first use
        self._kms_begin()
        with self.db.read() as cur:
            self._kms_resolve(cur, kms_key_id)
        return kms_key_id

    # -- the KMS API -------------------------------------------------------------

    @requires(Need("kms:CreateKey", bucket=None, key=None))
    def kms_create_key(self, ctx: RequestContext, description: str = "") -> KMSKeyInfo:
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            raise InvalidArgument(f"a key description is text of at most {MAX_DESCRIPTION} chars")
        self._kms_begin()
        with self.db.write(durable=True) as cur:
            key_id = self._kms_new_key(cur, ctx, description)
            q.add_change(cur, "", b"")
            return self._kms_info(cur, _written_key(cur, key_id))

    @requires(Need("kms:CreateAlias", bucket=None, key=None))
    def kms_create_alias(self, ctx: RequestContext, alias: str, key_id: str) -> KMSKeyInfo:
        name = kc.check_alias(alias)
        self._kms_begin()
        with self.db.write(durable=True) as cur:
            row = self._kms_resolve(cur, key_id)
            taken = kq.get_alias(cur, name)
            if taken is not None:
                raise KMSAlreadyExists(
                    f"KMS alias {name} already names key {taken}: delete it first"
                )
            kq.insert_alias(cur, name, row[K_ID])
            _audit(cur, ctx, "CreateAlias", row[K_ID])
            q.add_change(cur, "", b"")  # key state: mounts and caches re-check
            return self._kms_info(cur, row)

    @requires(Need("kms:DeleteAlias", bucket=None, key=None))
    def kms_delete_alias(self, ctx: RequestContext, alias: str) -> None:
        name = kc.check_alias(alias)
        self._kms_begin()
        with self.db.write(durable=True) as cur:
            key_id = kq.get_alias(cur, name)
            if key_id is None:
                raise KMSNotFound(f"no KMS alias {name!r} (see `objfs kms ls`)")
            kq.delete_alias(cur, name)
            _audit(cur, ctx, "DeleteAlias", key_id)
            q.add_change(cur, "", b"")  # key state: mounts and caches re-check

    @requires(Need("kms:ListKeys", bucket=None, key=None))
    def kms_list_keys(self, ctx: RequestContext) -> list[KMSKeyInfo]:
        self._kms_begin()
        with self.db.read() as cur:
            return [self._kms_info(cur, row) for row in kq.list_keys(cur)]

    @requires(Need("kms:DescribeKey", bucket=None, key=None))
    def kms_describe_key(self, ctx: RequestContext, key: str) -> KMSKeyInfo:
        self._kms_begin()
        with self.db.read() as cur:
            return self._kms_info(cur, self._kms_resolve(cur, key))

    @requires(Need("kms:DisableKey", bucket=None, key=None))
    def kms_disable_key(self, ctx: RequestContext, key: str) -> KMSKeyInfo:
        return self._kms_set_state(ctx, key, "DisableKey", kc.STATE_DISABLED)

    @requires(Need("kms:EnableKey", bucket=None, key=None))
    def kms_enable_key(self, ctx: RequestContext, key: str) -> KMSKeyInfo:
        return self._kms_set_state(ctx, key, "EnableKey", kc.STATE_ENABLED)

    def _kms_set_state(
        self, ctx: RequestContext, key: str, operation: str, state: str
    ) -> KMSKeyInfo:
        self._kms_begin()
        with self.db.write(durable=True) as cur:
            row = self._kms_resolve(cur, key)
            if row[K_STATE] == kc.STATE_PENDING:
                raise KMSInvalidState(
                    f"KMS key {row[K_ID]} is pending deletion: cancel the deletion "
                    f"(`objfs kms cancel-deletion {row[K_ID]}`) before enabling or disabling it"
                )
            kq.update_key(cur, row[K_ID], state=state)
            _audit(cur, ctx, operation, row[K_ID])
            q.add_change(cur, "", b"")  # key state: mounts and caches re-check
            return self._kms_info(cur, _written_key(cur, row[K_ID]))

    @requires(Need("kms:RotateKeyOnDemand", bucket=None, key=None))
    def kms_rotate_key(self, ctx: RequestContext, key: str) -> int:
        """Add a new material version; new data uses it, old data stays readable."""
        self._kms_begin()
        with self.db.write(durable=True) as cur:
            row = self._kms_resolve(cur, key)
            err = state_error(row)
            if err is not None:
                raise type(err)(f"cannot rotate: {err}")
            version = row[K_VERSION] + 1
            seal_id, sealed, _ = kc.new_material(self.keyring)
            kq.insert_material(cur, row[K_ID], version, now_ns(), seal_id, sealed)
            kq.update_key(cur, row[K_ID], current_version=version)
            _audit(cur, ctx, "RotateKey", row[K_ID], version=version)
            q.add_change(cur, "", b"")  # key state: mounts and caches re-check
        return version

    @requires(Need("kms:ScheduleKeyDeletion", bucket=None, key=None))
    def kms_schedule_key_deletion(self, ctx: RequestContext, key: str, days: int) -> int:
        """Schedule destruction of the key's material in ``days`` (7-30): returns when (ns).

        From now on data under the key can be neither read nor written; after
        the date it is gone for good (see the module docstring).
        """
        days = kc.check_deletion_days(days)
        self._kms_begin()
        with self.db.write(durable=True) as cur:
            row = self._kms_resolve(cur, key)
            if row[K_STATE] == kc.STATE_PENDING:
                raise KMSInvalidState(
                    f"KMS key {row[K_ID]} is already pending deletion (on {_when(row[K_DELETION])})"
                )
            if kq.get_default_key(cur) == row[K_ID]:
                raise InvalidRequest(
                    f"KMS key {row[K_ID]} is the store's default key ({kc.DEFAULT_ALIAS}) and "
                    "cannot be deleted (like an AWS managed key); disable it instead"
                )
            when = now_ns() + days * kc.DAY_NS
            kq.update_key(cur, row[K_ID], state=kc.STATE_PENDING, deletion=when)
            _audit(cur, ctx, "ScheduleKeyDeletion", row[K_ID])
            q.add_change(cur, "", b"")  # key state: mounts and caches re-check
        log.warning(
            "KMS key %s scheduled for deletion on %s: after that, data under it is unreadable",
            row[K_ID],
            _when(when),
        )
        return when

    @requires(Need("kms:CancelKeyDeletion", bucket=None, key=None))
    def kms_cancel_key_deletion(self, ctx: RequestContext, key: str) -> KMSKeyInfo:
        """Keep a key pending deletion; as in AWS KMS it comes back Disabled."""
        self._kms_begin()
        with self.db.write(durable=True) as cur:
            row = self._kms_resolve(cur, key)
            if row[K_STATE] != kc.STATE_PENDING:
                raise KMSInvalidState(f"KMS key {row[K_ID]} is not pending deletion")
            kq.update_key(cur, row[K_ID], state=kc.STATE_DISABLED, deletion=None)
            _audit(cur, ctx, "CancelKeyDeletion", row[K_ID])
            q.add_change(cur, "", b"")  # key state: mounts and caches re-check
            return self._kms_info(cur, _written_key(cur, row[K_ID]))

    @requires(Need("kms:ListAuditEvents", bucket=None, key=None))
    def kms_audit(
        self, ctx: RequestContext, key: str | None = None, limit: int = 1000
    ) -> list[KMSAuditEntry]:
        """The newest ``limit`` audit entries (of one key, deleted keys included), oldest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgument(f"the audit limit must be a positive number, not {limit!r}")
        self._kms_begin()
        with self.db.read() as cur:
            key_id = None
            if key is not None:
                key_id = self._kms_resolve(cur, key, allow_deleted=True)[K_ID]
            rows = kq.audit_entries(cur, key_id, limit)
        return [KMSAuditEntry(*row) for row in rows]

    @requires(Need("kms:PruneAuditEvents", bucket=None, key=None))
    def kms_prune_audit(self, ctx: RequestContext, before_ns: int) -> int:
        """Drop audit entries older than ``before_ns``; returns how many."""
        self._kms_begin()
        with self.db.write(durable=True) as cur:
            q.add_change(cur, "", b"")
            return kq.prune_audit(cur, int(before_ns))

    def _kms_info(self, cur: Any, row: Sequence[Any]) -> KMSKeyInfo:
        key_id = row[K_ID]
        return KMSKeyInfo(
            key_id=key_id,
            arn=kc.key_arn(key_id, row[K_OWNER]),
            aliases=kq.aliases_of(cur, key_id),
            state=row[K_STATE],
            created_ns=row[K_CREATED],
            deletion_ns=row[K_DELETION],
            material_versions=kq.material_count(cur, key_id),
            description=row[K_DESC],
            owner=row[K_OWNER],
            is_default=kq.get_default_key(cur) == key_id,
        )


def _written_key(cur: Any, key_id: str) -> Sequence[Any]:
    """The row of a key this transaction has just written."""
    row = kq.get_key(cur, key_id)
    if row is None:  # cannot happen inside the writing transaction
        raise IntegrityError(f"KMS key {key_id} has no row right after it was written")
    return row


def _sealed(cur: Any, key_id: str, version: int) -> tuple[Any, ...]:
    sealed = kq.get_material(cur, key_id, version)
    if sealed is None:
        raise IntegrityError(f"material version {version} of KMS key {key_id} is missing")
    return sealed


def _audit(
    cur: Any,
    ctx: RequestContext,
    operation: str,
    key_id: str | None,
    bucket: str | None = None,
    key: str | None = None,
    version: int | None = None,
    err: ObjfsError | None = None,
) -> None:
    kq.add_audit(
        cur,
        (
            now_ns(),
            ctx.principal,
            ctx.interface,
            operation,
            key_id,
            bucket,
            key,
            version,
            None if err is None else err.code,
        ),
    )
