"""Attempting a recorded payment against the gateway, exactly once in effect.

Each attempt uses the key ``<payment key>#<attempt number>``: a retry after a decline is a new
attempt (a real gateway would replay the decline for the same key), while a crash between the
gateway call and the database write repeats the *same* attempt, whose key the gateway
recognises, so the customer is never charged twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from continuity.enums import PaymentKind, PaymentStatus
from continuity.models import Payment, PaymentMethod
from continuity.payments.gateway import GatewayOutcome, GatewayResult, PaymentGateway


def attempt_key(payment: Payment) -> str:
    return f"{payment.idempotency_key}#{payment.attempts + 1}"


async def attempt_payment(
    payment: Payment,
    gateway: PaymentGateway,
    *,
    today: date,
    retry_days: int,
    reauthorization_limit: int,
) -> GatewayResult:
    """Call the gateway for ``payment`` and record the outcome on the row.

    A decline (or gateway error) is retried ``retry_days`` later, up to ``reauthorization_limit``
    retries; after that the payment is ``failed`` and the caller puts the order on hold.
    """
    method = await PaymentMethod.get(id=payment.payment_method_id)
    key = attempt_key(payment)
    if payment.kind is PaymentKind.REFUND:
        result = await gateway.refund(
            reference=payment.gateway_reference or "",
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            idempotency_key=key,
        )
    elif payment.kind is PaymentKind.AUTHORIZATION:
        result = await gateway.authorize(
            token=method.gateway_token,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            idempotency_key=key,
        )
    else:
        result = await gateway.capture(
            token=method.gateway_token,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            idempotency_key=key,
        )
    payment.attempts += 1
    payment.last_attempt_at = datetime.now(UTC)
    if result.outcome is GatewayOutcome.APPROVED:
        payment.status = PaymentStatus.SUCCEEDED
        payment.gateway_reference = result.reference
        payment.failure_code = None
        payment.next_retry_on = None
    else:
        payment.failure_code = result.code
        retries_done = payment.attempts - payment.attempt_base - 1
        if retries_done >= reauthorization_limit:
            payment.status = PaymentStatus.FAILED
            payment.next_retry_on = None
        else:
            payment.status = PaymentStatus.DECLINED
            payment.next_retry_on = today + timedelta(days=retry_days)
    await payment.save(
        update_fields=[
            "attempts",
            "last_attempt_at",
            "status",
            "gateway_reference",
            "failure_code",
            "next_retry_on",
            "updated_at",
        ]
    )
    return result
