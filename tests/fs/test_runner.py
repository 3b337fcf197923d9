"""objfs/fs/runner.py helpers the mount's request path leans on.

``QuickLock``: an open file's lock taken without a scheduler round when free,
and waited for in order when held (the writes, truncates and commits of an
open file stay serialized). ``ctx_with``: request-context variants made once
per context and options, each the context ``with_options`` would make.
"""

from __future__ import annotations

import trio

from objfs.auth.identity import Identity
from objfs.fs.runner import QuickLock, ctx_with
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
