"""Websockets whose token stops working stop streaming.

A websocket is authenticated once, at its handshake or ``connection_init``; its streams may
then run for hours. Revoking the token (``continuity token revoke``) or its expiry must still
cut it off, so the graphql-transport-ws handler here checks the token again:

- before every operation a client subscribes to on the socket, and
- every ``token_check_seconds`` (5 by default) while the socket is open.

When the token no longer works, every open operation receives an ``error`` message
(``extensions.code = UNAUTHENTICATED``), which ends it under the protocol, and the socket is
closed with code 4403 ("token revoked or expired"). A client that reconnects with the same
token is refused at ``connection_init``.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from graphql import GraphQLError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage,
    SubscribeMessage,
)

from continuity.access import token_is_live
from schema.context import Context

log = logging.getLogger("continuity.server")

CLOSE_CODE = 4403
REASON = "token revoked or expired"


class TokenCheckedHandler(BaseGraphQLTransportWSHandler[Context, Any]):
    async def handle(self) -> None:
        watch = asyncio.create_task(self._watch_token())
        try:
            await super().handle()
        finally:
            watch.cancel()
            with suppress(asyncio.CancelledError):
                await watch

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and not await self._token_works():
            await self._cut_off(also=message.get("id"))
            return
        await super().handle_subscribe(message)

    async def _token_works(self) -> bool:
        caller = self.context.caller
        return caller is None or await token_is_live(caller.token_key)

    async def _watch_token(self) -> None:
        interval = self.context.settings.service.token_check_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                works = await self._token_works()
            except Exception:  # a database hiccup is no reason to drop every stream
                log.exception("websocket token check failed; trying again")
                continue
            if not works:
                await self._cut_off()
                return

    async def _cut_off(self, also: str | None = None) -> None:
        """End every operation with an UNAUTHENTICATED error, then close the socket."""
        caller = self.context.caller
        log.info("websocket of %s closed: %s", caller.actor if caller else "-", REASON)
        self.context.caller = None  # nothing more runs as this token
        error = GraphQLError(REASON, extensions={"code": "UNAUTHENTICATED"}).formatted
        ids = list(self.operations)
        for operation_id in ids:
            await self.cleanup_operation(operation_id)
        if also is not None and also not in ids:
            ids.append(also)
        with suppress(Exception):  # the client may be gone already
            for operation_id in ids:
                message: ErrorMessage = {"id": operation_id, "type": "error", "payload": [error]}
                await self.send_message(message)
            await self.websocket.close(code=CLOSE_CODE, reason=REASON)
