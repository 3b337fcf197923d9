"""SSE-KMS through the store API: keys, aliases, default key, states, rotation,
scheduled deletion, the audit trail, bucket defaults and copies.

Real store in ``tmp_path`` (fixtures from tests/conftest.py), real SQLite, real
chunk files. The clock of a scheduled deletion is moved by replacing
``objfs.store.kms.now_ns`` (the KMS's only clock).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from objfs.crypto import kms as kc
from objfs.errors import (
    InvalidArgument,
    InvalidRequest,
    KMSAlreadyExists,
    KMSDisabled,
    KMSInvalidState,
    KMSNotFound,
    ObjfsError,
)
from objfs.meta import kms_queries as kq
from objfs.store import OWNER, RequestContext, SSERequest, Store
from objfs.store import kms as kms_mod

KMS = "aws:kms"
FULL_ACCESS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
)


@pytest.fixture
def alice(store: Store) -> RequestContext:
    """A user (not the owner) allowed everything, acting through the API."""
    store.create_user(OWNER, "alice")
    store.put_user_policy(OWNER, "alice", "full", FULL_ACCESS)
    return RequestContext(store.user_identity("alice"), "api")


def kms(key_id: str | None = None) -> SSERequest:
    return SSERequest(mode=KMS, kms_key_id=key_id)


def get_body(store: Store, ctx: RequestContext, bucket: str, key: str, **kw: object) -> bytes:
    with store.get_object(ctx, bucket, key, **kw) as reader:  # type: ignore[arg-type]
        return reader.read()


def chunk_files(root: Path) -> set[str]:
    """Names of the chunk files under the store's ``chunks/``."""
    return {name for _d, _dirs, names in os.walk(Path(root) / "chunks") for name in names}


def one_line(err: ObjfsError) -> str:
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text
    return text


def store_files(root: Path) -> list[Path]:
    """Every file under the store directory: chunks, meta.db, -wal, -shm, keys."""
    return [Path(d) / name for d, _dirs, names in os.walk(root) for name in names]


def files_holding(root: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in store_files(root):
        data = path.read_bytes()
        if any(needle in data for needle in needles):
            found.append(str(path.relative_to(root)))
    return found


# -- named key, alias, ARN, default key ------------------------------------------------


def test_put_get_under_named_key(store, ctx, bucket):
    key = store.kms_create_key(ctx, description="photos")
    assert key.state == "Enabled" and key.material_versions == 1 and key.description == "photos"
    assert key.arn == f"arn:objfs:kms:local:owner:key/{key.key_id}"
    body = os.urandom(300_000)
    store.put_object(ctx, bucket, "a/b.bin", body, sse=kms(key.key_id))
    info = store.head_object(ctx, bucket, "a/b.bin")
    assert (info.sse, info.kms_key_id) == (KMS, key.key_id)
    assert get_body(store, ctx, bucket, "a/b.bin") == body
    assert store.read_range(ctx, bucket, "a/b.bin", 1000, 50) == body[1000:1050]
    assert get_body(store, ctx, bucket, "a/b.bin", range=(5, 9)) == body[5:10]


def test_alias_and_arn_resolve_to_the_key_id(store, ctx, bucket):
    key = store.kms_create_key(ctx)
    store.kms_create_alias(ctx, "team-x", key.key_id)
    assert store.kms_describe_key(ctx, "alias/team-x").aliases == ("alias/team-x",)
    store.put_object(ctx, bucket, "via-alias", b"one", sse=kms("alias/team-x"))
    store.put_object(ctx, bucket, "via-arn", b"two", sse=kms(key.arn))
    alias_arn = "arn:aws:kms:us-east-1:123456789012:alias/team-x"
    store.put_object(ctx, bucket, "via-alias-arn", b"three", sse=kms(alias_arn))
    for name, body in (("via-alias", b"one"), ("via-arn", b"two"), ("via-alias-arn", b"three")):
        assert store.head_object(ctx, bucket, name).kms_key_id == key.key_id
        assert get_body(store, ctx, bucket, name) == body
    store.kms_delete_alias(ctx, "alias/team-x")
    with pytest.raises(KMSNotFound) as err:
        store.put_object(ctx, bucket, "late", b"x", sse=kms("alias/team-x"))
    assert "alias/team-x" in one_line(err.value)
    assert get_body(store, ctx, bucket, "via-alias") == b"one"  # data names the key, not the alias


def test_default_key_is_created_on_first_use_and_reused(store, ctx, bucket, alice):
    assert store.kms_list_keys(ctx) == []
    store.put_object(alice, bucket, "d1", b"first", sse=kms())
    store.put_object(ctx, bucket, "d2", b"second", sse=kms())
    keys = store.kms_list_keys(ctx)
    assert len(keys) == 1 and keys[0].is_default and keys[0].aliases == ("alias/aws/s3",)
    assert keys[0].owner == "owner"  # the store's, not that of the first writer
    created = store.kms_audit(ctx, key=keys[0].key_id)[0]
    assert (created.operation, created.principal) == ("CreateKey", "alice")
    for name, body in (("d1", b"first"), ("d2", b"second")):
        assert store.head_object(ctx, bucket, name).kms_key_id == keys[0].key_id
        assert get_body(store, ctx, bucket, name) == body
    assert store.kms_describe_key(ctx, "alias/aws/s3").key_id == keys[0].key_id
    with pytest.raises(InvalidRequest):
        store.kms_schedule_key_deletion(ctx, "alias/aws/s3", 7)


def test_bad_and_unknown_key_references(store, ctx, bucket):
    store.kms_create_key(ctx)
    for ref in (
        "not-a-key",
        "00000000-0000-4000-8000-000000000000",
        "alias/nobody",
        "arn:objfs:kms:local:owner:key/nope",
        "arn:objfs:s3:::bucket",
    ):
        with pytest.raises(KMSNotFound) as err:
            store.put_object(ctx, bucket, "k", b"x", sse=kms(ref))
        one_line(err.value)
    with pytest.raises(KMSNotFound):
        store.kms_describe_key(ctx, "alias/nobody")
    assert store.list_objects(ctx, bucket).key_count == 0


def test_alias_rules(store, ctx):
    a, b = store.kms_create_key(ctx), store.kms_create_key(ctx)
    store.kms_create_alias(ctx, "alias/shared", a.key_id)
    with pytest.raises(KMSAlreadyExists) as err:
        store.kms_create_alias(ctx, "shared", b.key_id)
    assert a.key_id in one_line(err.value)
    for bad in ("", "has space", "alias/", "x" * 251, "alias/aws/s3", "aws/mine"):
        with pytest.raises(InvalidArgument):
            store.kms_create_alias(ctx, bad, b.key_id)
    with pytest.raises(KMSNotFound):
        store.kms_create_alias(ctx, "orphan", "00000000-0000-4000-8000-000000000000")
    with pytest.raises(KMSNotFound):
        store.kms_delete_alias(ctx, "never-made")
    assert store.kms_describe_key(ctx, b.key_id).aliases == ()


# -- plaintext never on disk -----------------------------------------------------------


def test_plaintext_and_key_material_never_reach_the_store_dir(store, store_path, ctx, make_bucket):
    marker = os.urandom(1 << 20)
    windows = [marker[i : i + 64] for i in (0, 4096, 1 << 19, (1 << 20) - 64)]
    key = store.kms_create_key(ctx)
    secret_bucket = make_bucket("secret-bucket")
    store.put_object(ctx, secret_bucket, "marker", marker, sse=kms(key.key_id))
    store.put_object(ctx, secret_bucket, "marker-default", marker, sse=kms())
    assert get_body(store, ctx, secret_bucket, "marker") == marker
    # The KMS key material itself (unsealed here with the master key) is not on disk either.
    db = sqlite3.connect(store_path / "meta.db")
    try:
        sealed = db.execute(
            "SELECT seal_id, record FROM kms_materials WHERE key_id = ?", (key.key_id,)
        ).fetchone()
    finally:
        db.close()
    material = kc.open_material(store.keyring, sealed[0], sealed[1])
    assert files_holding(store_path, [*windows, material]) == []
    # Control: the same test finds the marker when the data is not encrypted.
    plain_bucket = make_bucket("plain-bucket")
    store.set_bucket_encryption(ctx, plain_bucket, "none")
    store.put_object(ctx, plain_bucket, "marker", marker)
    assert files_holding(store_path, windows) != []


# -- disable / enable ------------------------------------------------------------------


def test_disabled_key_refuses_reads_and_writes_until_enabled(store, ctx, bucket, make_bucket):
    key = store.kms_create_key(ctx)
    store.put_object(ctx, bucket, "k", b"secret data", sse=kms(key.key_id))
    assert store.kms_disable_key(ctx, key.key_id).state == "Disabled"
    refused = [
        lambda: store.put_object(ctx, bucket, "new", b"x", sse=kms(key.key_id)),
        lambda: store.get_object(ctx, bucket, "k"),
        lambda: store.read_range(ctx, bucket, "k", 0, 4),
        lambda: store.copy_object(ctx, bucket, "k", make_bucket(), "copy"),
        lambda: store.create_multipart_upload(ctx, bucket, "mp", sse=kms(key.key_id)),
        lambda: store.open_writer(ctx, bucket, "w", base=None, sse=kms(key.key_id)),
    ]
    for call in refused:
        with pytest.raises(KMSDisabled) as err:
            call()
        text = one_line(err.value)
        assert "disabled" in text and f"objfs kms enable {key.key_id}" in text
        assert err.value.code == "KMS.DisabledException"
    # HEAD reads metadata only (as in S3): it still answers.
    assert store.head_object(ctx, bucket, "k").kms_key_id == key.key_id
    assert store.kms_enable_key(ctx, key.key_id).state == "Enabled"
    assert get_body(store, ctx, bucket, "k") == b"secret data"
    store.put_object(ctx, bucket, "new", b"x", sse=kms(key.key_id))


def test_another_store_on_the_same_path_sees_the_state_at_once(store, store_path, ctx, bucket):
    key = store.kms_create_key(ctx)
    store.put_object(ctx, bucket, "k", b"shared", sse=kms(key.key_id))
    with Store.open(store_path) as other:
        assert get_body(other, ctx, bucket, "k") == b"shared"  # domain now cached in `other`
        store.kms_disable_key(ctx, key.key_id)
        with pytest.raises(KMSDisabled):
            get_body(other, ctx, bucket, "k")
        with pytest.raises(KMSDisabled):
            other.put_object(ctx, bucket, "k2", b"x", sse=kms(key.key_id))
        assert other.kms_describe_key(ctx, key.key_id).state == "Disabled"
        other.kms_enable_key(ctx, key.key_id)
        assert get_body(store, ctx, bucket, "k") == b"shared"


def test_writer_commit_checks_the_key(store, ctx, bucket):
    key = store.kms_create_key(ctx)
    writer = store.open_writer(ctx, bucket, "w", base=None, sse=kms(key.key_id))
    writer.write(0, b"hello writer")
    store.kms_disable_key(ctx, key.key_id)
    with pytest.raises(KMSDisabled):
        writer.commit(ctx)
    store.kms_enable_key(ctx, key.key_id)
    writer.commit(ctx)
    writer.close()
    assert store.head_object(ctx, bucket, "w").kms_key_id == key.key_id
    assert get_body(store, ctx, bucket, "w") == b"hello writer"
    # Editing through a writer keeps the object under its key.
    base = store.head_object(ctx, bucket, "w")
    writer = store.open_writer(ctx, bucket, "w", base=base)
    writer.write(0, b"HELLO")
    writer.commit(ctx)
    writer.close()
    assert get_body(store, ctx, bucket, "w") == b"HELLO writer"
    assert store.head_object(ctx, bucket, "w").kms_key_id == key.key_id


def test_multipart_under_a_kms_key(store, ctx, bucket):
    key = store.kms_create_key(ctx)
    upload = store.create_multipart_upload(ctx, bucket, "mp", sse=kms(key.key_id))
    part1, part2 = os.urandom(5 << 20), os.urandom(1000)
    e1 = store.upload_part(ctx, bucket, "mp", upload, 1, part1).etag
    store.kms_disable_key(ctx, key.key_id)
    with pytest.raises(KMSDisabled):
        store.upload_part(ctx, bucket, "mp", upload, 2, part2)
    store.kms_enable_key(ctx, key.key_id)
    e2 = store.upload_part(ctx, bucket, "mp", upload, 2, part2).etag
    store.complete_multipart_upload(ctx, bucket, "mp", upload, [(1, e1), (2, e2)])
    assert store.head_object(ctx, bucket, "mp").kms_key_id == key.key_id
    assert get_body(store, ctx, bucket, "mp") == part1 + part2


# -- rotation --------------------------------------------------------------------------


def test_rotation_keeps_old_data_readable_and_starts_a_new_domain(store, store_path, ctx, vbucket):
    key = store.kms_create_key(ctx)
    body = os.urandom(2 << 20)
    v1 = store.put_object(ctx, vbucket, "k", body, sse=kms(key.key_id)).version_id
    before = chunk_files(store_path)
    store.put_object(ctx, vbucket, "k", body, sse=kms(key.key_id))  # same domain: dedup
    assert chunk_files(store_path) == before
    assert store.kms_rotate_key(ctx, key.key_id) == 2
    assert store.kms_describe_key(ctx, key.key_id).material_versions == 2
    v3 = store.put_object(ctx, vbucket, "k", body, sse=kms(key.key_id)).version_id
    new_chunks = chunk_files(store_path) - before
    assert len(new_chunks) == 2  # same plaintext, new domain -> new chunk ids
    assert get_body(store, ctx, vbucket, "k", version_id=v1) == body
    assert get_body(store, ctx, vbucket, "k", version_id=v3) == body
    decrypts = [e for e in store.kms_audit(ctx, key=key.key_id) if e.operation == "Decrypt"]
    assert [e.material_version for e in decrypts] == [1, 2]
    store.kms_disable_key(ctx, key.key_id)
    with pytest.raises(KMSDisabled):
        store.kms_rotate_key(ctx, key.key_id)


# -- audit -----------------------------------------------------------------------------


def test_audit_records_every_use_with_principal_operation_and_object(
    store, ctx, make_bucket, alice
):
    src, dst = make_bucket("audit-src"), make_bucket("audit-dst")
    key = store.kms_create_key(alice, description="audited")
    store.kms_create_alias(alice, "audited", key.key_id)
    store.put_object(alice, src, "doc.txt", b"hello", sse=kms("alias/audited"))
    get_body(store, alice, src, "doc.txt")
    store.read_range(ctx, src, "doc.txt", 0, 2)
    store.copy_object(alice, src, "doc.txt", dst, "copy.txt", sse=kms(key.key_id))
    store.kms_disable_key(alice, key.key_id)
    with pytest.raises(KMSDisabled):
        get_body(store, alice, src, "doc.txt")
    entries = store.kms_audit(ctx, key="alias/audited")
    got = [(e.principal, e.interface, e.operation, e.bucket, e.key, e.error) for e in entries]
    assert got == [
        ("alice", "api", "CreateKey", None, None, None),
        ("alice", "api", "CreateAlias", None, None, None),
        ("alice", "api", "GenerateDataKey", src, "doc.txt", None),
        ("alice", "api", "Decrypt", src, "doc.txt", None),
        ("owner", "cli", "Decrypt", src, "doc.txt", None),
        # the copy's read of doc.txt by alice folds into her read above
        ("alice", "api", "GenerateDataKey", dst, "copy.txt", None),
        ("alice", "api", "DisableKey", None, None, None),
        ("alice", "api", "Decrypt", src, "doc.txt", "KMS.DisabledException"),
    ]
    assert all(e.key_id == key.key_id for e in entries)
    times = [e.time_ns for e in entries]
    assert times == sorted(times)
    # Other keys' entries are not mixed in; limit keeps the newest.
    store.put_object(ctx, src, "other", b"x", sse=kms())
    assert len(store.kms_audit(ctx, key=key.key_id)) == len(entries)
    last = store.kms_audit(ctx, limit=1)
    assert [(e.operation, e.key) for e in last] == [("GenerateDataKey", "other")]
    with pytest.raises(InvalidArgument):
        store.kms_audit(ctx, limit=0)
    # Prunable by time.
    assert store.kms_prune_audit(ctx, before_ns=times[3]) == 3
    assert store.kms_audit(ctx, key=key.key_id)[0].time_ns == times[3]


# -- scheduled deletion ----------------------------------------------------------------


def test_schedule_deletion_validates_days_and_can_be_cancelled(store, ctx, bucket):
    key = store.kms_create_key(ctx)
    store.put_object(ctx, bucket, "k", b"keep me", sse=kms(key.key_id))
    for days in (6, 31, 0, -7, "7", 7.5, True, None):
        with pytest.raises(InvalidArgument) as err:
            store.kms_schedule_key_deletion(ctx, key.key_id, days)
        assert "7 to 30" in one_line(err.value) or "whole number" in str(err.value)
    when = store.kms_schedule_key_deletion(ctx, key.key_id, 7)
    info = store.kms_describe_key(ctx, key.key_id)
    assert info.state == "PendingDeletion" and info.deletion_ns == when
    assert abs(when - (kms_mod.now_ns() + 7 * kc.DAY_NS)) < 60 * 10**9
    for call in (
        lambda: get_body(store, ctx, bucket, "k"),
        lambda: store.put_object(ctx, bucket, "n", b"x", sse=kms(key.key_id)),
        lambda: store.kms_enable_key(ctx, key.key_id),
        lambda: store.kms_disable_key(ctx, key.key_id),
        lambda: store.kms_schedule_key_deletion(ctx, key.key_id, 30),
    ):
        with pytest.raises(KMSInvalidState) as err:
            call()
        assert "pending deletion" in one_line(err.value)
    restored = store.kms_cancel_key_deletion(ctx, key.key_id)
    assert (restored.state, restored.deletion_ns) == ("Disabled", None)
    with pytest.raises(KMSInvalidState):
        store.kms_cancel_key_deletion(ctx, key.key_id)
    store.kms_enable_key(ctx, key.key_id)
    assert get_body(store, ctx, bucket, "k") == b"keep me"


def test_deletion_destroys_material_after_the_waiting_period(
    store, store_path, ctx, bucket, monkeypatch
):
    doomed, kept = store.kms_create_key(ctx), store.kms_create_key(ctx)
    store.kms_create_alias(ctx, "doomed", doomed.key_id)
    store.put_object(ctx, bucket, "gone", b"lost forever", sse=kms(doomed.key_id))
    store.put_object(ctx, bucket, "safe", b"still here", sse=kms(kept.key_id))
    db = sqlite3.connect(store_path / "meta.db")
    try:
        sealed = db.execute(
            "SELECT record FROM kms_materials WHERE key_id = ?", (doomed.key_id,)
        ).fetchone()[0]
    finally:
        db.close()
    when = store.kms_schedule_key_deletion(ctx, doomed.key_id, 7)
    monkeypatch.setattr(kms_mod, "now_ns", lambda: when - 1)
    assert store.kms_describe_key(ctx, doomed.key_id).state == "PendingDeletion"
    monkeypatch.setattr(kms_mod, "now_ns", lambda: when + 1)
    # The next KMS access (any kind) destroys the material.
    assert [k.key_id for k in store.kms_list_keys(ctx)] == [kept.key_id]
    with pytest.raises(KMSNotFound) as err:
        get_body(store, ctx, bucket, "gone")
    text = one_line(err.value)
    assert "deleted" in text and "can never be read" in text
    with pytest.raises(KMSNotFound):
        store.kms_describe_key(ctx, doomed.key_id)
    with pytest.raises(KMSNotFound):
        store.put_object(ctx, bucket, "n", b"x", sse=kms("alias/doomed"))  # alias went too
    assert get_body(store, ctx, bucket, "safe") == b"still here"
    trail = store.kms_audit(ctx, key=doomed.key_id)
    assert trail[-1].operation == "DeleteKey" and trail[-1].principal == "objfs"
    # The sealed material is gone from meta.db and its WAL.
    assert files_holding(store_path, [sealed]) == []
    # A second store opened later agrees.
    with Store.open(store_path) as other:
        with pytest.raises(KMSNotFound):
            other.read_range(ctx, bucket, "gone", 0, 4)


# -- bucket defaults and copies --------------------------------------------------------


def test_bucket_default_aws_kms_applies_to_puts_without_sse(store, ctx, make_bucket):
    key = store.kms_create_key(ctx)
    store.kms_create_alias(ctx, "bucket-key", key.key_id)
    named = make_bucket("kms-named")
    info = store.set_bucket_encryption(ctx, named, KMS, "alias/bucket-key")
    assert (info.encryption, info.kms_key_id) == (KMS, "alias/bucket-key")
    store.put_object(ctx, named, "k", b"by default")
    assert store.head_object(ctx, named, "k").kms_key_id == key.key_id
    assert get_body(store, ctx, named, "k") == b"by default"
    # An explicit request wins: SSE-S3, or aws:kms without an id (-> store default key).
    store.put_object(ctx, named, "s3", b"x", sse=SSERequest(mode="AES256"))
    assert store.head_object(ctx, named, "s3").sse == "AES256"
    store.put_object(ctx, named, "dflt", b"x", sse=kms())
    default = [k for k in store.kms_list_keys(ctx) if k.is_default][0]
    assert store.head_object(ctx, named, "dflt").kms_key_id == default.key_id
    # aws:kms default without a key id uses the store's default key.
    anon = make_bucket("kms-default")
    store.set_bucket_encryption(ctx, anon, KMS)
    store.put_object(ctx, anon, "k", b"y")
    assert store.head_object(ctx, anon, "k").kms_key_id == default.key_id
    # The key must exist; a key id goes only with aws:kms.
    with pytest.raises(KMSNotFound):
        store.set_bucket_encryption(ctx, anon, KMS, "alias/missing")
    with pytest.raises(InvalidArgument):
        store.set_bucket_encryption(ctx, anon, "AES256", key.key_id)
    assert store.head_bucket(ctx, anon).kms_key_id is None


def test_copy_follows_request_or_destination_default(store, store_path, ctx, make_bucket):
    key, other = store.kms_create_key(ctx), store.kms_create_key(ctx)
    src = make_bucket("copy-src")
    body = os.urandom(1 << 20)
    store.put_object(ctx, src, "k", body, sse=kms(key.key_id))
    # Same key, same material: the copy shares chunks.
    before = chunk_files(store_path)
    store.copy_object(ctx, src, "k", src, "same", sse=kms(key.key_id))
    assert chunk_files(store_path) == before
    # No SSE on the copy: the destination bucket's default (SSE-S3 here) applies, as in S3.
    s3_dst = make_bucket("copy-sse-s3")
    store.copy_object(ctx, src, "k", s3_dst, "k")
    copied = store.head_object(ctx, s3_dst, "k")
    assert (copied.sse, copied.kms_key_id) == ("AES256", None)
    # Another key on request: re-encrypted under it.
    store.copy_object(ctx, src, "k", src, "other", sse=kms(other.key_id))
    assert store.head_object(ctx, src, "other").kms_key_id == other.key_id
    store.kms_disable_key(ctx, key.key_id)
    for name in ("k", "same"):
        with pytest.raises(KMSDisabled):
            get_body(store, ctx, src, name)
    assert get_body(store, ctx, s3_dst, "k") == body
    assert get_body(store, ctx, src, "other") == body


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_fsck_checks_kms_data(store, ctx, bucket):
    """fsck decrypts SSE-KMS chunks (key enabled) and names damage in them;
    with the key disabled it still checks what it can without it (the frame)."""
    key = store.kms_create_key(ctx)
    vids = {
        name: store.put_object(ctx, bucket, name, os.urandom(100_000), sse=kms(key.key_id))
        for name in ("k", "other")
    }
    report = store.fsck(OWNER)
    assert report.ok and report.chunks_checked == 2
    [chunk] = [p for p in (store.path / "chunks").rglob("*") if p.is_file()][:1]
    _flip(chunk, chunk.stat().st_size // 2)  # payload: only decryption can tell
    report = store.fsck(OWNER)
    damaged = [f for f in report.findings if f.kind == "damaged-chunk"]
    assert not report.ok and len(damaged) == 1, report.findings
    assert damaged[0].chunk == chunk.name and damaged[0].bucket == bucket
    assert "authentication failed" in damaged[0].message
    assert damaged[0].version == vids[damaged[0].key].version_id
    assert report.damaged_objects == [(bucket, damaged[0].key, damaged[0].version)]
    # Disabled key: the payload cannot be checked, the frame's domain still is.
    store.kms_disable_key(ctx, key.key_id)
    _flip(chunk, 10)  # a byte of the domain id in the header
    report = store.fsck(OWNER)
    assert [f.chunk for f in report.findings if f.kind == "damaged-chunk"] == [chunk.name]
    assert report.chunks_checked == 2


def test_store_created_before_the_kms_gets_its_tables(store_path, ctx):
    db = sqlite3.connect(store_path / "meta.db")
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'kms%'")]
        for name in names:
            if name in ("kms_keys", "kms_materials", "kms_aliases", "kms_domains", "kms_audit"):
                db.execute(f"DROP TABLE {name}")
        db.commit()
        assert not kq.has_schema(db.cursor())
    finally:
        db.close()
    with Store.open(store_path) as old:
        old.create_bucket(ctx, "old-bucket")
        old.put_object(ctx, "old-bucket", "k", b"upgraded", sse=kms())
        assert get_body(old, ctx, "old-bucket", "k") == b"upgraded"


def test_repeated_reads_fold_into_one_audit_row_per_minute(store, ctx, bucket, monkeypatch):
    key = store.kms_create_key(ctx)
    store.put_object(ctx, bucket, "f", os.urandom(3 << 20), sse=kms(key.key_id))
    for offset in range(0, 3 << 20, 128 << 10):  # as the mount reads: 24 calls
        store.read_range(ctx, bucket, "f", offset, 128 << 10)
    ops = [e.operation for e in store.kms_audit(ctx, key=key.key_id)]
    assert ops == ["CreateKey", "GenerateDataKey", "Decrypt"]
    later = kms_mod.now_ns() + (kms_mod.AUDIT_FOLD_S + 1) * 10**9
    monkeypatch.setattr(kms_mod, "now_ns", lambda: later)
    store.read_range(ctx, bucket, "f", 0, 10)
    ops = [e.operation for e in store.kms_audit(ctx, key=key.key_id)]
    assert ops == ["CreateKey", "GenerateDataKey", "Decrypt", "Decrypt"]
