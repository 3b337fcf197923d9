"""One HTTP request as the operation handlers see it, and their response.

``Request`` holds what routing found (bucket, key, query), the headers, the
caller's ``RequestContext`` once SigV4 has run, and the body as a stream.
``run`` calls the store off the event loop (``objfs.s3api.threads``, under
the server's CapacityLimiter): the store is synchronous and may block on disk.

A request whose authentication is ``pending`` (the app defers it for the
handlers in ``app.FOLDED``) is authenticated on the worker thread of its
first ``run`` or ``run_upload``, before the call: one thread hand-off for a
small GET, HEAD or PUT instead of two. Such a handler touches neither
``ctx`` nor ``body`` before that first call, and validates its arguments
inside it (so a malformed request is refused after authentication, as S3
does).
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import unquote_to_bytes

import trio

from objfs.errors import InvalidArgument, InvalidURI
from objfs.s3api import threads
from objfs.store import RequestContext, Store

if TYPE_CHECKING:
    from objfs.s3api.body import RequestBody

T = TypeVar("T")

URI_REFUSED = "Couldn't parse the specified URI."


def unescape(raw: bytes, error: type[Exception] = InvalidURI, message: str = URI_REFUSED) -> str:
    """Percent-escapes decoded to bytes, then read as UTF-8 strictly.

    Keys are exact: ``%ff`` is never read as U+FFFD (that would make
    ``alias%ff``, ``alias%fe`` and ``alias%EF%BF%BD`` one key)."""
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise error(message) from None


def parse_query(raw: bytes) -> list[tuple[str, str]]:
    """``a=1&b&c=x+y`` -> [("a", "1"), ("b", ""), ("c", "x y")], UTF-8 strictly."""
    out = []
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        out.append((unescape(name.replace(b"+", b" ")), unescape(value.replace(b"+", b" "))))
    return out


@dataclass(slots=True)
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | AsyncIterator[bytes] = b""
    length: int | None = None  # Content-Length of a streamed body (or of a HEAD's)

    @classmethod
    def xml(
        cls, element: ET.Element, *, status: int = 200, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        from objfs.s3api.xmldoc import to_bytes

        return cls(
            status, [*(headers or []), ("Content-Type", "application/xml")], to_bytes(element)
        )


class AppHandle(Protocol):
    """What a request's handlers use of the server (``objfs.s3api.app.S3App``):
    named here so the handlers need not import the app that routes to them."""

    store: Store
    region: str
    sigv2: bool
    limiter: trio.CapacityLimiter  # store calls
    upload_limiter: trio.CapacityLimiter  # store calls that read a request body


@dataclass  # not slotted: ``params`` is a cached property
class Request:
    app: AppHandle
    method: str
    path: str  # decoded path as sent (SigV4 signs it)
    bucket: str | None
    key: str | None
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    h: dict[str, str]  # lower-cased names; repeated headers joined with ","
    remote_addr: str | None
    secure: bool
    request_id: str
    loopback: bool = False  # the endpoint listens on a loopback address
    tls_version: str | None = None  # "TLSv1.3" (None: plain HTTP)
    cipher_suite: str | None = None  # OpenSSL's name of the connection's cipher
    ctx: RequestContext | None = None
    body: RequestBody | None = None
    raw_path: str | None = None  # the path as sent, still percent-encoded (SigV2 signs it)
    # Authentication still to do (sets ``ctx`` and ``body``): the first
    # ``run``/``run_upload`` does it on its worker thread (module docstring).
    pending: Callable[[], None] | None = None

    def authenticated(self) -> RequestContext:
        """Finish a ``pending`` authentication (on a worker thread); the context."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending()
        assert self.ctx is not None, "a request is authenticated before its store calls"
        return self.ctx

    @functools.cached_property
    def params(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in self.query:
            out.setdefault(k, v)
        return out

    @property
    def resource(self) -> str:
        if self.bucket is None:
            return "/"
        return f"/{self.bucket}/{self.key}" if self.key is not None else f"/{self.bucket}"

    def object_path(self) -> tuple[str, str]:
        """The bucket and key of an object request: routing (routing.py) sends
        only a request naming both to an object-level handler."""
        assert self.bucket is not None and self.key is not None, "not an object request"
        return self.bucket, self.key

    @property
    def store(self) -> Store:
        return self.app.store

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(ctx, *args, **kwargs)`` on a worker thread (store calls block)."""

        def call() -> T:
            return fn(self.authenticated(), *args, **kwargs)

        return await threads.run_sync(call, self.app.limiter)

    async def run_upload(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """As ``run``, for a call that reads the request body as it arrives
        (``trio.from_thread``: trio's own hand-off)."""

        def call() -> T:
            return fn(self.authenticated(), *args, **kwargs)

        return await trio.to_thread.run_sync(call, limiter=self.app.upload_limiter)

    async def read_all(self, limit: int) -> bytes:
        """A small body (XML, a policy) read whole, refusing more than ``limit`` bytes."""
        assert self.body is not None
        return await self.body.read_all(limit)

    def int_param(self, name: str, default: int, *, low: int = 0, high: int = 1000) -> int:
        text = self.params.get(name)
        if text is None or text == "":
            return default
        if not text.isascii() or not text.isdigit():
            raise InvalidArgument(f"{name} must be a non-negative integer, not {text!r}")
        return max(low, min(int(text), high))
