"""Pausing and resuming a continuity order (SPEC §6, docs/CHANGES.md "Pausing and resuming").

A pause stops the order where it is: while it is ``PAUSED`` the child-order job creates nothing
for it. A resume (by an agent or the customer, or by the jobs when ``paused_until`` is reached)
re-plans the order from the resume date through the one re-planner (``continuity.orders.replan``)
so that nothing is dropped and nothing is bunched: the first pending occurrence ships on the
resume date and the later ones keep the program's gaps after it, computed from a new anchor.
"""

from __future__ import annotations

from datetime import date

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from continuity.engine.plan import resume_anchor
from continuity.enums import ContinuityOrderStatus
from continuity.errors import Conflict, InvalidInput
from continuity.models import ContinuityOrder
from continuity.notifications.events import EventType, emit
from continuity.orders.changes import (
    ORDER_FIELD,
    clean_reason,
    locked_order,
    require_open,
    save_order,
)
from continuity.orders.history import record
from continuity.orders.replan import order_state, save


async def pause_order(
    order_id: int,
    *,
    until: date | None = None,
    today: date,
    actor: str,
    reason: str | None = None,
) -> ContinuityOrder:
    """Pause an active order, indefinitely or until a date after today (the jobs resume it
    on that date). Orders on payment hold cannot be paused: the hold is settled by paying."""
    why = clean_reason(reason)
    if until is not None and until <= today:
        raise InvalidInput(f"must be after today ({today.isoformat()})", field=["input", "until"])
    async with in_transaction() as conn:
        order = await locked_order(order_id, conn)
        require_open(order)
        if order.status is not ContinuityOrderStatus.ACTIVE:
            raise Conflict(
                f"order {order.number} is {order.status.value}: only an active order can be paused",
                field=ORDER_FIELD,
            )
        order.status = ContinuityOrderStatus.PAUSED
        order.paused_until = until
        await save_order(order, ["status", "paused_until"], conn)
        entry = await record(
            order.id,
            "paused",
            actor=actor,
            reason=why,
            details={
                "before": {"status": ContinuityOrderStatus.ACTIVE.value, "paused_until": None},
                "after": {
                    "status": ContinuityOrderStatus.PAUSED.value,
                    "paused_until": until.isoformat() if until else None,
                },
            },
            using_db=conn,
        )
        await emit(
            order,
            EventType.ORDER_PAUSED,
            {
                "paused_until": until.isoformat() if until else None,
                "actor": actor,
                "reason": why,
            },
            conn=conn,
            discriminator=f"h{entry.id}",
        )
    return order


async def resume_order(
    order: ContinuityOrder | int,
    *,
    today: date,
    actor: str,
    reason: str | None = None,
    if_paused: bool = False,
) -> ContinuityOrder:
    """Resume a paused order on ``today`` (the jobs pass their ``as_of``).

    If the first pending occurrence was planned before ``today``, the order is re-anchored:
    that occurrence ships on ``today`` and every later occurrence gets the date the planner
    computes from there (the program's gaps kept; a ``skip`` event or a skipped occurrence
    keeps its slot); released and closed lines, and skips before the first pending
    occurrence, keep their dates. Otherwise no date moves.

    The order is re-read under lock. If it is no longer paused (resumed by someone else, or
    cancelled), it is refused with ``INVALID_STATE``, or with ``if_paused=True`` (the jobs'
    automatic resume) returned unchanged with nothing written, so a repeated call is harmless.
    """
    why = clean_reason(reason)
    order_id = order if isinstance(order, int) else order.id
    async with in_transaction() as conn:
        locked = await locked_order(order_id, conn)
        if locked.status is not ContinuityOrderStatus.PAUSED:
            if if_paused:
                return locked
            require_open(locked)
            raise Conflict(
                f"order {locked.number} is {locked.status.value}: only a paused order can be "
                "resumed",
                field=ORDER_FIELD,
            )
        before = {
            "status": locked.status.value,
            "paused_until": locked.paused_until.isoformat() if locked.paused_until else None,
            "anchor": _anchor(locked),
        }
        moved = await _replan(locked, today, conn)
        locked.status = ContinuityOrderStatus.ACTIVE
        locked.paused_until = None
        await save_order(
            locked,
            [
                "status",
                "paused_until",
                "anchor_date",
                "anchor_event_number",
                "anchor_repeat_index",
            ],
            conn,
        )
        entry = await record(
            locked.id,
            "resumed",
            actor=actor,
            reason=why,
            details={
                "resume_date": today.isoformat(),
                "before": before,
                "after": {"status": locked.status.value, "anchor": _anchor(locked)},
                "lines_rescheduled": moved,
            },
            using_db=conn,
        )
        await emit(
            locked,
            EventType.ORDER_RESUMED,
            {
                "resume_date": today.isoformat(),
                "lines_rescheduled": moved,
                "actor": actor,
                "reason": why,
            },
            conn=conn,
            discriminator=f"h{entry.id}",
        )
    return locked


def _anchor(order: ContinuityOrder) -> dict[str, object]:
    return {
        "date": order.anchor_date.isoformat(),
        "event_number": order.anchor_event_number,
        "repeat_index": order.anchor_repeat_index,
    }


async def _replan(order: ContinuityOrder, resume: date, conn: BaseDBAsyncClient) -> int:
    """Re-anchor the order at ``resume`` if its first pending occurrence is overdue, and
    re-plan everything after it (``continuity.engine.plan.resume_anchor``): pending lines,
    ``skip`` events and the customer's skips all keep their slot. Returns how many lines
    changed date."""
    state = await order_state(conn, order, as_of=resume)
    anchor = resume_anchor(state.held, resume)
    if anchor is None:
        return 0
    result = await save(conn, order, state, state.plan(threshold=None, anchor=anchor))
    return result.lines_moved
