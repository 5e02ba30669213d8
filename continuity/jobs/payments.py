"""Job 4, "process continuity payments" (SPEC §5).

Charges what is due by the run date: scheduled installments, shipment charges not yet
collected, and declined payments whose retry date has come; a payment that exhausts
``reauthorization_limit`` retries fails and puts its order on payment hold. A held order whose
customer gave a new card has its failed payments retried on that card with a fresh budget.
Installment bills are issued (as notifications) ``on_account_bill_days`` before they are due.
Every attempt uses a per-attempt idempotency key, so a crash or a second replica never charges
twice.
"""

from __future__ import annotations

from datetime import date, timedelta

from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from continuity.enums import ContinuityOrderStatus, PaymentKind, PaymentPurpose, PaymentStatus
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.locking import id_list
from continuity.jobs.runs import RunRecorder, recorded_run
from continuity.models import CallCenterParameters, ContinuityOrder, JobRun, Notification, Payment
from continuity.parameters import load_call_center_parameters
from continuity.payments.collect import collect

JOB_NAME = "process-payments"

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
            due = await _due_payments(as_of, filters, after, env.batch_size)
            if not due:
                break
            after = due[-1]
            for payment_id in due:
                try:
                    await _collect_one(payment_id, as_of, env, params, run)
                except Exception as exc:  # one bad payment never aborts the batch
                    run.fail(f"payment {payment_id}", f"{type(exc).__name__}: {exc}")
        await _issue_bills(as_of, params.on_account_bill_days, filters, run)
    return run.run


async def _due_payments(as_of: date, filters: JobFilters, after: int, size: int) -> list[int]:
    query = Payment.filter(
        Q(status__in=[PaymentStatus.PENDING, PaymentStatus.SCHEDULED], due_date__lte=as_of)
        | Q(status=PaymentStatus.DECLINED, next_retry_on__lte=as_of),
        kind__in=[PaymentKind.CHARGE, PaymentKind.REFUND],
        id__gt=after,
    ).exclude(
        # a cancelled order's refunds are still owed; its charges are not
        Q(continuity_order__status__in=_CLOSED) & Q(kind=PaymentKind.CHARGE)
    )
    return await id_list(_filtered(query, filters).order_by("id").limit(size))


async def _collect_one(
    payment_id: int, as_of: date, env: JobEnv, params: CallCenterParameters, run: RunRecorder
) -> None:
    """Claim the payment (it must still be due), then charge it outside the transaction."""
    async with in_transaction() as conn:
        query = Payment.filter(id=payment_id).using_db(conn)
        if conn.capabilities.dialect == "postgres":
            query = query.select_for_update(skip_locked=True)
        payment = await query.first()
        if payment is None or not _still_due(payment, as_of):
            return  # another replica took it, or it was collected since the scan
        payment.status = PaymentStatus.PENDING
        await payment.save(update_fields=["status", "updated_at"], using_db=conn)
    await collect(payment, env, as_of, params, run)


def _still_due(payment: Payment, as_of: date) -> bool:
    if payment.status in (PaymentStatus.PENDING, PaymentStatus.SCHEDULED):
        return payment.due_date <= as_of
    if payment.status is PaymentStatus.DECLINED:
        return payment.next_retry_on is not None and payment.next_retry_on <= as_of
    return False


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


async def _issue_bills(as_of: date, lead_days: int, filters: JobFilters, run: RunRecorder) -> None:
    """One bill notification per scheduled installment, ``lead_days`` before it is due."""
    upcoming = await _filtered(
        Payment.filter(
            status=PaymentStatus.SCHEDULED,
            purpose=PaymentPurpose.INSTALLMENT,
            due_date__lte=as_of + timedelta(days=lead_days),
        ).exclude(continuity_order__status__in=_CLOSED),
        filters,
    ).prefetch_related("continuity_order__customer")
    for payment in upcoming:
        key = f"installment-bill:{payment.id}"
        if await Notification.filter(dedupe_key=key).exists():
            continue
        order: ContinuityOrder = payment.continuity_order  # type: ignore[assignment]
        await Notification.create(
            continuity_order_id=order.id,
            event_type="installment_bill",
            channel="email",
            recipient=order.customer.email or f"customer:{order.customer_id}",
            payload={
                "order": order.number,
                "installment": payment.installment_number,
                "amount_minor": payment.amount_minor,
                "currency": payment.currency,
                "due_date": payment.due_date.isoformat(),
                "issued_for": as_of.isoformat(),
            },
            dedupe_key=key,
        )
        run.count("bills_issued")
