"""A disk filled to the last byte never locks the store (issue 19, item 7).

The store lives on a small loop-mounted ext4 (root only; fails instead of
skipping under CI). It is filled as a user would fill it: objects of
shrinking sizes, then empty objects, until even those are refused; then
another program takes every byte that is left. From there every interface
must still delete (the CLI's ``rm``, HTTP DeleteObject and DeleteObjects,
``rm`` in a mount), ``gc`` and ``fsck --repair`` must work and free the
space, every process that exits cleanly drops its writer lease, and new
writes work again afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from objfs.errors import StoreFull
from objfs.store import OWNER, Store
from objfs.store.space import RESERVE_BYTES, RESERVE_NAME
from tests.needs_root import cannot_run, require_root
from tests.s3api.support import Key, Server, client

from .support import Mount

OBJFS = Path(sys.executable).with_name("objfs")
MiB = 1 << 20
FS_SIZE = 64 * MiB
SIZES = (4 * MiB, MiB, 256 << 10, 64 << 10, 16 << 10, 4096, 1024, 256, 16, 0)
FULL_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@contextlib.contextmanager
def loop_ext4(where: Path, size: int) -> Iterator[Path]:
    """A fresh ext4 of ``size`` bytes mounted on ``where/disk`` (no root reserve:
    its last byte is the last byte for root too)."""
    require_root("a loop-mounted ext4 needs root")
    if shutil.which("mkfs.ext4") is None:
        cannot_run("mkfs.ext4 is not installed (e2fsprogs)")
    image, mountpoint = where / "disk.img", where / "disk"
    mountpoint.mkdir()
    with open(image, "wb") as f:
        f.truncate(size)
    made = subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], capture_output=True, text=True
    )
    if made.returncode != 0:
        cannot_run(f"mkfs.ext4 failed: {made.stderr.strip()}")
    done = subprocess.run(
        ["mount", "-o", "loop", str(image), str(mountpoint)], capture_output=True, text=True
    )
    if done.returncode != 0:
        cannot_run(f"cannot mount a loop ext4 here: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)
        image.unlink()


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def objfs(store: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OBJFS), "--store", str(store), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def fill_with_objects(store_dir: Path) -> dict[int, int]:
    """Objects of shrinking sizes, then empty ones, until even those are refused."""
    fits: dict[int, int] = {}
    fast = OWNER.with_options(durable=False)
    with Store.open(store_dir) as store:
        for size in SIZES:
            n = 0
            with contextlib.suppress(StoreFull):
                while n < 100_000:
                    store.put_object(fast, "bkt", f"s{size}/{n}", os.urandom(size))
                    n += 1
            fits[size] = n
    return fits


def fill_the_rest(path: Path) -> int:
    """Another program takes every byte left on the disk (to ENOSPC)."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        for piece in (MiB, 4096, 1):
            with contextlib.suppress(OSError):  # ext4 reserves blocks at write(): ENOSPC here
                while True:
                    written += f.write(b"\xff" * piece)
        os.fsync(f.fileno())
    return written


def live_leases(store_dir: Path) -> list[str]:
    with contextlib.closing(
        sqlite3.connect(f"file:{store_dir / 'meta.db'}?mode=ro", uri=True)
    ) as db:
        return [row[0] for row in db.execute("SELECT holder FROM leases")]


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("objfs: "), done.stderr
    return lines[0]


# OBJFS_MIN_FREE: the default (64 MiB at least) is the whole of this disk; with
# no floor at all the store fills the disk itself, and the reserve alone saves it.
@pytest.mark.parametrize("floor", ["4M", "0"])
def test_a_disk_full_to_the_last_byte_still_deletes_gcs_and_writes_again(
    fuse_ok: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, floor: str
) -> None:
    monkeypatch.setenv("OBJFS_MIN_FREE", floor)
    monkeypatch.setenv("OBJFS_RESERVE", str(RESERVE_BYTES))  # the default, not the suite's
    with loop_ext4(tmp_path, FS_SIZE) as disk:
        store_dir = disk / "store"
        with Store.init(store_dir) as store:
            store.create_bucket(OWNER, "bkt")
            store.create_user(OWNER, "web")
            store.put_user_policy(OWNER, "web", "all", json.dumps(FULL_ACCESS))
            new = store.create_access_key(OWNER, "web")
        server = Server(store_dir, log=tmp_path / "serve.log")
        mount = Mount(store_dir, "bkt", tmp_path / "mnt", tmp_path / "mnt.log", "")
        (tmp_path / "mnt").mkdir()
        try:
            web = client(server.endpoint, Key("web", new.info.key_id, new.secret))
            mount.start()
            # Both hold a writer lease from a write made while there was room.
            web.put_object(Bucket="bkt", Key="from-http", Body=os.urandom(100_000))
            (mount.path / "from-mount").write_bytes(os.urandom(100_000))

            fits = fill_with_objects(store_dir)
            filler = fill_the_rest(disk / "filler")
            print(f"objects that fit per size: {fits}; the filler took {filler} bytes")
            assert fits[4 * MiB] >= 5, fits
            assert free_bytes(disk) < 4096, "the disk is not full"

            # New data is refused, clearly, through every interface.
            refused = one_line_error(
                objfs(store_dir, "put", "-", "s3://bkt/new", stdin="x" * 100_000)
            )
            assert "free" in refused or "space" in refused, refused
            with pytest.raises(ClientError) as http_err:
                web.put_object(Bucket="bkt", Key="new", Body=b"x" * 100_000)
            assert http_err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 507
            with pytest.raises(OSError) as fs_err:
                (mount.path / "new").write_bytes(b"x" * 100_000)
            assert fs_err.value.errno == errno.ENOSPC
            print(f"CLI: {refused}\nHTTP: {http_err.value}\nmount: {fs_err.value}")

            # Deletes work through every interface.
            big = [f"s{4 * MiB}/{i}" for i in range(5)]
            rm = objfs(store_dir, "rm", f"s3://bkt/{big[0]}")
            assert rm.returncode == 0, rm.stderr
            web.delete_object(Bucket="bkt", Key=big[1])
            done = web.delete_objects(
                Bucket="bkt", Delete={"Objects": [{"Key": big[2]}, {"Key": big[3]}]}
            )
            assert not done.get("Errors"), done
            os.unlink(mount.path / big[4])
            web.delete_object(Bucket="bkt", Key="from-http")
            os.unlink(mount.path / "from-mount")
        finally:
            assert mount.stop() == 0, mount.log_text()
            assert server.stop() == 0, server.stderr()

        # Every process that exited cleanly dropped its writer lease.
        assert live_leases(store_dir) == []
        with Store.open(store_dir) as store:
            keys = {v.key for v in store.iter_objects(OWNER, "bkt")}  # type: ignore[union-attr]
        assert keys.isdisjoint([*big, "from-http", "from-mount"]), keys
        assert f"s{4 * MiB}/5" in keys
        reserve = store_dir / RESERVE_NAME  # a delete or a lease's drop took it, most likely

        # fsck --repair on the full disk: its gc frees what the deletes left,
        # and the reserve is made again.
        before = free_bytes(disk)
        fsck = objfs(store_dir, "fsck", "--repair", "--json")
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
        assert json.loads(fsck.stdout)["chunks_removed"] >= 5 * 4
        after = free_bytes(disk)
        print(f"fsck --repair: free {before} -> {after} bytes, the reserve made again")
        assert after >= before + 5 * 4 * MiB - RESERVE_BYTES
        assert reserve.stat().st_size == RESERVE_BYTES

        # Full to the last byte once more (with the reserve back): delete, then
        # gc on the full disk.
        fill_the_rest(disk / "filler-2")
        assert free_bytes(disk) < 4096, "the disk is not full"
        rm = objfs(store_dir, "rm", "-r", f"s3://bkt/s{4 * MiB}/")  # the 4 MiB objects left
        assert rm.returncode == 0, rm.stderr
        before = free_bytes(disk)
        gc = objfs(store_dir, "gc", "--grace", "0", "--json")
        assert gc.returncode == 0, gc.stderr
        freed = json.loads(gc.stdout)["bytes_freed"]
        print(f"gc: freed {freed} bytes; free {before} -> {free_bytes(disk)}")
        assert freed >= (fits[4 * MiB] - 5) * 4 * MiB
        assert reserve.stat().st_size == RESERVE_BYTES

        # Room again: new data is taken and reads back.
        body = os.urandom(3 * MiB)
        (tmp_path / "body").write_bytes(body)
        put = objfs(store_dir, "put", str(tmp_path / "body"), "s3://bkt/again")
        assert put.returncode == 0, put.stderr
        got = objfs(store_dir, "get", "s3://bkt/again", str(tmp_path / "back"))
        assert got.returncode == 0, got.stderr
        assert (tmp_path / "back").read_bytes() == body
        assert live_leases(store_dir) == []
