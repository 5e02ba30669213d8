"""Job 5, "create continuity child orders" (SPEC §5).

For each open order with lines due (planned within ``days_before_delivery`` of the run date,
or overdue): one child order per due occurrence, or, when the program consolidates past orders,
one child order for all overdue occurrences. Paused, held and cancelled orders are skipped; an
expired card leaves the lines pending and is counted; prepaid orders wait for the installment
their schedule requires before shipping. Each order is one transaction (a crash loses at most
the order in hand, which the next run completes); lines move PENDING → RELEASED exactly once.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from continuity.customers import card_expired
from continuity.enums import (
    BillingMode,
    ChildOrderStatus,
    ContinuityLineStatus,
    ContinuityOrderStatus,
    PaymentKind,
    PaymentPurpose,
    PaymentStatus,
)
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.locking import claim_order, id_list
from continuity.jobs.runs import RunRecorder, recorded_run
from continuity.models import (
    CallCenterParameters,
    ChildOrder,
    ChildOrderLine,
    ContinuityLine,
    ContinuityOrder,
    JobRun,
    Payment,
    PaymentMethod,
    PaymentSchedule,
    ProgramVersion,
)
from continuity.orders.history import record
from continuity.orders.numbers import new_number
from continuity.orders.pause import resume_order
from continuity.parameters import load_call_center_parameters
from continuity.payments.collect import collect

JOB_NAME = "create-child-orders"


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
        await _resume_due_pauses(as_of, filters, run)
        created = 0
        limit = params.max_child_orders_per_run or None
        after = 0
        while True:
            candidates = await _due_orders(horizon, filters, after, env.batch_size)
            if not candidates:
                break
            after = candidates[-1]
            for order_id in candidates:
                if limit is not None and created >= limit:
                    run.count("capped")
                    return run.run
                try:
                    created += await _release_order(
                        order_id,
                        as_of,
                        horizon,
                        params,
                        env,
                        run,
                        None if limit is None else limit - created,
                    )
                except Exception as exc:  # one bad order never aborts the batch
                    run.fail(f"order {order_id}", f"{type(exc).__name__}: {exc}")
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
                order_id,
                today=as_of,
                actor=f"job:{JOB_NAME}",
                reason="the pause ended",
                if_paused=True,
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


async def _installment_paid(order: ContinuityOrder) -> bool:
    """Prepaid orders on a schedule ship once the schedule's required installment is paid."""
    if order.payment_schedule_id is None:
        return True
    schedule = await PaymentSchedule.get(id=order.payment_schedule_id)
    if schedule.ship_after_installment is None:
        return True
    return await Payment.filter(
        continuity_order_id=order.id,
        installment_number=schedule.ship_after_installment,
        status=PaymentStatus.SUCCEEDED,
    ).exists()


async def _release_order(
    order_id: int,
    as_of: date,
    horizon: date,
    params: CallCenterParameters,
    env: JobEnv,
    run: RunRecorder,
    room: int | None,
) -> int:
    """Create the child orders of one order; return how many."""
    payments: list[tuple[Payment, ChildOrder]] = []
    async with in_transaction() as conn:
        order = await claim_order(order_id, conn)
        if order is None or order.status is not ContinuityOrderStatus.ACTIVE:
            return 0  # another replica has it, or it changed since the scan
        method = await PaymentMethod.filter(id=order.payment_method_id).using_db(conn).get()
        if card_expired(method.exp_month, method.exp_year, as_of):
            run.count("expired_cards")
            return 0
        if order.billing_mode is not BillingMode.PER_SHIPMENT and not await _installment_paid(
            order
        ):
            run.count("awaiting_installment")
            return 0
        lines = (
            await ContinuityLine.filter(
                continuity_order_id=order.id,
                status=ContinuityLineStatus.PENDING,
                planned_ship_date__lte=horizon,
            )
            .using_db(conn)
            .order_by("planned_ship_date", "event_number", "repeat_index", "item_seq")
        )
        occurrences: OrderedDict[tuple[int, int], list[ContinuityLine]] = OrderedDict()
        for line in lines:
            occurrences.setdefault((line.event_number, line.repeat_index), []).append(line)
        groups = _group(order, occurrences, as_of, await _consolidates(order))
        if room is not None:
            groups = groups[:room]
        for group, consolidated in groups:
            child = await _create_child_order(order, group, consolidated, as_of, run, conn)
            run.count("child_orders")
            run.count("lines", len(group))
            if consolidated:
                run.count("consolidated")
            if order.billing_mode is BillingMode.PER_SHIPMENT:
                payment = await Payment.create(
                    kind=PaymentKind.CHARGE,
                    purpose=PaymentPurpose.SHIPMENT,
                    status=PaymentStatus.PENDING,
                    continuity_order_id=order.id,
                    sales_order_id=order.sales_order_id,
                    child_order_id=child.id,
                    payment_method_id=order.payment_method_id,
                    amount_minor=child.total_minor,
                    currency=order.currency,
                    due_date=as_of,
                    idempotency_key=f"{child.number}:charge",
                    using_db=conn,
                )
                payments.append((payment, child))
    if params.authorize_child_orders:
        for payment, child in payments:
            await settle_shipment_charge(payment, child, env, as_of, params, run)
    return len(groups)


async def _consolidates(order: ContinuityOrder) -> bool:
    version = await ProgramVersion.get(id=order.program_version_id)
    return version.consolidate_past_orders


def _group(
    order: ContinuityOrder,
    occurrences: OrderedDict[tuple[int, int], list[ContinuityLine]],
    as_of: date,
    consolidate: bool,
) -> list[tuple[list[ContinuityLine], bool]]:
    """Overdue occurrences together when the program consolidates, else one child order per
    occurrence."""
    overdue = [lines for lines in occurrences.values() if lines[0].planned_ship_date < as_of]
    upcoming = [lines for lines in occurrences.values() if lines[0].planned_ship_date >= as_of]
    groups: list[tuple[list[ContinuityLine], bool]] = []
    if consolidate and len(overdue) > 1:
        groups.append(([line for lines in overdue for line in lines], True))
    else:
        groups.extend((lines, False) for lines in overdue)
    groups.extend((lines, False) for lines in upcoming)
    return groups


async def _create_child_order(
    order: ContinuityOrder,
    lines: list[ContinuityLine],
    consolidated: bool,
    as_of: date,
    run: RunRecorder,
    conn: BaseDBAsyncClient,
) -> ChildOrder:
    prepaid = order.billing_mode is not BillingMode.PER_SHIPMENT
    child = await ChildOrder.create(
        number=new_number("CH", as_of),
        continuity_order_id=order.id,
        customer_id=order.customer_id,
        ship_to_id=order.ship_to_id,
        payment_method_id=order.payment_method_id,
        status=ChildOrderStatus.AUTHORIZED if prepaid else ChildOrderStatus.CREATED,
        consolidated=consolidated,
        currency=order.currency,
        total_minor=0 if prepaid else sum(line.quantity * line.price_minor for line in lines),
        created_for=as_of,
        job_run_id=run.run.id,
        using_db=conn,
    )
    await ChildOrderLine.bulk_create(
        [
            ChildOrderLine(
                child_order_id=child.id,
                continuity_line_id=line.id,
                product_id=line.product_id,
                quantity=line.quantity,
                price_minor=line.price_minor,
            )
            for line in lines
            if line.product_id is not None
        ],
        using_db=conn,
    )
    await (
        ContinuityLine.filter(id__in=[line.id for line in lines])
        .using_db(conn)
        .update(status=ContinuityLineStatus.RELEASED, child_order_id=child.id)
    )
    await record(
        order.id,
        "child_order_created",
        actor=f"job:{JOB_NAME}",
        details={
            "child_order": child.number,
            "consolidated": consolidated,
            "occurrences": sorted({(line.event_number, line.repeat_index) for line in lines}),
            "as_of": as_of.isoformat(),
        },
        using_db=conn,
    )
    return child


async def settle_shipment_charge(
    payment: Payment,
    child: ChildOrder,
    env: JobEnv,
    as_of: date,
    params: CallCenterParameters,
    run: RunRecorder,
) -> None:
    """Charge a child order's shipment when it is created (``authorize_child_orders``)."""
    await collect(payment, env, as_of, params, run)
