"""Crash safety: SIGKILL the daemon while files are being written; every file
whose close (or fsync) returned is intact afterwards and fsck is clean."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from objfs.store import OWNER, Store

from .support import Mount

pytestmark = pytest.mark.fuse

WRITER = r"""
import hashlib, json, os, sys
root, journal = sys.argv[1], sys.argv[2]
with open(journal, "a") as log:
    for i in range(100000):
        data = hashlib.sha256(str(i).encode()).digest() * (1 + (i * 7919) % 40000)
        path = os.path.join(root, f"f{i % 300}")
        try:
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
            os.write(fd, data)
            if i % 5 == 0:
                os.fsync(fd)
            os.close(fd)
        except OSError:
            break
        log.write(json.dumps([f"f{i % 300}", hashlib.sha256(data).hexdigest()]) + "\n")
        log.flush()
"""


def test_sigkill_while_writing(mounter: Callable[..., Mount], tmp_path: Path) -> None:
    m = mounter()
    journal = tmp_path / "journal"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(m.path), str(journal)], stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while (
        not journal.exists() or journal.read_text().count("\n") < 150
    ) and time.monotonic() < deadline:
        time.sleep(0.05)
    m.kill()  # SIGKILL mid-write, then fusermount3 -uz
    writer.wait(timeout=60)
    done: dict[str, str] = {}
    for line in journal.read_text().splitlines():
        name, digest = json.loads(line)
        done[name] = digest  # the last close that returned wins
    assert len(done) >= 100

    store = Store.open(m.store)
    try:
        report = store.fsck()
        assert report.ok, report.problems
        for name, digest in done.items():
            info = store.head_object(OWNER, "vers", name)
            with store.get_object(OWNER, "vers", name) as reader:
                body = reader.read()
            # The writer may have got further than its journal (killed between
            # close and journal write): then the next version is the newest.
            if hashlib.sha256(body).hexdigest() != digest:
                older = [v for v in store.key_versions(OWNER, "vers", name)[1:2]]
                assert older, name
                with store.get_object(OWNER, "vers", name, version_id=older[0].version_id) as r:
                    assert hashlib.sha256(r.read()).hexdigest() == digest, name
            assert info.size == len(body)
    finally:
        store.close()

    m.start()  # remount: the same files through the mount
    for name, digest in list(done.items())[:50]:
        body = (m.path / name).read_bytes()
        versions = sorted((m.path / ".versions" / name).iterdir())
        assert hashlib.sha256(body).hexdigest() == digest or any(
            hashlib.sha256(v.read_bytes()).hexdigest() == digest for v in versions[-2:]
        )


def test_sigkill_after_small_files_closed(mounter: Callable[..., Mount]) -> None:
    # Small files live inline in the database: they survive like the rest.
    m = mounter()
    bodies = {
        f"small/f{i:03d}": hashlib.sha256(str(i).encode()).digest() * (1 + i) for i in range(200)
    }
    (m.path / "small").mkdir()
    for name, body in bodies.items():
        (m.path / name).write_bytes(body)  # close returned: acknowledged
    m.kill()
    store = Store.open(m.store)
    try:
        report = store.fsck()
        assert report.ok, report.problems
        assert report.inline_chunks >= len(bodies)
        for name, body in bodies.items():
            assert store.get_object(OWNER, "vers", name).read() == body, name
    finally:
        store.close()
    m.start()
    for name, body in bodies.items():
        assert (m.path / name).read_bytes() == body
