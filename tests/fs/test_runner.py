"""objfs/fs/runner.py helpers the mount's request path leans on.

``QuickLock``: an open file's lock taken without a scheduler round when free,
and waited for in order when held (the writes, truncates and commits of an
open file stay serialized). ``ctx_with``: request-context variants made once
per context and options, each the context ``with_options`` would make.
``Traffic`` / ``StoreRunner.solo``: a short call runs on the loop's thread
only while one request is served alone, never while requests overlap.
"""

from __future__ import annotations

import threading

import pytest
import trio
import trio.testing

from objfs.auth.identity import Identity
from objfs.fs import runner
from objfs.fs.runner import QuickLock, StoreRunner, ctx_with, fuse_handler
from objfs.store.types import OWNER_IDENTITY, RequestContext


def test_a_free_quicklock_is_taken_without_a_checkpoint() -> None:
    # Inside a cancelled scope every checkpoint raises Cancelled: a trio.Lock
    # would, taking a free QuickLock does not (no scheduler round).
    taken: list[str] = []

    async def main() -> None:
        lock = QuickLock()
        with trio.CancelScope() as scope:
            scope.cancel()
            async with lock:
                assert lock.locked()
            assert not lock.locked()
            taken.append("quick")
            async with trio.Lock():
                taken.append("trio")
        assert scope.cancelled_caught

    trio.run(main)
    assert taken == ["quick"]


def test_a_held_quicklock_is_waited_for_in_turn() -> None:
    log: list[tuple[str, int]] = []

    async def worker(lock: QuickLock, n: int) -> None:
        async with lock:
            log.append(("in", n))
            await trio.sleep(0.01)  # holds it across a checkpoint
            log.append(("out", n))

    async def main() -> None:
        lock = QuickLock()
        async with trio.open_nursery() as nursery:
            for n in range(4):
                nursery.start_soon(worker, lock, n)
                await trio.sleep(0)  # each starts and queues in this order

    trio.run(main)
    assert log == [(step, n) for n in range(4) for step in ("in", "out")]


def test_a_cancelled_wait_for_a_quicklock_leaves_it_usable() -> None:
    async def main() -> None:
        lock = QuickLock()
        async with lock:
            with trio.move_on_after(0.01) as scope:
                async with trio.open_nursery() as nursery:

                    async def waiter() -> None:
                        async with lock:
                            raise AssertionError("got a held lock")

                    nursery.start_soon(waiter)
                    await trio.sleep(1)
            assert scope.cancelled_caught
        async with lock:  # released, no waiter left behind
            assert lock.locked()

    trio.run(main)


def test_ctx_with_makes_each_variant_once_and_as_with_options_does() -> None:
    ctx = RequestContext(OWNER_IDENTITY, "mount", durable=False)
    nowait = ctx_with(ctx, nowait=True)
    assert nowait == ctx.with_options(nowait=True)
    assert nowait is ctx_with(ctx, nowait=True)
    assert ctx_with(ctx, durable=True) == ctx.with_options(durable=True)
    assert ctx_with(ctx, log=False) == ctx.with_options(log=False)
    assert ctx_with(ctx, durable=True) is not ctx_with(ctx, nowait=True)


def test_ctx_with_keeps_contexts_apart() -> None:
    alice = RequestContext(Identity.user("alice", "a" * 64), "mount", durable=False)
    bob = RequestContext(Identity.user("bob", "b" * 64), "mount", durable=False)
    assert ctx_with(alice, nowait=True).identity == alice.identity
    assert ctx_with(bob, nowait=True).identity == bob.identity
    # an equal but distinct context gets a variant of its own values
    twin = RequestContext(Identity.user("alice", "a" * 64), "mount", durable=False, log=False)
    assert ctx_with(twin, nowait=True).log is False
    assert ctx_with(alice, nowait=True).log is True


class _Ops:
    """The part of ObjfsOperations ``fuse_handler`` and ``solo`` look at."""

    def __init__(self) -> None:
        self.run = StoreRunner(store=None, threads=4)
        self.traffic = self.run.traffic
        self.threads: list[int] = []

    def _where(self) -> int:
        return threading.get_ident()

    @fuse_handler
    async def read(self, gate: trio.Event | None = None) -> None:
        if gate is not None:
            await gate.wait()
        self.threads.append(await self.run.solo(self._where))


def test_a_lone_request_runs_its_call_on_the_loop_thread_after_one_probe() -> None:
    ops = _Ops()

    async def main() -> int:
        for _ in range(20):
            await ops.read()
        return threading.get_ident()

    loop = trio.run(main)
    # The first call is a probe (a hop that lets a second caller show up);
    # the next ones, within PROBE_S, stay on the loop's thread.
    assert ops.threads[0] != loop
    assert ops.threads[1:].count(loop) >= 15
    assert ops.traffic.active == 0


def test_overlapping_requests_hop_to_worker_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    ops = _Ops()
    monkeypatch.setattr(runner, "PROBE_S", 3600.0)

    async def main() -> int:
        await ops.read()  # the probe
        await ops.read()
        assert ops.threads[-1] == threading.get_ident()  # alone: inline
        gate = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ops.read, gate)
            nursery.start_soon(ops.read, gate)
            await trio.testing.wait_all_tasks_blocked()
            assert ops.traffic.active == 2
            gate.set()
        # Shared for SHARED_S after the overlap, even one request at a time.
        await ops.read()
        return threading.get_ident()

    loop = trio.run(main)
    assert loop not in ops.threads[2:]
    assert ops.traffic.active == 0


def test_traffic_is_alone_again_after_the_shared_window(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(runner.time, "monotonic", lambda: now[0])
    t = runner.Traffic()
    t.enter()
    assert not t.alone()  # a probe first
    assert t.alone()
    t.enter()  # a second request while the first is in progress
    assert not t.alone()
    t.leave()
    assert not t.alone()  # still within SHARED_S of the overlap
    now[0] += runner.SHARED_S + 0.001
    assert not t.alone()  # the probe fell due meanwhile
    assert t.alone()
    now[0] += runner.PROBE_S
    assert not t.alone()  # and falls due every PROBE_S
    t.leave()
    assert t.active == 0
    t.enter()
    assert t.alone()
