"""Connections of ``objfs serve``: how many, and how long a client may stall.

Owns ``Limits`` (the settings ``objfs serve`` takes), ``serve_connections``
(hypercorn's trio worker loop, with the listeners' accept loop bounded by a
semaphore) and ``LimitedTCPServer`` (hypercorn's connection handler, whose
reads time out while the client owes us bytes).

hypercorn alone bounds a request head (the keep-alive idle timer runs until
a request's head is complete) but not a request body: with no read timeout,
a client holding a partial body keeps its connection, its buffers and a
file descriptor forever, and its connections are accepted without limit.
So (see the invariants):

- **head**: from a connection's start (TLS handshake included) or the end of
  its previous response, the next request head must be complete within
  ``header_timeout`` seconds, else the connection is closed (hypercorn's
  keep-alive timer, set to ``header_timeout``);
- **body**: while the client sends a request body, a read that waits
  ``body_timeout`` seconds for a byte closes the connection, and so does a
  body slower than ``body_min_rate`` bytes/s on average once it has had
  ``body_timeout`` seconds (time the application spends not reading,
  back-pressure, is not the client's and is not counted);
- **answer**: a client that takes no slice (64 KiB) of its answer for
  ``body_timeout`` seconds is cut off;
- **count**: at most ``max_connections`` connections are open at once; the
  next ones wait in the kernel's accept queue (``backlog``) until one ends.

A connection cut mid-body ends its request as a client disconnect does:
the application's body reader fails and nothing of it is committed.
HTTP/2 connections (hypercorn speaks it when a client asks) get the body
timeout on every read while a stream is open.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from math import inf
from typing import Any

import h11
import trio
from hypercorn.config import Config, Sockets
from hypercorn.events import Closed, RawData
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.tcp_server import MAX_RECV, TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import repr_socket_addr

log = logging.getLogger(__name__)

# An answer is sent in slices of this size, each within ``body_timeout``.
_SEND_SLICE = 64 * 1024
# accept() failing for want of resources: wait and retry (trio's own list).
_ACCEPT_CAPACITY_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}


@dataclass(slots=True, frozen=True)
class Limits:
    """What one client may hold of the server (``objfs serve`` options)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    body_min_rate: float = 1024.0  # bytes/s; 0: no minimum
    max_connections: int = 512

    def apply(self, config: Config) -> None:
        """Set hypercorn's own timers from these limits."""
        config.keep_alive_timeout = self.header_timeout
        config.ssl_handshake_timeout = self.header_timeout
        config.read_timeout = None  # ours, per state (see LimitedTCPServer)


class LimitedTCPServer(TCPServer):
    """hypercorn's connection handler with the body timeouts of ``Limits``."""

    def __init__(
        self, app: Any, config: Config, context: Any, state: Any, stream: Any, limits: Limits
    ) -> None:
        super().__init__(app, config, context, state, stream)
        self.limits = limits
        self._body_of: object = None  # the request whose body is being timed
        self._waited = 0.0  # seconds spent waiting for that body's bytes
        self._received = 0

    def _body_deadline(self) -> tuple[float, bool]:
        """(seconds the next read may wait, whether it reads a request body)."""
        protocol = getattr(self, "protocol", None)
        inner = getattr(protocol, "protocol", None)
        if isinstance(inner, H11Protocol):
            if getattr(inner.connection, "their_state", None) is not h11.SEND_BODY:
                return inf, False  # head: the keep-alive timer; done: we answer
            request = (id(inner), inner.keep_alive_requests)
            if request != self._body_of:
                self._body_of, self._waited, self._received = request, 0.0, 0
            wait = self.limits.body_timeout
            if self.limits.body_min_rate > 0:
                earned = self.limits.body_timeout + self._received / self.limits.body_min_rate
                wait = min(wait, earned - self._waited)
            return max(wait, 0.0), True
        if inner is not None and not inner.idle:  # HTTP/2 with a stream open
            return self.limits.body_timeout, False
        return inf, False

    async def protocol_send(self, event: Any) -> None:
        """hypercorn's, but a client that takes nothing of the answer for
        ``body_timeout`` seconds is cut off (the write waited forever)."""
        if not isinstance(event, RawData):
            await super().protocol_send(event)
            return
        if not event.data:
            return  # the end of a body whose length was given: nothing to write
        async with self.send_lock:
            data = memoryview(event.data)
            try:
                # Shielded as hypercorn's (a half-sent piece would garble the
                # stream), timed per slice so that a slow reader still gets
                # a large answer: at least _SEND_SLICE bytes per timeout. One
                # scope whose deadline moves on with each slice (a scope per
                # slice measured ~20% of a 64 MiB GET's event-loop time).
                with trio.CancelScope(shield=True) as scope:
                    for at in range(0, len(data), _SEND_SLICE):
                        scope.deadline = trio.current_time() + self.limits.body_timeout
                        await self.stream.send_all(data[at : at + _SEND_SLICE])
                if scope.cancelled_caught:
                    raise trio.TooSlowError
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                await self.protocol.handle(Closed())
            except trio.TooSlowError:
                log.info("closing a connection: its client reads nothing of the answer")
                await self.stream.aclose()
                await self.protocol.handle(Closed())

    async def _read_data(self) -> None:
        while True:
            wait, body = self._body_deadline()
            started = trio.current_time()
            try:
                with trio.fail_after(wait):
                    data = await self.stream.receive_some(MAX_RECV)
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                break
            except trio.TooSlowError:
                log.info(
                    "closing a connection: its request body is too slow (%d bytes in %.1f s)",
                    self._received,
                    self._waited + wait,
                )
                await self._close()  # the descriptor now, whatever the request does next
                break
            if body:
                self._waited += trio.current_time() - started
                self._received += len(data)
            await self.protocol.handle(RawData(bytes(data)))
            if data == b"":
                break
        await self.protocol.handle(Closed())
        # hypercorn leaves its keep-alive timer running on a closed
        # connection, holding the connection's task (and our slot) until it
        # fires: there is nothing left to wait for.
        await self.idle_task.stop()


async def _accept_loop(
    listener: trio.abc.Listener[Any],
    slots: trio.Semaphore,
    nursery: trio.Nursery,
    handle: Callable[[Any], Awaitable[None]],
) -> None:
    """Accept while a slot is free; each connection gives its slot back when it ends."""

    async def run(stream: Any) -> None:
        try:
            await handle(stream)
        finally:
            slots.release()

    while True:
        await slots.acquire()
        try:
            stream = await listener.accept()
        except OSError as err:
            slots.release()
            if err.errno not in _ACCEPT_CAPACITY_ERRNOS:
                raise
            log.warning("accept failed (%s): retrying in 0.1 s", err.strerror)
            await trio.sleep(0.1)
            continue
        except BaseException:
            slots.release()
            raise
        nursery.start_soon(run, stream)


def _address(sock: Any) -> str:
    return repr_socket_addr(sock.family, sock.getsockname())


async def serve_connections(
    app: Any,
    config: Config,
    sockets: Sockets,
    limits: Limits,
    *,
    shutdown_trigger: Callable[[], Awaitable[Any]],
    handler: type[LimitedTCPServer] = LimitedTCPServer,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """hypercorn's ``worker_serve`` for TCP listeners, with ``limits``.

    Started with ``nursery.start``: reports the bound URLs once listening;
    returns after ``shutdown_trigger`` fires and the connections in flight
    end (at most ``config.graceful_timeout`` later).
    """
    lifespan_state: dict[str, Any] = {}
    lifespan = Lifespan(app, config, lifespan_state)
    context = WorkerContext(None)
    async with trio.open_nursery() as lifespan_nursery:
        await lifespan_nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()
        async with trio.open_nursery() as server_nursery:
            listeners: list[tuple[trio.abc.Listener[Any], str]] = []
            ssl_context = config.create_ssl_context()
            for sock in sockets.secure_sockets:
                if ssl_context is None:  # hypercorn makes secure sockets only with TLS on
                    raise ValueError("secure sockets need TLS: config.ssl_enabled is false")
                plain = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
                secure = trio.SSLListener(plain, ssl_context, https_compatible=True)
                listeners.append((secure, "https://" + _address(sock)))
            for sock in sockets.insecure_sockets:
                plain = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
                listeners.append((plain, "http://" + _address(sock)))

            async def handle(stream: Any) -> None:
                state = ConnectionState(lifespan_state.copy())
                await handler(app, config, context, state, stream, limits).run()

            slots = trio.Semaphore(limits.max_connections)
            task_status.started([url for _, url in listeners])
            try:
                async with trio.open_nursery() as accepting:
                    for listener, _ in listeners:
                        accepting.start_soon(_accept_loop, listener, slots, server_nursery, handle)
                    await shutdown_trigger()
                    accepting.cancel_scope.cancel()
            finally:
                await context.terminated.set()  # idle connections close; requests finish
                server_nursery.cancel_scope.deadline = trio.current_time() + config.graceful_timeout
        await lifespan.wait_for_shutdown()
        lifespan_nursery.cancel_scope.cancel()
