"""One id per request, from the caller when it sends a sane one, echoed in the response.

A load balancer or a client may send ``X-Request-Id``; it is used (so one id follows the request
through every system) when it is 1 to 128 characters of letters, digits and ``._:/+=-``, and
replaced by a fresh one otherwise (a header is input: an unbounded or odd value never reaches
the logs). The id is in ``scope["state"]["request_id"]`` (the guard and GraphQL's error masking
quote it), in the context variable every log line reads (``server.logs``), and in the
response's ``X-Request-Id``.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.logs import request_id_var

HEADER = b"x-request-id"
#: What an incoming id may look like.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")


def request_id_from(value: str | None) -> str:
    """The caller's id when it is valid, else a new one."""
    if value is not None and VALID_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope).get("x-request-id"))
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == HEADER for name, _value in headers):
                    headers.append((HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
