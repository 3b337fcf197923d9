"""Server access logs through a real mount: what one FUSE session costs in records.

What a user would notice in the log: reading a multi-chunk file with ``cat``
is one ``REST.GET.OBJECT`` (not one per block), copying a file in is one
``REST.PUT.OBJECT``, and ``stat`` of a file the kernel has cached adds
nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from objfs.store import OWNER, Store
from objfs.store.logquery import query_access_logs

from .support import Mount


def records(store_path: Path) -> list[tuple[str, str | None, int]]:
    with Store.open(store_path) as store:
        store.flush_access_logs(OWNER)
        quiet = OWNER.with_options(log=False)
        return [
            (r.operation, r.key, r.http_status)
            for r in query_access_logs(store, quiet, "plain", "logs/")
        ]


def test_open_and_read_is_one_get_and_a_write_one_put(
    fs_store: Path, mounter: Callable[..., Mount], tmp_path: Path
) -> None:
    with Store.open(fs_store) as store:
        store.put_bucket_logging(OWNER, "vers", "plain", "logs/")
        big = os.urandom(5 * (1 << 20) + 123)  # five chunks and a bit
        store.put_object(OWNER, "vers", "big.bin", big)
    mnt = mounter()
    (tmp_path / "src.txt").write_bytes(b"hello\n" * 1000)
    with open(mnt.path / "big.bin", "rb") as f:
        assert f.read() == big
    shutil.copyfile(tmp_path / "src.txt", mnt.path / "copy.txt")
    os.stat(mnt.path / "big.bin")
    before = records(fs_store)
    for _ in range(3):
        os.stat(mnt.path / "big.bin")  # cached attributes: no request
    subprocess.run(["sync"], check=True)
    mnt.stop()
    after = records(fs_store)
    counts = Counter(after)
    assert counts[("REST.GET.OBJECT", "big.bin", 200)] == 1
    assert counts[("REST.PUT.OBJECT", "copy.txt", 200)] == 1
    assert [r for r in counts - Counter(before) if r[1] == "big.bin"] == []


def test_mount_start_and_a_new_name_log_only_the_write(
    fs_store: Path, mounter: Callable[..., Mount], tmp_path: Path
) -> None:
    """The mount's own probes (its start-up bucket check, the lookup that finds a
    name free before ``create``) are not requests of the log: copying a file in
    is one PUT."""
    with Store.open(fs_store) as store:
        store.put_bucket_logging(OWNER, "vers", "plain", "logs/")
    mnt = mounter()
    (mnt.path / "new.txt").write_bytes(b"fresh\n")
    subprocess.run(["sync"], check=True)
    mnt.stop()
    assert Counter(records(fs_store)) == Counter({("REST.PUT.OBJECT", "new.txt", 200): 1})
