"""One hand-off of a blocking store call to a worker thread, and back.

``trio.to_thread.run_sync`` does more per call than a store call needs: it
names the OS thread for the call and back (two ``pthread_setname_np`` calls,
~4% of a small GET's CPU under load), copies the context variables and
installs what ``trio.from_thread`` needs. ``run_sync`` here takes trio's
own thread cache (``trio.lowlevel.start_thread_soon``) directly: one wake-up
of a cached thread, one ``run_sync_soon`` back to the loop.

Invariants: at most ``limiter``'s total of calls run at once (the task holds
the limiter until its call's result is back); the calling task waits for
the thread even when cancelled (as ``to_thread.run_sync`` without
``abandon_on_cancel``: the store call finishes, nothing is left half-done);
a function that calls ``trio.from_thread`` (one reading a request body) must
go through ``trio.to_thread.run_sync`` instead (``Request.run_upload``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import outcome
import trio

T = TypeVar("T")


async def run_sync(fn: Callable[[], T], limiter: trio.CapacityLimiter) -> T:
    """``fn()`` on a worker thread, at most ``limiter.total_tokens`` at once."""
    async with limiter:
        task = trio.lowlevel.current_task()
        token = trio.lowlevel.current_trio_token()

        def deliver(result: outcome.Outcome[T]) -> None:
            token.run_sync_soon(trio.lowlevel.reschedule, task, result)

        trio.lowlevel.start_thread_soon(fn, deliver)

        def abort(_: Any) -> trio.lowlevel.Abort:
            return trio.lowlevel.Abort.FAILED  # the store call runs to its end

        got: T = await trio.lowlevel.wait_task_rescheduled(abort)
        return got
