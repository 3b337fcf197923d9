"""Mounts that act as a user: ``-o profile=``/``credentials_file=`` for the whole
mount, ``-o user_map=`` per calling Unix user in a shared ``allow_other`` mount.

Unix permission bits stay the kernel's business (``umask=000`` here, so they
let everyone through); what these tests see is the store's policy check on
top: a refusal is EACCES ("Permission denied"), and nothing is written.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from objfs.auth.keys import Credentials, write_profile
from objfs.store import OWNER, Store
from objfs.store.logquery import query_access_logs

from .support import Mount
from .test_posix_users import ALICE, BOB, as_user, ok

READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::vers", "arn:aws:s3:::vers/*"],
        }
    ],
}
READ_WRITE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:DeleteObject"],
            "Resource": ["arn:aws:s3:::vers", "arn:aws:s3:::vers/*"],
        }
    ],
}

# The mount reads the change feed every 0.3 s; 1 s is the bound, and
# more leaves room for a loaded 2-core machine.
REVOKED_WITHIN = 3.0

GET_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::vers/*"}],
}


@pytest.fixture
def people(fs_store: Path, tmp_path: Path) -> Path:
    """Users reader (read-only) and writer (read-write) with keys in a credentials file."""
    creds = tmp_path / "credentials"
    store = Store.open(fs_store)
    try:
        store.put_object(OWNER, "vers", "hello.txt", b"hello\n")
        for name, doc in (("reader", READ_ONLY), ("writer", READ_WRITE), ("getter", GET_ONLY)):
            store.create_user(OWNER, name)
            store.put_user_policy(OWNER, name, "access", json.dumps(doc))
            key = store.create_access_key(OWNER, name)
            write_profile(creds, name, Credentials(key.info.key_id, key.secret))
    finally:
        store.close()
    return creds


def keys_of(store_path: Path, bucket: str = "vers") -> list[str]:
    store = Store.open(store_path)
    try:
        return [v.key for v in store.list_objects(OWNER, bucket).contents]
    finally:
        store.close()


def test_profile_mount_reads_but_cannot_write(mounter, people: Path, fs_store: Path) -> None:  # type: ignore[no-untyped-def]
    m: Mount = mounter(options=f"profile=reader,credentials_file={people}")
    assert (m.path / "hello.txt").read_bytes() == b"hello\n"
    assert sorted(os.listdir(m.path)) == ["hello.txt"]
    with pytest.raises(PermissionError):
        (m.path / "new.txt").write_bytes(b"nope")
    done = subprocess.run(
        ["cp", str(people), str(m.path / "copy.txt")], capture_output=True, text=True
    )
    assert done.returncode != 0 and "Permission denied" in done.stderr
    with pytest.raises(PermissionError):
        os.unlink(m.path / "hello.txt")
    assert keys_of(fs_store) == ["hello.txt"]  # nothing written, nothing deleted


def test_profile_mount_writes_as_its_user(mounter, people: Path, fs_store: Path) -> None:  # type: ignore[no-untyped-def]
    m: Mount = mounter(options=f"profile=writer,credentials_file={people}")
    (m.path / "new.txt").write_bytes(b"by writer")
    store = Store.open(fs_store)
    try:
        acl = store.get_object_acl(OWNER, "vers", "new.txt")
        assert acl.owner_id == store.user_identity("writer").canonical_id  # the writer owns it
    finally:
        store.close()


def test_a_bad_profile_refuses_the_mount(fs_store: Path, people: Path, tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.mkdir()
    m = Mount(
        fs_store, "vers", path, tmp_path / "m.log", f"profile=nobody,credentials_file={people}"
    )
    with pytest.raises(AssertionError, match='no profile "nobody"'):
        m.start()
    assert not os.path.ismount(path)


def test_user_map_checks_each_caller(mounter, people: Path, fs_store: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with Store.open(fs_store) as store:
        store.create_bucket(OWNER, "logs")
        store.put_bucket_logging(OWNER, "vers", "logs", "vers/")
    umap = tmp_path / "users.map"
    umap.write_text(f"# uid = objfs user\n0 = owner\n{ALICE} = writer\n{BOB} = reader\n")
    m: Mount = mounter(options=f"allow_other,umask=000,user_map={umap}")
    # Both may read; the writer writes; the reader's copy fails and writes nothing.
    assert ok(BOB, "cat hello.txt", m.path) == "hello\n"
    ok(ALICE, "echo from-alice > alice.txt", m.path)
    result = as_user(BOB, "echo from-bob > bob.txt", m.path)
    assert result.returncode != 0 and "Permission denied" in result.stderr
    result = as_user(BOB, "rm alice.txt", m.path)
    assert result.returncode != 0 and "Permission denied" in result.stderr
    # A uid the map does not name is refused everything.
    result = as_user(2099, "ls", m.path)
    assert result.returncode != 0 and "Permission denied" in result.stderr
    assert sorted(keys_of(fs_store)) == ["alice.txt", "hello.txt"]
    # root is mapped to the store owner: it sees and may do everything.
    assert sorted(os.listdir(m.path)) == ["alice.txt", "hello.txt"]
    # The access log holds both writes, each with its requester and status.
    with Store.open(fs_store) as store:
        store.flush_access_logs(OWNER)
        writer = store.user_identity("writer").canonical_id
        reader = store.user_identity("reader").canonical_id
        puts = {
            (r.key, r.requester, r.http_status, r.error_code)
            for r in query_access_logs(store, OWNER, "logs", "vers/")
            if r.operation == "REST.PUT.OBJECT"
        }
    assert ("alice.txt", writer, 200, None) in puts
    assert ("bob.txt", reader, 403, "AccessDenied") in puts


REQUIRE_SSE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "RequireSSE",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::vers/*",
            "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}},
        }
    ],
}


def test_bucket_policy_requiring_sse_and_the_sse_option(mounter, fs_store: Path) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(fs_store)
    try:
        store.put_bucket_policy(OWNER, "vers", json.dumps(REQUIRE_SSE))
    finally:
        store.close()
    plain: Mount = mounter(name="plain")
    with pytest.raises(PermissionError):
        (plain.path / "plain.txt").write_bytes(b"refused")
    sealed: Mount = mounter(options="sse=AES256", name="sealed")
    (sealed.path / "sealed.txt").write_bytes(b"accepted")
    assert (sealed.path / "sealed.txt").read_bytes() == b"accepted"
    assert keys_of(fs_store) == ["sealed.txt"]


def test_a_policy_put_elsewhere_refuses_the_next_create(mounter, fs_store: Path) -> None:  # type: ignore[no-untyped-def]
    """The owner's write probe is answered from memory; the change feed keeps it right."""
    m: Mount = mounter()
    (m.path / "before.txt").write_bytes(b"allowed")
    store = Store.open(fs_store)
    try:
        store.put_bucket_policy(OWNER, "vers", json.dumps(REQUIRE_SSE))
    finally:
        store.close()
    deadline = time.monotonic() + 10
    while True:  # the poller runs every 0.3 s; the commit refuses meanwhile anyway
        try:
            (m.path / "after.txt").write_bytes(b"refused")
        except PermissionError:
            break
        assert time.monotonic() < deadline, "the policy never bound the mount"
        time.sleep(0.2)
    with pytest.raises(PermissionError):
        os.open(m.path / "again.txt", os.O_WRONLY | os.O_CREAT)  # refused at create
    assert "after.txt" not in keys_of(fs_store)
    assert "again.txt" not in keys_of(fs_store)


def test_an_unlistable_directory_is_refused_not_empty(mounter, people: Path) -> None:  # type: ignore[no-untyped-def]
    m: Mount = mounter(options=f"profile=getter,credentials_file={people}")
    with pytest.raises(PermissionError):
        os.listdir(m.path)
    done = subprocess.run(["ls", str(m.path)], capture_output=True, text=True)
    assert done.returncode != 0 and "Permission denied" in done.stderr
    assert (m.path / "hello.txt").read_bytes() == b"hello\n"  # a known name still reads


def objfs_cli(store: Path, *args: str) -> None:
    """``objfs --store STORE ARGS``: another process, as an administrator runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "objfs.cli", "--store", str(store), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def refused_within(m: Mount, seconds: float) -> float:
    """Poll until both a read (of a file read before) and a write are EACCES."""
    started = time.monotonic()
    while True:
        read_refused = write_refused = False
        try:
            (m.path / "hello.txt").read_bytes()
        except PermissionError:
            read_refused = True
        try:
            (m.path / "late.txt").write_bytes(b"refused")
        except PermissionError:
            write_refused = True
        except OSError as err:
            # Opened before the refusal, its data refused at close: the
            # kernel reports a failed write-back as EIO.
            assert err.errno == errno.EIO
        waited = time.monotonic() - started
        if read_refused and write_refused:
            return waited
        assert waited < seconds, f"read refused {read_refused}, write refused {write_refused}"
        time.sleep(0.05)


def test_a_disabled_or_removed_key_stops_the_mount(  # type: ignore[no-untyped-def]
    mounter, people: Path, fs_store: Path
) -> None:
    """Issue 19 item 10: `objfs user keys disable|rm` binds a running mount made with
    that key's profile (its change poller runs every 0.3 s), as it binds the HTTP API."""
    with Store.open(fs_store) as store:
        (key,) = store.list_access_keys(OWNER, "writer")
    m: Mount = mounter(options=f"profile=writer,credentials_file={people}")
    assert (m.path / "hello.txt").read_bytes() == b"hello\n"
    (m.path / "mine.txt").write_bytes(b"by writer")
    objfs_cli(fs_store, "user", "keys", "disable", "writer", key.key_id)
    refused_within(m, REVOKED_WITHIN)
    with pytest.raises(PermissionError):
        os.listdir(m.path)
    with pytest.raises(PermissionError):
        (m.path / "after.txt").write_bytes(b"refused")
    time.sleep(1.1)  # past attr_timeout: the kernel asks the daemon again
    assert os.path.ismount(m.path)  # the mount point itself still answers stat
    assert os.statvfs(m.path).f_namemax == 255
    objfs_cli(fs_store, "user", "keys", "enable", "writer", key.key_id)
    deadline = time.monotonic() + REVOKED_WITHIN
    while True:
        try:
            assert (m.path / "hello.txt").read_bytes() == b"hello\n"
            (m.path / "again.txt").write_bytes(b"enabled again")
            break
        except PermissionError:
            assert time.monotonic() < deadline, "the enabled key never worked again"
            time.sleep(0.05)
    objfs_cli(fs_store, "user", "keys", "rm", "writer", key.key_id)
    refused_within(m, REVOKED_WITHIN)
    with pytest.raises(PermissionError):
        (m.path / "mine.txt").write_bytes(b"overwritten")
    m.stop()  # also commits nothing of what was refused
    assert "after.txt" not in keys_of(fs_store)
    with Store.open(fs_store) as store:
        assert store.get_object(OWNER, "vers", "mine.txt").read() == b"by writer"
