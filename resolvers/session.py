"""What a resolver knows of the request: the caller, today, the settings and the gateway.

A protocol rather than the GraphQL context class, so that ``resolvers`` depends on nothing of
``schema`` (``schema.context.Context`` satisfies it).
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from config.settings import Settings
from continuity.access import Caller
from continuity.orders import placement
from continuity.payments.gateway import PaymentGateway


class Session(Protocol):
    @property
    def caller(self) -> Caller | None: ...

    @property
    def actor(self) -> str:
        """Who is acting, for the history and the job runs (``agent:alice``)."""
        ...

    @property
    def today(self) -> date:
        """Today's business date."""
        ...

    @property
    def settings(self) -> Settings: ...

    @property
    def gateway(self) -> PaymentGateway: ...

    @property
    def write_sales_order(self) -> placement.Writer:
        """Who runs a placement's checks and write (``placement.write_sales_order``, or the
        server's placement worker)."""
        ...


def billing_rules(session: Session) -> placement.BillingRules:
    params = session.settings.call_center
    return placement.BillingRules(
        repeat_threshold=params.repeat_threshold,
        retry_days=params.retry_days,
        reauthorization_limit=params.reauthorization_limit,
    )
