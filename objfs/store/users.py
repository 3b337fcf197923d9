"""Principals of the store: users, their access keys and identity policies.

``Users`` (``store.users``) owns the public API the CLI (``objfs user ...``)
and the HTTP API's authentication use. Every method here is store
administration: only the store owner may call it (``owner_only``), except
``authenticate``, ``signing_secret`` and ``user_identity``, which turn
credentials into an identity before there is one.

Invariants: a user name is 1-64 characters of ``A-Za-z0-9+=,.@_-`` (IAM's
rule) and never ``owner``, ``anonymous`` or ``log-delivery``; a user has at
most two access keys; a secret is returned once, by ``create_access_key``,
and kept sealed under the master key (SigV4 needs it back); an inactive key
or a deleted user authenticates nothing; deleting a user who owns buckets is
refused (the buckets would have no owner).
"""

from __future__ import annotations

import hmac
import re
import time
from typing import Any

from objfs.auth.identity import ANONYMOUS_NAME, LOG_DELIVERY_NAME, OWNER_NAME, Identity
from objfs.auth.keys import new_access_key_id, new_canonical_id, new_secret_access_key
from objfs.crypto.keyring import Keyring
from objfs.errors import (
    AccessDenied,
    EntityAlreadyExists,
    InvalidAccessKeyId,
    InvalidArgument,
    LimitExceeded,
    NoSuchEntity,
    SignatureDoesNotMatch,
)
from objfs.meta import auth_queries as aq
from objfs.meta import queries as q
from objfs.meta.db import Cursor, Database
from objfs.store.access import owner_only
from objfs.store.authorizer import AccessControl
from objfs.store.seam import Seam
from objfs.store.types import AccessKeyInfo, NewAccessKey, RequestContext, UserInfo

MAX_KEYS_PER_USER = 2
_USER_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")
_RESERVED = {OWNER_NAME, ANONYMOUS_NAME, LOG_DELIVERY_NAME}
SECRET_PURPOSE = "access key secret"


def check_user_name(name: str) -> None:
    if not _USER_NAME.match(name or ""):
        raise InvalidArgument(
            f"invalid user name {name!r}: use 1-64 characters of letters, digits and +=,.@_-"
        )
    if name.lower() in _RESERVED:
        raise InvalidArgument(f"{name!r} is reserved: choose another user name")


def _user(row: Any) -> UserInfo:
    name, canonical_id, display, created = row
    return UserInfo(name=name, canonical_id=canonical_id, display_name=display, created_ns=created)


def _key(row: Any) -> AccessKeyInfo:
    key_id, user, _sealed, status, created = row
    return AccessKeyInfo(key_id=key_id, user=user, status=status, created_ns=created)


class Users:
    """Users, access keys and turning credentials into an identity (``store.users``)."""

    def __init__(
        self, *, db: Database, access: AccessControl, keyring: Keyring, seam: Seam
    ) -> None:
        self.db = db
        self.access = access
        self.keyring = keyring
        self.seam = seam

    # -- users -----------------------------------------------------------------

    @owner_only("objfs:ManageUsers")
    def create_user(
        self, ctx: RequestContext, name: str, *, display_name: str | None = None
    ) -> UserInfo:
        check_user_name(name)
        display = display_name or name
        now = time.time_ns()
        with self.db.write(durable=True) as cur:
            self.access.ensure_schema(cur)
            if aq.get_user(cur, name) is not None:
                raise EntityAlreadyExists(f"user {name!r} already exists")
            aq.insert_user(cur, name, new_canonical_id(), display, now)
            q.add_change(cur, "", b"")
            return _user(aq.get_user(cur, name))

    @owner_only("objfs:ManageUsers")
    def list_users(self, ctx: RequestContext) -> list[UserInfo]:
        with self.access.reading() as cur:
            return [_user(row) for row in aq.list_users(cur)]

    @owner_only("objfs:ManageUsers")
    def get_user(self, ctx: RequestContext, name: str) -> UserInfo:
        with self.access.reading() as cur:
            return _user(self.access.user_row(cur, name))

    @owner_only("objfs:ManageUsers")
    def delete_user(self, ctx: RequestContext, name: str) -> None:
        with self.db.write(durable=True) as cur:
            self.access.ensure_schema(cur)
            self.access.user_row(cur, name)
            owned = aq.buckets_owned_by(cur, name)
            if owned:
                raise InvalidArgument(
                    f"user {name!r} owns bucket(s) {', '.join(owned)}: delete them first, "
                    "or they would have no owner"
                )
            aq.delete_user(cur, name)
            q.add_change(cur, "", b"")
        self.access.forget_keys()

    # -- access keys -------------------------------------------------------------

    @owner_only("objfs:ManageUsers")
    def create_access_key(self, ctx: RequestContext, user: str) -> NewAccessKey:
        now = time.time_ns()
        with self.db.write(durable=True) as cur:
            self.access.ensure_schema(cur)
            self.access.user_row(cur, user)
            if len(aq.list_access_keys(cur, user)) >= MAX_KEYS_PER_USER:
                raise LimitExceeded(
                    f"user {user!r} already has {MAX_KEYS_PER_USER} access keys: "
                    "remove one first (objfs user keys rm)"
                )
            key_id, secret = new_access_key_id(), new_secret_access_key()
            sealed = self.keyring.seal_secret(SECRET_PURPOSE, key_id, secret.encode())
            aq.insert_access_key(cur, key_id, user, sealed, now)
            q.add_change(cur, "", b"")
        return NewAccessKey(
            info=AccessKeyInfo(key_id=key_id, user=user, status="Active", created_ns=now),
            secret=secret,
        )

    @owner_only("objfs:ManageUsers")
    def list_access_keys(self, ctx: RequestContext, user: str) -> list[AccessKeyInfo]:
        with self.access.reading() as cur:
            self.access.user_row(cur, user)
            return [_key(row) for row in aq.list_access_keys(cur, user)]

    @owner_only("objfs:ManageUsers")
    def set_access_key_status(
        self, ctx: RequestContext, user: str, key_id: str, *, active: bool
    ) -> AccessKeyInfo:
        with self.db.write(durable=True) as cur:
            self.access.ensure_schema(cur)
            self._user_key(cur, user, key_id)
            aq.set_access_key_status(cur, key_id, "Active" if active else "Inactive")
            q.add_change(cur, "", b"")
            info = _key(aq.get_access_key(cur, key_id))
        self.access.forget_keys()
        return info

    @owner_only("objfs:ManageUsers")
    def delete_access_key(self, ctx: RequestContext, user: str, key_id: str) -> None:
        with self.db.write(durable=True) as cur:
            self.access.ensure_schema(cur)
            self._user_key(cur, user, key_id)
            aq.delete_access_key(cur, key_id)
            q.add_change(cur, "", b"")
        self.access.forget_keys()

    def _user_key(self, cur: Cursor, user: str, key_id: str) -> tuple:
        self.access.user_row(cur, user)
        row = aq.get_access_key(cur, key_id)
        if row is None or row[1] != user:
            raise NoSuchEntity(f"user {user!r} has no access key {key_id!r}")
        return row

    # -- turning credentials into an identity (not requests: no identity yet) -----

    def signing_secret(self, key_id: str) -> tuple[Identity, str]:
        """The identity and secret of an active access key (SigV4 verifies with it).

        Unknown, inactive or orphaned keys are ``InvalidAccessKeyId``. Read on
        every signed request: kept per thread while nothing is committed
        (``AccessControl.unchanged_or``), which saves two queries and the
        secret's decryption.
        """
        return self.access.unchanged_or(("signing_secret", key_id), lambda: self._secret(key_id))

    def _secret(self, key_id: str) -> tuple[Identity, str]:
        with self.access.reading() as cur:
            row = aq.get_access_key(cur, key_id)
            if row is None or row[3] != "Active":
                raise InvalidAccessKeyId(
                    "the access key id you provided does not exist in our records"
                    if row is None
                    else f"access key {key_id} is inactive"
                )
            user = aq.get_user(cur, row[1])
        if user is None:
            raise InvalidAccessKeyId(f"access key {key_id} belongs to no user")
        secret = self.keyring.open_secret(SECRET_PURPOSE, key_id, row[2]).decode()
        return Identity.user(user[0], user[1], user[2]), secret

    def authenticate(self, key_id: str, secret: str) -> Identity:
        """The identity an access key id and its secret stand for (CLI, mount)."""
        identity, expected = self.signing_secret(key_id)
        if not hmac.compare_digest(expected.encode(), (secret or "").encode()):
            raise SignatureDoesNotMatch(f"the secret given for access key {key_id} is wrong")
        return identity

    def user_identity(self, name: str) -> Identity:
        """The identity of user ``name`` (the mount's ``user_map=`` names users)."""
        if name == ANONYMOUS_NAME:
            return Identity.anonymous()
        with self.access.reading() as cur:
            row = self.access.user_row(cur, name)
        return Identity.user(row[0], row[1], row[2])


__all__ = ["Users", "check_user_name", "AccessDenied"]
