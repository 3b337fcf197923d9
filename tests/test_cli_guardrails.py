"""``objfs bucket ownership`` and ``objfs bucket public-access-block`` as a person
types them (the installed ``objfs``), checked against what the store then holds."""

from __future__ import annotations

import json

from objfs.auth.acl import AclSpec
from objfs.errors import AccessControlListNotSupported
from objfs.store import OWNER, Store
from tests.test_cli import assert_user_error
from tests.test_cli_access import Shell, sh  # noqa: F401 - the fixture


def test_ownership(sh: Shell) -> None:  # noqa: F811
    assert "no ownership controls" in sh.ok("bucket", "ownership", "photos").out
    sh.ok("bucket", "ownership", "photos", "BucketOwnerEnforced")
    assert sh.ok("bucket", "ownership", "photos").out.strip() == "photos: BucketOwnerEnforced"
    with Store.open(sh.store) as store:  # ACLs are off now
        try:
            store.put_object(OWNER, "photos", "k", b"x", acl=AclSpec("public-read"))
        except AccessControlListNotSupported:
            pass
        else:
            raise AssertionError("an ACL was accepted with BucketOwnerEnforced")
    out = json.loads(sh.ok("--json", "bucket", "ownership", "photos", "--delete").out)
    assert out == {"name": "photos", "ownership": None}
    assert_user_error(sh("bucket", "ownership", "nope", "ObjectWriter"), "bucket")
    assert sh("bucket", "ownership", "photos", "Everyone").returncode == 2
    sh.ok("bucket", "create", "shared", "--ownership", "BucketOwnerPreferred")
    assert "BucketOwnerPreferred" in sh.ok("bucket", "ownership", "shared").out


def test_public_access_block(sh: Shell) -> None:  # noqa: F811
    assert sh.ok("bucket", "public-access-block", "photos").out.strip() == (
        "photos: not configured; public: no"
    )
    sh.ok("bucket", "public-access-block", "photos", "--block-public-policy")
    with Store.open(sh.store) as store:
        conf = store.get_public_access_block(OWNER, "photos")
        assert conf.block_public_policy and not conf.block_public_acls
    out = sh.ok("bucket", "public-access-block", "photos", "--all").out
    assert "block-public-acls, ignore-public-acls" in out
    shown = json.loads(sh.ok("--json", "bucket", "public-access-block", "photos").out)
    assert shown["public_access_block"]["restrict_public_buckets"] is True
    assert shown["is_public"] is False
    sh.ok("bucket", "public-access-block", "photos", "--delete")
    assert "not configured" in sh.ok("bucket", "public-access-block", "photos").out
