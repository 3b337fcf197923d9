"""Strong consistency across store handles and processes; the change sequence.

S3-SEMANTICS.md "Consistency": a write acknowledged through one path is what
the next read anywhere returns, bucket configuration included.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from objfs.auth import totp
from objfs.auth.public import PublicAccessBlock
from objfs.errors import NoSuchBucket, NoSuchKey
from objfs.store import (
    OWNER,
    ChangeFeedGap,
    ObjectLockConfig,
    RequestContext,
    Store,
    Versioning,
    maintenance,
)
from objfs.store.types import SSERequest, SystemMeta, TimesUpdate

from .support import get_body, md5


@pytest.fixture
def second(store_path, store):
    other = Store.open(store_path)
    try:
        yield other
    finally:
        other.close()


def test_second_handle_sees_every_acknowledged_write(store, second, ctx):
    store.create_bucket(ctx, "shared")
    assert second.head_bucket(ctx, "shared").name == "shared"
    for i in range(20):
        store.put_object(ctx, "shared", "k", f"v{i}".encode())
        assert get_body(second, ctx, "shared", "k") == f"v{i}".encode()
        assert second.head_object(ctx, "shared", "k").etag == md5(f"v{i}".encode())
    second.put_object(ctx, "shared", "from-second", b"hi")
    assert get_body(store, ctx, "shared", "from-second") == b"hi"
    store.delete_object(ctx, "shared", "k")
    with pytest.raises(NoSuchKey):
        second.head_object(ctx, "shared", "k")
    assert [v.key for v in second.list_objects(ctx, "shared").contents] == ["from-second"]
    # bucket configuration is consistent too
    second.set_bucket_versioning(ctx, "shared", Versioning.ENABLED)
    assert store.head_bucket(ctx, "shared").versioning == Versioning.ENABLED
    v = store.put_object(ctx, "shared", "k2", b"x").version_id
    assert second.head_object(ctx, "shared", "k2").version_id == v != "null"
    store.create_bucket(ctx, "another")
    assert "another" in [b.name for b in second.list_buckets(ctx)]
    second.delete_bucket(ctx, "another")
    with pytest.raises(NoSuchBucket):
        store.head_bucket(ctx, "another")


def test_read_while_other_handle_writes(store, second, ctx):
    """A reader never sees a half-written object: the old or the new body.

    The writer keeps going until the reader has read while writes happened
    (at least MIN_READS reads, MIN_SEEN different bodies): a reader that
    never got to run would prove nothing.
    """
    min_reads, min_seen = 20, 3
    store.create_bucket(ctx, "race")
    bodies = [bytes([i]) * (300_000 + i) for i in range(8)]
    store.put_object(ctx, "race", "k", bodies[0])
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = 0
    seen: set[int] = set()

    def reader() -> None:
        nonlocal reads
        try:
            while not stop.is_set():
                body = get_body(second, ctx, "race", "k")
                assert body in bodies, f"torn read of {len(body)} bytes"
                reads += 1
                seen.add(len(body))
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    deadline = time.monotonic() + 60
    try:
        i = 1
        while i < 40 or (
            (reads < min_reads or len(seen) < min_seen) and time.monotonic() < deadline
        ):
            store.put_object(ctx, "race", "k", bodies[i % len(bodies)])
            i += 1
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[0]
    assert reads >= min_reads, f"the reader did {reads} reads while the writer wrote"
    assert len(seen) >= min_seen, f"the reader saw {len(seen)} different bodies"


def test_another_process_reads_what_this_one_wrote(store_path, store, ctx):
    store.create_bucket(ctx, "xproc")
    written = {}
    for i in range(5):
        body = f"body {i} ".encode() * (i * 5000 + 1)
        store.put_object(ctx, "xproc", f"dir/k{i}", body)
        written[f"dir/k{i}"] = md5(body)
    # the other process also writes one; we must see it when it returns
    script = textwrap.dedent(
        """
        import hashlib, json, sys
        from objfs.store import OWNER, Store
        store = Store.open(sys.argv[1])
        out = {}
        for v in store.iter_objects(OWNER, "xproc"):
            with store.get_object(OWNER, "xproc", v.key) as r:
                out[v.key] = hashlib.md5(r.read()).hexdigest()
        store.put_object(OWNER, "xproc", "from-child", b"child wrote this")
        store.close()
        print(json.dumps(out))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(store_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == written
    assert get_body(store, ctx, "xproc", "from-child") == b"child wrote this"


# --- change sequence --------------------------------------------------------


def test_change_seq_increases_on_every_mutation(store, ctx, vbucket):
    seen = [store.change_seq(OWNER)]

    def bumped(what: str) -> None:
        now = store.change_seq(OWNER)
        assert now > seen[-1], f"{what} did not advance the change sequence"
        seen.append(now)

    v1 = store.put_object(ctx, vbucket, "a", b"1").version_id
    bumped("put")
    store.copy_object(ctx, vbucket, "a", vbucket, "b")
    bumped("copy")
    store.delete_object(ctx, vbucket, "b")
    bumped("delete (marker)")
    store.delete_object(ctx, vbucket, "a", version_id=v1)
    bumped("delete version")
    store.put_object(ctx, vbucket, "c", b"1")
    bumped("put")
    store.update_sys_meta(
        ctx, vbucket, "c", store.head_object(ctx, vbucket, "c").sys_meta.replace(mode=0o100600)
    )
    bumped("update_sys_meta")
    store.update_user_meta(ctx, vbucket, "c", {"k": "v"})
    bumped("update_user_meta")
    store.rename(ctx, vbucket, "c", "d")
    bumped("rename")
    store.rename_prefix(ctx, vbucket, "d", "e")
    bumped("rename_prefix")
    uid = store.create_multipart_upload(ctx, vbucket, "mp")
    part = store.upload_part(ctx, vbucket, "mp", uid, 1, b"x")
    before_complete = store.change_seq(OWNER)
    store.complete_multipart_upload(ctx, vbucket, "mp", uid, [(1, part.etag)])
    assert store.change_seq(OWNER) > before_complete, "complete did not advance"
    seen.append(store.change_seq(OWNER))
    w = store.open_writer(ctx, vbucket, "w", base=None)
    w.write(0, b"abc")
    w.commit(ctx)
    w.close()
    bumped("writer commit")
    # reads do not move it (the mount would invalidate for nothing)
    now = store.change_seq(OWNER)
    store.head_object(ctx, vbucket, "w")
    get_body(store, ctx, vbucket, "w")
    store.list_objects(ctx, vbucket)
    store.list_object_versions(ctx, vbucket)
    assert store.change_seq(OWNER) == now


def test_changes_since_names_changed_keys(store, second, ctx, bucket):
    start = store.change_seq(OWNER)
    store.put_object(ctx, bucket, "x/1", b"1")
    store.put_object(ctx, bucket, "x/2", b"2")
    store.delete_object(ctx, bucket, "x/1")
    store.rename(ctx, bucket, "x/2", "y/2")
    seq, changes = store.changes_since(OWNER, start)
    assert seq == store.change_seq(OWNER)
    assert all(c.bucket == bucket and c.seq > start for c in changes)
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    assert {c.key for c in changes} == {"x/1", "x/2", "y/2"}
    # another handle (another process, the mount) sees the same sequence
    assert second.change_seq(OWNER) == seq
    assert {c.key for c in second.changes_since(OWNER, start)[1]} == {"x/1", "x/2", "y/2"}
    assert store.changes_since(OWNER, seq) == (seq, [])


def test_changes_since_pages_with_limit(store, ctx, bucket):
    start = store.change_seq(OWNER)
    keys = {f"k{i:02d}" for i in range(30)}
    for key in sorted(keys):
        store.put_object(ctx, bucket, key, b"")
    seen = set()
    seq = start
    rounds = 0
    while True:
        seq2, changes = store.changes_since(OWNER, seq, limit=7)
        assert len(changes) <= 7
        if not changes:
            break
        assert seq2 > seq
        seen |= {c.key for c in changes}
        seq = seq2
        rounds += 1
        assert rounds < 100
    assert seen == keys and rounds >= 5


# --- concurrency --------------------------------------------------------------


def test_threads_share_one_store(store, ctx, vbucket):
    errors: list[BaseException] = []
    results: dict[int, list[str]] = {}

    def work(n: int) -> None:
        try:
            mine = []
            for i in range(40):
                store.put_object(ctx, vbucket, f"t{n}/k{i}", f"{n}:{i}".encode())
                mine.append(
                    store.put_object(ctx, vbucket, "shared", f"{n}:{i}".encode()).version_id
                )
                assert get_body(store, ctx, vbucket, f"t{n}/k{i}") == f"{n}:{i}".encode()
                store.list_objects(ctx, vbucket, prefix=f"t{n}/", max_keys=5)
            results[n] = mine
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    keys = [v.key for v in store.iter_objects(ctx, vbucket)]
    assert len(keys) == 4 * 40 + 1
    versions = store.key_versions(ctx, vbucket, "shared")
    assert len(versions) == 160
    assert sorted(v.version_id for v in versions) == sorted(sum(results.values(), []))
    # the latest is the last committed, and ids still sort by creation
    assert [v.version_id for v in versions] == sorted(
        (v.version_id for v in versions), reverse=True
    )
    latest = get_body(store, ctx, vbucket, "shared")
    n, i = map(int, latest.decode().split(":"))
    assert results[n][i] == versions[0].version_id


def test_two_processes_write_at_once(store_path, store, ctx):
    store.create_bucket(ctx, "busy")
    script = textwrap.dedent(
        """
        import sys
        from objfs.store import OWNER, Store
        store = Store.open(sys.argv[1])
        for i in range(150):
            store.put_object(OWNER, "busy", f"child/{i}", b"c" * (i * 100))
            store.put_object(OWNER, "busy", "both", b"child")
        store.close()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(store_path)], stderr=subprocess.PIPE, text=True
    )
    try:
        for i in range(150):
            store.put_object(ctx, "busy", f"parent/{i}", b"p" * (i * 100))
            store.put_object(ctx, "busy", "both", b"parent")
    finally:
        _, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    keys = {v.key for v in store.iter_objects(ctx, "busy")}
    assert len(keys) == 301
    for i in (0, 77, 149):
        assert get_body(store, ctx, "busy", f"child/{i}") == b"c" * (i * 100)
    assert get_body(store, ctx, "busy", "both") in (b"child", b"parent")
    assert store.fsck(OWNER).ok


def test_every_mutating_method_advances_the_change_sequence(store, ctx):
    """Each public Store method is a read, maintenance, or a mutation that
    advances the change sequence (bucket configuration and the KMS included):
    mounts and the API invalidate on it, so a silent mutation is served stale.
    A new public method fails here until it is classified."""
    from objfs.store.types import ChunkRef

    st: dict[str, object] = {}

    def writer_commit() -> None:
        w = store.open_writer(ctx, "seq-b", "w2", base=None)
        w.write(0, b"written")
        manifest = w._manifest()
        w.commit(ctx)
        w.close()
        assert manifest and isinstance(manifest[0], ChunkRef)

    def access_key() -> None:
        st["access_key"] = store.create_access_key(ctx, "seq-user").info.key_id

    def mfa() -> None:
        st["mfa"] = store.mfa_enable(ctx)

    def mfa_off() -> None:
        device = st["mfa"]
        code = totp.code_at(device.secret, store.clock())
        store.mfa_disable(
            RequestContext(ctx.identity, ctx.interface, mfa=f"{device.serial} {code}")
        )

    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        }
    )
    bucket_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
            ],
        }
    )

    cors_rule = {"AllowedOrigins": ["http://a.test"], "AllowedMethods": ["GET"]}
    lc_rule = {
        "ID": "lc",
        "Status": "Enabled",
        "Filter": {"Prefix": "lc/"},
        "Expiration": {"Days": 1},
    }

    def upload() -> None:
        st["upload"] = store.create_multipart_upload(ctx, "seq-b", "mp")

    def part() -> None:
        st["part"] = store.upload_part(ctx, "seq-b", "mp", st["upload"], 1, b"part")

    def key() -> None:
        st["key"] = store.kms_create_key(ctx).key_id

    mutations = {
        "create_bucket": lambda: store.create_bucket(ctx, "seq-b"),
        "set_bucket_versioning": lambda: store.set_bucket_versioning(ctx, "seq-b", "Enabled"),
        "kms_create_key": key,
        "set_bucket_encryption": lambda: store.set_bucket_encryption(
            ctx, "seq-b", "aws:kms", st["key"]
        ),
        "put_object": lambda: store.put_object(ctx, "seq-b", "a", b"1"),
        "post_object": lambda: store.post_object(ctx, "seq-b", "posted", io.BytesIO(b"1")),
        "copy_object": lambda: store.copy_object(ctx, "seq-b", "a", "seq-b", "b"),
        "update_sys_meta": lambda: store.update_sys_meta(
            ctx, "seq-b", "a", store.head_object(ctx, "seq-b", "a").sys_meta.replace(mode=0o100600)
        ),
        "update_user_meta": lambda: store.update_user_meta(ctx, "seq-b", "a", {"k": "v"}),
        "rename": lambda: store.rename(ctx, "seq-b", "a", "d/a"),
        "rename_prefix": lambda: store.rename_prefix(ctx, "seq-b", "d/", "e/"),
        "delete_object": lambda: store.delete_object(ctx, "seq-b", "b"),
        "delete_objects": lambda: store.delete_objects(ctx, "seq-b", [("e/a", None)]),
        "open_writer": writer_commit,  # its writer's commit is the mutation
        "commit_small": lambda: store.commit_small(
            ctx, "seq-b", "small", b"s", sys_meta=SystemMeta(), sse=SSERequest(mode="AES256")
        ),
        "amend_times": lambda: store.amend_times(ctx, "seq-b", [TimesUpdate("w2", atime_ns=1)]),
        "create_user": lambda: store.create_user(ctx, "seq-user"),
        "create_access_key": access_key,
        "set_access_key_status": lambda: store.set_access_key_status(
            ctx, "seq-user", st["access_key"], active=False
        ),
        "put_user_policy": lambda: store.put_user_policy(ctx, "seq-user", "p", policy),
        "delete_user_policy": lambda: store.delete_user_policy(ctx, "seq-user", "p"),
        "put_bucket_policy": lambda: store.put_bucket_policy(ctx, "seq-b", bucket_policy),
        "delete_bucket_policy": lambda: store.delete_bucket_policy(ctx, "seq-b"),
        "put_public_access_block": lambda: store.put_public_access_block(
            ctx, "seq-b", PublicAccessBlock()
        ),
        "delete_public_access_block": lambda: store.delete_public_access_block(ctx, "seq-b"),
        "put_bucket_ownership_controls": lambda: store.put_bucket_ownership_controls(
            ctx, "seq-b", "ObjectWriter"
        ),
        "delete_bucket_ownership_controls": lambda: store.delete_bucket_ownership_controls(
            ctx, "seq-b"
        ),
        "put_bucket_cors": lambda: store.put_bucket_cors(ctx, "seq-b", [cors_rule]),
        "delete_bucket_cors": lambda: store.delete_bucket_cors(ctx, "seq-b"),
        "put_bucket_acl": lambda: store.put_bucket_acl(ctx, "seq-b", canned="public-read"),
        "put_object_acl": lambda: store.put_object_acl(ctx, "seq-b", "a", canned="public-read"),
        "put_object_tagging": lambda: store.put_object_tagging(ctx, "seq-b", "w2", {"t": "1"}),
        "delete_object_tagging": lambda: store.delete_object_tagging(ctx, "seq-b", "w2"),
        "put_bucket_tagging": lambda: store.put_bucket_tagging(ctx, "seq-b", {"t": "1"}),
        "delete_bucket_tagging": lambda: store.delete_bucket_tagging(ctx, "seq-b"),
        "mfa_enable": mfa,
        "mfa_disable": mfa_off,
        "delete_access_key": lambda: store.delete_access_key(ctx, "seq-user", st["access_key"]),
        "delete_user": lambda: store.delete_user(ctx, "seq-user"),
        "create_multipart_upload": upload,
        "upload_part": part,
        "upload_part_copy": lambda: store.upload_part_copy(
            ctx, "seq-b", "mp", st["upload"], 2, "seq-b", "w2", src_range=(0, 0)
        ),
        "complete_multipart_upload": lambda: store.complete_multipart_upload(
            ctx, "seq-b", "mp", st["upload"], [(1, st["part"].etag)]
        ),
        "abort_multipart_upload": lambda: store.abort_multipart_upload(
            ctx, "seq-b", "mp2", store.create_multipart_upload(ctx, "seq-b", "mp2")
        ),
        "kms_create_alias": lambda: store.kms_create_alias(ctx, "alias/seq", st["key"]),
        "kms_delete_alias": lambda: store.kms_delete_alias(ctx, "alias/seq"),
        "kms_rotate_key": lambda: store.kms_rotate_key(ctx, st["key"]),
        "kms_disable_key": lambda: store.kms_disable_key(ctx, st["key"]),
        "kms_enable_key": lambda: store.kms_enable_key(ctx, st["key"]),
        "kms_schedule_key_deletion": lambda: store.kms_schedule_key_deletion(ctx, st["key"], 7),
        "kms_cancel_key_deletion": lambda: store.kms_cancel_key_deletion(ctx, st["key"]),
        "kms_prune_audit": lambda: store.kms_prune_audit(ctx, 1),
        "put_bucket_logging": lambda: (
            store.create_bucket(ctx, "seq-logs"),
            store.put_bucket_logging(ctx, "seq-b", "seq-logs"),
        ),
        "delete_bucket_logging": lambda: store.delete_bucket_logging(ctx, "seq-b"),
        # delivers the record of the request above into seq-logs: a new object
        "flush_access_logs": lambda: store.flush_access_logs(ctx),
        "put_bucket_lifecycle": lambda: (
            store.create_bucket(ctx, "seq-lc"),
            store.put_object(ctx, "seq-lc", "lc/x", b"x"),
            store.put_bucket_lifecycle(ctx, "seq-lc", [lc_rule]),
        ),
        "apply_lifecycle": lambda: store.apply_lifecycle(OWNER, "seq-lc", now_ns=2**62),
        "delete_bucket_lifecycle": lambda: store.delete_bucket_lifecycle(ctx, "seq-lc"),
        "put_object_lock_configuration": lambda: (
            store.create_bucket(ctx, "seq-lock", object_lock=True),
            store.put_object(ctx, "seq-lock", "l", b"x"),
            store.put_object_lock_configuration(ctx, "seq-lock", ObjectLockConfig("GOVERNANCE", 1)),
        ),
        "put_object_retention": lambda: store.put_object_retention(
            ctx, "seq-lock", "l", "GOVERNANCE", 4102444800 * 10**9
        ),
        "put_object_legal_hold": lambda: store.put_object_legal_hold(ctx, "seq-lock", "l", True),
        "delete_bucket": lambda: (
            store.create_bucket(ctx, "seq-gone"),
            store.delete_bucket(ctx, "seq-gone"),
        ),
    }
    reads = {
        "get_bucket_lifecycle": lambda: store.get_bucket_lifecycle(ctx, "seq-b"),
        "lifecycle_expiration": lambda: store.lifecycle_expiration(ctx, "seq-b", "lc/y", 1, {}, 0),
        "change_seq": lambda: store.change_seq(OWNER),
        "changes_since": lambda: store.changes_since(OWNER, 0),
        "get_object": lambda: store.get_object(ctx, "seq-b", "w2").close(),
        "read_range": lambda: store.read_range(ctx, "seq-b", "w2", 0, 3),
        "head_bucket": lambda: store.head_bucket(ctx, "seq-b"),
        "head_object": lambda: store.head_object(ctx, "seq-b", "w2"),
        "list_buckets": lambda: store.list_buckets(ctx),
        "list_objects": lambda: store.list_objects(ctx, "seq-b"),
        "iter_objects": lambda: list(store.iter_objects(ctx, "seq-b")),
        "list_directory": lambda: store.list_directory(ctx, "seq-b", ""),
        "list_object_versions": lambda: store.list_object_versions(ctx, "seq-b"),
        "key_versions": lambda: store.key_versions(ctx, "seq-b", "w2"),
        "prefix_exists": lambda: store.prefix_exists(ctx, "seq-b", "e/"),
        "list_multipart_uploads": lambda: store.list_multipart_uploads(ctx, "seq-b"),
        "list_parts": lambda: store.list_parts(ctx, "seq-b", "mp3", st["upload3"]),
        "kms_list_keys": lambda: store.kms_list_keys(ctx),
        "kms_describe_key": lambda: store.kms_describe_key(ctx, st["key"]),
        "kms_audit": lambda: store.kms_audit(ctx),
        "writer_leases": lambda: store.writer_leases(OWNER),
        "dir_stats": lambda: store.dir_stats(ctx, "seq-b", ""),
        "get_bucket_versioning": lambda: store.get_bucket_versioning(ctx, "seq-b"),
        "get_bucket_location": lambda: store.get_bucket_location(ctx, "seq-b"),
        "get_bucket_encryption": lambda: store.get_bucket_encryption(ctx, "seq-b"),
        "list_users": lambda: store.list_users(ctx),
        "get_user": lambda: store.get_user(ctx, "reader"),
        "list_access_keys": lambda: store.list_access_keys(ctx, "reader"),
        "list_user_policies": lambda: store.list_user_policies(ctx, "reader"),
        "get_user_policy": lambda: store.get_user_policy(ctx, "reader", "p"),
        "get_bucket_policy": lambda: store.get_bucket_policy(ctx, "seq-b"),
        "get_bucket_policy_status": lambda: store.get_bucket_policy_status(ctx, "seq-b"),
        "get_public_access_block": lambda: store.get_public_access_block(ctx, "seq-b"),
        "get_bucket_ownership_controls": lambda: store.get_bucket_ownership_controls(ctx, "seq-b"),
        "get_bucket_logging": lambda: store.get_bucket_logging(ctx, "seq-b"),
        "get_bucket_acl": lambda: store.get_bucket_acl(ctx, "seq-b"),
        "get_bucket_cors": lambda: store.get_bucket_cors(ctx, "seq-b"),
        "get_object_lock_configuration": lambda: store.get_object_lock_configuration(
            ctx, "seq-lock"
        ),
        "get_object_retention": lambda: store.get_object_retention(ctx, "seq-lock", "l"),
        "get_object_legal_hold": lambda: store.get_object_legal_hold(ctx, "seq-lock", "l"),
        "cors_match": lambda: store.cors_match(ctx, "seq-b", "http://a.test", "GET"),
        "get_object_acl": lambda: store.get_object_acl(ctx, "seq-b", "w2"),
        "get_object_tagging": lambda: store.get_object_tagging(ctx, "seq-b", "w2"),
        "get_bucket_tagging": lambda: store.get_bucket_tagging(ctx, "seq-b"),
        "check_access": lambda: store.check_access(ctx, "s3:GetObject", "seq-b", "w2"),
        "simulate_policy": lambda: store.simulate_policy(
            ctx, store.user_identity("reader"), "s3:GetObject", "seq-b", "w2"
        ),
        "mfa_list": lambda: store.mfa_list(ctx),
        # credentials into an identity: no identity yet, nothing changes
        "authenticate": lambda: store.authenticate(
            st["reader_key"].info.key_id, st["reader_key"].secret
        ),
        "signing_secret": lambda: store.signing_secret(st["reader_key"].info.key_id),
        "user_identity": lambda: store.user_identity("reader"),
        "user_canonical_id": lambda: store.user_canonical_id("reader"),
        # maintenance: nothing a reader sees changes (fsck --repair of a
        # latest pointer does add a change: test_maintenance.py)
        "fsck": lambda: store.fsck(OWNER, repair=True),
        "gc": lambda: store.gc(OWNER, grace_seconds=0),
        "sync": lambda: store.sync(OWNER),
    }
    lifecycle = {"init", "open", "close"}  # (clock is a property: store.mfa_codes keeps it)
    public = {n for n in dir(Store) if not n.startswith("_") and callable(getattr(Store, n))}
    unclassified = public - set(mutations) - set(reads) - lifecycle
    assert not unclassified, f"classify these Store methods here: {sorted(unclassified)}"
    assert not (set(mutations) | set(reads) | lifecycle) - public, "stale names in the table"

    silent = []
    for name, call in mutations.items():
        before = store.change_seq(OWNER)
        call()
        if store.change_seq(OWNER) <= before:
            silent.append(name)
    assert not silent, f"mutations that do not advance the change sequence: {silent}"
    store.kms_enable_key(ctx, st["key"])  # cancelling a deletion leaves it disabled
    st["upload3"] = store.create_multipart_upload(ctx, "seq-b", "mp3")
    store.create_user(ctx, "reader")
    store.put_user_policy(ctx, "reader", "p", policy)
    store.put_bucket_policy(ctx, "seq-b", bucket_policy)
    store.put_bucket_cors(ctx, "seq-b", [cors_rule])
    store.put_public_access_block(ctx, "seq-b", PublicAccessBlock())
    store.put_bucket_tagging(ctx, "seq-b", {"t": "1"})
    store.put_bucket_ownership_controls(ctx, "seq-b", "ObjectWriter")
    store.put_bucket_lifecycle(ctx, "seq-b", [lc_rule])
    st["reader_key"] = store.create_access_key(ctx, "reader")
    for name, call in reads.items():
        before = store.change_seq(OWNER)
        call()
        assert store.change_seq(OWNER) == before, f"{name} advanced the change sequence"


def test_gc_forgets_old_changes_and_a_reader_from_before_learns_it(
    store, second, ctx, bucket, monkeypatch
):
    # The feed gets a row per commit and delete; gc keeps the newest
    # KEEP_CHANGES (in transactions of PRUNE_BATCH seqs), so it stays bounded.
    monkeypatch.setattr(maintenance, "KEEP_CHANGES", 5)
    monkeypatch.setattr(maintenance, "PRUNE_BATCH", 3)
    start = store.change_seq(OWNER)
    for i in range(20):
        store.put_object(ctx, bucket, f"k{i:02d}", b"x")
    newest = store.change_seq(OWNER)
    assert store.gc(OWNER).changes_pruned == newest - 5  # every older row
    assert store.gc(OWNER).changes_pruned == 0
    assert store.change_seq(OWNER) == newest  # the newest row stays
    seq, kept = store.changes_since(OWNER, newest - 5)
    assert seq == newest and [c.key for c in kept] == [f"k{i:02d}" for i in range(15, 20)]
    # A reader that stood still before the pruned rows (another handle too)
    # is told so, with where to read on from.
    for reader in (store, second):
        with pytest.raises(ChangeFeedGap) as gap:
            reader.changes_since(OWNER, start)
        assert gap.value.seq == newest and gap.value.pruned_through == newest - 5
    # Seqs are never reused: the next change numbers after the newest.
    store.put_object(ctx, bucket, "after", b"y")
    seq, changes = store.changes_since(OWNER, newest)
    assert [(c.seq, c.key) for c in changes] == [(newest + 1, "after")]
    assert store.head_object(ctx, bucket, "after").seq == newest + 1
    assert store.fsck(OWNER).ok
