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

# The journal has a "try" line before each file is opened and a "done" line
# once its close returned: at most one file (the last "try") is in flight when
# the daemon dies, so what each file must hold afterwards is known exactly.
WRITER = r"""
import hashlib, json, os, sys
root, journal = sys.argv[1], sys.argv[2]
with open(journal, "a") as log:
    for i in range(100000):
        data = hashlib.sha256(str(i).encode()).digest() * (1 + (i * 7919) % 40000)
        name = f"f{i % 300}"
        digest = hashlib.sha256(data).hexdigest()
        log.write(json.dumps(["try", name, digest]) + "\n")
        log.flush()
        path = os.path.join(root, name)
        try:
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
            os.write(fd, data)
            if i % 5 == 0:
                os.fsync(fd)
            os.close(fd)
        except OSError:
            break
        log.write(json.dumps(["done", name, digest]) + "\n")
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
        not journal.exists() or journal.read_text().count("done") < 150
    ) and time.monotonic() < deadline:
        time.sleep(0.05)
    m.kill()  # SIGKILL mid-write, then fusermount3 -uz
    writer.wait(timeout=60)
    done: dict[str, str] = {}
    in_flight: tuple[str, str] | None = None
    for line in journal.read_text().splitlines():
        tag, name, digest = json.loads(line)
        if tag == "done":
            done[name] = digest  # the last close that returned wins
            in_flight = None
        else:
            in_flight = (name, digest)
    assert len(done) >= 100

    def digests(versions: list[object]) -> list[str]:
        out = []
        for v in versions:
            with store.get_object(OWNER, "vers", v.key, version_id=v.version_id) as r:
                out.append(hashlib.sha256(r.read()).hexdigest())
        return out

    store = Store.open(m.store)
    try:
        report = store.fsck(OWNER)
        assert report.ok, report.problems
        for name, digest in done.items():
            history = digests(store.key_versions(OWNER, "vers", name))
            if in_flight is not None and name == in_flight[0] and history[0] == in_flight[1]:
                # The file in flight may have committed before the daemon died
                # (its close never returned): then the one before is the last done.
                history = [d for d in history if d != in_flight[1]]
            assert history[0] == digest, name
            assert store.head_object(OWNER, "vers", name).size > 0
    finally:
        store.close()

    m.start()  # remount: the same files through the mount, exactly
    names = [n for n in done if in_flight is None or n != in_flight[0]]
    for name in names[:50]:
        assert hashlib.sha256((m.path / name).read_bytes()).hexdigest() == done[name], name


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
        report = store.fsck(OWNER)
        assert report.ok, report.problems
        assert report.inline_chunks >= len(bodies)
        for name, body in bodies.items():
            assert store.get_object(OWNER, "vers", name).read() == body, name
    finally:
        store.close()
    m.start()
    for name, body in bodies.items():
        assert (m.path / name).read_bytes() == body
