"""MFA delete over the HTTP API: the ``x-amz-mfa`` header ("SERIAL CODE") reaches
the store's check; without it, or with a spent code, a version cannot be
deleted for good. The device is the store owner's (registered with the store
API, as ``objfs mfa enable`` does)."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from objfs.auth import totp
from objfs.store import OWNER_IDENTITY, RequestContext, Store


def quiet_step() -> int:
    """The current TOTP step, not within 3 s of its end (codes stay valid meanwhile)."""
    while 30 - time.time() % 30 < 3:
        time.sleep(0.5)
    return totp.step_at(time.time())


def test_mfa_delete_needs_the_header(s3env, alice, vbkt):
    v1 = alice.put_object(Bucket=vbkt, Key="k", Body=b"one")["VersionId"]
    alice.put_object(Bucket=vbkt, Key="k", Body=b"two")
    with Store.open(s3env["store"]) as store:
        device = store.mfa_enable(RequestContext(OWNER_IDENTITY, "cli"))
        step = quiet_step()
        owner = RequestContext(
            OWNER_IDENTITY, "cli", mfa=f"{device.serial} {totp.code_for_step(device.secret, step)}"
        )
        store.set_bucket_versioning(owner, vbkt, "Enabled", mfa_delete=True)
    assert alice.get_bucket_versioning(Bucket=vbkt)["MFADelete"] == "Enabled"
    with pytest.raises(ClientError) as exc:
        alice.delete_object(Bucket=vbkt, Key="k", VersionId=v1)
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    mfa = f"{device.serial} {totp.code_for_step(device.secret, step + 1)}"
    alice.delete_object(Bucket=vbkt, Key="k", VersionId=v1, MFA=mfa)
    versions = alice.list_object_versions(Bucket=vbkt)["Versions"]
    assert v1 not in [v["VersionId"] for v in versions]
    with pytest.raises(ClientError) as exc:  # a code is good once
        alice.delete_object(Bucket=vbkt, Key="k", VersionId=versions[0]["VersionId"], MFA=mfa)
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    assert "already used" in exc.value.response["Error"]["Message"]
    alice.delete_object(Bucket=vbkt, Key="k")  # a delete marker needs no code
    assert alice.list_object_versions(Bucket=vbkt)["DeleteMarkers"]
