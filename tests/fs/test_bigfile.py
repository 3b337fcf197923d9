"""A big file through the mount: intact, and the daemon's memory stays bounded."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from .support import Mount

pytestmark = pytest.mark.fuse

SIZE_MIB = 512
RSS_LIMIT_MIB = 256  # peak RSS of the daemon (measured ~110 MiB); the file is 512 MiB


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@pytest.mark.slow
def test_copy_big_file_bounded_memory(mnt: Mount, tmp_path: Path) -> None:
    src = tmp_path / "big"
    subprocess.run(
        ["dd", "if=/dev/urandom", f"of={src}", "bs=1M", f"count={SIZE_MIB}", "status=none"],
        check=True,
    )
    assert mnt.proc is not None
    subprocess.run(["cp", str(src), str(mnt.path / "big")], check=True)
    assert (mnt.path / "big").stat().st_size == SIZE_MIB << 20
    subprocess.run(["sh", "-c", "echo 3 > /proc/sys/vm/drop_caches"], check=False)
    assert sha256_of(mnt.path / "big") == sha256_of(src)
    peak = peak_rss_mib(mnt.proc.pid)
    print(f"daemon peak RSS {peak:.0f} MiB")
    assert peak < RSS_LIMIT_MIB, f"daemon peak RSS {peak:.0f} MiB for a {SIZE_MIB} MiB file"
