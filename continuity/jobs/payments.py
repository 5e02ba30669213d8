"""Job 4, "process continuity payments" (SPEC §5).

Charges what is due by the run date: scheduled installments, shipment charges not yet
collected, and declined payments whose retry date has come; a payment that exhausts
``reauthorization_limit`` retries fails and puts its order on payment hold. A held order whose
customer gave a new card has its failed payments retried on that card with a fresh budget.
Then the notices the calendar causes are written (``continuity.notifications.notices``):
installment bills ``on_account_bill_days`` before they are due, upcoming shipments and
prepaid plans' renewal notices.
Every attempt uses a per-attempt idempotency key, so a crash or a second replica never charges
twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from continuity.enums import ContinuityOrderStatus, PaymentKind, PaymentStatus
from continuity.faults import kill_point
from continuity.jobs.claims import CLAIM_LEASE, claim_payments, due
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.locking import id_list
from continuity.jobs.runs import RunRecorder, recorded_run
from continuity.models import ContinuityOrder, JobRun, Payment
from continuity.notifications.notices import issue_notices
from continuity.parameters import load_call_center_parameters
from continuity.payments.collect import collect_many

JOB_NAME = "process-payments"

__all__ = ["CLAIM_LEASE", "JOB_NAME", "process_payments"]

#: Orders whose payments are no longer collected.
_CLOSED = (ContinuityOrderStatus.CANCELLED, ContinuityOrderStatus.CLOSED)


def _filtered(query: QuerySet[Payment], filters: JobFilters) -> QuerySet[Payment]:
    if filters.order is not None:
        query = query.filter(continuity_order_id=filters.order)
    if filters.program is not None:
        query = query.filter(continuity_order__program__code=filters.program)
    return query


async def process_payments(
    as_of: date,
    *,
    env: JobEnv,
    filters: JobFilters = NO_FILTERS,
    triggered_by: str = "scheduler",
) -> JobRun:
    params = await load_call_center_parameters()
    async with recorded_run(JOB_NAME, as_of, filters.as_dict(), triggered_by) as run:
        await _retry_held_orders_on_new_cards(as_of, filters, run)
        after = 0
        while True:
            run.checkpoint()
            ids = await _due_payments(as_of, filters, after, env.batch_size)
            if not ids:
                break
            after = ids[-1]
            claimed = await claim_payments(ids, as_of, run.run.id)
            kill_point("payments-claimed")
            await collect_many(claimed, env, as_of, params, run, actor=f"job:{JOB_NAME}")
        await issue_notices(
            as_of,
            bill_days=params.on_account_bill_days,
            counts=run,
            order=filters.order,
            program=filters.program,
        )
    return run.run


async def _due_payments(as_of: date, filters: JobFilters, after: int, size: int) -> list[int]:
    query = Payment.filter(
        due(as_of, datetime.now(UTC)),
        kind__in=[PaymentKind.CHARGE, PaymentKind.REFUND],
        id__gt=after,
    ).exclude(
        # a cancelled order's refunds are still owed - its charges are not
        Q(continuity_order__status__in=_CLOSED) & Q(kind=PaymentKind.CHARGE)
    )
    return await id_list(_filtered(query, filters).order_by("id").limit(size))


async def _retry_held_orders_on_new_cards(
    as_of: date, filters: JobFilters, run: RunRecorder
) -> None:
    """A failed payment of a held order is retried once the order has another card."""
    failed = await _filtered(
        Payment.filter(
            status=PaymentStatus.FAILED,
            kind=PaymentKind.CHARGE,
            continuity_order__status=ContinuityOrderStatus.PAYMENT_HOLD,
        ),
        filters,
    ).prefetch_related("continuity_order")
    for payment in failed:
        order: ContinuityOrder = payment.continuity_order  # type: ignore[assignment]
        if order.payment_method_id == payment.payment_method_id:
            continue
        payment.payment_method_id = order.payment_method_id
        payment.attempt_base = payment.attempts
        payment.status = PaymentStatus.DECLINED
        payment.next_retry_on = as_of
        await payment.save(
            update_fields=[
                "payment_method_id",
                "attempt_base",
                "status",
                "next_retry_on",
                "updated_at",
            ]
        )
        run.count("moved_to_new_card")
