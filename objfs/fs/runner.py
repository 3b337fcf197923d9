"""How the mount calls the store, and how handler errors reach the kernel.

Owns two rules of the FUSE layer:

* every store call runs in a worker thread (``trio.to_thread.run_sync``)
  bounded by one ``CapacityLimiter``, so the trio thread that serves FUSE
  requests never blocks on SQLite, hashing or AES-GCM; except a short
  metadata call run by ``StoreRunner.nowait``: on the trio thread, with
  ``RequestContext.nowait`` set, so the store refuses (``WouldBlock``)
  rather than wait for another writer or an fsync, and only then in a
  worker thread (a hop costs more than such a call: an unlink's delete
  took ~1.35 ms with the hop against ~0.67 ms without, under load);
* except, too, a short blocking call made by ``StoreRunner.solo`` while the
  mount serves one request at a time (``Traffic``): on the trio thread, as
  a plain passthrough would. A hop to a worker thread and back wakes four
  threads on this 2-core VM (the hand-off, the GIL both ways, the trio
  wake-up) and cost 120-160 µs, more than the 64 KiB ``pread`` and decrypt
  of a random read (2,800 -> 3,700-4,200 cold random 4 KiB reads/s);
* every FUSE handler is wrapped by ``fuse_handler``: ``FUSEError`` passes,
  an ``ObjfsError`` becomes ``FUSEError(err.errno)``, anything else is
  logged with its traceback and becomes EIO. Nothing else escapes, because
  an escaping exception tears down ``pyfuse3.main`` and the mount with it.
  Damaged stored data (``IntegrityError``, EIO) is logged as a warning: the
  reader only sees EIO, the log says which chunk or block. An object the
  mount holds no key for arrives here as ``AccessDenied`` (EACCES), never as
  ``InvalidRequest``: ``encryption`` converts those refusals before.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import errno
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import pyfuse3
import trio

from objfs.errors import IntegrityError, ObjfsError
from objfs.store import WouldBlock
from objfs.store.types import OWNER_IDENTITY, RequestContext

if TYPE_CHECKING:
    from objfs.store import Store

log = logging.getLogger("objfs.fs")

P = ParamSpec("P")
T = TypeVar("T")

# Without profile=/credentials_file=/user_map= the mount acts as the store owner.
MOUNT_CTX = RequestContext(OWNER_IDENTITY, "mount", durable=False)

# The identity of the FUSE request a trio task is serving: set by fuse_handler
# for every request (from the caller's uid/gid, or the file handle's opener),
# read by every store call of the mount (``caller()``). Worker threads see it
# too: trio.to_thread.run_sync runs in a copy of the task's context.
CALLER: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "objfs_caller", default=MOUNT_CTX
)
# Handlers whose first argument is a file handle: they act as its opener.
FH_HANDLERS = frozenset(
    {"read", "write", "flush", "fsync", "release", "readdir", "releasedir", "fsyncdir"}
)


def caller(*, durable: bool = False) -> RequestContext:
    """The ``RequestContext`` of the request being served (``durable`` per call)."""
    ctx = CALLER.get()
    return ctx_with(ctx, durable=True) if durable else ctx


# (id(ctx), durable, log, nowait) -> (ctx, ctx with those options)
_VARIANTS: dict[
    tuple[int, bool | None, bool | None, bool | None], tuple[RequestContext, RequestContext]
] = {}


def ctx_with(
    ctx: RequestContext,
    *,
    durable: bool | None = None,
    log: bool | None = None,
    nowait: bool | None = None,
) -> RequestContext:
    """``ctx.with_options(...)``, made once per context and options: a mount's
    requests act as a handful of contexts, and a dataclass copy per store call
    costs more than the call's own Python (a small file's commit took two)."""
    key = (id(ctx), durable, log, nowait)
    hit = _VARIANTS.get(key)
    if hit is not None and hit[0] is ctx:
        return hit[1]
    made = ctx.with_options(durable=durable, log=log, nowait=nowait)
    if len(_VARIANTS) >= 1024:
        _VARIANTS.clear()
    _VARIANTS[key] = (ctx, made)  # keeps ctx alive: its id stays its own
    return made


# Traffic: how long one overlap of two requests keeps calls in worker threads,
# and how often a lone caller's calls hop anyway to look for others.
SHARED_S = 0.05
PROBE_S = 0.02


class Traffic:
    """Whether the mount serves one request at a time (trio thread only).

    ``fuse_handler`` counts the handlers in progress. A request that starts
    while another is in progress marks the traffic *shared* for ``SHARED_S``.
    A call made inline blocks the loop, so requests queued meanwhile are
    never seen overlapping: every ``PROBE_S`` a lone caller's call hops
    anyway, and a second caller's request then starts during the hop.
    """

    __slots__ = ("active", "shared_until", "probe_at")

    def __init__(self) -> None:
        self.active = 0
        self.shared_until = 0.0
        self.probe_at = 0.0

    def enter(self) -> None:
        if self.active:
            self.shared_until = time.monotonic() + SHARED_S
        self.active += 1

    def leave(self) -> None:
        self.active -= 1

    def alone(self) -> bool:
        """True when the request being served may block the loop for a short
        call: it is the only one, and no other came lately."""
        if self.active != 1:
            return False
        now = time.monotonic()
        if now < self.shared_until:
            return False
        if now >= self.probe_at:
            self.probe_at = now + PROBE_S
            return False
        return True


class StoreRunner:
    """How the mount calls the store: the one place that decides on which
    thread a store call runs (``objfs/store/CONTRACT.md``, "Calling the
    store from an event loop"). Three modes, one method each:

    * ``await run(fn, *args, **kwargs)`` (``__call__``): in a worker thread,
      at most ``threads`` at once. Always allowed; the mode of any call that
      may wait (a commit, a listing, a durable sync).
    * ``await run.solo(fn, *args)``: on the event loop's thread while the
      mount serves this request alone (``Traffic.alone``), else as ``run``.
      For a call that never waits on another thread and reads at most one
      local disk read's worth.
    * ``await run.nowait(fn, ctx, *args, solo=False, **kwargs)``: on the
      event loop's thread with ``ctx.nowait`` set, so the store refuses
      (``WouldBlock``, having changed nothing) rather than wait; then again
      as ``run`` with ``ctx`` unchanged. The caller never sees
      ``WouldBlock``. For short metadata calls (a HEAD, a delete, a check).

    ``wait_done`` (below) is the fourth way to wait on the loop: for a
    future of another pool (the chunk store's), without a worker thread.
    """

    def __init__(self, store: Store, threads: int = 6) -> None:
        self.store = store
        self.threads = threads
        self._limiter: trio.CapacityLimiter | None = None
        self.traffic = Traffic()

    @property
    def limiter(self) -> trio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = trio.CapacityLimiter(self.threads)
        return self._limiter

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await trio.to_thread.run_sync(
            functools.partial(fn, *args, **kwargs), limiter=self.limiter
        )

    async def solo(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on this (the event loop's) thread while the mount serves
        this request alone (``Traffic.alone``), else in a worker thread.

        Only for a call that never waits on another thread or the loop and
        takes at most one local disk read's time (a random read's segments
        from ``LocalBackend``; a backend over the network would not qualify).
        A lone caller is blocked for that read either way; another request
        arriving meanwhile waits for it once, then ``Traffic`` sends calls to
        workers again."""
        if self.traffic.alone():
            return fn(*args)
        return await self(fn, *args)

    async def nowait(
        self,
        fn: Callable[..., T],
        ctx: RequestContext,
        *args: Any,
        solo: bool = False,
        **kwargs: Any,
    ) -> T:
        """``fn(ctx, ...)`` on this (the event loop's) thread if the store can do it
        without waiting, else in a worker thread as ``__call__`` does.

        For short metadata calls only (a delete): ``ctx.nowait`` makes the store
        refuse, before it changes anything, a write that would wait. ``solo``:
        a call that may read the disk (a lookup's HEAD, a first read's GET),
        made here only while the mount serves this request alone (``Traffic``).
        """
        if not solo or self.traffic.alone():
            try:
                return fn(ctx_with(ctx, nowait=True), *args, **kwargs)
            except WouldBlock:
                pass
        return await self(fn, ctx, *args, **kwargs)


async def wait_done(fut: concurrent.futures.Future[Any]) -> None:
    """Wait on the event loop for a future of another thread pool to finish
    (its result is not taken): no worker thread blocked on it meanwhile.

    Not cancellable, like the worker-thread call it replaces (a write waiting
    for the chunk pool is never torn by a cancelled request).
    """
    if fut.done():
        return
    token = trio.lowlevel.current_trio_token()
    done = trio.Event()

    def wake(_: object) -> None:
        try:
            token.run_sync_soon(done.set)
        except trio.RunFinishedError:
            pass

    fut.add_done_callback(wake)
    with trio.CancelScope(shield=True):
        await done.wait()


class QuickLock:
    """A ``trio.Lock`` that a task takes without yielding to the scheduler
    when nobody holds it.

    ``async with trio.Lock()`` always passes through the scheduler once (a
    checkpoint), even uncontended: a small file's write, flush and release
    each took one more event-loop round per request for it. Contended, it
    waits as a ``trio.Lock`` does (fair: a released lock passes to the first
    waiter, so a free lock never has waiters).
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = trio.Lock()

    def locked(self) -> bool:
        return self._lock.locked()

    async def __aenter__(self) -> None:
        try:
            self._lock.acquire_nowait()
        except trio.WouldBlock:
            await self._lock.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self._lock.release()


def fuse_handler(
    fn: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Map errors of one FUSE handler as the module docstring says, and set
    the identity it acts as (``CALLER``): the handlers' object's
    ``fixed_ctx`` when the whole mount acts as one identity, else what its
    ``identify(handler name, args)`` says for this request."""
    name = fn.__name__

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s%r", fn.__name__, tuple(a for a in args[1:] if not _is_ctx(a)))
        token = None
        ops = args[0]
        traffic = getattr(ops, "traffic", None)
        if traffic is not None:
            traffic.enter()
        try:
            fixed = getattr(ops, "fixed_ctx", None)
            if fixed is not None:
                # One identity for every request: set once per task, kept.
                if CALLER.get() is not fixed:
                    CALLER.set(fixed)
            else:
                identify = getattr(ops, "identify", None)
                if identify is not None:
                    token = CALLER.set(identify(name, args))
            return await fn(*args, **kwargs)
        except pyfuse3.FUSEError:
            raise
        except IntegrityError as err:
            log.warning("%s: %s", fn.__name__, err)
            raise pyfuse3.FUSEError(err.errno) from None
        except ObjfsError as err:
            log.debug("%s: %s (%s)", fn.__name__, err, err.code)
            raise pyfuse3.FUSEError(err.errno) from None
        except OSError as err:
            # e.g. ENOSPC from the store directory's filesystem.
            if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                log.warning("%s: %s", fn.__name__, err)
                raise pyfuse3.FUSEError(err.errno) from None
            log.exception("unexpected error in %s", fn.__name__)
            raise pyfuse3.FUSEError(errno.EIO) from None
        except Exception:
            log.exception("unexpected error in %s", fn.__name__)
            raise pyfuse3.FUSEError(errno.EIO) from None
        finally:
            if traffic is not None:
                traffic.leave()
            if token is not None:
                CALLER.reset(token)

    return wrapper


def _is_ctx(value: object) -> bool:
    return isinstance(value, pyfuse3.RequestContext | pyfuse3.ReaddirToken)


def fuse_error(code: int) -> pyfuse3.FUSEError:
    return pyfuse3.FUSEError(code)
