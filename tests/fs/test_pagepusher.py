"""``PagePusher``'s threads: a fence waits out a store in progress for its
inode (whichever thread stores), and queued pushes of a fenced inode are
dropped; a store still waiting at close is ended by the daemon's abort of
the FUSE connection. The store here is a plain function standing in for
``pyfuse3.notify_store`` (the mount tests in test_pagecache use the kernel's);
the abort itself is tried on a real mount."""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from needs_root import require_root

from objfs.fs import daemon, pagecache
from objfs.fs.pagecache import PagePusher

from .support import Mount


@dataclass
class _Node:
    ino: int
    push_epoch: int = 0


def test_a_fence_waits_for_a_worker_threads_store_in_progress() -> None:
    entered, release = threading.Event(), threading.Event()
    stored: list[tuple[int, int, bytes]] = []

    def store(ino: int, offset: int, data: bytes) -> None:
        entered.set()
        release.wait(10)
        stored.append((ino, offset, bytes(data)))

    pusher = PagePusher(store=store)
    node, other = _Node(5), _Node(6)
    worker = threading.Thread(target=pusher.store_now, args=(node, 0, 4096, b"x" * 10))
    worker.start()
    assert entered.wait(10)
    assert not pusher.fence_nowait(node)  # a store is in progress
    assert pusher.fence_nowait(other)  # none for another inode
    done = threading.Event()

    def fence() -> None:
        pusher.wait_idle(node.ino)
        done.set()

    waiter = threading.Thread(target=fence)
    waiter.start()
    time.sleep(0.1)
    assert not done.is_set()  # still storing
    release.set()
    assert done.wait(10)
    assert stored == [(5, 4096, b"x" * 10)]
    # The epoch moved: a push read before the fence is dropped, a later one goes.
    pusher.store_now(node, 0, 0, b"old")
    pusher.store_now(node, node.push_epoch, 0, b"new")
    assert stored[1:] == [(5, 0, b"new")]
    worker.join(10)
    waiter.join(10)
    pusher.close()


def test_queued_pushes_are_stored_in_order_unless_fenced() -> None:
    stored: list[tuple[int, int]] = []
    both = threading.Event()

    def store(ino: int, offset: int, data: bytes) -> None:
        stored.append((ino, offset))
        if len(stored) == 2:
            both.set()

    pusher = PagePusher(store=store)
    a, b = _Node(1), _Node(2)
    epoch_b = b.push_epoch
    pusher.fence_nowait(b)  # b's push below was read before this fence
    assert pusher.push(a, a.push_epoch, 0, b"a0")
    assert pusher.push(b, epoch_b, 0, b"b0")
    assert pusher.push(a, a.push_epoch, 4096, b"a1")
    assert both.wait(10)
    pusher.wait_idle(a.ino)
    pusher.close()
    assert stored == [(1, 0), (1, 4096)]
    assert pusher.pushed == 4 and pusher.dropped == 2


def test_a_store_still_waiting_at_close_is_ended_by_on_stuck(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A store waiting on a page whose READ the ended loop never answers: the
    # daemon's on_stuck aborts the FUSE connection, which makes it return.
    monkeypatch.setattr(pagecache, "JOIN_TIMEOUT", 0.2)
    entered, aborted = threading.Event(), threading.Event()

    def store(ino: int, offset: int, data: bytes) -> None:
        entered.set()
        if not aborted.wait(10):
            return
        raise OSError(errno.ENOTCONN, "aborted")

    pusher = PagePusher(store=store)
    node = _Node(7)
    assert pusher.push(node, 0, 0, b"x" * 4096)
    assert entered.wait(10)
    t0 = time.monotonic()
    pusher.close(on_stuck=aborted.set)
    assert aborted.is_set()
    assert pusher._thread is not None and not pusher._thread.is_alive()
    assert time.monotonic() - t0 < 5
    assert pusher.dropped == 4096


def test_abort_connection_ends_a_real_mount(mounter: Callable[..., Mount]) -> None:
    require_root("aborting a FUSE connection is root's (fusectl)")
    m = mounter(bucket="plain")
    (m.path / "f").write_bytes(b"x")
    st = os.stat(m.path)
    device = daemon.mount_device(str(m.path))
    assert device == f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    assert daemon.abort_connection(device)
    with pytest.raises(OSError) as err:
        os.stat(m.path / "f")
    assert err.value.errno == errno.ENOTCONN
    assert m.proc is not None and m.proc.wait(30) == 0  # the daemon ends
