"""``POST /webhooks/<gateway>``: a payment provider's events in (``/webhooks/stripe``).

Not behind the bearer-token guard (the provider has no token of ours): the gateway adapter
verifies the request's signature with the endpoint's secret instead. A bad or missing
signature, or a body too large or unreadable, is answered 400 and changes nothing; a genuine
event is handled once (``continuity.payments.webhooks``) and answered 200, also when it was
handled before, so the provider stops redelivering it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from continuity.payments.webhooks import WebhookRejected, WebhookVerifier, handle_gateway_event

log = logging.getLogger("continuity.webhooks")

#: Provider events are a few KiB; refuse anything far larger before reading it all.
MAX_BODY = 1 << 20


async def _body(request: Request) -> bytes | None:
    """The raw body (signatures cover the exact bytes), or ``None`` past ``MAX_BODY``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_endpoint(
    gateway: WebhookVerifier, today: Callable[[], date]
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        payload = await _body(request)
        if payload is None:
            return JSONResponse({"error": "the body is too large"}, status_code=413)
        try:
            event = gateway.verify_webhook(payload, dict(request.headers.items()))
            handled = await handle_gateway_event(event, today=today())
        except WebhookRejected as rejected:
            log.warning("%s webhook refused: %s", gateway.name, rejected)
            return JSONResponse({"error": "invalid or missing signature"}, status_code=400)
        log.info("%s webhook %s %s: %s", gateway.name, event.type, event.id, handled.outcome)
        return JSONResponse({"received": True, "outcome": handled.outcome})

    return endpoint
