"""Collecting a due payment and applying what its outcome means for the order.

Shared by placement follow-ups, the child-order job and the payments job, so that "paid",
"declined, retry later" and "failed: payment hold" mean the same everywhere.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from tortoise.transactions import in_transaction

from continuity.enums import ChildOrderStatus, ContinuityOrderStatus, PaymentKind, PaymentStatus
from continuity.models import CallCenterParameters, ChildOrder, ContinuityOrder, Payment
from continuity.orders.history import record
from continuity.payments.charges import attempt_payment
from continuity.payments.gateway import PaymentGateway


class Counts(Protocol):
    def count(self, what: str, n: int = 1) -> None: ...


class HasGateway(Protocol):
    @property
    def gateway(self) -> PaymentGateway: ...


async def collect(
    payment: Payment,
    env: HasGateway,
    as_of: date,
    params: CallCenterParameters,
    run: Counts,
) -> None:
    result = await attempt_payment(
        payment,
        env.gateway,
        today=as_of,
        retry_days=params.retry_days,
        reauthorization_limit=params.reauthorization_limit,
    )
    if result.approved:
        run.count("charged")
        run.count("charged_minor", payment.amount_minor)
    else:
        run.count("declined")
    await apply_outcome(payment, actor="job:process-payments")
    if payment.status is PaymentStatus.FAILED:
        run.count("payment_holds")


async def apply_outcome(payment: Payment, *, actor: str) -> None:
    """A paid shipment charge makes its child order ready to ship; a payment that failed for
    good puts its order on payment hold; the last failed payment paid releases the hold."""
    async with in_transaction():
        if payment.status is PaymentStatus.SUCCEEDED and payment.child_order_id is not None:
            await ChildOrder.filter(
                id=payment.child_order_id, status=ChildOrderStatus.CREATED
            ).update(status=ChildOrderStatus.AUTHORIZED)
        if payment.continuity_order_id is None:
            return
        order = await ContinuityOrder.get(id=payment.continuity_order_id)
        if (
            payment.status is PaymentStatus.FAILED
            and payment.kind is PaymentKind.CHARGE
            and order.status is ContinuityOrderStatus.ACTIVE
        ):
            order.status = ContinuityOrderStatus.PAYMENT_HOLD
            await order.save(update_fields=["status", "updated_at"])
            await record(
                order.id,
                "payment_hold",
                actor=actor,
                reason=f"payment {payment.id} failed after {payment.attempts} attempt(s)",
                details={"payment": payment.id, "failure_code": payment.failure_code},
            )
        elif (
            payment.status is PaymentStatus.SUCCEEDED
            and order.status is ContinuityOrderStatus.PAYMENT_HOLD
            and not await Payment.filter(
                continuity_order_id=order.id, status=PaymentStatus.FAILED
            ).exists()
        ):
            order.status = ContinuityOrderStatus.ACTIVE
            await order.save(update_fields=["status", "updated_at"])
            await record(
                order.id,
                "payment_hold_released",
                actor=actor,
                details={"payment": payment.id},
            )
