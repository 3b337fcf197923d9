"""Helpers for the mount tests: a daemon handle and a shell-tool runner.

Invariants: ``Mount.stop`` always leaves the mountpoint unmounted and the
daemon gone (``fusermount3 -u``, then ``-uz``, then SIGKILL).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

MOUNT_TIMEOUT = 30.0


class Mount:
    """One running daemon serving ``bucket`` on ``path``."""

    def __init__(self, store: Path, bucket: str, path: Path, log: Path, options: str) -> None:
        self.store = store
        self.bucket = bucket
        self.path = path
        self.log = log
        self.options = options
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mount:
        opts = ",".join(filter(None, [f"log={self.log}", self.options]))
        cmd = [
            sys.executable,
            "-m",
            "objfs.fs.daemon",
            "--store",
            str(self.store),
            self.bucket,
            str(self.path),
            "-o",
            opts,
        ]
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not os.path.ismount(self.path):
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"mount did not appear:\n{self.log_text()}")
            time.sleep(0.05)
        return self

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> int | None:
        """Unmount and wait for the daemon; returns its exit status."""
        proc = self.proc
        if os.path.ismount(self.path):
            subprocess.run(["fusermount3", "-u", str(self.path)], capture_output=True)
        if proc is not None:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                subprocess.run(["fusermount3", "-uz", str(self.path)], capture_output=True)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if os.path.ismount(self.path):
            subprocess.run(["fusermount3", "-uz", str(self.path)], capture_output=True)
        self.proc = None
        return None if proc is None else proc.returncode

    def kill(self) -> None:
        """SIGKILL the daemon and detach the dead mount (a crash)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        subprocess.run(["fusermount3", "-uz", str(self.path)], capture_output=True)
        self.proc = None

    def problems(self) -> list[str]:
        return [
            line
            for line in self.log_text().splitlines()
            if any(mark in line for mark in ("Traceback", " WARNING ", " ERROR ", " CRITICAL "))
        ]


def run(cmd: str | list[str], cwd: Path | None = None, check: bool = True) -> str:
    """Run a shell tool; on failure show its output."""
    result = subprocess.run(
        cmd, shell=isinstance(cmd, str), cwd=cwd, capture_output=True, text=True, timeout=300
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{cmd!r} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def drop_page_cache(path: Path) -> None:
    """Drop the kernel's page cache of ``path`` (the next reads ask the daemon)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
