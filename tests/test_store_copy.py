"""``objfs store copy``: a store moved into a cluster layout and back is the same store.

The source uses every kind of data a store keeps: a versioned bucket with
several versions and a delete marker, every encryption mode (none, SSE-S3,
SSE-KMS with the local KMS, SSE-C), small (inline) and large (chunk file)
objects, a completed multipart object and an upload in progress, ACLs, a
bucket policy, CORS, lifecycle, tags, Object Lock (retention and legal
hold), users with keys and policies, an MFA device and a pending access log.
It is copied with the ``objfs`` command to a store whose chunks are on a real
S3 server (SeaweedFS) and back to an embedded store: every version reads back
byte-identical with the same ids, etags and dates, every table holds the same
rows, and fsck is clean on each. A copy killed with SIGKILL mid-chunks leaves
no usable store and a re-run finishes it; a non-empty directory is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from objfs.meta import copy_rows
from objfs.store import OWNER, Store
from objfs.store.copy import MARKER, CopyProgress, copy_store
from objfs.store.objectlock import ObjectLockConfig
from objfs.store.types import SSERequest

OBJFS = Path(sys.executable).with_name("objfs")
CUSTOMER_KEY = bytes(range(32))
BIG = 300_000  # past the inline limit: a chunk file (or object) of its own
MIB = 1 << 20


def objfs(
    store: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OBJFS), "--store", str(store), *args],
        capture_output=True,
        text=True,
        env=env or _env(),
        timeout=300,
    )


def _env() -> dict[str, str]:
    keep = ("OBJFS_CHUNKS_ACCESS_KEY_ID", "OBJFS_CHUNKS_SECRET_ACCESS_KEY")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBJFS_") or k in keep}
    env["OBJFS_RESERVE"] = "64K"
    return env


@pytest.fixture
def aws_env(tmp_path: Path, seaweedfs: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """SeaweedFS's admin key as the chunk location's (``$OBJFS_CHUNKS_*``: the
    ``objfs`` command acts as the store owner), no AWS settings from this
    machine; the environment a subprocess gets."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "OBJFS_CHUNK")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OBJFS_CHUNKS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("OBJFS_CHUNKS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return _env()


def url_of(seaweedfs: Any, bucket: str, prefix: str = "copy") -> str:
    return f"s3://{bucket}/{prefix}?endpoint={seaweedfs.endpoint}&region={seaweedfs.region}"


# -- the source ----------------------------------------------------------------------


def build_source(path: Path, **init: Any) -> None:
    """A store using everything a store keeps (see the module docstring)."""
    with Store.init(path, **init) as s:
        s.create_bucket(OWNER, "vers", versioning=True)
        s.create_bucket(OWNER, "plain")
        s.create_bucket(OWNER, "locked", object_lock=True)
        s.create_bucket(OWNER, "logs")
        kms = s.kms_create_key(OWNER, "copy test")
        s.kms_create_alias(OWNER, "alias/copy", kms.key_id)
        modes = {
            "none": SSERequest(mode="none"),
            "sse-s3": SSERequest(mode="AES256"),
            "kms": SSERequest(mode="aws:kms", kms_key_id=kms.key_id),
            "ssec": SSERequest(customer_key=CUSTOMER_KEY, customer_algorithm="AES256"),
        }
        for name, sse in modes.items():
            for size in (100, BIG):
                for n in range(2):  # two versions of each
                    body = _body(f"{name}/{size}/{n}", size)
                    s.put_object(OWNER, "vers", f"{name}/{size}", body, sse=sse)
        s.kms_rotate_key(OWNER, kms.key_id)
        s.put_object(OWNER, "vers", "kms/rotated", _body("rotated", BIG), sse=modes["kms"])
        s.put_object(OWNER, "vers", "gone", b"deleted later")
        s.delete_object(OWNER, "vers", "gone")  # a delete marker on top
        s.put_object(OWNER, "vers", "tagged", b"t", tags={"project": "alpha"}, user_meta={"a": "b"})
        s.put_object_acl(OWNER, "vers", "tagged", canned="public-read")
        s.put_bucket_tagging(OWNER, "vers", {"team": "storage"})
        s.put_bucket_policy(
            OWNER,
            "vers",
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "Read",
                            "Effect": "Allow",
                            "Principal": {"AWS": ["alice"]},
                            "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::vers/*",
                        }
                    ],
                }
            ),
        )
        s.put_bucket_acl(OWNER, "plain", canned="public-read")
        s.put_bucket_cors(OWNER, "plain", [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}])
        s.put_bucket_lifecycle(
            OWNER,
            "plain",
            [{"ID": "old", "Status": "Enabled", "Prefix": "tmp/", "Expiration": {"Days": 3}}],
        )
        s.set_bucket_encryption(OWNER, "plain", "aws:kms", kms_key_id=kms.key_id)
        # A multipart object (one 5 MiB part and a small one) and an upload in progress.
        up = s.create_multipart_upload(OWNER, "plain", "multi")
        p1 = s.upload_part(OWNER, "plain", "multi", up, 1, _body("p1", 5 * MIB))
        p2 = s.upload_part(OWNER, "plain", "multi", up, 2, _body("p2", BIG))
        s.complete_multipart_upload(OWNER, "plain", "multi", up, [(1, p1.etag), (2, p2.etag)])
        ssec = SSERequest(customer_key=CUSTOMER_KEY, customer_algorithm="AES256")
        pending = s.create_multipart_upload(OWNER, "plain", "pending", sse=ssec)
        s.upload_part(OWNER, "plain", "pending", pending, 1, _body("pending", BIG), sse=ssec)
        # Object Lock: a default retention, a version under retention and legal hold.
        s.put_object_lock_configuration(OWNER, "locked", ObjectLockConfig("GOVERNANCE", 1))
        s.put_object(OWNER, "locked", "kept", _body("kept", BIG))
        s.put_object_legal_hold(OWNER, "locked", "kept", True)
        # Users, their keys and policies, the owner's MFA device.
        s.create_user(OWNER, "alice")
        s.create_access_key(OWNER, "alice")
        s.put_user_policy(
            OWNER,
            "alice",
            "read",
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
                }
            ),
        )
        s.mfa_enable(OWNER)
        # Server access logs: records wait in the store until they are delivered.
        s.put_bucket_logging(OWNER, "plain", "logs", "plain/")
        s.put_object(OWNER, "plain", "logged", b"a logged request")


def _body(name: str, size: int) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


def contents(path: Path) -> list[tuple[Any, ...]]:
    """Every version of every bucket as a user sees it: ids, etags, dates,
    encryption, tags, lock and the SHA-256 of its bytes."""
    out: list[tuple[Any, ...]] = []
    with Store.open(path) as s:
        for b in s.list_buckets(OWNER):
            versions = s.list_object_versions(OWNER, b.name, max_keys=1000).versions
            for v in versions:
                digest = None
                if not v.is_delete_marker:
                    sse = (
                        SSERequest(customer_key=CUSTOMER_KEY, customer_algorithm="AES256")
                        if v.sse == "SSE-C"
                        else None
                    )
                    with s.get_object(
                        OWNER, b.name, v.key, version_id=v.version_id, sse=sse
                    ) as reader:
                        digest = hashlib.sha256(reader.read()).hexdigest()
                out.append(
                    (
                        b.name,
                        v.key,
                        v.version_id,
                        v.is_latest,
                        v.is_delete_marker,
                        v.size,
                        v.etag,
                        v.last_modified_ns,
                        v.seq,
                        v.sse,
                        v.kms_key_id,
                        tuple(sorted(v.tags.items())),
                        v.lock,
                        digest,
                    )
                )
        uploads = [(u.key, u.upload_id) for u in s.list_multipart_uploads(OWNER, "plain").uploads]
        out.append(("uploads", tuple(uploads)))
        out.append(("policy", s.get_bucket_policy(OWNER, "vers")))
        out.append(("tags", tuple(sorted(s.get_bucket_tagging(OWNER, "vers").items()))))
        out.append(("acl", repr(s.get_object_acl(OWNER, "vers", "tagged"))))
        out.append(("users", tuple(u.name for u in s.list_users(OWNER))))
        out.append(("kms", tuple(repr(k) for k in s.kms_list_keys(OWNER))))
    return out


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every copied table's rows, sorted; the target's own ``meta`` rows left out."""
    conn = sqlite3.connect(path / "meta.db")
    try:
        cur = conn.cursor()
        cur.execute("BEGIN")
        snap = copy_rows.read_snapshot(cur)
    finally:
        conn.close()
    out = {}
    for name, table in snap.tables.items():
        got = table.rows
        if name == "meta":
            i = table.columns.index("name")
            got = [r for r in got if r[i] not in copy_rows.TARGET_META]
        out[name] = sorted(got, key=repr)
    return out


def _comparable(tables: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    # Reading a KMS-encrypted version (fsck, ``contents``) adds audit rows; a
    # table made on first use may be there, empty, on one side only.
    return {k: v for k, v in tables.items() if k != "kms_audit" and v}


# -- tests -----------------------------------------------------------------------------


def test_copy_into_s3_and_back_is_the_same_store(
    tmp_path: Path, seaweedfs: Any, s3_bucket: str, aws_env: dict[str, str]
) -> None:
    src, mid, back = tmp_path / "src", tmp_path / "mid", tmp_path / "back"
    build_source(src)
    before_rows = rows(src)
    url = url_of(seaweedfs, s3_bucket)
    done = objfs(src, "store", "copy", "--to", str(mid), "--to-chunks", url, "--json", env=aws_env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["fsck_ok"] and not report["resumed"] and report["fsck_problems"] == []
    assert report["versions"] == len(before_rows["versions"])
    assert report["uploads"] == 1 and report["chunks"] == report["chunks_copied"] > 0
    assert not (mid / "chunks").exists() and not (mid / MARKER).exists()
    assert (mid / "keys" / "master.key").read_bytes() == (src / "keys" / "master.key").read_bytes()
    mid_rows = rows(mid)
    assert _comparable(mid_rows) == _comparable(before_rows)
    assert before_rows["kms_audit"] and set(before_rows["kms_audit"]) <= set(mid_rows["kms_audit"])
    done = objfs(mid, "store", "copy", "--to", str(back), env=aws_env)  # and back, embedded
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"copied store {mid} to {back}: ")
    assert done.stdout.rstrip().endswith("fsck clean")
    assert _comparable(rows(back)) == _comparable(before_rows)
    expected = contents(src)
    versions = [v for v in expected if len(v) > 2]
    assert {v[9] for v in versions} == {"none", "AES256", "aws:kms", "SSE-C"}
    assert any(v[1] == "multi" and v[5] > 5 * MIB for v in versions)
    assert any(v[12].legal_hold and v[12].mode == "GOVERNANCE" for v in versions)
    assert contents(mid) == expected
    assert contents(back) == expected
    for path in (src, mid, back):
        fsck = objfs(path, "fsck", env=aws_env)
        assert fsck.returncode == 0, (path, fsck.stdout, fsck.stderr)
    with Store.open(back) as s:
        assert s.chunks_url == "file:"
        # The copy is a working store, not a museum: it takes new versions.
        put = s.put_object(OWNER, "vers", "after", b"written after the copy")
        assert put.seq > max(v[8] for v in versions)


def test_every_table_is_copied(tmp_path: Path) -> None:
    """The tables come from the catalogue: every one but ``NOT_COPIED`` holds the
    source's rows in the copy, and the test's source fills every one of them
    (a new table must be filled here too, so this test shows it copied)."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    build_source(src)
    conn = sqlite3.connect(src / "meta.db")
    catalogue = {
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        )
    }
    conn.close()
    # doomed_chunks exists only where gc runs by rows (chunks on S3): not here.
    assert set(copy_rows.NOT_COPIED) <= catalogue | {"doomed_chunks"}
    source = rows(src)
    assert set(source) == catalogue - set(copy_rows.NOT_COPIED)
    empty = sorted(name for name, got in source.items() if not got)
    assert not empty, f"the test's source leaves tables empty, extend build_source: {empty}"
    done = objfs(src, "store", "copy", "--to", str(dst))
    assert done.returncode == 0, done.stderr
    assert _comparable(rows(dst)) == _comparable(source)
    assert set(rows(dst)) == set(source)


def test_a_killed_copy_is_no_store_and_a_rerun_finishes_it(
    tmp_path: Path, seaweedfs: Any, s3_bucket: str, aws_env: dict[str, str]
) -> None:
    """SIGKILL mid-chunks (the source's chunk server stalled, so the copy is
    surely in its chunk phase): no store at the target, and a re-run skips the
    chunks already there and ends with the same store."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    with Store.init(src, chunk_size=64 << 10, chunks_url=url_of(seaweedfs, s3_bucket, "src")) as s:
        s.create_bucket(OWNER, "big", versioning=True)
        for n in range(3):
            s.put_object(OWNER, "big", f"k{n}", _body(f"big{n}", 4 * MIB))  # 64 chunks each
    proc = subprocess.Popen(
        [str(OBJFS), "--store", str(src), "store", "copy", "--to", str(dst), "--json"],
        env=aws_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while _chunk_files(dst) < 20:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the copy stored no chunk in 60 s"
            time.sleep(0.005)
        seaweedfs.pause()
        try:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            seaweedfs.resume()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    copied_before = _chunk_files(dst)
    assert 20 <= copied_before < 192
    assert (dst / MARKER).exists()
    assert not (dst / "meta.db").exists()
    refused = objfs(dst, "ls")
    assert refused.returncode == 1 and "no objfs store" in refused.stderr
    done = objfs(src, "store", "copy", "--to", str(dst), "--json", env=aws_env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["resumed"] and report["fsck_ok"]
    assert report["chunks_present"] >= copied_before  # put whole under the final name
    assert report["chunks_copied"] + report["chunks_present"] == report["chunks"] == 192
    assert not (dst / MARKER).exists()
    assert contents_of(dst) == contents_of(src)
    assert _comparable(rows(dst)) == _comparable(rows(src))


def contents_of(path: Path) -> list[tuple[Any, ...]]:
    out = []
    with Store.open(path) as s:
        for v in s.list_object_versions(OWNER, "big").versions:
            with s.get_object(OWNER, "big", v.key, version_id=v.version_id) as reader:
                digest = hashlib.sha256(reader.read()).hexdigest()
            out.append((v.key, v.version_id, v.etag, v.last_modified_ns, v.seq, digest))
    return out


def _chunk_files(store: Path) -> int:
    root = store / "chunks"
    if not root.is_dir():
        return 0
    return sum(
        1
        for d in os.scandir(root)
        if d.is_dir()
        for f in os.scandir(d.path)
        if not f.name.startswith(".")
    )


def test_copy_into_a_non_empty_directory_is_refused(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    with Store.init(src) as s:
        s.create_bucket(OWNER, "data")
        s.put_object(OWNER, "data", "k", b"v")
    dst.mkdir()
    (dst / "notes.txt").write_text("mine")
    done = objfs(src, "store", "copy", "--to", str(dst))
    assert done.returncode == 1
    assert done.stderr == (
        f"objfs: {dst} is not empty and holds no unfinished copy: copy into an empty "
        "or new directory\n"
    )
    assert sorted(p.name for p in dst.iterdir()) == ["notes.txt"]
    # Another store is not a target either, nor the source itself.
    other = tmp_path / "other"
    Store.init(other).close()
    assert objfs(src, "store", "copy", "--to", str(other)).returncode == 1
    itself = objfs(src, "store", "copy", "--to", str(src))
    assert itself.returncode == 1 and "is the source store itself" in itself.stderr


class _Interrupt(CopyProgress):
    """Ctrl-C after ``after`` chunks of the chunk phase."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.done = 0

    def advance(self, chunks: int, nbytes: int) -> None:
        self.done += chunks
        if self.done > self.after:
            raise KeyboardInterrupt


def test_an_unfinished_copy_continues_only_with_the_same_source_and_places(
    tmp_path: Path,
) -> None:
    src, dst, other = tmp_path / "src", tmp_path / "dst", tmp_path / "other"
    for path in (src, other):
        with Store.init(path, chunk_size=64 << 10) as s:
            s.create_bucket(OWNER, "data")
            s.put_object(OWNER, "data", "k", _body(str(path), 2 * MIB))
    with Store.open(src) as s, pytest.raises(KeyboardInterrupt):
        copy_store(s, dst, progress=_Interrupt(5))
    assert (dst / MARKER).exists() and (dst / "meta.db.copying").exists()
    assert not (dst / "meta.db").exists()
    assert 5 <= _chunk_files(dst) < 32
    refused = objfs(other, "store", "copy", "--to", str(dst))
    assert refused.returncode == 1
    assert refused.stderr == (
        f"objfs: {dst} holds an unfinished copy of another store: remove it or choose "
        "another directory\n"
    )
    refused = objfs(src, "store", "copy", "--to", str(dst), "--to-chunks", f"file:{tmp_path}/c")
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        f"objfs: the unfinished copy in {dst} was started with --to-chunks file: "
        f"(this time: file:{tmp_path}/c); run it again with the same --to-chunks"
    )
    done = objfs(src, "store", "copy", "--to", str(dst), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["resumed"] and report["fsck_ok"] and report["chunks_present"] >= 5
    assert contents_of_bucket(dst, "data") == contents_of_bucket(src, "data")


def contents_of_bucket(path: Path, bucket: str) -> list[tuple[Any, ...]]:
    with Store.open(path) as s:
        out = []
        for v in s.list_object_versions(OWNER, bucket).versions:
            if v.is_delete_marker:
                out.append((v.key, v.version_id, None, v.seq, None))
                continue
            with s.get_object(OWNER, bucket, v.key, version_id=v.version_id) as reader:
                out.append((v.key, v.version_id, v.etag, v.seq, reader.read()))
        return out


def test_a_rerun_after_the_rows_are_in_never_writes_rows_again(tmp_path: Path) -> None:
    """Once the rows are in, the copy is a store someone may use: a re-run (the
    copy stopped before its fsck, or fsck found a chunk missing) only fills in
    the chunks the copy's own rows name, from the source, and checks again."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    with Store.init(src, chunk_size=64 << 10) as s:
        s.create_bucket(OWNER, "data", versioning=True)
        s.put_object(OWNER, "data", "k", _body("k", MIB))
    assert objfs(src, "store", "copy", "--to", str(dst)).returncode == 0
    with Store.open(dst) as s:  # used since: a version the source never had
        s.put_object(OWNER, "data", "k", b"only in the copy")
    victim = next(p for p in (dst / "chunks").rglob("*") if p.is_file())
    victim.unlink()
    marker = {
        "source": _identity_of(src),
        "chunks_url": "file:",
        "meta_url": None,
        "rows": True,
    }
    (dst / MARKER).write_text(json.dumps(marker))
    done = objfs(src, "store", "copy", "--to", str(dst), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["resumed"] and report["fsck_ok"] and report["chunks_copied"] == 1
    assert report["versions"] == 2  # the copy's rows, not the source's again
    assert victim.exists() and not (dst / MARKER).exists()
    with Store.open(dst) as s, s.get_object(OWNER, "data", "k") as reader:
        assert reader.read() == b"only in the copy"


def _identity_of(path: Path) -> dict[str, Any]:
    from objfs.store.copy import _identity

    with Store.open(path) as s:
        return _identity(s)


def test_fsck_problems_keep_the_copy_unfinished(tmp_path: Path) -> None:
    """A damaged chunk at the source is copied as it is (frames are opaque),
    and the copy's fsck finds it: exit 1, the problem on stdout, the copy
    stays marked unfinished. A chunk missing everywhere stops the copy."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    with Store.init(src, chunk_size=64 << 10) as s:
        s.create_bucket(OWNER, "data")
        s.put_object(OWNER, "data", "k", _body("k", MIB))
    victim = next(p for p in (src / "chunks").rglob("*") if p.is_file())
    frame = bytearray(victim.read_bytes())
    frame[-20] ^= 1
    victim.write_bytes(bytes(frame))
    done = objfs(src, "store", "copy", "--to", str(dst))
    assert done.returncode == 1
    assert f"problem: chunk {victim.name} is damaged" in done.stdout
    assert done.stderr == (
        f"objfs: fsck of the copy in {dst} found problems; it stays marked unfinished: "
        "fix the source (`objfs fsck`) and run the copy again\n"
    )
    assert (dst / MARKER).exists()
    victim.unlink()
    (dst / "chunks" / victim.parent.name / victim.name).unlink()
    done = objfs(src, "store", "copy", "--to", str(dst))
    assert done.returncode == 1
    assert done.stderr == (
        f"objfs: chunk {victim.name}, which the source's metadata names, is missing from "
        "its chunk location: run `objfs fsck` on the source\n"
    )


def test_to_meta_needs_an_objfs_with_postgresql_metadata(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """``--to-meta`` is passed on to ``Store.init``; an objfs without it refuses
    with a clear message, one with it copies into PostgreSQL and back."""
    import inspect

    src = tmp_path / "src"
    build_source(src)
    if "meta_url" not in inspect.signature(Store.init).parameters:
        url = "postgresql://127.0.0.1/objfs"
        done = objfs(src, "store", "copy", "--to", str(tmp_path / "pg"), "--to-meta", url)
        assert done.returncode == 1
        assert done.stderr == (
            "objfs: this objfs keeps metadata only in SQLite: --to-meta needs an objfs that "
            "supports PostgreSQL metadata\n"
        )
        assert not (tmp_path / "pg").exists()
        return
    pg_url = request.getfixturevalue("pg_url")
    mid, back = tmp_path / "pg", tmp_path / "back"
    done = objfs(src, "store", "copy", "--to", str(mid), "--to-meta", pg_url, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["fsck_ok"]
    assert (mid / "meta.url").exists() and not (mid / "meta.db").exists()
    done = objfs(mid, "store", "copy", "--to", str(back))
    assert done.returncode == 0, done.stderr
    assert _comparable(rows(back)) == _comparable(rows(src))
    assert contents(back) == contents(src)


class _Meanwhile(CopyProgress):
    """Runs ``action`` once, in the chunk phase, after the first chunk."""

    def __init__(self, action: Any) -> None:
        self.action = action
        self.ran = False

    def advance(self, chunks: int, nbytes: int) -> None:
        if chunks and not self.ran:
            self.ran = True
            self.action()


def test_a_live_source_gives_a_consistent_copy_and_one_copy_holds_the_target(
    tmp_path: Path,
) -> None:
    """Writes and deletes at the source while the copy runs: the copy is the
    source as its snapshot saw it (every version it has is the source's, byte
    for byte, and its fsck is clean). A second copy into the same directory
    meanwhile is refused."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    with Store.init(src, chunk_size=64 << 10) as s:
        s.create_bucket(OWNER, "live", versioning=True)
        for n in range(8):
            s.put_object(OWNER, "live", f"k{n}", _body(f"k{n}", MIB))
    stop = threading.Event()
    written: list[str] = []

    def writer() -> None:
        with Store.open(src) as w:
            n = 0
            while not stop.is_set():
                put = w.put_object(OWNER, "live", f"k{n % 8}", _body(f"new{n}", 200_000))
                written.append(put.version_id)
                if n % 3 == 0:
                    w.delete_object(OWNER, "live", f"k{(n + 1) % 8}")
                n += 1

    second: list[subprocess.CompletedProcess[str]] = []
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with Store.open(src) as s:
            report = copy_store(
                s,
                dst,
                progress=_Meanwhile(
                    lambda: second.append(objfs(src, "store", "copy", "--to", str(dst)))
                ),
            )
    finally:
        stop.set()
        thread.join()
    assert report.fsck_ok and written
    (refused,) = second
    assert refused.returncode == 1
    assert refused.stderr == (
        f"objfs: another `objfs store copy` is copying into {dst}: wait for it to end\n"
    )
    copied = contents_of_bucket(dst, "live")
    assert copied
    source = {
        (key, vid): (etag, seq, body)
        for key, vid, etag, seq, body in contents_of_bucket(src, "live")
    }
    assert len(source) > len(copied)  # the source went on after the snapshot
    for key, version_id, etag, seq, body in copied:
        assert source[(key, version_id)] == (etag, seq, body)
    assert report.versions == len(copied)
