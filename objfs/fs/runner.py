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
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import pyfuse3
import trio

from objfs.errors import IntegrityError, ObjfsError
from objfs.store import WouldBlock
from objfs.store.types import OWNER_IDENTITY, RequestContext

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
    return ctx.with_options(durable=True) if durable else ctx


class StoreRunner:
    """Runs synchronous store calls in bounded worker threads."""

    def __init__(self, store: Any, threads: int = 6) -> None:
        self.store = store
        self.threads = threads
        self._limiter: trio.CapacityLimiter | None = None

    @property
    def limiter(self) -> trio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = trio.CapacityLimiter(self.threads)
        return self._limiter

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await trio.to_thread.run_sync(
            functools.partial(fn, *args, **kwargs), limiter=self.limiter
        )

    async def nowait(
        self, fn: Callable[..., T], ctx: RequestContext, *args: Any, **kwargs: Any
    ) -> T:
        """``fn(ctx, ...)`` on this (the event loop's) thread if the store can do it
        without waiting, else in a worker thread as ``__call__`` does.

        For short metadata calls only (a delete): ``ctx.nowait`` makes the store
        refuse, before it changes anything, a write that would wait.
        """
        try:
            return fn(ctx.with_options(nowait=True), *args, **kwargs)
        except WouldBlock:
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


def fuse_handler(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Map errors of one FUSE handler as the module docstring says."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s%r", fn.__name__, tuple(a for a in args[1:] if not _is_ctx(a)))
        token = None
        try:
            identify = getattr(args[0], "identify", None)
            if identify is not None:
                token = CALLER.set(identify(fn.__name__, args))
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
            if token is not None:
                CALLER.reset(token)

    return wrapper


def _is_ctx(value: object) -> bool:
    return isinstance(value, pyfuse3.RequestContext | pyfuse3.ReaddirToken)


def fuse_error(code: int) -> pyfuse3.FUSEError:
    return pyfuse3.FUSEError(code)
