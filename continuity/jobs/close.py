"""Job 6, "close continuity parent orders and lines" (SPEC §5).

A released line whose child order is invoiced is closed. An order with nothing left to ship
(its schedule is complete and no line is pending or released) is closed; a prepaid order that
closes holding money for occurrences it did not ship (lines a continuity update cancelled, say)
gives it back (``continuity.payments.records.settle``); a cancelled order keeps its status and
gets its ``closed_at`` once no released line is still open. A sales order follows its
continuity orders (``continuity.orders.status``). Every pass runs through the one batch loop.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from continuity.connection import connection
from continuity.enums import (
    BillingMode,
    ChildOrderStatus,
    ContinuityLineStatus,
    ContinuityOrderStatus,
)
from continuity.jobs.batch import Outcome, run_batches
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.locking import id_list, locking
from continuity.jobs.runs import RunRecorder, recorded_run
from continuity.models import ChildOrder, ContinuityLine, ContinuityOrder, JobRun, Payment
from continuity.notifications.events import EventType, emit
from continuity.orders.history import record
from continuity.orders.status import follow_continuity_orders
from continuity.parameters import load_call_center_parameters
from continuity.payments.collect import collect_many
from continuity.payments.records import close_refund_key, settle
from continuity.sql import fetch

JOB_NAME = "close-orders"
ACTOR = f"job:{JOB_NAME}"

_OPEN_LINES = (ContinuityLineStatus.PENDING, ContinuityLineStatus.RELEASED)
#: Orders that close once nothing is left to ship.
_CLOSABLE = (ContinuityOrderStatus.ACTIVE, ContinuityOrderStatus.PAYMENT_HOLD)


def _invoiced_lines(filters: JobFilters) -> QuerySet[ContinuityLine]:
    """Released lines whose child order is invoiced."""
    lines = ContinuityLine.filter(
        status=ContinuityLineStatus.RELEASED,
        child_order_id__in=Subquery(
            ChildOrder.filter(status=ChildOrderStatus.INVOICED).values("id")
        ),
    )
    if filters.order is not None:
        lines = lines.filter(continuity_order_id=filters.order)
    if filters.program is not None:
        lines = lines.filter(
            continuity_order_id__in=Subquery(
                ContinuityOrder.filter(program__code=filters.program).values("id")
            )
        )
    return lines


#: Orders not closed yet with no line left to ship, after a keyset position. ``NOT EXISTS``
#: per candidate order (the lines' order index), not ``NOT IN`` every open line: the cost
#: follows the orders table, not the tens of millions of lines a million orders hold.
_FINISHED = """
SELECT o.id FROM continuity_order o
WHERE o.closed_at IS NULL AND o.id > :after {where}
  AND NOT EXISTS (SELECT 1 FROM continuity_line l
                  WHERE l.continuity_order_id = o.id AND l.status IN (:open))
ORDER BY o.id LIMIT :size
"""


async def _finished(
    filters: JobFilters, after: int, size: int, where: str, **params: Any
) -> list[int]:
    """Orders not closed yet with no line left to ship, matching ``where`` (SQL on ``o``)."""
    if filters.order is not None:
        where += " AND o.id = :order"
        params["order"] = filters.order
    if filters.program is not None:
        where += " AND o.program_id IN (SELECT p.id FROM program p WHERE p.code = :program)"
        params["program"] = filters.program
    rows = await fetch(
        connection(),
        _FINISHED.format(where=where),
        after=after,
        size=size,
        open=[status.value for status in _OPEN_LINES],
        **params,
    )
    return [int(row["id"]) for row in rows]


async def close_orders(
    as_of: date,
    *,
    env: JobEnv,
    filters: JobFilters = NO_FILTERS,
    triggered_by: str = "scheduler",
) -> JobRun:
    params = await load_call_center_parameters()
    async with recorded_run(JOB_NAME, as_of, filters.as_dict(), triggered_by) as run:
        run.count("lines_closed", 0)
        run.count("cancelled_orders_closed", 0)

        async def with_invoiced_lines(after: int, size: int) -> list[int]:
            query = _invoiced_lines(filters).filter(continuity_order_id__gt=after)
            return await id_list(
                query.order_by("continuity_order_id").distinct().limit(size),
                "continuity_order_id",
            )

        async def close_lines(ids: list[int], _room: int | None) -> None:
            closed = await (
                _invoiced_lines(filters)
                .filter(continuity_order_id__in=ids)
                .update(status=ContinuityLineStatus.CLOSED, updated_at=datetime.now(UTC))
            )
            run.count("lines_closed", closed)

        async def complete(after: int, size: int) -> list[int]:
            return await _finished(
                filters,
                after,
                size,
                # an expression: the keyset walk by id, not the (status, program) index
                "AND o.schedule_complete = :complete AND o.status || '' IN (:closable)",
                complete=True,
                closable=[status.value for status in _CLOSABLE],
            )

        async def close(ids: list[int], _room: int | None) -> Outcome:
            refunds: list[Payment] = []
            for order_id in ids:  # one transaction per order: its history and events
                refunds += await _close_order(order_id, as_of, run)
            # what a closed prepaid order gives back goes out at once
            waited = await collect_many(refunds, env, as_of, params, run, actor=ACTOR)
            return Outcome(waited=waited)

        async def cancelled(after: int, size: int) -> list[int]:
            return await _finished(
                filters,
                after,
                size,
                "AND o.status || '' = :cancelled",
                cancelled=ContinuityOrderStatus.CANCELLED.value,
            )

        async def stamp(ids: list[int], _room: int | None) -> None:
            stamped = await ContinuityOrder.filter(id__in=ids, closed_at__isnull=True).update(
                closed_at=datetime.now(UTC)
            )
            run.count("cancelled_orders_closed", stamped)

        await run_batches(run, select=with_invoiced_lines, step=close_lines, size=env.batch_size)
        await run_batches(run, select=complete, step=close, size=env.batch_size)
        await run_batches(run, select=cancelled, step=stamp, size=env.batch_size)
    return run.run


async def _close_order(order_id: int, as_of: date, run: RunRecorder) -> list[Payment]:
    """Close one order (re-checked under lock); the refunds it is owed, to send."""
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        order = await locking(
            ContinuityOrder.filter(id=order_id, closed_at__isnull=True, status__in=_CLOSABLE),
            conn,
        ).first()
        if order is None:
            return []
        order.status = ContinuityOrderStatus.CLOSED
        order.closed_at = now
        await order.save(update_fields=["status", "closed_at", "updated_at"], using_db=conn)
        refunds: list[Payment] = []
        if order.billing_mode is not BillingMode.PER_SHIPMENT:
            refunds = await settle(conn, order, key=close_refund_key(order.number), today=as_of)
        entry = await record(
            order.id,
            "closed",
            actor=ACTOR,
            details={
                "as_of": as_of.isoformat(),
                "refund_minor": sum(refund.amount_minor for refund in refunds),
            },
            using_db=conn,
        )
        await emit(
            order,
            EventType.ORDER_CLOSED,
            {"as_of": as_of.isoformat(), "closed_at": now.isoformat()},
            conn=conn,
            discriminator=f"h{entry.id}",
        )
        await follow_continuity_orders(conn, [order.sales_order_id])
        run.count("orders_closed")
        if refunds:
            run.count("refunds_at_close", len(refunds))
    return refunds
