"""Job 4, "process continuity payments" (SPEC §5).

Charges what is due by the run date: scheduled installments, shipment charges not yet
collected, and declined payments whose retry date has come; a payment that exhausts
``reauthorization_limit`` retries fails and puts its order on payment hold. A payment whose
outcome the gateway left unknown is asked again (same key) at every run, whatever its date.
Authorizations of child orders not yet invoiced are renewed before their hold lapses
(``continuity.payments.authorizations``). A held order whose customer gave a new card has its
failed payments retried on that card with a fresh budget.
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
from tortoise.transactions import in_transaction

from continuity.enums import ContinuityOrderStatus, PaymentKind, PaymentStatus
from continuity.faults import kill_point
from continuity.jobs.batch import Outcome, run_batches
from continuity.jobs.claims import CLAIM_LEASE, claim_payments, due
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.locking import id_list
from continuity.jobs.runs import RunRecorder, recorded_run
from continuity.models import ContinuityOrder, JobRun, Payment
from continuity.notifications.notices import issue_notices
from continuity.parameters import load_call_center_parameters
from continuity.payments.authorizations import renew_authorizations
from continuity.payments.collect import collect_many
from continuity.payments.records import activate_waiting_refunds

JOB_NAME = "process-payments"

__all__ = ["CLAIM_LEASE", "JOB_NAME", "process_payments"]


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
        async with in_transaction() as conn:
            renewed = await renew_authorizations(
                conn, as_of, order=filters.order, program=filters.program
            )
        if renewed:
            run.count("authorizations_renewed", renewed)

        async def due_ids(after: int, size: int) -> list[int]:
            return await _due_payments(as_of, filters, after, size)

        async def collect(ids: list[int], _room: int | None) -> Outcome:
            claimed = await claim_payments(ids, as_of, run.run.id)
            kill_point("payments-claimed")
            waited = await collect_many(claimed, env, as_of, params, run, actor=f"job:{JOB_NAME}")
            return Outcome(waited=waited)

        # refunds waiting for a charge become due once it is taken: those whose charge this
        # very run took go out in a second pass, so a second run finds nothing left to do
        await _refunds_now_due(filters, run)
        await run_batches(run, select=due_ids, step=collect, size=env.batch_size, item="payment")
        if await _refunds_now_due(filters, run):
            await run_batches(
                run, select=due_ids, step=collect, size=env.batch_size, item="payment"
            )
        await issue_notices(
            as_of,
            bill_days=params.on_account_bill_days,
            counts=run,
            order=filters.order,
            program=filters.program,
        )
    return run.run


async def _due_payments(as_of: date, filters: JobFilters, after: int, size: int) -> list[int]:
    query = (
        Payment.filter(
            due(as_of, datetime.now(UTC)),
            kind__in=[PaymentKind.CHARGE, PaymentKind.AUTHORIZATION, PaymentKind.REFUND],
            id__gt=after,
        )
        .exclude(
            # a cancelled order's refunds are still owed - its charges are not (a closed
            # order's installments still are: it was delivered; and a charge whose outcome is
            # unknown is asked again: the money may have moved, then it is refunded)
            Q(continuity_order__status=ContinuityOrderStatus.CANCELLED)
            & Q(kind__in=[PaymentKind.CHARGE, PaymentKind.AUTHORIZATION])
            & ~Q(status=PaymentStatus.UNKNOWN)
        )
        # a refund of a charge not taken yet waits for it (``_refunds_now_due``)
        .exclude(Q(kind=PaymentKind.REFUND) & Q(status=PaymentStatus.SCHEDULED))
    )
    return await id_list(_filtered(query, filters).order_by("id").limit(size))


async def _refunds_now_due(filters: JobFilters, run: RunRecorder) -> int:
    """Refunds that waited for their charge, now taken, become due."""
    async with in_transaction() as conn:
        count = await activate_waiting_refunds(
            conn, [filters.order] if filters.order is not None else None
        )
    if count:
        run.count("refunds_due", count)
    return count


async def _retry_held_orders_on_new_cards(
    as_of: date, filters: JobFilters, run: RunRecorder
) -> None:
    """A failed payment of a held order is retried once the order has another card."""
    failed = await _filtered(
        Payment.filter(
            status=PaymentStatus.FAILED,
            kind__in=[PaymentKind.CHARGE, PaymentKind.AUTHORIZATION],
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
