"""MFA devices and MFA delete: who may permanently delete versions, and with what proof.

Two collaborators of the ``Store``:

- ``MFA`` (``store.mfa``): the public API behind ``objfs mfa enable|ls|disable``
  (store administration: ``owner_only``);
- ``MFACodes`` (``store.mfa_codes``): the checks the bucket and object code
  calls inside its write transactions, and the seam's condition keys:

  - ``versioning_rule``: changing a bucket's MFA-delete flag (store owner
    only, a valid code, versioning Enabled or being enabled in the same
    call), and changing the versioning state while MFA delete is on;
  - ``delete_guard``: permanently deleting a version (``delete_object``
    with a version id, such items of ``delete_objects``) while MFA delete is on;
  - ``verify``: parses ``ctx.mfa`` (``"SERIAL CODE"``), checks the code
    against the device (RFC 6238, ±1 step of ``clock()``, the store's
    ``store.clock``) and records its step as used;
  - ``condition_keys``: ``aws:MultiFactorAuthPresent`` for the seam.

As in S3, where MFA delete takes the root account's device, a code must come
from the store owner's device: it is the owner's consent, whoever sends the
request (a user allowed ``s3:DeleteObjectVersion`` still needs it).

Invariants: a device's secret is sealed under the master key and returned
once, by ``mfa_enable``; one device per principal, with a stable serial
(``arn:objfs:iam::owner:mfa/root``), replaced only with a valid code from the
old one; a code is good once: the step it matched is stored in the same
write transaction as the change it allowed, so a change that commits has
spent its code and a change that fails has not; a device cannot be removed
while a bucket has MFA delete on (nothing could turn it off again).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from objfs.auth import totp
from objfs.auth.identity import OWNER_NAME
from objfs.crypto.keyring import Keyring
from objfs.errors import InvalidRequest, MFARequired, NoSuchEntity, ObjfsError
from objfs.meta import auth_queries as aq
from objfs.meta import queries as q
from objfs.meta.db import Database
from objfs.store.access import owner_only
from objfs.store.authorizer import AccessControl
from objfs.store.seam import Seam
from objfs.store.types import (
    BucketInfo,
    MFADeviceInfo,
    NewMFADevice,
    RequestContext,
    Versioning,
)

SECRET_PURPOSE = "mfa device secret"
GIVE_CODE = 'give --mfa "SERIAL CODE"'


def device_serial(principal: str) -> str:
    """The serial of ``principal``'s device, stable across replacements."""
    return f"arn:objfs:iam::{principal}:mfa/root"


def _info(row: tuple) -> MFADeviceInfo:
    serial, principal, _sealed, last_step, created = row
    last = last_step * totp.STEP_SECONDS * 10**9 if last_step else None
    return MFADeviceInfo(serial=serial, principal=principal, created_ns=created, last_used_ns=last)


class MFACodes:
    """Checks MFA codes against the store owner's device; see the module docstring."""

    def __init__(
        self, *, access: AccessControl, keyring: Keyring, clock: Callable[[], float] = time.time
    ) -> None:
        self.access = access
        self.keyring = keyring
        # Where "now" comes from for TOTP codes; tests set it (``store.clock``)
        # to step through time.
        self.clock = clock

    # -- checks inside the callers' write transactions --------------------------------------

    def verify(self, cur: Any, ctx: RequestContext, missing: str) -> int:
        """Check ``ctx.mfa`` and spend its step in ``cur``'s transaction; returns the step.

        ``missing`` is the refusal when the request carries no code.
        """
        if not ctx.mfa:
            raise MFARequired(missing)
        serial, code = totp.parse_mfa(ctx.mfa)
        self.access.ensure_schema(cur)
        row = aq.get_mfa_device(cur, serial)
        if row is None or row[1] != OWNER_NAME:
            raise MFARequired(
                f"{serial} is not the store owner's MFA device (see `objfs mfa ls`; "
                "register one with `objfs mfa enable`)"
            )
        key = self.keyring.open_secret(SECRET_PURPOSE, serial, row[2])
        now = self.clock()
        step = totp.verify(key, code, now=now, last_step=row[3])
        if step is None:
            if totp.verify(key, code, now=now) is not None:
                raise MFARequired(
                    f"the MFA code for {serial} was already used: each code is good once, "
                    "wait for the next one"
                )
            raise MFARequired(f"the MFA code for {serial} is wrong or expired")
        aq.set_mfa_last_step(cur, serial, step)
        return step

    def versioning_rule(
        self,
        cur: Any,
        ctx: RequestContext,
        info: BucketInfo,
        new: Versioning,
        mfa_delete: bool | None,
    ) -> None:
        """The MFA rules of PutBucketVersioning (see the module docstring)."""
        name = info.name
        if mfa_delete is not None and mfa_delete != info.mfa_delete:
            if not ctx.identity.is_owner:
                raise MFARequired(
                    f"only the store owner may change MFA delete on bucket {name}, "
                    f"not {ctx.identity.describe()}"
                )
            if mfa_delete and new is not Versioning.ENABLED:
                raise InvalidRequest(
                    f"MFA delete needs a versioned bucket: enable versioning on {name} in the "
                    f"same call (objfs bucket versioning {name} Enabled --mfa-delete Enabled "
                    '--mfa "SERIAL CODE")'
                )
            turn = "enabling" if mfa_delete else "disabling"
            self.verify(
                cur, ctx, f"{turn} MFA delete on bucket {name} needs an MFA code: {GIVE_CODE}"
            )
        elif info.mfa_delete and new is not info.versioning:
            self.verify(
                cur,
                ctx,
                f"MFA delete is enabled on bucket {name}: {GIVE_CODE} to change its "
                f"versioning to {new}",
            )

    def delete_guard(self, cur: Any, ctx: RequestContext, info: BucketInfo, what: str) -> None:
        """A version of ``info`` is about to go for good: with MFA delete on, spend a code."""
        if info.mfa_delete:
            self.verify(
                cur, ctx, f"MFA delete is enabled on bucket {info.name}: {GIVE_CODE} to {what}"
            )

    # -- policy condition keys ----------------------------------------------------------------

    def condition_keys(self, ctx: RequestContext) -> dict[str, Any]:
        """``aws:MultiFactorAuthPresent``/``Age`` when ``ctx.mfa`` holds a code valid now.

        Peeks without spending the code: the protected change that follows
        spends it in its own transaction.
        """
        if not ctx.mfa:
            return {}
        try:
            serial, code = totp.parse_mfa(ctx.mfa)
            with self.access.reading() as cur:
                row = aq.get_mfa_device(cur, serial)
            if row is None or row[1] != OWNER_NAME:
                return {}
            key = self.keyring.open_secret(SECRET_PURPOSE, serial, row[2])
        except ObjfsError:
            return {}
        if totp.verify(key, code, now=self.clock(), last_step=row[3]) is None:
            return {}
        return {"aws:MultiFactorAuthPresent": True, "aws:MultiFactorAuthAge": 0}


class MFA:
    """The MFA devices' administration (``store.mfa``); see the module docstring."""

    def __init__(
        self, *, db: Database, access: AccessControl, keyring: Keyring, codes: MFACodes, seam: Seam
    ) -> None:
        self.db = db
        self.access = access
        self.keyring = keyring
        self.codes = codes
        self.seam = seam

    # -- devices (store administration) ------------------------------------------------

    @owner_only("objfs:ManageMfa")
    def mfa_enable(self, ctx: RequestContext) -> NewMFADevice:
        """Register a TOTP device for the caller; returns its secret, once.

        A device already registered is replaced only when ``ctx.mfa`` holds a
        valid code from it; otherwise ``MFARequired`` says how.
        """
        principal = ctx.identity.name
        serial = device_serial(principal)
        secret = totp.generate_secret()
        sealed = self.keyring.seal_secret(SECRET_PURPOSE, serial, totp.decode_secret(secret))
        with self.db.write(durable=True) as cur:
            self.access.ensure_schema(cur)
            old = aq.get_mfa_device(cur, serial)
            spent = None
            if old is not None:
                spent = self.codes.verify(
                    cur,
                    ctx,
                    f"an MFA device is already registered ({serial}): to replace it, give a "
                    f'code from it with --mfa "{serial} CODE", or run `objfs mfa disable` first',
                )
                aq.delete_mfa_device(cur, serial)
            aq.insert_mfa_device(cur, serial, principal, sealed, time.time_ns())
            q.add_change(cur, "", b"")
            if spent is not None:
                # The old device's step is spent; keep the new one from going back.
                aq.set_mfa_last_step(cur, serial, spent)
        account = f"{principal}@{socket.gethostname()}"
        return NewMFADevice(serial, secret, totp.provisioning_uri(secret, account))

    @owner_only("objfs:ManageMfa")
    def mfa_list(self, ctx: RequestContext) -> list[MFADeviceInfo]:
        with self.access.reading() as cur:
            return [_info(row) for row in aq.list_mfa_devices(cur)]

    @owner_only("objfs:ManageMfa")
    def mfa_disable(self, ctx: RequestContext) -> str:
        """Remove the caller's device (``ctx.mfa`` must hold a valid code from it).

        Refused while a bucket has MFA delete on. Returns the removed serial.
        """
        serial = device_serial(ctx.identity.name)
        with self.db.write(durable=True) as cur:
            self.access.ensure_schema(cur)
            if aq.get_mfa_device(cur, serial) is None:
                raise NoSuchEntity(
                    f"{ctx.identity.describe()} has no MFA device (see `objfs mfa ls`)"
                )
            guarded = aq.buckets_with_mfa_delete(cur)
            if guarded:
                raise InvalidRequest(
                    f"MFA delete is enabled on bucket(s) {', '.join(guarded)}: turn it off first "
                    f"(objfs bucket versioning BUCKET Enabled --mfa-delete Disabled "
                    f'--mfa "{serial} CODE"), or nothing could turn it off again'
                )
            self.codes.verify(
                cur,
                ctx,
                f'removing MFA device {serial} needs a code from it: give --mfa "{serial} CODE"',
            )
            aq.delete_mfa_device(cur, serial)
            q.add_change(cur, "", b"")
        return serial


__all__ = ["MFA", "MFACodes", "device_serial"]
