"""How the mount calls the store, and how handler errors reach the kernel.

Owns two rules of the FUSE layer:

* every store call runs in a worker thread (``trio.to_thread.run_sync``)
  bounded by one ``CapacityLimiter``, so the trio thread that serves FUSE
  requests never blocks on SQLite, hashing or AES-GCM;
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

import errno
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import pyfuse3
import trio

from objfs.errors import IntegrityError, ObjfsError
from objfs.store.types import OWNER_IDENTITY, RequestContext

log = logging.getLogger("objfs.fs")

P = ParamSpec("P")
T = TypeVar("T")

# The mount acts as the store owner until it is given an identity.
MOUNT_CTX = RequestContext(OWNER_IDENTITY, "mount", durable=False)
DURABLE_CTX = MOUNT_CTX.with_options(durable=True)


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


def fuse_handler(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Map errors of one FUSE handler as the module docstring says."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s%r", fn.__name__, tuple(a for a in args[1:] if not _is_ctx(a)))
        try:
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

    return wrapper


def _is_ctx(value: object) -> bool:
    return isinstance(value, pyfuse3.RequestContext | pyfuse3.ReaddirToken)


def fuse_error(code: int) -> pyfuse3.FUSEError:
    return pyfuse3.FUSEError(code)
