"""``AccessControl``: gathers what one access decision needs and asks ``objfs.auth``.

The store's decorators (``objfs/store/access.py``) call ``check`` once per
request. This collaborator owns:

- the lazily created access-control tables (``objfs/meta/auth_queries.py``);
- the store owner's canonical id (made once, kept in the ``meta`` table);
- reading a bucket's owner, policy and ACL (``buckets.config``) and an
  object version's owner and ACL (``object_acls``);
- the caller's identity policies;
- a small cache of parsed policy documents, keyed by their text (a changed
  policy is new text, so the cache is never stale);
- a per-thread memo of what is read on every request and rarely changes
  (``unchanged_or``: an access key's owner and secret), kept only while the
  database's ``version`` token stays the same: any commit, by any process,
  drops it before the next request reads it, so a disabled key or a new
  policy binds the very next request (tests/s3api/test_auth_freshness.py);
- a memo of buckets whose last check here found no bucket policy, where
  the store owner may do anything (``owner_unbound``): the mount's early
  write probe reads it without a worker-thread hop;
- the access key a request was made with (``RequestContext.access_key``):
  it must still be active and its user still there, as SigV4 requires of
  every HTTP request (``check_key``). A memo of the keys seen good makes
  that a set lookup, not a query, per request; it is kept like the owner's
  memo below: this process drops it when it changes a user or key, and a
  mount's change poller when the change feed shows a store-wide change
  (``forget_keys``), within its poll interval.

Invariants: every decision reads the database as it is now (a policy put by
another process binds the next request); ``AccessDenied`` names who, what,
on which resource and the deciding statement. The memo is not a decision:
it answers "allowed" only for the owner, only for a bucket seen without a
policy and not ``forget``-ed since (this process forgets a bucket when it
changes the bucket's config, after the commit; a mount's change poller
forgets it when the change feed shows a bucket-level change made
elsewhere). Whoever trusts it must check again at the real request (the
mount's commit does).
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgpack

from objfs.auth import ownership
from objfs.auth.acl import Acl, AclSpec, Grant, Grantee, canned_acl, required_permission
from objfs.auth.actions import Level
from objfs.auth.evaluate import Decision, Request, evaluate, request_context, resource_arn
from objfs.auth.identity import OWNER_NAME, Identity, PrincipalKind
from objfs.auth.policy import Policy, parse_bucket_policy, parse_identity_policy
from objfs.auth.public import (
    PublicAccessBlock,
    acl_is_public,
    restricted,
    without_public_grants,
)
from objfs.errors import AccessDenied, InvalidArgument, NoSuchEntity, NoSuchKey
from objfs.meta import auth_queries as aq
from objfs.meta import queries as q
from objfs.meta.db import Database
from objfs.store.access import Requests
from objfs.store.records import Col, unpack_tags
from objfs.store.types import RequestContext

T = TypeVar("T")

_VERSION_READS = {
    "s3:GetObjectVersion": "s3:GetObject",
    "s3:GetObjectVersionAcl": "s3:GetObjectAcl",
}


# Actions on an existing version, which S3 decides with its tags in
# ``s3:ExistingObjectTag/<key>`` (not a write of a new version).
_EXISTING_TAG_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectAcl",
        "s3:GetObjectVersionAcl",
        "s3:PutObjectAcl",
        "s3:PutObjectVersionAcl",
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
        "s3:PutObjectTagging",
        "s3:PutObjectVersionTagging",
        "s3:DeleteObjectTagging",
        "s3:DeleteObjectVersionTagging",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:GetObjectAttributes",
        "s3:GetObjectVersionAttributes",
    }
)


def _names_existing_tags(text: str | None) -> bool:
    """Whether a policy document may test ``s3:ExistingObjectTag/...`` (a cheap
    look at its text: the tags are read only for policies that name them)."""
    return text is not None and "existingobjecttag/" in text.lower()


@functools.lru_cache(maxsize=256)
def _identity_policy(text: str) -> Policy:
    return parse_identity_policy(text)


@functools.lru_cache(maxsize=256)
def signature_condition_keys(ctx: RequestContext) -> dict[str, str]:
    """``s3:signatureversion`` and ``s3:authType`` of a signed HTTP request, as S3
    sets them (a bucket policy can refuse SigV2 or pre-signed URLs with them)."""
    if ctx.signature_version is None or ctx.auth_type is None:
        return {}
    version = "AWS" if ctx.signature_version == "SigV2" else "AWS4-HMAC-SHA256"
    kind = "REST-QUERY-STRING" if ctx.auth_type == "QueryString" else "REST-HEADER"
    return {"s3:signatureversion": version, "s3:authType": kind}


def _bucket_policy(text: str, bucket: str) -> Policy:
    return parse_bucket_policy(text, bucket)


def decode_config(blob: bytes | None) -> dict[str, Any]:
    return dict(msgpack.unpackb(blob)) if blob else {}


def encode_config(config: Mapping[str, Any]) -> bytes | None:
    kept = {k: v for k, v in config.items() if v is not None}
    return msgpack.packb(kept) if kept else None


class _Memo(threading.local):
    """What this thread read while the database stayed at one ``version``."""

    def __init__(self) -> None:
        self.token: tuple[int, int] | None = None
        self.entries: dict[tuple, Any] = {}


MEMO_ENTRIES = 4096  # per thread; all dropped when exceeded


class AccessControl:
    """Loads policies, ACLs and owners for one decision; see the module docstring."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # The request each thread serves in this store (access.py): who creates
        # what a commit writes; the seam's wrappers keep it.
        self.requests = Requests()
        self._schema_ok = False
        self._owner_id: str | None = None
        self._lock = threading.Lock()
        self._unbound: set[str] = set()  # buckets without a policy, as last seen here
        self._unbound_gen = 0  # bumped by forget: a check begun before may not add
        self._keys_ok: set[str] = set()  # access keys seen active, their user there
        self._keys_gen = 0  # bumped by forget_keys: a check begun before may not add
        self._memo = _Memo()
        self.owner_id()  # now, outside any transaction: decisions run inside them

    # -- schema and small lookups -------------------------------------------------

    def ensure_schema(self, cur: Any) -> None:
        """Inside a write transaction: create the tables if this store predates them."""
        if not self._schema_ok:
            if not aq.has_schema(cur):
                aq.ensure_schema(cur)
            self._schema_ok = True

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        if not self._schema_ok:
            with self.db.read() as cur:
                present = aq.has_schema(cur)
            if not present:
                with self.db.write(durable=True) as cur:
                    self.ensure_schema(cur)
            self._schema_ok = True
        with self.db.read() as cur:
            yield cur

    def user_row(self, cur: Any, name: str) -> tuple:
        row = aq.get_user(cur, name)
        if row is None:
            raise NoSuchEntity(f"no such user: {name!r} (see `objfs user ls`)")
        return row

    def owner_id(self) -> str:
        """The store owner's canonical id (64 hex), made when the store first opens."""
        if self._owner_id is None:
            with self._lock:
                with self.db.read() as cur:
                    value = q.get_meta(cur, "owner_canonical_id")
                if value is None:
                    with self.db.write(durable=True) as cur:
                        value = q.get_meta(cur, "owner_canonical_id")
                        if value is None:
                            value = secrets.token_hex(32)
                            q.set_meta(cur, "owner_canonical_id", value)
                self._owner_id = str(value)
        return self._owner_id

    def canonical_id_of(self, cur: Any, name: str) -> str:
        """The canonical id of a principal name as buckets store it."""
        if name == OWNER_NAME:
            return self.owner_id()
        row = aq.get_user(cur, name) if self._schema_ok or aq.has_schema(cur) else None
        return row[1] if row is not None else ""

    def canonical_id_of_reading(self, name: str) -> str:
        """``canonical_id_of`` in a read of its own."""
        with self.db.read() as cur:
            return self.canonical_id_of(cur, name)

    def display_name_of(self, cur: Any, canonical_id: str) -> str:
        if canonical_id == self.owner_id():
            return OWNER_NAME
        row = aq.user_by_canonical_id(cur, canonical_id) if aq.has_schema(cur) else None
        return (row[2] or row[0]) if row is not None else ""

    def complete(self, identity: Identity) -> Identity:
        """``identity`` with the owner's canonical id filled in (ACLs compare ids)."""
        if identity.is_owner and not identity.canonical_id:
            return Identity(
                PrincipalKind.OWNER, identity.name, self.owner_id(), identity.display_name
            )
        return identity

    # -- what is read again and again while nothing changes ------------------------------

    def unchanged_or(self, key: tuple, load: Callable[[], T]) -> T:
        """``load()``, or what it returned on this thread while nothing has been
        committed since (``Database.version``, read before ``load`` reads: a
        commit after that token makes the next call load again). Outside a
        transaction only; an error is never kept."""
        token = self.db.version()
        memo = self._memo
        if memo.token != token or len(memo.entries) >= MEMO_ENTRIES:
            memo.token, memo.entries = token, {}
        try:
            value: T = memo.entries[key]
            return value
        except KeyError:
            pass
        value = load()
        memo.entries[key] = value
        return value

    # -- the owner's memo (see the module docstring) ---------------------------------

    def owner_unbound(self, ctx: RequestContext, bucket: str) -> bool:
        """Memory only: ``ctx`` is the owner and ``bucket`` had no policy when last seen."""
        return ctx.identity.is_owner and bucket in self._unbound

    def forget(self, bucket: str | None = None) -> None:
        """Drop the memo of ``bucket`` (None: of every bucket); its config changed."""
        with self._lock:
            self._unbound_gen += 1
            if bucket is None:
                self._unbound.clear()
            else:
                self._unbound.discard(bucket)

    def _note_unbound(self, bucket: str, gen: int, unbound: bool) -> None:
        with self._lock:
            if not unbound:
                self._unbound.discard(bucket)
            elif gen == self._unbound_gen:  # nothing forgotten since the read began
                self._unbound.add(bucket)

    # -- the access key of a request (see the module docstring) -----------------------

    def check_key(self, ctx: RequestContext, cur: Any = None) -> None:
        """``AccessDenied`` unless ``ctx.access_key`` (if any) is active and
        belongs to ``ctx``'s user, who still exists."""
        key_id = ctx.access_key
        if key_id is None or key_id in self._keys_ok:
            return
        gen = self._keys_gen
        if cur is None:
            with self.reading() as read:
                problem = self._key_problem(read, ctx, key_id)
        else:
            problem = self._key_problem(cur, ctx, key_id)
        if problem is not None:
            raise AccessDenied(f"Access Denied: access key {key_id} {problem}")
        with self._lock:
            if gen == self._keys_gen:  # nothing forgotten since the read began
                self._keys_ok.add(key_id)

    def _key_problem(self, cur: Any, ctx: RequestContext, key_id: str) -> str | None:
        if not (self._schema_ok or aq.has_schema(cur)):
            return "does not exist"
        row = aq.get_access_key(cur, key_id)
        if row is None:
            return "does not exist"
        if row[1] != ctx.identity.name or aq.get_user(cur, row[1]) is None:
            return f"does not belong to {ctx.identity.describe()}"
        if row[3] != "Active":
            return "is inactive"
        return None

    def forget_keys(self) -> None:
        """Users or keys may have changed: check every access key again."""
        with self._lock:
            self._keys_gen += 1
            self._keys_ok.clear()

    # -- owners and ACLs of resources ------------------------------------------------

    def bucket_acl(self, cur: Any, bucket: str, owner_name: str, config: Mapping) -> Acl:
        stored = config.get("acl")
        if stored is not None:
            return Acl.from_obj(stored)
        return canned_acl("private", self.canonical_id_of(cur, owner_name))

    def object_acl(
        self,
        cur: Any,
        bucket: str,
        key: str,
        version_id: str | None,
        bucket_owner: str,
        *,
        enforced: bool = False,
    ) -> Acl:
        """A version's owner and ACL; ``enforced`` (BucketOwnerEnforced): the
        bucket owner's FULL_CONTROL, whatever was stored."""
        if enforced:
            return canned_acl("private", bucket_owner)
        raw = key.encode("utf-8")
        if version_id is None:
            version_id = aq.latest_version_id(cur, bucket, raw)
        row = None
        if version_id is not None and (self._schema_ok or aq.has_schema(cur)):
            row = aq.get_object_acl(cur, bucket, raw, version_id)
        if row is None:
            return canned_acl("private", bucket_owner)
        owner, acl = row
        if acl is None:
            return canned_acl("private", owner)
        return Acl.from_obj(msgpack.unpackb(acl))

    def record_creator(
        self,
        cur: Any,
        bucket: str,
        key: bytes,
        version_id: str,
        creator: RequestContext | None = None,
        acl: AclSpec | None = None,
    ) -> None:
        """Inside a commit: a version made by someone other than the bucket's owner is theirs.

        Objects belong to the principal that created them (S3-compatible servers
        where each user is its own account), unless the bucket's Object
        Ownership gives them to the bucket owner (``objfs.auth.ownership``:
        refused here if it disables the ACL asked for); the bucket owner's own objects
        need no row unless the request gave them an ACL (``acl``: its canned
        ACL or grants, checked for unknown grantees). The creator is the
        request this thread serves.
        """
        ctx = creator or self.requests.ctx
        given = acl is not None and acl.given
        if (ctx is None or ctx.identity.is_owner) and not given:
            return  # the store owner's writes: owned by the bucket owner, no row
        row = aq.bucket_access(cur, bucket)
        if row is None:
            return
        config = decode_config(row[1])
        mode = config.get("ownership")
        bucket_owner = self.canonical_id_of(cur, row[0])
        ownership.check_acl_allowed(mode, acl, bucket_owner)  # AccessControlListNotSupported
        if mode == ownership.ENFORCED:
            return  # ACLs disabled: the bucket owner's, no row
        theirs = ctx is not None and not ctx.identity.is_owner and row[0] != ctx.identity.name
        theirs = theirs and not ownership.bucket_owns(mode, acl)
        who = self.complete(ctx.identity) if ctx is not None else None
        if theirs and who is not None and who.canonical_id:
            owner = who.canonical_id
        elif not given:
            return  # the bucket owner's, or an anonymous writer's (it owns nothing)
        else:
            owner = bucket_owner
        self.ensure_schema(cur)
        blob = None
        if given:
            assert acl is not None
            made = acl.expand(owner, bucket_owner_id=bucket_owner)
            self.check_grantees(cur, made)
            blocks = PublicAccessBlock.from_obj(config.get("public_access_block"))
            if blocks.block_public_acls and acl_is_public(made):
                raise AccessDenied(
                    f"Access Denied: bucket {bucket!r} blocks public ACLs (BlockPublicAcls)"
                )
            blob = msgpack.packb(made.to_obj())
        aq.put_object_acl(cur, bucket, key, version_id, owner, blob)

    def take_object_acl(
        self, cur: Any, bucket: str, key: bytes, version_id: str
    ) -> tuple[str, bytes | None] | None:
        """Remove and return a version's ``(owner, acl)`` row, if any (inside a write)."""
        if not (self._schema_ok or aq.has_schema(cur)):
            return None
        row = aq.get_object_acl(cur, bucket, key, version_id)
        if row is not None:
            aq.delete_object_acl(cur, bucket, key, version_id)
        return None if row is None else (row[0], row[1])

    def check_grantees(self, cur: Any, acl: Acl) -> None:
        """``InvalidArgument`` unless every canonical user an ACL grants to exists."""
        for grant in acl.grants:
            cid = grant.grantee.id
            if cid is None or cid == self.owner_id():
                continue
            known = aq.user_by_canonical_id(cur, cid) if aq.has_schema(cur) else None
            if known is None:
                raise InvalidArgument(f"Invalid id: no user has the canonical id {cid!r}")

    def named(self, cur: Any, acl: Acl) -> Acl:
        """``acl`` with the display names of its owner and user grantees filled in."""
        names: dict[str, str] = {}

        def name(cid: str) -> str | None:
            if cid not in names:
                names[cid] = self.display_name_of(cur, cid)
            return names[cid] or None

        grants = tuple(
            Grant(Grantee.user(g.grantee.id, name(g.grantee.id)), g.permission)
            if g.grantee.id is not None
            else g
            for g in acl.grants
        )
        return Acl(acl.owner_id, grants, name(acl.owner_id))

    def forget_object(self, cur: Any, bucket: str, key: bytes, version_id: str) -> None:
        """A version is gone for good: so is its owner/ACL row (inside its transaction)."""
        if self._schema_ok:
            aq.delete_object_acl(cur, bucket, key, version_id)
            return
        # No schema check first (one sqlite_master query per deleted version):
        # a store without the tables fails the statement at prepare time,
        # which leaves the transaction as it was. (SQLite only: a PostgreSQL
        # store has these tables from its creation, objfs/meta/pg.py.)
        try:
            aq.delete_object_acl(cur, bucket, key, version_id)
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise

    # -- the decision -------------------------------------------------------------------

    def check_owner(self, ctx: RequestContext, action: str) -> None:
        if not ctx.identity.is_owner:
            raise AccessDenied(
                f"Access Denied: {action} is for the store owner only, "
                f"not {ctx.identity.describe()}"
            )

    def check(
        self,
        ctx: RequestContext,
        action: str,
        bucket: str | None,
        key: str | None,
        version_id: str | None,
        conditions: Mapping[str, Any],
        *,
        seen: dict[str, Any] | None = None,
        cur: Any = None,
    ) -> Decision | None:
        """Allow or raise ``AccessDenied``; see the module docstring.

        ``seen``: filled with ``bucket -> (owner, config)`` as read here (None:
        no such bucket), so the access log needs no second read. ``cur``: a
        transaction of the caller's to read in (a commit decides inside its
        own write transaction: one transaction less, and what it read binds).
        """
        gen = self._unbound_gen  # before the read: see _note_unbound
        if ctx.access_key is not None and ctx.access_key not in self._keys_ok:
            self.check_key(ctx, cur)
        if cur is not None:
            return self._check(cur, gen, ctx, action, bucket, key, version_id, conditions, seen)
        with self.db.read() as cur:
            return self._check(cur, gen, ctx, action, bucket, key, version_id, conditions, seen)

    def _check(
        self,
        cur: Any,
        gen: int,
        ctx: RequestContext,
        action: str,
        bucket: str | None,
        key: str | None,
        version_id: str | None,
        conditions: Mapping[str, Any],
        seen: dict[str, Any] | None,
    ) -> Decision | None:
        who = ctx.identity
        bucket_row = None
        if bucket is not None:
            # The whole row, kept for the rest of the transaction: the method
            # reads it again (Store._bucket) unless something was written.
            row: Any = self.db.remembered(cur, ("bucket", bucket))
            if row is None:
                row = q.get_bucket_config(cur, bucket)
                if row is not None:
                    self.db.remember(cur, ("bucket", bucket), row)
            if row is not None:
                bucket_row = (row[2], row[8])  # (owner, config), as aq.bucket_access
        if bucket is not None and bucket_row is None:
            if seen is not None:
                seen[bucket] = None
            return None  # the method itself reports NoSuchBucket
        if bucket is not None and bucket_row is not None and ctx.expected_owners:
            self._check_expected_owner(cur, ctx, bucket, bucket_row[0])
        config = decode_config(bucket_row[1]) if bucket_row else {}
        if seen is not None and bucket is not None and bucket_row is not None:
            seen[bucket] = (bucket_row[0], config)
        policy_text = config.get("policy")
        if bucket is not None and (policy_text is None) != (bucket in self._unbound):
            self._note_unbound(bucket, gen, policy_text is None)
        if who.is_owner and policy_text is None:
            return None  # the store owner, and no bucket policy to bind it
        if (
            action in _VERSION_READS
            and key is not None
            and version_id == aq.latest_version_id(cur, bucket, key.encode("utf-8"))  # type: ignore[arg-type]
        ):
            # A read pinned to the current version (the CLI and the mount pin
            # what they opened) reads the latest: GetObject, not GetObjectVersion.
            action = _VERSION_READS[action]
        decision = self._decide(
            cur, ctx, action, bucket, key, version_id, conditions, bucket_row, config
        )
        if not decision.allowed and self._absent_but_listable(
            cur, ctx, action, bucket, key, version_id, bucket_row, config
        ):
            raise NoSuchKey(f"no such key: s3://{bucket}/{key}", bucket=bucket, key=key)
        if not decision.allowed:
            raise AccessDenied(
                f"Access Denied: {who.describe()} may not {action} on "
                f"{decision.resource} ({decision.explain().removeprefix('Denied: ')})",
                action=action,
                decision=decision,
            )
        return decision

    def _check_expected_owner(self, cur: Any, ctx: RequestContext, bucket: str, owner: str) -> None:
        """S3's x-amz-expected-bucket-owner: a bucket owned by another than the
        request expects is refused (403), whoever asks and whatever the policy."""
        for name, expected in ctx.expected_owners:
            if name == bucket and expected != self.canonical_id_of(cur, owner):
                raise AccessDenied(
                    f"Access Denied: bucket {bucket!r} is not owned by the expected "
                    f"bucket owner {expected!r}"
                )

    def _absent_but_listable(
        self,
        cur: Any,
        ctx: RequestContext,
        action: str,
        bucket: str | None,
        key: str | None,
        version_id: str | None,
        bucket_row: tuple | None,
        config: Mapping[str, Any],
    ) -> bool:
        """S3's rule for a refused GetObject/HeadObject of a key that does not
        exist (none, or a delete marker latest): 404 NoSuchKey when the caller
        may ListBucket (the listing would tell them anyway), else 403."""
        if action != "s3:GetObject" or bucket is None or key is None or version_id is not None:
            return False
        raw = key.encode("utf-8")
        latest = aq.latest_version_id(cur, bucket, raw)
        if latest is not None:
            row = q.get_version(cur, bucket, raw, latest)
            if row is not None and not row[Col.DM]:
                return False  # it exists: the refusal stands
        # The listing that would show it: the key itself as s3:prefix.
        listing = self._decide(
            cur, ctx, "s3:ListBucket", bucket, None, None, {"s3:prefix": key}, bucket_row, config
        )
        return listing.allowed

    def _existing_tags(
        self, cur: Any, bucket: str, key: str, version_id: str | None
    ) -> dict[str, str]:
        """``s3:ExistingObjectTag/<key>`` of the version a request acts on."""
        raw = key.encode("utf-8")
        if version_id is None:
            version_id = aq.latest_version_id(cur, bucket, raw)
        row = None if version_id is None else q.get_version(cur, bucket, raw, version_id)
        if row is None or row[Col.DM]:
            return {}
        tags = unpack_tags(row[Col.TAGS])
        return {f"s3:ExistingObjectTag/{k}": v for k, v in tags.items()}

    def decide(
        self,
        ctx: RequestContext,
        action: str,
        bucket: str | None,
        key: str | None,
        conditions: Mapping[str, Any],
    ) -> Decision:
        """The decision without raising (the policy simulator)."""
        with self.reading() as cur:
            bucket_row = aq.bucket_access(cur, bucket) if bucket is not None else None
            config = decode_config(bucket_row[1]) if bucket_row else {}
            return self._decide(cur, ctx, action, bucket, key, None, conditions, bucket_row, config)

    def _decide(
        self,
        cur: Any,
        ctx: RequestContext,
        action: str,
        bucket: str | None,
        key: str | None,
        version_id: str | None,
        conditions: Mapping[str, Any],
        bucket_row: tuple | None,
        config: Mapping[str, Any],
    ) -> Decision:
        who = self.complete(ctx.identity)
        bucket_policy = None
        if bucket is not None and config.get("policy") is not None:
            bucket_policy = _bucket_policy(config["policy"], bucket)
        blocks = PublicAccessBlock.from_obj(config.get("public_access_block"))
        identity_policies: dict[str, Policy] = {}
        # Does a policy read the object's tags? (Only then are they loaded.)
        reads_tags = _names_existing_tags(config.get("policy"))
        if who.kind is PrincipalKind.USER and (self._schema_ok or aq.has_schema(cur)):
            for name, text in aq.list_user_policies(cur, who.name):
                identity_policies[name] = _identity_policy(text)
                reads_tags = reads_tags or _names_existing_tags(text)
        bucket_owner = object_owner = None
        acl = None
        if bucket is not None and bucket_row is not None:  # a row is only read for a bucket
            bucket_owner = self.canonical_id_of(cur, bucket_row[0])
            need = required_permission(action)
            # BucketOwnerEnforced: ACLs disabled, the bucket owner owns every object.
            if config.get("ownership") == ownership.ENFORCED:
                need = None
                object_owner = bucket_owner if key is not None else None
            elif key is not None and not who.is_owner:
                obj_acl = self.object_acl(cur, bucket, key, version_id, bucket_owner)
                object_owner = obj_acl.owner_id
                if need is not None and need[0] is Level.OBJECT:
                    acl = obj_acl
            if acl is None and need is not None and need[0] is Level.BUCKET:
                acl = self.bucket_acl(cur, bucket, bucket_row[0], config)
        if acl is not None and blocks.ignore_public_acls:
            acl = without_public_grants(acl)
        if (
            bucket_policy is not None
            and blocks.restrict_public_buckets
            and who.canonical_id != bucket_owner
        ):
            bucket_policy = restricted(bucket_policy)
        context = request_context(
            now=datetime.now(UTC),
            secure_transport=ctx.secure_transport,
            source_ip=ctx.remote_addr,
            **{k: v for k, v in conditions.items()},
        )
        if ctx.user_agent:
            context["aws:UserAgent"] = ctx.user_agent
        if (
            reads_tags
            and bucket is not None
            and key is not None
            and action in _EXISTING_TAG_ACTIONS
        ):
            context.update(self._existing_tags(cur, bucket, key, version_id))
        context.update(signature_condition_keys(ctx))
        request = Request(
            identity=who,
            action=action,
            resource=resource_arn(bucket, key),
            bucket_owner=bucket_owner,
            object_owner=object_owner,
            context=context,
        )
        return evaluate(request, identity_policies, bucket_policy, acl)
