"""What a thread hand-off and the GIL cost on this machine (a profiling aid,
not a benchmark).

Usage::

    .venv/bin/python tests/bench/gilprobe.py [--calls N]

Prints, in microseconds per call or calls per second:

* ``hop``: ``trio.to_thread.run_sync`` of a no-op (what a store call in a
  worker thread costs the mount beyond the call), a bare queue + reschedule
  hand-off, and a lock ping-pong between two threads (two wake-ups);
* ``gil``: calls per second of work that releases the GIL (AES-GCM of a
  64 KiB segment, keyed BLAKE3 of it), alone and next to a thread running
  Python, against a copy that keeps the GIL. A call that releases the GIL
  must win it back from the busy thread, which gives it up only every
  switch interval: why sealing threads crawl while the event loop copies
  WRITE payloads with the GIL held (``StoreRunner.solo`` and the closing
  notes of issue 10 cite these figures).
"""

from __future__ import annotations

import argparse
import os
import queue
import threading
import time
from collections.abc import Callable

import blake3
import trio
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEGMENT = 64 << 10


def _noop() -> int:
    return 1


async def _to_thread(n: int) -> float:
    limiter = trio.CapacityLimiter(6)
    t0 = time.perf_counter()
    for _ in range(n):
        await trio.to_thread.run_sync(_noop, limiter=limiter)
    return (time.perf_counter() - t0) / n * 1e6


async def _bare_handoff(n: int) -> float:
    jobs: queue.SimpleQueue[tuple[trio.lowlevel.TrioToken, trio.lowlevel.Task] | None]
    jobs = queue.SimpleQueue()

    def worker() -> None:
        while (job := jobs.get()) is not None:
            token, task = job
            _noop()
            token.run_sync_soon(trio.lowlevel.reschedule, task)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    token = trio.lowlevel.current_trio_token()
    t0 = time.perf_counter()
    for _ in range(n):
        jobs.put((token, trio.lowlevel.current_task()))
        await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.FAILED)
    took = (time.perf_counter() - t0) / n * 1e6
    jobs.put(None)
    thread.join()
    return took


def _ping_pong(n: int) -> float:
    a, b = threading.Lock(), threading.Lock()
    a.acquire()
    b.acquire()

    def other() -> None:
        for _ in range(n):
            a.acquire()
            b.release()

    thread = threading.Thread(target=other)
    thread.start()
    t0 = time.perf_counter()
    for _ in range(n):
        a.release()
        b.acquire()
    took = (time.perf_counter() - t0) / n * 1e6
    thread.join()
    return took


def _rate(fn: Callable[[], object], busy: bool, secs: float = 0.5) -> float:
    """Calls of ``fn`` per second, alone or next to a thread running Python."""
    stop = threading.Event()

    def spin() -> None:
        x = 0
        while not stop.is_set():
            x += 1

    thread = threading.Thread(target=spin) if busy else None
    if thread is not None:
        thread.start()
        time.sleep(0.05)
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < secs:
        fn()
        n += 1
    took = time.perf_counter() - t0
    stop.set()
    if thread is not None:
        thread.join()
    return n / took


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gilprobe.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=20_000, help="hand-offs per hop figure")
    args = p.parse_args(argv)
    n = args.calls
    print(f"hop  trio.to_thread.run_sync(no-op)   {trio.run(_to_thread, n):7.1f} us")
    print(f"hop  queue + reschedule (no-op)       {trio.run(_bare_handoff, n):7.1f} us")
    print(f"hop  lock ping-pong, two threads      {_ping_pong(n):7.1f} us")
    segment = os.urandom(SEGMENT)
    nonce, key = os.urandom(12), os.urandom(32)
    aead = AESGCM(key)
    out = bytearray(SEGMENT + 16)
    probes: list[tuple[str, Callable[[], object]]] = [
        ("AES-GCM encrypt_into 64 KiB", lambda: aead.encrypt_into(nonce, segment, None, out)),
        ("keyed BLAKE3 of 64 KiB", lambda: blake3.blake3(segment, key=key).digest()),
        ("bytes copy of 64 KiB (keeps the GIL)", lambda: bytes(segment)),
    ]
    for name, fn in probes:
        alone, crowded = _rate(fn, False), _rate(fn, True)
        print(f"gil  {name:38s} {alone:10,.0f}/s alone {crowded:10,.0f}/s beside a busy thread")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
