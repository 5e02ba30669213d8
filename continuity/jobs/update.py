"""Job 3, "continuity update" (SPEC §5): orders on an old program version move to the live one.

Only what has not been released changes: pending lines are re-planned from the first pending
occurrence with the new version's items, prices, quantities and gaps (keeping that
occurrence's date); released history is never rewritten; customers' skips survive. An order
whose next event no longer exists in the new version ends there (its pending lines are
cancelled). Prepaid orders keep the total they paid. Each move is logged in the order's history.
``preview_continuity_update`` is the dry run: the same plan, nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tortoise.transactions import in_transaction

from continuity.enums import BillingMode, ContinuityLineStatus, ContinuityOrderStatus
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.locking import claim_order, id_list
from continuity.jobs.runs import RunRecorder, recorded_run
from continuity.models import ContinuityLine, ContinuityOrder, JobRun, Program, ProgramVersion
from continuity.notifications.events import EventType, emit
from continuity.orders.history import record
from continuity.orders.replan import Replan, apply_replan, plan_replan
from continuity.parameters import load_call_center_parameters
from continuity.programs import live_version, program_spec

JOB_NAME = "continuity-update"

_OPEN = (
    ContinuityOrderStatus.ACTIVE,
    ContinuityOrderStatus.PAUSED,
    ContinuityOrderStatus.PAYMENT_HOLD,
)


@dataclass(frozen=True)
class OrderUpdate:
    """What moving one order to the live version changes."""

    order_id: int
    order_number: str
    from_version: int
    to_version: int
    lines_removed: int
    lines_added: int
    date_changes: int
    cancelled_events: tuple[int, ...]


async def _stale_orders(filters: JobFilters, after: int, size: int) -> list[int]:
    """Open orders whose version is not their program's live (highest) version."""
    query = ContinuityOrder.filter(status__in=_OPEN, id__gt=after)
    if filters.order is not None:
        query = query.filter(id=filters.order)
    if filters.program is not None:
        query = query.filter(program__code=filters.program)
    live: dict[int, int] = {}
    for version in await ProgramVersion.all().order_by("number").only("id", "program_id"):
        live[version.program_id] = version.id
    if not live:
        return []
    query = query.exclude(program_version_id__in=list(live.values()))
    return await id_list(query.order_by("id").limit(size))


async def _plan(
    order: ContinuityOrder, threshold: int
) -> tuple[Replan, ProgramVersion, ProgramVersion]:
    old = await ProgramVersion.get(id=order.program_version_id)
    new = await live_version(order.program_id)
    program = await Program.get(id=order.program_id)
    spec = await program_spec(new, program.code)
    lines = await ContinuityLine.filter(continuity_order_id=order.id)
    replan = plan_replan(
        order,
        lines,
        spec,
        threshold=threshold,
        up_front=order.billing_mode is not BillingMode.PER_SHIPMENT,
    )
    return replan, old, new


def _summary(
    order: ContinuityOrder, replan: Replan, old: ProgramVersion, new: ProgramVersion
) -> OrderUpdate:
    return OrderUpdate(
        order_id=order.id,
        order_number=order.number,
        from_version=old.number,
        to_version=new.number,
        lines_removed=len(replan.removed),
        lines_added=sum(len(o.items or (None,)) for o in replan.added),
        date_changes=len(replan.date_changes),
        cancelled_events=tuple(replan.cancelled_events),
    )


async def preview_continuity_update(filters: JobFilters = NO_FILTERS) -> list[OrderUpdate]:
    """The dry run: what the continuity update would change, order by order."""
    params = await load_call_center_parameters()
    result: list[OrderUpdate] = []
    after = 0
    while True:
        ids = await _stale_orders(filters, after, 500)
        if not ids:
            return result
        after = ids[-1]
        for order in await ContinuityOrder.filter(id__in=ids).order_by("id"):
            replan, old, new = await _plan(order, params.repeat_threshold)
            result.append(_summary(order, replan, old, new))


async def continuity_update(
    as_of: date,
    *,
    env: JobEnv,
    filters: JobFilters = NO_FILTERS,
    triggered_by: str = "scheduler",
) -> JobRun:
    params = await load_call_center_parameters()
    async with recorded_run(JOB_NAME, as_of, filters.as_dict(), triggered_by) as run:
        after = 0
        while True:
            run.checkpoint()
            ids = await _stale_orders(filters, after, env.batch_size)
            if not ids:
                break
            after = ids[-1]
            for order_id in ids:
                try:
                    await _update_order(order_id, params.repeat_threshold, run)
                except Exception as exc:  # one bad order never aborts the batch
                    run.fail(f"order {order_id}", f"{type(exc).__name__}: {exc}")
    return run.run


async def _update_order(order_id: int, threshold: int, run: RunRecorder) -> None:
    async with in_transaction() as conn:
        order = await claim_order(order_id, conn)
        if order is None or order.status not in _OPEN:
            return
        replan, old, new = await _plan(order, threshold)
        if old.id == new.id:
            return
        if replan.cancelled_events:
            await (
                ContinuityLine.filter(id__in=[line.id for line in replan.removed])
                .using_db(conn)
                .update(status=ContinuityLineStatus.CANCELLED)
            )
            replan.removed = []
        order.program_version_id = new.id
        await apply_replan(order, replan, conn)
        summary = _summary(order, replan, old, new)
        entry = await record(
            order.id,
            "program_updated",
            actor=f"job:{JOB_NAME}",
            reason=f"program version {old.number} → {new.number}",
            details={
                "from_version": old.number,
                "to_version": new.number,
                "lines_removed": summary.lines_removed,
                "lines_added": summary.lines_added,
                "date_changes": summary.date_changes,
                "cancelled_events": list(summary.cancelled_events),
            },
            using_db=conn,
        )
        await emit(
            order,
            EventType.PROGRAM_CHANGED,
            {
                "program_version_before": old.number,
                "program_version_after": new.number,
                "lines_removed": summary.lines_removed,
                "lines_added": summary.lines_added,
                "date_changes": summary.date_changes,
                "cancelled_events": list(summary.cancelled_events),
            },
            conn=conn,
            discriminator=f"h{entry.id}",
        )
        run.count("orders_updated")
        run.count("lines_replanned", summary.lines_added)
