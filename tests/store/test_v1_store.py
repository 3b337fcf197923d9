"""A store written by the v1 code (chunk format 1, store format 1) keeps working.

``tests/data/v1-store`` was made by ``tests/data/make_v1_store.py`` with the
last v1 code; its master key is its own ``keys/master.key``. The test opens a
copy, reads every version back, writes new objects beside the old ones and
runs fsck, which must report no problems.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from objfs.meta.db import FORMAT_VERSION
from objfs.store import OWNER, SSERequest, Store

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
def v1_store(tmp_path: Path) -> Path:
    dest = tmp_path / "v1-store"
    shutil.copytree(DATA / "v1-store", dest)
    # git keeps no permission bits: restore what objfs init made.
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    return dest


def _expected() -> dict:
    return json.loads((DATA / "v1-store.json").read_text())


def test_v1_store_reads_writes_and_fscks(v1_store: Path) -> None:
    spec = _expected()
    ssec = SSERequest(customer_key=bytes.fromhex(spec["ssec_key_hex"]))
    with Store.open(v1_store) as store:
        for v in spec["versions"]:
            with store.get_object(
                OWNER,
                v["bucket"],
                v["key"],
                version_id=v["version_id"],
                sse=ssec if v["ssec"] else None,
            ) as reader:
                data = reader.read()
            assert len(data) == v["size"], v
            assert hashlib.sha256(data).hexdigest() == v["sha256"], v
        # Ranged reads of old chunks (the mount's path).
        big = next(v for v in spec["versions"] if v["key"] == "big.bin")
        whole = store.get_object(OWNER, "sse", "big.bin", version_id=big["version_id"]).read()
        for offset in (0, 4096, 65_530, 100_000, big["size"] - 10):
            part = store.read_range(OWNER, "sse", "big.bin", offset, 9000)
            assert part == whole[offset : offset + 9000]
        # New writes next to the old data, in every kind of domain.
        fresh = {
            ("plain", "new/plain.bin"): (bytes(range(256)) * 1000, None),
            ("sse", "doc.txt"): (b"third version\n" * 5000, None),
            ("kms", "new.txt"): (b"kms data " * 20_000, None),
            ("plain", "new/ssec.bin"): (b"ssec " * 30_000, ssec),
        }
        for (bucket, key), (data, sse) in fresh.items():
            store.put_object(OWNER, bucket, key, data, sse=sse)
        for (bucket, key), (data, sse) in fresh.items():
            assert store.get_object(OWNER, bucket, key, sse=sse).read() == data
        report = store.fsck(OWNER)
        assert report.ok, report.problems
        assert not report.damaged_objects
        # Old chunks stay in format 1, new ones are format 2: fsck reports the mix.
        assert report.chunk_formats.get(1, 0) >= 10 and report.chunk_formats.get(2, 0) >= 4
    # And again after reopening (nothing cached); the store format was upgraded.
    with Store.open(v1_store) as store:
        assert int(store.db.get_meta("format_version")) == FORMAT_VERSION
        assert store.get_object(OWNER, "sse", "doc.txt").read() == b"third version\n" * 5000
        assert store.fsck(OWNER).ok


def test_cli_fsck_reports_the_format_mix(v1_store: Path) -> None:
    objfs = [sys.executable, "-m", "objfs.cli", "--store", str(v1_store)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBJFS_")}
    put = subprocess.run(
        [*objfs, "put", "-", "s3://sse/from-cli"], input=b"new data\n" * 999, env=env,
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    done = subprocess.run([*objfs, "fsck"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "chunks by frame format: v1: " in done.stdout + done.stderr
    done = subprocess.run(
        [*objfs, "fsck", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    record = json.loads(done.stdout)
    assert record["ok"] and record["chunk_formats"]["1"] >= 10 and record["chunk_formats"]["2"] >= 1
