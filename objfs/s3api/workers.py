"""Several server processes on one listening socket (``objfs serve --workers N``).

The parent makes the listening sockets, then forks ``N`` workers; each is a
full server (its own ``Store`` over the same store, its own event loop and
threads) accepting from the shared sockets, so the kernel spreads
connections over them and a request uses whichever core is free. The store
is built for several processes (SQLite WAL serialises their writers; every
request reads the database as it is now), so nothing is shared in memory.

The parent serves nothing: it waits for every worker to say it listens,
then reports ready once (the start-up lines, ``READY=1`` to systemd); it
forwards SIGTERM/SIGINT to the workers, which stop gracefully (requests in
flight finish), and returns when all have ended. A worker that dies while
not asked to stop is started again (at most ``MAX_RESTARTS`` in
``RESTART_WINDOW`` seconds, else all stop with an error).

Invariants: the parent runs no thread and holds no open store when it
forks (a fork copies only the calling thread: a lock another thread held
would stay held in the child); a worker dies with the parent
(``PR_SET_PDEATHSIG``), so no worker outlives a killed server; only the
parent talks to systemd.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_RESTARTS = 5
RESTART_WINDOW = 60.0
READY_TIMEOUT = 120.0
_PR_SET_PDEATHSIG = 1

Work = Callable[[int, Callable[[], None]], None]


class WorkerError(RuntimeError):
    """A worker could not start (its own message went to stderr)."""


def default_count() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: a killed parent leaves workers
        pass


class Supervisor:
    """Forks and watches the workers; see the module docstring."""

    def __init__(self, count: int, work: Work) -> None:
        self.count = count
        self.work = work  # work(index, ready): serve until SIGTERM, in the worker
        self.children: dict[int, int] = {}  # pid -> worker index
        self.stopping = False
        self.deaths: list[float] = []
        self._ready_r, self._ready_w = os.pipe()

    # -- in the worker -------------------------------------------------------------

    def _child(self, index: int) -> None:
        code = 1
        try:
            os.close(self._ready_r)
            _die_with_parent()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            os.environ.pop("NOTIFY_SOCKET", None)  # the parent speaks to systemd
            ready_w = self._ready_w

            def ready() -> None:
                os.write(ready_w, b"r")

            self.work(index, ready)
            code = 0
        except KeyboardInterrupt:
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:
            message = str(exc).strip().splitlines()
            line = message[0] if message else type(exc).__name__
            print(f"objfs serve: worker {index}: {line}", file=sys.stderr)
            if os.environ.get("OBJFS_DEBUG") == "1" or not isinstance(exc, OSError):
                traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: S110 - exiting: nothing more to tell
                    pass
            os._exit(code)

    # -- in the parent ---------------------------------------------------------------

    def _spawn(self, index: int) -> None:
        pid = os.fork()
        if pid == 0:
            self._child(index)  # never returns
        self.children[pid] = index

    def _forward(self, signum: int, frame: object) -> None:
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _reap(self, block: bool) -> list[tuple[int, int, int]]:
        """Ended workers: (pid, index, exit code; -N: killed by signal N)."""
        out = []
        while self.children:
            try:
                pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            index = self.children.pop(pid, None)
            if index is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            out.append((pid, index, code))
            block = False
        return out

    def _wait_ready(self) -> None:
        """Until every worker listens; WorkerError if one ends first."""
        got = 0
        deadline = time.monotonic() + READY_TIMEOUT
        while got < self.count:
            if self.stopping:
                return
            readable, _, _ = select.select([self._ready_r], [], [], 0.2)
            if readable:
                got += len(os.read(self._ready_r, 64))
            ended = self._reap(block=False)
            if ended:
                _, index, code = ended[0]
                raise WorkerError(f"worker {index} ended before it was ready (exit {code})")
            if time.monotonic() > deadline:
                raise WorkerError(f"the workers were not ready in {READY_TIMEOUT:.0f} s")

    def run(self, on_ready: Callable[[], None]) -> int:
        """Start the workers, report ready, supervise; the exit status."""
        if threading.active_count() > 1:  # the invariant: a fork copies only this thread
            raise WorkerError(
                "cannot start workers: this process runs other threads "
                f"({', '.join(t.name for t in threading.enumerate())})"
            )
        old = {s: signal.signal(s, self._forward) for s in (signal.SIGTERM, signal.SIGINT)}
        status = 0
        try:
            for index in range(self.count):
                self._spawn(index)
            if self.stopping:  # a signal while forking: those forked after it too
                self._forward(signal.SIGTERM, None)
            os.close(self._ready_w)  # the workers hold theirs
            self._ready_w = -1
            try:
                self._wait_ready()
            except WorkerError:
                self._forward(signal.SIGTERM, None)
                raise
            if not self.stopping:
                on_ready()
            while self.children:
                for _pid, index, code in self._reap(block=True):
                    if self.stopping:
                        status = status or (code if code > 0 else 0)
                        continue
                    log.warning("worker %d ended (exit %d): starting it again", index, code)
                    now = time.monotonic()
                    self.deaths = [t for t in self.deaths if now - t < RESTART_WINDOW] + [now]
                    if len(self.deaths) > MAX_RESTARTS:
                        log.error("workers keep ending: stopping the server")
                        self._forward(signal.SIGTERM, None)
                        status = 1
                        continue
                    self._respawn(index)
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
            os.close(self._ready_r)
            if self._ready_w >= 0:
                os.close(self._ready_w)
        return status

    def _respawn(self, index: int) -> None:
        # A fresh pipe: the first one's write ends are closed (the parent
        # waits for no one's readiness any more; the worker's note is unread).
        old = self._ready_r
        self._ready_r, self._ready_w = os.pipe()
        self._spawn(index)
        os.close(self._ready_w)
        self._ready_w = -1
        os.close(old)
