"""``Expect: 100-continue`` answered by the application, and status lines with
a reason phrase.

hypercorn sends "100 Continue" the moment it has parsed a request head, before
the application has even seen it: a client then sends a body that will be
refused. S3 authenticates and authorizes first and sends a refusal as the
final status without a 100. Here hypercorn's HTTP/1.1 connection never sends
100 by itself (``DeferredContinue``); the application sends the ASGI message
``CONTINUE`` when it first asks for the body (after the store has accepted
the request), and ``S3HTTPStream`` turns it into the interim response. A
server that offers this puts ``EXTENSION`` in the request's scope.

Status lines carry their reason phrase ("HTTP/1.1 403 Forbidden"): h11 sends
none by default, and botocore, waiting for 100, takes a final answer for
one only when its status line has three parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import h11
from hypercorn.protocol.events import Response
from hypercorn.protocol.http_stream import ASGIHTTPState, HTTPStream

CONTINUE = "objfs.http.continue"  # ASGI message: send "100 Continue" now
EXTENSION = "objfs.continue"  # scope extension: the server understands CONTINUE


class DeferredContinue(h11.Connection):
    """An h11 server connection whose client hypercorn never sees waiting for a
    100: its own ``_handle_events`` would answer one at once."""

    @property
    def they_are_waiting_for_100_continue(self) -> bool:
        return False

    @property
    def client_waits(self) -> bool:
        """The client sent ``Expect: 100-continue`` and no body yet."""
        return bool(self.their_role is h11.CLIENT and self.client_is_waiting_for_100_continue)


def with_reason(event: Any) -> Any:
    """An h11 response event with its standard reason phrase, if it had none."""
    if isinstance(event, h11.Response | h11.InformationalResponse) and not event.reason:
        try:
            reason = HTTPStatus(event.status_code).phrase.encode()
        except ValueError:
            return event
        return type(event)(
            status_code=event.status_code,
            headers=event.headers,
            http_version=event.http_version,
            reason=reason,
        )
    return event


class S3HTTPStream(HTTPStream):
    """hypercorn's HTTP stream that also takes the application's ``CONTINUE``."""

    async def app_send(self, message: Any) -> None:
        if message is not None and message.get("type") == CONTINUE:
            if not self.closed and self.state == ASGIHTTPState.REQUEST:
                await self.send(Response(stream_id=self.stream_id, headers=[], status_code=100))
            return
        await super().app_send(message)


def continuing(scope: Mapping[str, Any], receive: Any, send: Any) -> Any:
    """``receive`` for the application: a client waiting for "100 Continue" is
    sent it just before the body is first asked for, never earlier."""
    if EXTENSION not in scope.get("extensions", {}):
        return receive
    expect = dict(scope.get("headers", [])).get(b"expect", b"")
    if b"100-continue" not in expect.lower():
        return receive
    asked = False

    async def receive_body() -> Any:
        nonlocal asked
        if not asked:
            asked = True
            await send({"type": CONTINUE})
        return await receive()

    return receive_body
