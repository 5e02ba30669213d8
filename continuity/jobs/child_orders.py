"""Job 5, "create continuity child orders" (SPEC §5).

For each open order with lines due (planned within ``days_before_delivery`` of the run date,
or overdue): one child order per due occurrence, or, when the program consolidates past orders,
one child order for all overdue occurrences. Paused, held and cancelled orders are skipped; an
expired card leaves the lines pending and is counted; prepaid orders wait for the installment
their schedule requires before shipping; ``max_child_orders_per_run`` caps a run.

Orders are taken in batches (keyset on the order id). A batch is one transaction: its orders
are locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a second replica takes other orders),
re-checked, and their due lines released by a few set-based statements
(``continuity.jobs.release``). A crash loses at most the batch in hand, which the next run
finds still due. A batch that fails is retried order by order, so one bad order is recorded
on the run and never blocks the others.
"""

from __future__ import annotations

from datetime import date, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from continuity.enums import ContinuityLineStatus, ContinuityOrderStatus
from continuity.faults import kill_point
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.locking import id_list
from continuity.jobs.release import release_batch
from continuity.jobs.runs import RunRecorder, recorded_run
from continuity.models import ContinuityLine, ContinuityOrder, JobRun, Payment
from continuity.orders.pause import resume_order
from continuity.parameters import load_call_center_parameters
from continuity.payments.collect import collect_many
from continuity.sql import fetch

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
    limit = params.max_child_orders_per_run or None
    async with recorded_run(JOB_NAME, as_of, filters.as_dict(), triggered_by) as run:
        await _resume_due_pauses(as_of, filters, run)
        after = 0
        while True:
            run.checkpoint()
            room = None if limit is None else limit - run.counts["child_orders"]
            if room is not None and room <= 0:
                if await _due_orders(horizon, filters, after, 1):
                    run.count("capped")
                break
            candidates = await _due_orders(horizon, filters, after, env.batch_size)
            if not candidates:
                break
            after = candidates[-1]
            charges = await _release_or_isolate(
                candidates, as_of, horizon, room, run, params.authorize_child_orders
            )
            if params.authorize_child_orders and charges:
                await collect_many(charges, env, as_of, params, run, actor=ACTOR)
    return run.run


async def _resume_due_pauses(as_of: date, filters: JobFilters, run: RunRecorder) -> None:
    """Orders paused until a date that has come are resumed first, so they ship today."""
    query = ContinuityOrder.filter(status=ContinuityOrderStatus.PAUSED, paused_until__lte=as_of)
    if filters.order is not None:
        query = query.filter(id=filters.order)
    if filters.program is not None:
        query = query.filter(program__code=filters.program)
    for order_id in await id_list(query.order_by("id")):
        try:
            await resume_order(
                order_id, today=as_of, actor=ACTOR, reason="the pause ended", if_paused=True
            )
            run.count("resumed")
        except Exception as exc:  # one bad order never aborts the batch
            run.fail(f"order {order_id}", f"{type(exc).__name__}: {exc}")


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


async def _release_or_isolate(
    candidates: list[int],
    as_of: date,
    horizon: date,
    room: int | None,
    run: RunRecorder,
    charge_now: bool,
) -> list[Payment]:
    try:
        return await _release(candidates, as_of, horizon, room, run, charge_now)
    except Exception as exc:
        if len(candidates) == 1:
            run.fail(f"order {candidates[0]}", f"{type(exc).__name__}: {exc}")
            return []
    charges: list[Payment] = []
    for order_id in candidates:
        try:
            charges += await _release([order_id], as_of, horizon, room, run, charge_now)
        except Exception as exc:  # one bad order never aborts the batch
            run.fail(f"order {order_id}", f"{type(exc).__name__}: {exc}")
    return charges


_ELIGIBLE = """
SELECT o.id,
       CASE WHEN pm.exp_year > :year OR (pm.exp_year = :year AND pm.exp_month >= :month)
            THEN 0 ELSE 1 END AS expired,
       CASE WHEN o.billing_mode = 'per_shipment' OR s.ship_after_installment IS NULL
                 OR EXISTS (SELECT 1 FROM payment p
                            WHERE p.continuity_order_id = o.id AND p.status = 'succeeded'
                              AND p.installment_number = s.ship_after_installment)
            THEN 0 ELSE 1 END AS unpaid
FROM continuity_order o
JOIN payment_method pm ON pm.id = o.payment_method_id
LEFT JOIN payment_schedule s ON s.id = o.payment_schedule_id
WHERE o.id IN (:orders) AND o.status || '' = 'active'  -- not the status index: the ids
ORDER BY o.id
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


async def _lock(conn: BaseDBAsyncClient, order_ids: list[int]) -> list[int]:
    """The batch's orders still active, locked for this transaction (PostgreSQL: orders
    another replica holds are skipped; it is releasing them)."""
    if conn.capabilities.dialect != "postgres":
        return order_ids
    query = ContinuityOrder.filter(id__in=order_ids, status=ContinuityOrderStatus.ACTIVE)
    return await id_list(query.using_db(conn).select_for_update(skip_locked=True).order_by("id"))


async def _release(
    candidates: list[int],
    as_of: date,
    horizon: date,
    room: int | None,
    run: RunRecorder,
    charge_now: bool,
) -> list[Payment]:
    """One transaction: lock, re-check, release; returns the shipment charges it created."""
    async with in_transaction() as conn:
        locked = await _lock(conn, candidates)
        if not locked:
            return []
        checks = await fetch(conn, _ELIGIBLE, orders=locked, year=as_of.year, month=as_of.month)
        eligible = []
        for row in checks:
            if row["expired"]:
                run.count("expired_cards")
            elif row["unpaid"]:
                run.count("awaiting_installment")
            else:
                eligible.append(int(row["id"]))
        if room is not None and eligible:
            eligible = await _within(conn, eligible, as_of, horizon, room)
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
        charge_ids = released.charge_ids
    kill_point("child-orders-committed")
    if not (charge_now and charge_ids):
        return []
    return await Payment.filter(id__in=charge_ids).order_by("id")


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
