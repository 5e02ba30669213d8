"""The agents' bulk changes: a start date or a product on many orders at once, all or none,
with a dry run first (``continuity.orders.bulk``)."""

from __future__ import annotations

import datetime

from continuity import models
from continuity.errors import NotFound
from continuity.orders import bulk
from continuity.sql import id_list
from resolvers.scope import require_agent_reason
from resolvers.session import Session


async def _existing(order_ids: list[int]) -> None:
    """``NotFound`` on the first id that names no continuity order."""
    found = set(await id_list(models.ContinuityOrder.filter(id__in=order_ids)))
    for index, order_id in enumerate(order_ids):
        if order_id not in found:
            raise NotFound("no such continuity order", field=["input", "orderIds", str(index)])


async def update_start_date(
    session: Session,
    order_ids: list[int],
    *,
    new_start_date: datetime.date | None,
    add_days: int | None,
    dry_run: bool,
    reason: str | None,
) -> list[bulk.StartDateChange]:
    if not dry_run:
        require_agent_reason(session.caller, reason)
    await _existing(order_ids)
    return await bulk.update_start_date(
        order_ids,
        new_start=new_start_date,
        add_days=add_days,
        actor=session.actor,
        reason=reason,
        dry_run=dry_run,
    )


async def substitute_product(
    session: Session,
    order_ids: list[int],
    *,
    from_sku: str,
    to_sku: str,
    dry_run: bool,
    reason: str | None,
) -> list[bulk.Substitution]:
    if not dry_run:
        require_agent_reason(session.caller, reason)
    await _existing(order_ids)
    return await bulk.substitute_product(
        order_ids,
        from_sku,
        to_sku,
        today=session.today,
        actor=session.actor,
        reason=reason,
        dry_run=dry_run,
    )
