"""Job 5, "create continuity child orders" (SPEC §5).

For each open order with lines due (planned within ``days_before_delivery`` of the run date,
or overdue): one child order per due occurrence, or, when the program consolidates past orders,
one child order for all overdue occurrences. Paused, held and cancelled orders are skipped; an
expired card leaves the lines pending and is counted; a prepaid order ships nothing until the
charge that gates shipping is taken (its up-front charge, or its installments up to
``ship_after_installment``: ``continuity.payments.records.awaiting_payment``): its due lines
wait and go out at the first run after it is paid; ``max_child_orders_per_run`` caps a run.

The work runs through the one batch loop (``continuity.jobs.batch``): orders in keyset
batches, a failing batch retried order by order, the cap held on every path. A batch is one
transaction: its orders are locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a second replica
takes other orders), re-checked, and their due lines released by a few set-based statements
(``continuity.jobs.release``). A crash loses at most the batch in hand, which the next run
finds still due.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from continuity.customers import card_expired
from continuity.enums import ContinuityLineStatus, ContinuityOrderStatus
from continuity.faults import kill_point
from continuity.jobs.batch import Outcome, read_ahead, run_batches
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.locking import id_list
from continuity.jobs.release import release_batch
from continuity.jobs.runs import RunRecorder, recorded_run
from continuity.models import (
    CallCenterParameters,
    ContinuityLine,
    ContinuityOrder,
    JobRun,
    Payment,
)
from continuity.orders.pause import resume_order
from continuity.parameters import load_call_center_parameters
from continuity.payments.collect import collect_many
from continuity.payments.records import awaiting_payment
from continuity.rows import select
from continuity.sql import fetch, for_update

JOB_NAME = "create-child-orders"
ACTOR = f"job:{JOB_NAME}"


async def create_child_orders(
    as_of: date,
    *,
    env: JobEnv,
    filters: JobFilters = NO_FILTERS,
    triggered_by: str = "scheduler",
) -> JobRun:
    params = await load_call_center_parameters()
    horizon = as_of + timedelta(days=params.days_before_delivery)
    async with recorded_run(JOB_NAME, as_of, filters.as_dict(), triggered_by) as run:

        async def due_pauses(after: int, size: int) -> list[int]:
            return await _due_pauses(as_of, filters, after, size)

        async def resume(ids: list[int], _room: int | None) -> None:
            for order_id in ids:
                resumed = await resume_order(
                    order_id, today=as_of, actor=ACTOR, reason="the pause ended", if_paused=True
                )
                if resumed.status is ContinuityOrderStatus.ACTIVE:
                    run.count("resumed")

        @read_ahead
        async def due_orders(after: int, size: int) -> list[int]:
            return await _due_orders(horizon, filters, after, size)

        async def release(ids: list[int], room: int | None) -> Outcome:
            return await _release(ids, as_of, horizon, room, run, params, env)

        # orders paused until a date that has come are resumed first, so they ship today
        # (one at a time: a resume re-plans one order; they are few)
        await run_batches(run, select=due_pauses, step=resume, size=1)
        await run_batches(
            run,
            select=due_orders,
            step=release,
            size=env.batch_size,
            cap=params.max_child_orders_per_run or None,
        )
    return run.run


async def _due_pauses(as_of: date, filters: JobFilters, after: int, size: int) -> list[int]:
    """Orders paused until a date that has come."""
    query = ContinuityOrder.filter(
        status=ContinuityOrderStatus.PAUSED, paused_until__lte=as_of, id__gt=after
    )
    if filters.order is not None:
        query = query.filter(id=filters.order)
    if filters.program is not None:
        query = query.filter(program__code=filters.program)
    return await id_list(query.order_by("id").limit(size))


async def _due_orders(horizon: date, filters: JobFilters, after: int, size: int) -> list[int]:
    """Ids of active orders with a pending line due by ``horizon``, in id order."""
    query = ContinuityLine.filter(
        status=ContinuityLineStatus.PENDING,
        planned_ship_date__lte=horizon,
        continuity_order__status=ContinuityOrderStatus.ACTIVE,
        continuity_order_id__gt=after,
    )
    if filters.order is not None:
        query = query.filter(continuity_order_id=filters.order)
    if filters.program is not None:
        query = query.filter(continuity_order__program__code=filters.program)
    return await id_list(
        query.order_by("continuity_order_id").distinct().limit(size), "continuity_order_id"
    )


#: The batch's orders still active, locked for the transaction (``lock_skipping``'s rows),
#: with their card's expiry, written out: the ORM's query builder spent ~10 µs per id of the
#: ``IN`` list (0.1 s a run of 10 k due orders), the text here is rendered once per batch size
#: (``sql.render``). Only the orders are locked (``OF o``), not their cards.
_LOCK = """
SELECT o.id, pm.exp_month, pm.exp_year
FROM continuity_order o JOIN payment_method pm ON pm.id = o.payment_method_id
WHERE o.id IN (:orders) AND o.status || '' = 'active'  -- not the status index: the ids
ORDER BY o.id {lock}
"""

_GROUPS = """
SELECT l.continuity_order_id AS order_id,
       COUNT(DISTINCT CASE WHEN v.consolidate_past_orders AND l.planned_ship_date < :as_of
                           THEN -1 ELSE l.event_number * 100000 + l.repeat_index END) AS n
FROM continuity_line l
JOIN continuity_order o ON o.id = l.continuity_order_id
JOIN program_version v ON v.id = o.program_version_id
WHERE l.continuity_order_id IN (:orders) AND l.status || '' = 'pending'
  AND l.planned_ship_date <= :horizon
GROUP BY l.continuity_order_id
ORDER BY l.continuity_order_id
"""


async def _eligible(
    conn: BaseDBAsyncClient, locked: list[dict[str, Any]], as_of: date, run: RunRecorder
) -> list[int]:
    """The locked orders (``_LOCK``'s rows) that may ship today: a card valid on the run
    date, and (prepaid orders) the charge that gates shipping taken."""
    waiting = await awaiting_payment(conn, [int(row["id"]) for row in locked])
    eligible = []
    for row in locked:
        order_id = int(row["id"])
        if card_expired(int(row["exp_month"]), int(row["exp_year"]), as_of):
            run.count("expired_cards")
        elif order_id in waiting:
            run.count("awaiting_payment")
        else:
            eligible.append(order_id)
    return eligible


async def _release(
    candidates: list[int],
    as_of: date,
    horizon: date,
    room: int | None,
    run: RunRecorder,
    params: CallCenterParameters,
    env: JobEnv,
) -> Outcome:
    """One transaction: lock, re-check, release (within ``room``); then, with
    ``authorize_child_orders``, charge the new shipment charges."""
    charge_now = params.authorize_child_orders
    full = False
    async with in_transaction() as conn:
        locked = await fetch(
            conn, _LOCK.format(lock=for_update(conn, skip_locked=True, of="o")), orders=candidates
        )
        if not locked:
            return Outcome()
        eligible = await _eligible(conn, locked, as_of, run)
        if room is not None and eligible:
            fitting = await _within(conn, eligible, as_of, horizon, room)
            full = len(fitting) < len(eligible)
            eligible = fitting
        released = await release_batch(
            conn,
            eligible,
            as_of=as_of,
            horizon=horizon,
            run_id=run.run.id,
            actor=ACTOR,
            charge_now=charge_now,
        )
        run.count("child_orders", released.child_orders)
        run.count("lines", released.lines)
        if released.consolidated:
            run.count("consolidated", released.consolidated)
    kill_point("child-orders-committed")
    waited = 0.0
    if charge_now and released.charge_ids:
        charges = await select(Payment.filter(id__in=released.charge_ids).order_by("id"))
        waited = await collect_many(charges, env, as_of, params, run, actor=ACTOR)
    return Outcome(used=released.child_orders, full=full, waited=waited)


async def _within(
    conn: BaseDBAsyncClient, order_ids: list[int], as_of: date, horizon: date, room: int
) -> list[int]:
    """The first orders whose child orders fit in what the run may still create."""
    kept: list[int] = []
    for row in await fetch(conn, _GROUPS, orders=order_ids, as_of=as_of, horizon=horizon):
        room -= int(row["n"])
        if room < 0:
            break
        kept.append(int(row["order_id"]))
    return kept
