"""CreateBucket of a name already taken, on a server in us-east-1 (S3's legacy
region, where the owner asking again for the same bucket gets 200)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from objfs.store import Store

from .conftest import make_users
from .support import Server, client


@pytest.fixture(scope="module")
def east(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    root = tmp_path_factory.mktemp("east")
    Store.init(root / "store").close()
    keys = make_users(root / "store", "alice", "bob")
    server = Server(root / "store", "--region", "us-east-1", log=root / "serve.log")
    try:
        yield client(server.endpoint, keys["alice"]), client(server.endpoint, keys["bob"])
    finally:
        assert server.stop() == 0, server.stderr()


def error(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_owner_recreating_in_us_east_1_gets_the_bucket_unchanged(east) -> None:
    alice, _ = east
    alice.create_bucket(Bucket="again")
    alice.put_object(Bucket="again", Key="kept", Body=b"x")
    resp = alice.create_bucket(Bucket="again")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [o["Key"] for o in alice.list_objects_v2(Bucket="again")["Contents"]] == ["kept"]


def test_another_user_gets_bucket_already_exists(east) -> None:
    alice, bob = east
    alice.create_bucket(Bucket="taken")
    with pytest.raises(ClientError) as exc:
        bob.create_bucket(Bucket="taken")
    assert error(exc) == ("BucketAlreadyExists", 409)


def test_owner_recreating_with_another_acl_gets_bucket_already_exists(east) -> None:
    alice, _ = east
    alice.create_bucket(Bucket="was-public", ACL="public-read")
    with pytest.raises(ClientError) as exc:
        alice.create_bucket(Bucket="was-public")
    assert error(exc) == ("BucketAlreadyExists", 409)
    alice.create_bucket(Bucket="was-private")
    with pytest.raises(ClientError) as exc:
        alice.create_bucket(Bucket="was-private", ACL="public-read")
    assert error(exc) == ("BucketAlreadyExists", 409)
    # Nothing changed: the ACLs are as first created.
    assert len(alice.get_bucket_acl(Bucket="was-public")["Grants"]) == 2
    assert len(alice.get_bucket_acl(Bucket="was-private")["Grants"]) == 1


def test_owner_recreating_in_another_region_owns_it_already(east) -> None:
    alice, _ = east
    alice.create_bucket(Bucket="in-eu", CreateBucketConfiguration={"LocationConstraint": "eu-1"})
    with pytest.raises(ClientError) as exc:
        alice.create_bucket(
            Bucket="in-eu", CreateBucketConfiguration={"LocationConstraint": "eu-1"}
        )
    assert error(exc) == ("BucketAlreadyOwnedByYou", 409)
