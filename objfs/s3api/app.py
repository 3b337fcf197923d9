"""The ASGI application of ``objfs serve``: one request in, one response out.

For each HTTP request: find the bucket and key (path style, or virtual-hosted
style under ``--domain``), pick the operation (``routing``), verify SigV4
(``auth``) on a worker thread (for GET, HEAD and PUT of an object: the
thread of the operation's store call, ``Request.pending``), wrap the body as
a verified stream (``body``), run the operation, and send its response — streamed piece by
piece for object data. Every ``ObjfsError`` becomes an S3 error document
with its status; anything else is logged and answered ``InternalError``.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any

import trio

from objfs.errors import (
    InternalError,
    NotImplementedOperation,
    ObjfsError,
    RequestHeaderSectionTooLarge,
)
from objfs.s3api import cors, expect, multipart, objects, routing, threads
from objfs.s3api import headers as hdr
from objfs.s3api.auth import authenticate
from objfs.s3api.body import RequestBody
from objfs.s3api.body import wire as body_wire
from objfs.s3api.errors import error_response
from objfs.s3api.request import Request, Response, parse_query, unescape
from objfs.store import Store

log = logging.getLogger(__name__)

_NO_BODY_STATUS = {204, 304}
DRAIN_LIMIT = 8 << 20
# S3 refuses a request whose header section is over 8 KB (each header
# counted as ``name: value\r\n``).
MAX_HEADER_SECTION = 8192
# The scope extension ``server.TLSInfoTCPServer`` adds on TLS connections:
# {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384"} (hypercorn
# gives none of this to the application).
TLS_EXTENSION = "objfs.tls"
# Handlers whose request is authenticated on the worker thread of their first
# store call (``Request.pending``): the small requests, one hand-off each. A
# copy (PutObject with x-amz-copy-source) is not one of them.
FOLDED = frozenset({objects.get_object, objects.head_object, objects.put_object})


class S3App:
    """ASGI callable serving one open ``Store``."""

    def __init__(
        self,
        store: Store,
        *,
        region: str = "local",
        domain: str | None = None,
        threads: int = 8,
        sigv2: bool = True,
    ) -> None:
        self.store = store
        self.sigv2 = sigv2  # accept Signature Version 2 (objfs serve --no-sigv2 refuses it)
        self.region = region
        self.domain = domain.lower().strip(".") if domain else None
        # Store calls run on worker threads, at most ``threads`` at once. A call
        # that reads a request body holds its thread while the client sends:
        # those get their own, larger, pool so slow uploads cannot starve
        # metadata requests.
        self.limiter = trio.CapacityLimiter(threads)
        self.upload_limiter = trio.CapacityLimiter(threads * 4)

    async def __call__(self, scope: Mapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            await self._refuse_websocket(scope, send)
            return
        if scope["type"] != "http":
            return
        # A client waiting for "100 Continue" gets it when the body is first
        # read, once the request is authenticated and authorized; a refusal
        # before that is its final answer (as S3 does).
        receive = expect.continuing(scope, receive, send)
        request_id = secrets.token_hex(8).upper()
        resource = scope.get("path", "/")
        req: Request | None = None
        try:
            req = self._request(scope, request_id)
            resource = req.resource
            if req.method == "OPTIONS":  # a CORS preflight: no credentials, S3 says
                response = await cors.preflight(req)
            else:
                response = await self._serve(req, receive)
        except ObjfsError as err:
            response = error_response(err, resource, request_id)
        except Exception:
            log.exception("request %s %s failed", request_id, resource)
            response = error_response(
                InternalError("We encountered an internal error. Please try again."),
                resource,
                request_id,
            )
        if req is not None and req.method != "OPTIONS" and "origin" in req.h:
            try:
                response.headers += await cors.actual_request_headers(req)
            except Exception:
                log.exception("request %s: CORS headers failed", request_id)
        # A refused request may leave its body unread: take the rest (small
        # bodies) so the client, still sending, reads our answer; past
        # DRAIN_LIMIT, close the connection instead.
        wire = req.body.wire if req is not None and req.body is not None else body_wire(receive)
        waiting = "100-continue" in dict(scope["headers"]).get(b"expect", b"").decode().lower()
        if waiting and not wire.started:
            # The client waits for "100 Continue" before its body: answer
            # without asking for it, and do not reuse the connection.
            response.headers.append(("Connection", "close"))
        elif not await wire.drain(DRAIN_LIMIT):
            response.headers.append(("Connection", "close"))
        await self._send(send, response, scope["method"], request_id)

    async def _refuse_websocket(self, scope: Mapping[str, Any], send: Any) -> None:
        """S3 speaks no WebSocket: an upgrade request is answered NotImplemented."""
        request_id = secrets.token_hex(8).upper()
        response = error_response(
            NotImplementedOperation("WebSocket requests are not implemented."),
            scope.get("path", "/"),
            request_id,
        )
        assert isinstance(response.body, bytes)
        headers = [
            (b"x-amz-request-id", request_id.encode()),
            (b"content-type", b"application/xml"),
        ]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send(
            {"type": "websocket.http.response.start", "status": response.status, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": response.body})

    async def _serve(self, req: Request, receive: Any) -> Response:
        """Route, authenticate (SigV4 on a worker thread) and run one operation."""
        handler = routing.route(req)
        pending = functools.partial(self._authenticate, req, receive, handler)
        if handler in FOLDED and "x-amz-copy-source" not in req.h:
            req.pending = pending  # on the thread of the handler's first store call
        else:
            await threads.run_sync(pending, self.limiter)
        return await handler(req)

    def _authenticate(self, req: Request, receive: Any, handler: Any) -> None:
        """Verify the signature (reads the store: on a worker thread); set the
        request's context and its body (a verified stream)."""
        authed = authenticate(
            self.store,
            req.method,
            req.path,
            req.query,
            req.headers,
            req.h,
            remote_addr=req.remote_addr,
            secure=req.secure,
            sign_path=self._v2_resource_path(req),
            allow_sigv2=self.sigv2,
        )
        # The access log names the request as the client saw it.
        uri = f"{req.method} {req.path}" + (
            "?" + "&".join(f"{k}={v}" if v else k for k, v in req.query) if req.query else ""
        )
        req.ctx = dataclasses.replace(
            authed.ctx,
            request_id=req.request_id,
            request_uri=uri,
            auth_type=authed.auth_type,
            signature_version=authed.signature_version,
            host_header=req.h.get("host"),
            tls_version=req.tls_version,
            cipher_suite=req.cipher_suite,
            expected_owners=hdr.expected_owners(req),
        )
        body_headers = req.h
        if handler is multipart.complete_upload:  # its x-amz-checksum-* is the object's
            body_headers = {k: v for k, v in req.h.items() if not k.startswith("x-amz-checksum-")}
        req.body = RequestBody(receive, body_headers, payload=authed.payload, signer=authed.signer)

    def _request(self, scope: Mapping[str, Any], request_id: str) -> Request:
        if sum(len(k) + len(v) + 4 for k, v in scope["headers"]) > MAX_HEADER_SECTION:
            raise RequestHeaderSectionTooLarge(
                "Your request header section exceeds the maximum allowed size "
                f"({MAX_HEADER_SECTION} bytes)."
            )
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        h: dict[str, str] = {}
        for k, v in headers:
            k = k.lower()
            h[k] = f"{h[k]},{v}" if k in h else v
        # The path and query are decoded here, not by the server (hypercorn reads
        # a %ff as U+FFFD): a URI that is not UTF-8 is InvalidURI, as S3 says.
        query = parse_query(scope.get("query_string", b""))
        raw_path = scope.get("raw_path")
        path = unescape(raw_path) if raw_path is not None else scope["path"]
        bucket, key = self._address(h.get("host", ""), path)
        client = scope.get("client")
        tls = scope.get("extensions", {}).get(TLS_EXTENSION) or {}
        return Request(
            app=self,
            method=scope["method"].upper(),
            path=path,
            bucket=bucket,
            key=key,
            query=query,
            headers=headers,
            h=h,
            remote_addr=client[0] if client else None,
            secure=scope.get("scheme") == "https",
            request_id=request_id,
            loopback=self.loopback(scope.get("server")),
            tls_version=tls.get("version"),
            cipher_suite=tls.get("cipher"),
            raw_path=raw_path.decode("latin-1") if raw_path is not None else None,
        )

    def _v2_resource_path(self, req: Request) -> str | None:
        """The path SigV2 signs: as sent (percent-encoded), ``/BUCKET`` first when
        the bucket was in the Host name."""
        if req.raw_path is None:
            return None
        host = req.h.get("host", "")
        name = host.rsplit(":", 1)[0].lower() if not host.endswith("]") else host.lower()
        if self.domain and name.endswith("." + self.domain) and req.bucket is not None:
            return f"/{req.bucket}{req.raw_path}"
        return req.raw_path

    def _address(self, host: str, path: str) -> tuple[str | None, str | None]:
        """(bucket, key) from the Host header and path (key None: bucket level)."""
        name = host.rsplit(":", 1)[0].lower() if not host.endswith("]") else host.lower()
        if self.domain and name.endswith("." + self.domain):
            bucket = name[: -len(self.domain) - 1]
            key = path[1:] if path.startswith("/") else path
            return bucket, key or None
        parts = path.lstrip("/").split("/", 1)
        if not parts[0]:
            return None, None
        key = parts[1] if len(parts) > 1 else ""
        return parts[0], key or None

    def loopback(self, scope_server: tuple[str, int] | None) -> bool:
        if not scope_server:
            return False
        try:
            return ipaddress.ip_address(scope_server[0]).is_loopback
        except ValueError:
            return False

    async def _send(self, send: Any, response: Response, method: str, request_id: str) -> None:
        headers = [
            (b"x-amz-request-id", request_id.encode()),
            (b"x-amz-id-2", request_id.encode()),
        ]
        headers += [(k.encode("latin-1"), _header_bytes(v)) for k, v in response.headers]
        body = response.body
        no_body = method == "HEAD" or response.status in _NO_BODY_STATUS
        if isinstance(body, bytes):
            length = response.length if response.length is not None else len(body)
            if response.status not in _NO_BODY_STATUS:
                headers.append((b"content-length", str(length).encode()))
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": b"" if no_body else body})
            return
        if response.length is not None:
            headers.append((b"content-length", str(response.length).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await _stream(send, body)


async def _stream(send: Any, body: AsyncIterator[bytes]) -> None:
    try:
        async for piece in body:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()


def _header_bytes(value: str) -> bytes:
    """latin-1 as HTTP/1.1 reads it; text beyond latin-1 (user metadata) as UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")
