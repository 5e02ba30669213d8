"""The gate in front of ``/graphql``: a request id, a body size limit, and authentication.

It runs before Strawberry sees a byte, so an unauthenticated or oversized request costs one
header check (plus one indexed token lookup) and reaches no resolver. Its refusals are JSON in
the GraphQL error shape, with ``extensions.code`` and the request id, which every response also
carries as ``X-Request-Id``:

- no or an invalid ``Authorization: Bearer`` token: 401 ``UNAUTHENTICATED`` (in development mode
  a request without the header passes as anonymous: GraphiQL's page and introspection work,
  ``resolvers.access`` refuses everything else with a 401);
- a body over ``MAX_BODY_BYTES``: 413 ``PAYLOAD_TOO_LARGE``;
- an exception escaping the GraphQL layer: 500 ``INTERNAL``, logged with the request id.

Websockets: a token may come in the handshake's ``Authorization`` header or in the
``connection_init`` payload (``ContinuityGraphQL.on_ws_connect`` checks it).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from continuity.access import Caller, authenticate

log = logging.getLogger("continuity.server")

#: The largest request body accepted (a GraphQL document with its variables).
MAX_BODY_BYTES = 256 * 1024
REQUEST_ID_HEADER = "x-request-id"


class _BodyTooLarge(Exception):
    pass


def bearer_token(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value; "" when malformed."""
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def caller_for(header: str | None) -> tuple[bool, Caller | None]:
    """(header given, caller): a given header that names no valid token gives (True, None)."""
    token = bearer_token(header)
    if token is None:
        return False, None
    return True, (await authenticate(token) if token else None)


def error_body(message: str, code: str, request_id: str) -> bytes:
    return json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code, "requestId": request_id}}]}
    ).encode()


class Guard:
    def __init__(
        self, app: ASGIApp, *, development: bool = False, max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self.app = app
        self.development = development
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        request_id = state.get("request_id") or uuid.uuid4().hex  # server/request_id.py
        state["request_id"] = request_id
        headers = Headers(scope=scope)
        given, caller = await caller_for(headers.get("authorization"))
        state["caller"] = caller

        if scope["type"] == "websocket":
            if given and caller is None:
                await send({"type": "websocket.close", "code": 4401, "reason": "Unauthorized"})
                return
            await self.app(scope, receive, send)
            return

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        async def refuse(status: int, message: str, code: str) -> None:
            body = error_body(message, code, request_id)
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})

        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await refuse(
                413,
                f"request body over {self.max_body_bytes} bytes",
                "PAYLOAD_TOO_LARGE",
            )
            return
        if caller is None and (given or not self.development):
            message = (
                "invalid, expired or revoked token"
                if given
                else "authentication required: send Authorization: Bearer <token>"
            )
            await refuse(401, message, "UNAUTHENTICATED")
            return

        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted_receive, send_with_id)
        except _BodyTooLarge:
            if started:
                raise
            await refuse(413, f"request body over {self.max_body_bytes} bytes", "PAYLOAD_TOO_LARGE")
        except Exception:
            log.exception("request %s: unexpected error", request_id)
            if started:
                raise
            await refuse(500, f"Internal error (request id {request_id})", "INTERNAL")
