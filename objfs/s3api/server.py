"""Running the API: hypercorn on trio, ready notification, graceful shutdown.

``open_listeners`` makes the listening sockets, ``serve`` serves a store on
them in this process (``objfs.s3api.workers`` runs it in several, on the
same sockets). SIGTERM or SIGINT stops accepting connections; requests in flight finish
(up to ``GRACE_SECONDS``) before the store is closed, so nothing is left
half-committed. ``READY=1`` goes to systemd (``Type=notify``) once the
sockets listen.

HTTP/1.1 that h11 cannot parse (a header section over
``MAX_INCOMPLETE_BYTES``, a garbled request line) never reaches the
application: hypercorn answers it itself, with an empty body. Our
``S3H11Protocol`` makes that answer an S3 error document as well (the
application checks S3's own 8 KB header limit on what does get through).
Over TLS, ``TLSInfoTCPServer`` puts the connection's protocol version and
cipher into each request's scope (``app.TLS_EXTENSION``) for the access log;
it also closes a connection only between two sends. "100 Continue" is the
application's to send (``objfs.s3api.expect``). How many connections, and
how long a client may take to send a request, is
``objfs.s3api.connections``'s (``Limits``).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import secrets
import signal
import socket
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import h11
import hypercorn.protocol
import hypercorn.protocol.h11
import trio
from hypercorn.config import Config, Sockets
from hypercorn.events import RawData
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.utils import repr_socket_addr, wrap_app

from objfs.s3api import expect
from objfs.s3api.app import TLS_EXTENSION, S3App
from objfs.s3api.connections import LimitedTCPServer, Limits, serve_connections
from objfs.s3api.errors import error_response, protocol_error
from objfs.store import Store

GRACE_SECONDS = 30.0
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter
# h11 buffers at most this much of a request's head (request line and
# headers) before refusing it; S3's own limit (8 KB of headers, checked by
# the application) is below it, so this only bounds memory per connection.
MAX_INCOMPLETE_BYTES = 64 * 1024


# "HTTP/1.1 200 " as h11 writes a status line without a reason phrase (13
# bytes) -> the line with the standard phrase, CRLF left where it was.
_REASON_LINES = {
    f"HTTP/1.1 {s.value} ".encode(): f"HTTP/1.1 {s.value} {s.phrase}".encode() for s in HTTPStatus
}
# A response head is sent together with the first piece of its body up to
# this size (a copy), before a larger piece on its own.
COALESCE_BYTES = 256 * 1024


class S3H11Protocol(H11Protocol):
    """hypercorn's HTTP/1.1 protocol whose parse-error answers are S3 error documents,
    whose status lines carry a reason phrase, which sends a response's head with
    its body's first piece (one send for a small answer, not three) and which
    leaves "100 Continue" to the application (``objfs.s3api.expect``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection = expect.DeferredContinue(
            h11.SERVER, max_incomplete_event_size=self.config.h11_max_incomplete_size
        )

    async def _send_h11_event(self, event: Any) -> None:
        if isinstance(event, h11.InformationalResponse) and event.status_code == 100:
            connection = self.connection
            if not isinstance(connection, expect.DeferredContinue) or not connection.client_waits:
                return  # the body is on its way already (or the answer was given)
        try:
            data = self.connection.send(event)
        except h11.LocalProtocolError:
            if self.connection.their_state != h11.ERROR:
                raise
            return
        if isinstance(event, h11.Response | h11.InformationalResponse) and not event.reason:
            data = _REASON_LINES.get(data[:13], data[:13]) + data[13:]
        if isinstance(event, h11.Response):
            # Held for the body's first piece (or the end of a HEAD's answer):
            # one send, one segment, for a small answer.
            self._held = data
            return
        held, self._held = getattr(self, "_held", b""), b""
        if held and len(data) > COALESCE_BYTES:
            await self.send(RawData(data=held))
        elif held:
            data = held + data
        if data:
            await self.send(RawData(data=data))

    async def _send_error_response(self, status_code: int) -> None:
        err = protocol_error(status_code)
        request_id = secrets.token_hex(8).upper()
        response = error_response(err, "/", request_id)
        assert isinstance(response.body, bytes)
        headers = [
            (b"x-amz-request-id", request_id.encode()),
            (b"content-type", b"application/xml"),
            (b"content-length", str(len(response.body)).encode()),
            (b"connection", b"close"),
            *self.config.response_headers("h11"),
        ]
        await self._send_h11_event(h11.Response(status_code=err.status, headers=headers))
        await self._send_h11_event(h11.Data(data=response.body))
        await self._send_h11_event(h11.EndOfMessage())


class _WithTLSInfo:
    """hypercorn's app wrapper for one connection, adding its TLS version and cipher."""

    def __init__(self, app: Any, stream: Any) -> None:
        self.app = app
        self.stream = stream

    async def __call__(self, scope: Any, *args: Any) -> None:
        if isinstance(self.stream, trio.SSLStream) and scope.get("type") in ("http", "websocket"):
            try:  # the handshake is done: a request arrived over it
                cipher = self.stream.cipher()
                info = {"version": self.stream.version(), "cipher": cipher[0] if cipher else None}
            except (AttributeError, trio.NeedHandshakeError):
                info = {}
            scope.setdefault("extensions", {})[TLS_EXTENSION] = info
        if scope.get("type") == "http" and scope.get("http_version") == "1.1":
            scope.setdefault("extensions", {})[expect.EXTENSION] = {}
        await self.app(scope, *args)


class TLSInfoTCPServer(LimitedTCPServer):
    """Our connection handler, whose requests carry TLS details in their scope."""

    def __init__(
        self, app: Any, config: Config, context: Any, state: Any, stream: Any, limits: Limits
    ) -> None:
        super().__init__(_WithTLSInfo(app, stream), config, context, state, stream, limits)

    async def _close(self) -> None:
        # When the client hangs up (typically right after reading a refusal it
        # never sent a body for), the reading task closes the stream while the
        # application's task may still be sending the end of the response:
        # trio's send_eof holds the stream's send side across a checkpoint, and
        # a send starting then failed with BusyResourceError. No send starts
        # while the write side shuts; one already in flight is not waited for
        # (the peer may never read): the stream is closed under it.
        if self.send_lock.locked():
            await self.stream.aclose()
            return
        async with self.send_lock:
            await super()._close()


def install_protocol() -> None:
    """Make hypercorn build our ``S3H11Protocol`` and ``expect.S3HTTPStream``.

    hypercorn offers no hook for its parse-error answers nor for when "100
    Continue" is sent: it looks ``H11Protocol`` and ``HTTPStream`` up in their
    modules as connections open, so the subclasses are put there (once, in
    the serving process)."""
    hypercorn.protocol.H11Protocol = S3H11Protocol  # type: ignore[misc]
    hypercorn.protocol.h11.HTTPStream = expect.S3HTTPStream  # type: ignore[misc]


def hypercorn_config(
    listen: str, tls_cert: str | None, tls_key: str | None, limits: Limits | None = None
) -> Config:
    config = Config()
    config.bind = [listen]
    config.certfile = tls_cert
    config.keyfile = tls_key
    config.graceful_timeout = GRACE_SECONDS
    config.include_server_header = False
    config.h11_max_incomplete_size = MAX_INCOMPLETE_BYTES
    config.accesslog = None
    # hypercorn's warnings and errors go through our logging (the CLI's
    # one-line format, once); its "Running on" line is replaced by ours.
    config.errorlog = logging.getLogger("objfs.s3api.http")
    config.loglevel = "WARNING"
    (limits or Limits()).apply(config)
    return config


def few_malloc_arenas() -> None:
    """Let glibc's malloc keep at most ``MALLOC_ARENAS`` arenas (its default is
    8 per core: with a pool of worker threads each handling large pieces,
    freed memory stays in many arenas). Measured with two workers under 16
    64 MiB GETs: 361 MiB resident together, 302 MiB with 2 arenas. Does
    nothing where malloc is not glibc's or the environment already says
    (``MALLOC_ARENA_MAX``)."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):
        pass


def sd_notify(state: str) -> None:
    """Tell systemd (``Type=notify``) our state; nothing without ``NOTIFY_SOCKET``."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(state.encode())


async def _serve(
    app: S3App,
    config: Config,
    sockets: Sockets,
    limits: Limits,
    on_ready: Callable[[list[str]], None],
) -> None:
    stop = trio.Event()
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:

        async def watch() -> None:
            async for _ in signals:
                stop.set()
                return

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            binds = await nursery.start(
                functools.partial(
                    serve_connections,
                    wrap_app(app, config.wsgi_max_body_size, "asgi"),
                    config,
                    sockets,
                    limits,
                    shutdown_trigger=stop.wait,
                    handler=TLSInfoTCPServer,
                )
            )
            on_ready(binds)
            sd_notify("READY=1")
            await stop.wait()
            sd_notify("STOPPING=1")


def open_listeners(
    listen: str, tls_cert: str | None, tls_key: str | None, limits: Limits | None = None
) -> tuple[Config, Sockets]:
    """The server's configuration and listening sockets (before any worker starts).

    Fails with the OS's own message (the CLI prints it on one line): an
    unreadable certificate or key, an address in use or not ours."""
    config = hypercorn_config(listen, tls_cert, tls_key, limits)
    if config.ssl_enabled:
        try:
            config.create_ssl_context()
        except OSError as err:  # ssl.SSLError is one
            reason = err.strerror or getattr(err, "reason", None) or str(err)
            raise OSError(
                err.errno, f"cannot load the TLS certificate {tls_cert} and key {tls_key}: {reason}"
            ) from None
    try:
        sockets = config.create_sockets()
    except OSError as err:
        raise OSError(err.errno, f"cannot listen on {listen}: {err.strerror}") from None
    for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
        sock.listen(config.backlog)
    return config, sockets


def bound_urls(sockets: Sockets) -> list[str]:
    """The URLs the sockets listen on (port 0 resolved), as the start-up line names them."""

    def address(sock: socket.socket) -> str:
        return repr_socket_addr(sock.family, sock.getsockname())

    out = ["https://" + address(s) for s in sockets.secure_sockets]
    return out + ["http://" + address(s) for s in sockets.insecure_sockets]


def serve(
    store: Store,
    config: Config,
    sockets: Sockets,
    *,
    region: str,
    domain: str | None,
    on_ready: Callable[[list[str]], None],
    limits: Limits | None = None,
    sigv2: bool = True,
) -> None:
    """Serve ``store`` on ``sockets`` until SIGTERM/SIGINT; returns after
    in-flight requests end."""
    few_malloc_arenas()
    install_protocol()
    limits = limits or Limits()
    app = S3App(store, region=region, domain=domain, sigv2=sigv2)
    trio.run(_serve, app, config, sockets, limits, on_ready)


def run(
    store: Store,
    *,
    listen: str,
    tls_cert: str | None,
    tls_key: str | None,
    region: str,
    domain: str | None,
    on_ready: Callable[[list[str]], None],
    limits: Limits | None = None,
    sigv2: bool = True,
) -> None:
    """Serve ``store`` in this process until SIGTERM/SIGINT (``objfs serve
    --workers 1``); returns after in-flight requests end."""
    config, sockets = open_listeners(listen, tls_cert, tls_key, limits)
    serve(
        store, config, sockets, region=region, domain=domain, on_ready=on_ready,
        limits=limits, sigv2=sigv2,
    )  # fmt: skip
