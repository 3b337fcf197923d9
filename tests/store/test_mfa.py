"""MFA delete (S3-SEMANTICS.md "MFA delete") and the store's MFA devices.

Codes are computed here from the device's secret with ``objfs.auth.totp``
at explicit time steps; the store's ``clock`` is set to those times, so no
test waits for a 30 s step to pass.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlparse

import pytest

from objfs.auth import totp
from objfs.auth.identity import Identity
from objfs.errors import (
    AccessDenied,
    InvalidRequest,
    MFARequired,
    NoSuchEntity,
    NoSuchVersion,
)
from objfs.store import RequestContext, Store, Versioning

T0 = 1_800_000_000.0  # a fixed "now": step 60_000_000
STEP = totp.STEP_SECONDS


class Device:
    """The owner's registered device and a hand that reads codes off it."""

    def __init__(self, store: Store, ctx: RequestContext) -> None:
        self.store = store
        self.ctx = ctx
        store.clock = lambda: self.now
        self.now = T0
        self.serial, self.secret, self.uri = store.mfa_enable(ctx)

    def code(self, offset_steps: int = 0) -> str:
        """The code of the step ``offset_steps`` from now."""
        return totp.code_for_step(self.secret, totp.step_at(self.now) + offset_steps)

    def mfa(self, offset_steps: int = 0) -> str:
        return f"{self.serial} {self.code(offset_steps)}"

    def with_code(self, offset_steps: int = 0) -> RequestContext:
        return dataclasses.replace(self.ctx, mfa=self.mfa(offset_steps))

    def tick(self) -> None:
        self.now += STEP


@pytest.fixture
def device(store: Store, ctx: RequestContext) -> Device:
    return Device(store, ctx)


def _put_versions(store: Store, ctx: RequestContext, bucket: str, key: str, n: int) -> list[str]:
    return [store.put_object(ctx, bucket, key, f"v{i}".encode()).version_id for i in range(n)]


def _mfa_bucket(store: Store, device: Device, name: str) -> None:
    store.create_bucket(device.ctx, name, versioning=True)
    store.set_bucket_versioning(device.with_code(), name, "Enabled", mfa_delete=True)
    device.tick()


# -- devices --------------------------------------------------------------------------


def test_enable_returns_secret_and_otpauth_uri(store: Store, device: Device) -> None:
    assert device.serial == "arn:objfs:iam::owner:mfa/root"
    uri = urlparse(device.uri)
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [device.secret]
    assert len(totp.decode_secret(device.secret)) == totp.SECRET_BYTES
    [info] = store.mfa_list(device.ctx)
    assert info.serial == device.serial and info.principal == "owner"
    assert info.last_used_ns is None


def test_secret_is_sealed_in_the_database(store: Store, device: Device) -> None:
    raw_key = totp.decode_secret(device.secret)
    data = (store.path / "meta.db").read_bytes()
    wal = store.path / "meta.db-wal"
    if wal.exists():
        data += wal.read_bytes()
    assert raw_key not in data and device.secret.encode() not in data


def test_reenabling_needs_a_code_from_the_old_device(store: Store, device: Device) -> None:
    with pytest.raises(MFARequired, match="already registered"):
        store.mfa_enable(device.ctx)
    with pytest.raises(MFARequired, match="wrong or expired"):
        store.mfa_enable(dataclasses.replace(device.ctx, mfa=f"{device.serial} 000000"))
    old_secret = device.secret
    new = store.mfa_enable(device.with_code())
    assert new.serial == device.serial and new.secret != old_secret
    assert new.secret not in repr(new)
    assert len(store.mfa_list(device.ctx)) == 1
    # The old device's codes are dead; the new one's work (from the next step on).
    device.tick()
    old_code = totp.code_for_step(old_secret, totp.step_at(device.now))
    store.create_bucket(device.ctx, "bkt", versioning=True)
    with pytest.raises(MFARequired):
        store.set_bucket_versioning(
            dataclasses.replace(device.ctx, mfa=f"{device.serial} {old_code}"),
            "bkt",
            "Enabled",
            mfa_delete=True,
        )
    device.secret = new.secret
    store.set_bucket_versioning(device.with_code(), "bkt", "Enabled", mfa_delete=True)
    assert store.head_bucket(device.ctx, "bkt").mfa_delete


def test_disable_needs_a_code_and_no_guarded_bucket(store: Store, device: Device) -> None:
    with pytest.raises(MFARequired, match="needs a code"):
        store.mfa_disable(device.ctx)
    _mfa_bucket(store, device, "guarded")
    with pytest.raises(InvalidRequest, match="guarded"):
        store.mfa_disable(device.with_code())
    store.set_bucket_versioning(device.with_code(), "guarded", "Enabled", mfa_delete=False)
    device.tick()
    assert store.mfa_disable(device.with_code()) == device.serial
    assert store.mfa_list(device.ctx) == []
    with pytest.raises(NoSuchEntity):
        store.mfa_disable(device.with_code(1))


def test_devices_are_the_owners_business(store: Store, device: Device) -> None:
    store.create_user(device.ctx, "alice")
    alice = RequestContext(Identity.user("alice", "a" * 64), "cli")
    for call in (store.mfa_enable, store.mfa_list, store.mfa_disable):
        with pytest.raises(AccessDenied, match="store owner only"):
            call(alice)


# -- turning MFA delete on and off -------------------------------------------------------


def test_enabling_mfa_delete_needs_a_valid_code(store: Store, device: Device, vbucket: str) -> None:
    with pytest.raises(MFARequired, match='enabling MFA delete.*--mfa "SERIAL CODE"'):
        store.set_bucket_versioning(device.ctx, vbucket, "Enabled", mfa_delete=True)
    bad = dataclasses.replace(device.ctx, mfa=f"{device.serial} 123456")
    if device.code() != "123456":
        with pytest.raises(MFARequired, match="wrong or expired"):
            store.set_bucket_versioning(bad, vbucket, "Enabled", mfa_delete=True)
    with pytest.raises(MFARequired, match="not the store owner's MFA device"):
        store.set_bucket_versioning(
            dataclasses.replace(device.ctx, mfa=f"arn:objfs:iam::owner:mfa/other {device.code()}"),
            vbucket,
            "Enabled",
            mfa_delete=True,
        )
    with pytest.raises(InvalidRequest, match="SERIAL CODE"):
        store.set_bucket_versioning(
            dataclasses.replace(device.ctx, mfa="just-a-serial"),
            vbucket,
            "Enabled",
            mfa_delete=True,
        )
    assert not store.head_bucket(device.ctx, vbucket).mfa_delete
    info = store.set_bucket_versioning(device.with_code(), vbucket, "Enabled", mfa_delete=True)
    assert info.mfa_delete and info.versioning is Versioning.ENABLED
    [dev] = store.mfa_list(device.ctx)
    assert dev.last_used_ns == totp.step_at(T0) * STEP * 10**9


def test_mfa_delete_only_on_a_versioned_bucket(store: Store, device: Device, bucket: str) -> None:
    with pytest.raises(InvalidRequest, match="versioned bucket"):
        store.set_bucket_versioning(device.with_code(), bucket, "Suspended", mfa_delete=True)
    # The refused call spent nothing: the same code still enables both at once.
    info = store.set_bucket_versioning(device.with_code(), bucket, "Enabled", mfa_delete=True)
    assert info.versioning is Versioning.ENABLED and info.mfa_delete


def test_only_the_store_owner_changes_the_flag(store: Store, device: Device) -> None:
    store.create_user(device.ctx, "alice")
    alice = RequestContext(store.user_identity("alice"), "cli", mfa=device.mfa())
    store.create_bucket(alice, "alices", versioning=True)
    with pytest.raises(MFARequired, match="only the store owner"):
        store.set_bucket_versioning(alice, "alices", "Enabled", mfa_delete=True)


def test_same_flag_again_needs_no_code(store: Store, device: Device) -> None:
    _mfa_bucket(store, device, "bkt")
    info = store.set_bucket_versioning(device.ctx, "bkt", "Enabled", mfa_delete=True)
    assert info.mfa_delete
    store.create_bucket(device.ctx, "ckt", versioning=True)
    assert not store.set_bucket_versioning(
        device.ctx, "ckt", "Suspended", mfa_delete=False
    ).mfa_delete


# -- what MFA delete protects ------------------------------------------------------------


def test_permanent_delete_needs_a_valid_unused_code(store: Store, device: Device) -> None:
    _mfa_bucket(store, device, "bkt")
    v = _put_versions(store, device.ctx, "bkt", "k", 3)
    with pytest.raises(
        MFARequired, match='MFA delete is enabled on bucket bkt: give --mfa "SERIAL'
    ):
        store.delete_object(device.ctx, "bkt", "k", version_id=v[0])
    assert len(store.key_versions(device.ctx, "bkt", "k")) == 3

    code = device.with_code()
    assert store.delete_object(code, "bkt", "k", version_id=v[0]).version_id == v[0]
    with pytest.raises(MFARequired, match="already used"):
        store.delete_object(code, "bkt", "k", version_id=v[1])  # the same code twice
    # An earlier step than the one spent is refused too, though inside the window.
    with pytest.raises(MFARequired, match="already used"):
        store.delete_object(device.with_code(-1), "bkt", "k", version_id=v[1])
    # The next step's code (clock skew +1) is fine.
    store.delete_object(device.with_code(1), "bkt", "k", version_id=v[1])
    assert [x.version_id for x in store.key_versions(device.ctx, "bkt", "k")] == [v[2]]


def test_expired_code_is_refused(store: Store, device: Device) -> None:
    _mfa_bucket(store, device, "bkt")
    [v] = _put_versions(store, device.ctx, "bkt", "k", 1)
    stale = device.with_code()
    device.tick()  # one step later: still inside the ±1 window
    device.tick()  # two steps later: expired
    with pytest.raises(MFARequired, match="wrong or expired"):
        store.delete_object(stale, "bkt", "k", version_id=v)
    with pytest.raises(MFARequired, match="wrong or expired"):
        store.delete_object(device.with_code(2), "bkt", "k", version_id=v)  # too far ahead
    store.delete_object(device.with_code(), "bkt", "k", version_id=v)


def test_failed_delete_does_not_spend_the_code(store: Store, device: Device) -> None:
    _mfa_bucket(store, device, "bkt")
    [v] = _put_versions(store, device.ctx, "bkt", "k", 1)
    code = device.with_code()
    with pytest.raises(NoSuchVersion):
        store.delete_object(code, "bkt", "k", version_id="0" * 16)
    store.delete_object(code, "bkt", "k", version_id=v)


def test_everything_else_works_as_before(store: Store, device: Device) -> None:
    _mfa_bucket(store, device, "bkt")
    v = _put_versions(store, device.ctx, "bkt", "k", 2)
    marker = store.delete_object(device.ctx, "bkt", "k")  # a delete marker: not permanent
    assert marker.delete_marker
    store.put_object(device.ctx, "bkt", "k", b"back")
    store.copy_object(device.ctx, "bkt", "k", "bkt", "k2")
    store.rename(device.ctx, "bkt", "k2", "k3")
    store.set_bucket_versioning(device.ctx, "bkt", "Enabled")  # no change of state: no code
    assert len(store.key_versions(device.ctx, "bkt", "k")) == 4
    assert v[0] in {x.version_id for x in store.key_versions(device.ctx, "bkt", "k")}


def test_suspending_and_reenabling_versioning_need_a_code(store: Store, device: Device) -> None:
    _mfa_bucket(store, device, "bkt")
    with pytest.raises(MFARequired, match="MFA delete is enabled on bucket bkt.*Suspended"):
        store.set_bucket_versioning(device.ctx, "bkt", "Suspended")
    assert store.head_bucket(device.ctx, "bkt").versioning is Versioning.ENABLED
    info = store.set_bucket_versioning(device.with_code(), "bkt", "Suspended")
    assert info.versioning is Versioning.SUSPENDED and info.mfa_delete
    device.tick()
    with pytest.raises(MFARequired):
        store.set_bucket_versioning(device.ctx, "bkt", "Enabled")
    store.set_bucket_versioning(device.with_code(), "bkt", "Enabled")
    device.tick()
    # Disabling MFA delete needs a code; then suspending needs none.
    with pytest.raises(MFARequired, match="disabling MFA delete"):
        store.set_bucket_versioning(device.ctx, "bkt", "Enabled", mfa_delete=False)
    store.set_bucket_versioning(device.with_code(), "bkt", "Enabled", mfa_delete=False)
    store.set_bucket_versioning(device.ctx, "bkt", "Suspended")


def test_delete_objects_needs_one_code_for_its_versions(store: Store, device: Device) -> None:
    _mfa_bucket(store, device, "bkt")
    v = _put_versions(store, device.ctx, "bkt", "k", 3)
    store.put_object(device.ctx, "bkt", "plain", b"x")
    items = [("k", v[0]), ("k", v[1]), ("plain", None)]
    # Without a code the whole request fails, as in S3: nothing is deleted.
    with pytest.raises(MFARequired, match="MFA delete is enabled on bucket bkt"):
        store.delete_objects(device.ctx, "bkt", items)
    assert len(store.key_versions(device.ctx, "bkt", "k")) == 3
    assert not store.key_versions(device.ctx, "bkt", "plain")[0].is_delete_marker
    # One valid code covers every version of the request.
    code = device.with_code()
    results = store.delete_objects(code, "bkt", items)
    assert [r.version_id for r in results[:2]] == [v[0], v[1]]  # type: ignore[union-attr]
    assert results[2].delete_marker  # type: ignore[union-attr]
    with pytest.raises(MFARequired, match="already used"):
        store.delete_objects(code, "bkt", [("k", v[2])])
    # Only latest-version deletes (delete markers) need no code.
    store.delete_objects(device.ctx, "bkt", [("k", None)])


def test_users_need_the_owners_code_too(store: Store, device: Device) -> None:
    _mfa_bucket(store, device, "bkt")
    [v] = _put_versions(store, device.ctx, "bkt", "k", 1)
    store.create_user(device.ctx, "alice")
    store.put_bucket_policy(
        device.ctx,
        "bkt",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Principal": {"AWS": "alice"}, "Action": "s3:DeleteObjectVersion", '
        '"Resource": "arn:aws:s3:::bkt/*"}]}',
    )
    alice = RequestContext(store.user_identity("alice"), "cli")
    with pytest.raises(MFARequired, match="MFA delete is enabled"):
        store.delete_object(alice, "bkt", "k", version_id=v)
    store.delete_object(dataclasses.replace(alice, mfa=device.mfa()), "bkt", "k", version_id=v)


def test_policy_sees_a_verified_code(store: Store, device: Device) -> None:
    """``aws:MultiFactorAuthPresent`` is true only for a request with a code valid now."""
    store.create_bucket(device.ctx, "bkt", versioning=True)
    store.create_user(device.ctx, "bob")
    bob = RequestContext(store.user_identity("bob"), "cli")
    store.put_bucket_policy(
        device.ctx,
        "bkt",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Principal": {"AWS": "bob"}, "Action": "s3:PutObject", '
        '"Resource": "arn:aws:s3:::bkt/*", '
        '"Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}',
    )
    with pytest.raises(AccessDenied):
        store.put_object(bob, "bkt", "k", b"x")
    wrong = "000000" if device.code() != "000000" else "111111"
    with pytest.raises(AccessDenied):
        store.put_object(dataclasses.replace(bob, mfa=f"{device.serial} {wrong}"), "bkt", "k", b"x")
    store.put_object(dataclasses.replace(bob, mfa=device.mfa()), "bkt", "k", b"x")
