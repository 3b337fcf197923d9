"""Access control through the store API: users and keys, the seam, policies, ACLs.

Every case goes through public ``Store`` methods with real identities made
from real access keys; the pure evaluation is tested by table in tests/auth.
"""

from __future__ import annotations

import json

import pytest

from objfs.errors import (
    AccessDenied,
    EntityAlreadyExists,
    InvalidAccessKeyId,
    InvalidArgument,
    LimitExceeded,
    MalformedPolicy,
    NoSuchBucketPolicy,
    NoSuchEntity,
    SignatureDoesNotMatch,
)
from objfs.store import ANONYMOUS_IDENTITY, OWNER, RequestContext, SSERequest, Store
from tests.meta.sql import meta_sql


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str], **extra: object) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str], **extra: object) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


@pytest.fixture
def users(store: Store):
    """``users("alice")`` -> a RequestContext acting as that (new) user via a real key."""

    def make(name: str) -> RequestContext:
        store.create_user(OWNER, name)
        key = store.create_access_key(OWNER, name)
        return RequestContext(store.authenticate(key.info.key_id, key.secret), "cli")

    return make


def body(store: Store, ctx: RequestContext, bucket: str, key: str) -> bytes:
    with store.get_object(ctx, bucket, key) as reader:
        return reader.read()


# -- principals ---------------------------------------------------------------------------


def test_users_and_keys_lifecycle(store: Store) -> None:
    alice = store.create_user(OWNER, "alice", display_name="Alice A.")
    assert len(alice.canonical_id) == 64 and alice.display_name == "Alice A."
    with pytest.raises(EntityAlreadyExists):
        store.create_user(OWNER, "alice")
    for bad in ("", "owner", "anonymous", "a b", "x" * 65):
        with pytest.raises(InvalidArgument):
            store.create_user(OWNER, bad)
    k1 = store.create_access_key(OWNER, "alice")
    k2 = store.create_access_key(OWNER, "alice")
    assert k1.info.key_id.startswith("OBJF") and len(k1.info.key_id) == 20
    assert len(k1.secret) == 40 and k1.secret != k2.secret
    with pytest.raises(LimitExceeded):
        store.create_access_key(OWNER, "alice")
    assert store.authenticate(k1.info.key_id, k1.secret).name == "alice"
    with pytest.raises(SignatureDoesNotMatch):
        store.authenticate(k1.info.key_id, k2.secret)
    store.set_access_key_status(OWNER, "alice", k1.info.key_id, active=False)
    with pytest.raises(InvalidAccessKeyId):
        store.authenticate(k1.info.key_id, k1.secret)
    store.set_access_key_status(OWNER, "alice", k1.info.key_id, active=True)
    assert store.authenticate(k1.info.key_id, k1.secret).name == "alice"
    store.delete_access_key(OWNER, "alice", k2.info.key_id)
    assert [k.key_id for k in store.list_access_keys(OWNER, "alice")] == [k1.info.key_id]
    with pytest.raises(NoSuchEntity):
        store.delete_access_key(OWNER, "alice", k2.info.key_id)
    store.delete_user(OWNER, "alice")
    with pytest.raises(InvalidAccessKeyId):
        store.authenticate(k1.info.key_id, k1.secret)
    assert store.list_users(OWNER) == []


def test_secrets_are_sealed_not_stored_in_clear(store: Store, store_path) -> None:
    store.create_user(OWNER, "alice")
    key = store.create_access_key(OWNER, "alice")
    store.close()
    raw = b"".join(p.read_bytes() for p in store_path.glob("meta.db*"))
    assert key.secret.encode() not in raw
    reopened = Store.open(store_path)
    try:
        assert reopened.authenticate(key.info.key_id, key.secret).name == "alice"
    finally:
        reopened.close()


def test_user_administration_is_owner_only(store: Store, users) -> None:
    alice = users("alice")
    for call in (
        lambda: store.create_user(alice, "mallory"),
        lambda: store.list_users(alice),
        lambda: store.create_access_key(alice, "alice"),
        lambda: store.put_user_policy(alice, "alice", "all", policy(allow("s3:*", "*"))),
    ):
        with pytest.raises(AccessDenied):
            call()


def test_user_owning_buckets_cannot_be_deleted(store: Store, users) -> None:
    alice = users("alice")
    store.create_bucket(alice, "alice-data")
    with pytest.raises(InvalidArgument, match="alice-data"):
        store.delete_user(OWNER, "alice")


# -- ownership --------------------------------------------------------------------------------


def test_bucket_owner_has_full_control_and_lists_only_own_buckets(store: Store, users) -> None:
    alice, bob = users("alice"), users("bob")
    store.create_bucket(OWNER, "shared")
    store.create_bucket(alice, "alice-data")
    store.put_object(alice, "alice-data", "a.txt", b"mine")
    assert body(store, alice, "alice-data", "a.txt") == b"mine"
    store.delete_object(alice, "alice-data", "a.txt")
    assert [b.name for b in store.list_buckets(alice)] == ["alice-data"]
    assert [b.name for b in store.list_buckets(bob)] == []
    assert [b.name for b in store.list_buckets(OWNER)] == ["alice-data", "shared"]
    assert store.head_bucket(OWNER, "alice-data").owner == "alice"
    with pytest.raises(AccessDenied):
        store.put_object(bob, "alice-data", "b.txt", b"no")
    with pytest.raises(AccessDenied):
        store.list_objects(bob, "shared")
    anon = RequestContext(ANONYMOUS_IDENTITY, "api")
    with pytest.raises(AccessDenied):
        store.create_bucket(anon, "anon-bucket")


# -- identity and bucket policies ---------------------------------------------------------------


def test_identity_policy_allows_and_explicit_deny_wins(store: Store, users) -> None:
    alice = users("alice")
    store.create_bucket(OWNER, "photos")
    store.put_object(OWNER, "photos", "2026/a.jpg", b"jpg")
    store.put_object(OWNER, "photos", "private/p.jpg", b"secret")
    with pytest.raises(AccessDenied, match="implicit deny"):
        body(store, alice, "photos", "2026/a.jpg")
    store.put_user_policy(
        OWNER,
        "alice",
        "read",
        policy(
            allow(
                ["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"]
            )
        ),
    )
    assert body(store, alice, "photos", "2026/a.jpg") == b"jpg"
    assert [o.key for o in store.list_objects(alice, "photos").contents] == [
        "2026/a.jpg",
        "private/p.jpg",
    ]
    store.put_bucket_policy(
        OWNER,
        "photos",
        policy(
            {
                "Sid": "NoPrivate",
                "Effect": "Deny",
                "Principal": {"AWS": ["alice"]},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::photos/private/*",
            }
        ),
    )
    with pytest.raises(AccessDenied, match='Sid "NoPrivate"'):
        body(store, alice, "photos", "private/p.jpg")
    assert body(store, alice, "photos", "2026/a.jpg") == b"jpg"
    with pytest.raises(AccessDenied):
        store.put_object(alice, "photos", "2026/b.jpg", b"no write")
    assert store.list_objects(OWNER, "photos", prefix="2026/").key_count == 1


def test_each_page_of_iter_objects_is_checked_when_reached(store: Store, users) -> None:
    """``iter_objects`` is a generator: after its own (logged) check, each page
    is a request of its own, checked when the caller walks into it
    (listing.py), not a nested call the first check covers."""
    pat = users("pat")
    store.create_bucket(OWNER, "paged")
    quiet = OWNER.with_options(durable=False)
    for i in range(1001):  # two pages
        store.put_object(quiet, "paged", f"k{i:04d}", b"")
    store.put_user_policy(
        OWNER, "pat", "list", policy(allow("s3:ListBucket", "arn:aws:s3:::paged"))
    )
    entries = store.iter_objects(pat, "paged")
    assert sum(1 for _ in zip(range(1000), entries, strict=False)) == 1000  # the first page
    store.delete_user_policy(OWNER, "pat", "list")
    with pytest.raises(AccessDenied):
        next(entries)


def test_bucket_policy_deny_binds_the_store_owner_but_not_management(store: Store) -> None:
    store.create_bucket(OWNER, "locked")
    store.put_object(OWNER, "locked", "k", b"v")
    store.put_bucket_policy(
        OWNER,
        "locked",
        policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}),
    )
    with pytest.raises(AccessDenied):
        body(store, OWNER, "locked", "k")
    # The owner can still read and replace the policy: no lock-out.
    assert "Deny" in store.get_bucket_policy(OWNER, "locked")
    store.delete_bucket_policy(OWNER, "locked")
    assert body(store, OWNER, "locked", "k") == b"v"
    with pytest.raises(NoSuchBucketPolicy):
        store.get_bucket_policy(OWNER, "locked")


def test_owner_memo_follows_the_bucket_policy(store: Store, store_path) -> None:
    """The memory-only "owner, no bucket policy" answer the mount's write probe reads."""
    store.create_bucket(OWNER, "memo")
    store.put_object(OWNER, "memo", "k", b"v")  # a check that finds no policy
    assert store.access.owner_unbound(OWNER, "memo")
    store.put_bucket_policy(
        OWNER,
        "memo",
        policy({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}),
    )
    assert not store.access.owner_unbound(OWNER, "memo")  # this process changed it
    with pytest.raises(AccessDenied):
        store.check_access(OWNER, "s3:PutObject", "memo", "k2")
    assert not store.access.owner_unbound(OWNER, "memo")  # a check that saw the policy
    store.delete_bucket_policy(OWNER, "memo")
    store.check_access(OWNER, "s3:PutObject", "memo", "k2")
    assert store.access.owner_unbound(OWNER, "memo")
    # Another process puts a policy: the memo lags until forgotten (the mount's
    # change poller does that), but the request itself reads the database.
    other = Store.open(store_path)
    try:
        other.put_bucket_policy(
            OWNER,
            "memo",
            policy({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}),
        )
    finally:
        other.close()
    with pytest.raises(AccessDenied):
        store.put_object(OWNER, "memo", "k3", b"v")
    assert not store.access.owner_unbound(OWNER, "memo")
    store.access.forget("memo")
    assert not store.access.owner_unbound(OWNER, "memo")


def test_a_request_made_with_a_revoked_access_key_is_refused(store: Store, store_path) -> None:
    """Issue 19 item 10: a request carrying an access key (``ctx.access_key``) needs
    the key active, as SigV4 does; a memo spares the query, forgotten on change."""
    store.create_bucket(OWNER, "keyed")
    store.put_object(OWNER, "keyed", "k", b"v")
    store.create_user(OWNER, "kim")
    store.put_user_policy(OWNER, "kim", "all", policy(allow("s3:*", "*")))
    key = store.create_access_key(OWNER, "kim")
    identity = store.authenticate(key.info.key_id, key.secret)
    ctx = RequestContext(identity, "cli", access_key=key.info.key_id)
    assert store.get_object(ctx, "keyed", "k").read() == b"v"
    store.set_access_key_status(OWNER, "kim", key.info.key_id, active=False)
    with pytest.raises(AccessDenied, match="is inactive"):
        store.get_object(ctx, "keyed", "k")
    with pytest.raises(AccessDenied, match="is inactive"):
        store.put_object(ctx, "keyed", "k2", b"v")
    store.set_access_key_status(OWNER, "kim", key.info.key_id, active=True)
    store.put_object(ctx, "keyed", "k2", b"v")
    # Changed by another process: the memo lags until forgotten (a mount's
    # change poller does that when the change feed shows it).
    other = Store.open(store_path)
    try:
        other.delete_access_key(OWNER, "kim", key.info.key_id)
    finally:
        other.close()
    store.get_object(ctx, "keyed", "k")
    store.access.forget_keys()
    with pytest.raises(AccessDenied, match="does not exist"):
        store.get_object(ctx, "keyed", "k")
    # someone else's key, or a key id that was never made, acts as nobody
    kims_other = store.create_access_key(OWNER, "kim")
    store.create_user(OWNER, "bob")
    with pytest.raises(AccessDenied, match="does not belong to user bob"):
        store.get_object(
            RequestContext(store.user_identity("bob"), "cli", access_key=kims_other.info.key_id),
            "keyed",
            "k",
        )


def test_bucket_policy_requiring_encryption(store: Store, users) -> None:
    alice = users("alice")
    store.create_bucket(OWNER, "vault")
    store.put_bucket_policy(
        OWNER,
        "vault",
        policy(
            {
                "Sid": "AllowAlice",
                "Effect": "Allow",
                "Principal": {"AWS": "alice"},
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::vault/*",
            },
            {
                "Sid": "RequireSSE",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::vault/*",
                "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}},
            },
        ),
    )
    with pytest.raises(AccessDenied, match="RequireSSE"):
        store.put_object(alice, "vault", "plain", b"x")
    store.put_object(alice, "vault", "sealed", b"x", sse=SSERequest(mode="AES256"))
    with pytest.raises(AccessDenied, match="RequireSSE"):
        store.put_object(OWNER, "vault", "plain", b"x")


def test_policy_variables_give_each_user_a_home(store: Store, users) -> None:
    alice, bob = users("alice"), users("bob")
    store.create_bucket(OWNER, "homes")
    home = policy(allow(["s3:PutObject", "s3:GetObject"], "arn:aws:s3:::homes/${aws:username}/*"))
    for name in ("alice", "bob"):
        store.put_user_policy(OWNER, name, "home", home)
    store.put_object(alice, "homes", "alice/notes.txt", b"a")
    with pytest.raises(AccessDenied):
        store.put_object(bob, "homes", "alice/notes.txt", b"b")
    store.put_object(bob, "homes", "bob/notes.txt", b"b")


def test_malformed_policies_are_refused_with_the_statement_named(store: Store, users) -> None:
    users("alice")
    store.create_bucket(OWNER, "photos")
    with pytest.raises(MalformedPolicy, match=r"Statement\[0\].*Effect"):
        store.put_bucket_policy(
            OWNER,
            "photos",
            json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Alow"}]}),
        )
    with pytest.raises(MalformedPolicy):
        store.put_user_policy(OWNER, "alice", "bad", "{not json")
    with pytest.raises(MalformedPolicy):
        store.put_bucket_policy(OWNER, "photos", "x" * (21 * 1024))
    with pytest.raises(NoSuchBucketPolicy):
        store.get_bucket_policy(OWNER, "photos")


# -- ACLs ----------------------------------------------------------------------------------------


def test_acls_grant_to_users_and_groups(store: Store, users) -> None:
    from objfs.auth.acl import parse_grant_option

    alice = users("alice")
    anon = RequestContext(ANONYMOUS_IDENTITY, "api")
    store.create_bucket(OWNER, "www")
    store.put_object(OWNER, "www", "index.html", b"<html>")
    with pytest.raises(AccessDenied):
        body(store, anon, "www", "index.html")
    store.put_object_acl(OWNER, "www", "index.html", canned="public-read")
    assert body(store, anon, "www", "index.html") == b"<html>"
    with pytest.raises(AccessDenied):
        store.list_objects(anon, "www")
    store.put_bucket_acl(OWNER, "www", canned="public-read")
    assert store.list_objects(anon, "www").key_count == 1
    # A grant of WRITE on the bucket lets alice put; an object grant lets her read.
    grants = parse_grant_option("write=user:alice", store.user_canonical_id)
    store.put_bucket_acl(OWNER, "www", grants=grants)
    store.put_object(alice, "www", "upload.txt", b"from alice")
    acl = store.get_bucket_acl(OWNER, "www")
    assert any(g.permission.value == "WRITE" for g in acl.grants)
    with pytest.raises(AccessDenied):
        store.list_objects(anon, "www")  # the new ACL replaced public-read
    # New objects are private and belong to their creator: alice reads what she
    # wrote without any grant, the bucket owner keeps full control, others do not.
    assert body(store, alice, "www", "upload.txt") == b"from alice"
    assert body(store, OWNER, "www", "upload.txt") == b"from alice"
    assert store.get_object_acl(OWNER, "www", "upload.txt").owner_id == alice.identity.canonical_id
    with pytest.raises(AccessDenied):
        body(store, anon, "www", "upload.txt")
    store.put_object(OWNER, "www", "owners.txt", b"o")
    with pytest.raises(AccessDenied):
        body(store, alice, "www", "owners.txt")  # the owner's object: no grant for alice


def test_acl_rows_go_with_their_versions(store: Store, store_path) -> None:
    store.create_bucket(OWNER, "www", versioning=False)
    store.put_object(OWNER, "www", "a", b"1")
    store.put_object_acl(OWNER, "www", "a", canned="public-read")
    store.delete_object(OWNER, "www", "a")
    db = meta_sql(store_path)
    try:
        assert db.execute("SELECT count(*) FROM object_acls").fetchone()[0] == 0
    finally:
        db.close()


# -- the simulator -------------------------------------------------------------------------------


def test_simulator_names_the_deciding_statement(store: Store, users) -> None:
    alice = users("alice")
    store.create_bucket(OWNER, "photos")
    store.put_user_policy(
        OWNER, "alice", "read", policy(allow("s3:GetObject", "arn:aws:s3:::photos/*", Sid="Read"))
    )
    who = alice.identity
    d = store.simulate_policy(OWNER, who, "s3:GetObject", "photos", "a.jpg")
    assert d.allowed and 'identity policy "read"' in d.explain() and "Read" in d.explain()
    d = store.simulate_policy(OWNER, who, "s3:PutObject", "photos", "a.jpg")
    assert not d.allowed and "implicit deny" in d.explain()
    d = store.simulate_policy(
        OWNER,
        ANONYMOUS_IDENTITY,
        "s3:GetObject",
        "photos",
        "a.jpg",
        {"aws:SourceIp": "10.0.0.7"},
    )
    assert not d.allowed
    with pytest.raises(AccessDenied):
        store.simulate_policy(alice, who, "s3:GetObject", "photos", "a.jpg")
