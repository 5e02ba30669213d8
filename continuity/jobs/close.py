"""Job 6, "close continuity parent orders and lines" (SPEC §5).

A released line whose child order is invoiced is closed. An order with nothing left to ship
(its schedule is complete and no line is pending or released) is closed; a cancelled order
keeps its status and gets its ``closed_at`` once no released line is still open. Set-based:
two UPDATE statements per batch, whatever the number of lines.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from continuity.enums import ChildOrderStatus, ContinuityLineStatus, ContinuityOrderStatus
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.locking import id_list
from continuity.jobs.runs import recorded_run
from continuity.models import ChildOrder, ContinuityLine, ContinuityOrder, JobRun
from continuity.notifications.events import EventType, emit
from continuity.orders.history import record

JOB_NAME = "close-orders"

_OPEN_LINES = (ContinuityLineStatus.PENDING, ContinuityLineStatus.RELEASED)


async def close_orders(
    as_of: date,
    *,
    env: JobEnv,
    filters: JobFilters = NO_FILTERS,
    triggered_by: str = "scheduler",
) -> JobRun:
    async with recorded_run(JOB_NAME, as_of, filters.as_dict(), triggered_by) as run:
        invoiced = ChildOrder.filter(status=ChildOrderStatus.INVOICED)
        lines = ContinuityLine.filter(
            status=ContinuityLineStatus.RELEASED,
            child_order_id__in=Subquery(invoiced.values("id")),
        )
        if filters.order is not None:
            lines = lines.filter(continuity_order_id=filters.order)
        if filters.program is not None:
            lines = lines.filter(
                continuity_order_id__in=Subquery(
                    ContinuityOrder.filter(program__code=filters.program).values("id")
                )
            )
        run.count("lines_closed", await lines.update(status=ContinuityLineStatus.CLOSED))

        orders = ContinuityOrder.filter(closed_at__isnull=True).exclude(
            id__in=Subquery(
                ContinuityLine.filter(status__in=_OPEN_LINES)
                .distinct()
                .values("continuity_order_id")
            )
        )
        if filters.order is not None:
            orders = orders.filter(id=filters.order)
        if filters.program is not None:
            orders = orders.filter(program__code=filters.program)
        done = orders.filter(
            schedule_complete=True,
            status__in=[ContinuityOrderStatus.ACTIVE, ContinuityOrderStatus.PAYMENT_HOLD],
        )
        now = datetime.now(UTC)
        for order_id in await id_list(done):
            async with in_transaction() as conn:
                changed = await ContinuityOrder.filter(id=order_id, closed_at__isnull=True).update(
                    status=ContinuityOrderStatus.CLOSED, closed_at=now
                )
                if changed:
                    entry = await record(
                        order_id,
                        "closed",
                        actor=f"job:{JOB_NAME}",
                        details={"as_of": as_of.isoformat()},
                    )
                    closed = await ContinuityOrder.get(id=order_id, using_db=conn)
                    await emit(
                        closed,
                        EventType.ORDER_CLOSED,
                        {"as_of": as_of.isoformat(), "closed_at": now.isoformat()},
                        conn=conn,
                        discriminator=f"h{entry.id}",
                    )
                    run.count("orders_closed")
        cancelled = orders.filter(status=ContinuityOrderStatus.CANCELLED)
        run.count("cancelled_orders_closed", await cancelled.update(closed_at=now))
    return run.run
