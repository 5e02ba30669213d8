"""The per-request context: who calls, today's date, the gateway, and fresh DataLoaders.

It satisfies ``resolvers.session.Session``: the resolvers read the caller, the date and the
settings through that protocol and never import this module (``schema`` imports ``resolvers``,
never the reverse).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeAlias

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from config.settings import Settings
from continuity.access import Caller
from continuity.idempotency import Claim, Replay
from continuity.orders import placement
from continuity.payments.gateway import PaymentGateway
from schema.loaders import Loaders

Clock: TypeAlias = Callable[[], date]


@dataclass
class Context:
    settings: Settings
    gateway: PaymentGateway
    #: Today's business date; tests pass a fixed one.
    clock: Clock | None = None
    request: Request | WebSocket | None = None
    response: Response | WebSocket | None = None
    #: The authenticated caller (``server/guard.py``); None only for development-mode
    #: introspection, which ``schema.access.AccessControl`` allows and nothing else.
    caller: Caller | None = None
    #: Names this request in the logs and in masked errors (the ``X-Request-Id`` header).
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: The websocket ``connection_init`` payload (strawberry sets it).
    connection_params: dict[str, Any] | None = None
    #: The idempotency keys this request claimed or replays, by response key
    #: (``schema/idempotency.py``).
    idempotency: dict[str, Claim | Replay] = field(default_factory=dict)
    #: The keys this request used: a key names one mutation, even within a request.
    idempotency_keys: set[str] = field(default_factory=set)
    #: Who runs a placement's checks and write: the server's placement worker when it has
    #: one (``server/placement_worker.py``), else this process.
    write_sales_order: placement.Writer = placement.write_sales_order
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        # The loaders see what the caller may see (``schema.access.NODE_POLICY``).
        self.loaders = Loaders(lambda: self.caller)

    @property
    def actor(self) -> str:
        """Who is calling, for the order history and job runs: ``<role>:<token name>``."""
        return self.caller.actor if self.caller is not None else "api"

    @property
    def today(self) -> date:
        """Today in the call center's time zone."""
        if self.clock is not None:
            return self.clock()
        return datetime.now(self.settings.timezone).date()


Info: TypeAlias = StrawberryInfo[Context, Any]
