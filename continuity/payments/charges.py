"""Attempting a recorded payment against the gateway, exactly once in effect.

Each attempt uses the key ``<payment key>#<attempt number>``: a retry after a decline is a new
attempt (a real gateway would replay the decline for the same key), while a crash between the
gateway call and the database write repeats the *same* attempt, whose key the gateway
recognises, so the customer is never charged twice.

The gateway call and the bookkeeping are separate (``call_gateway`` / ``record_outcome``) so
that batch jobs can run many calls concurrently and write the outcomes in one statement.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tortoise.transactions import in_transaction

from continuity.enums import PaymentKind, PaymentStatus
from continuity.models import Payment, PaymentMethod
from continuity.notifications.events import emit_many
from continuity.notifications.outcomes import payment_event
from continuity.payments.gateway import GatewayOutcome, GatewayResult, PaymentGateway

#: The columns ``record_outcome`` changes.
OUTCOME_FIELDS = (
    "attempts",
    "last_attempt_at",
    "status",
    "gateway_reference",
    "failure_code",
    "next_retry_on",
    "updated_at",
)


def attempt_key(payment: Payment) -> str:
    return f"{payment.idempotency_key}#{payment.attempts + 1}"


async def call_gateway(payment: Payment, gateway: PaymentGateway, token: str) -> GatewayResult:
    """The gateway call for the payment's next attempt; touches no database."""
    key = attempt_key(payment)
    if payment.kind is PaymentKind.REFUND:
        return await gateway.refund(
            reference=payment.gateway_reference or "",
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            idempotency_key=key,
        )
    if payment.kind is PaymentKind.AUTHORIZATION:
        return await gateway.authorize(
            token=token,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            idempotency_key=key,
        )
    return await gateway.capture(
        token=token,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        idempotency_key=key,
    )


def record_outcome(
    payment: Payment,
    result: GatewayResult,
    *,
    today: date,
    retry_days: int,
    reauthorization_limit: int,
) -> None:
    """Set the outcome on the row (not saved).

    A decline (or gateway error) is retried ``retry_days`` later, up to
    ``reauthorization_limit`` retries; after that the payment is ``failed`` and the caller puts
    the order on hold.
    """
    payment.attempts += 1
    payment.last_attempt_at = datetime.now(UTC)
    if result.outcome is GatewayOutcome.APPROVED:
        payment.status = PaymentStatus.SUCCEEDED
        payment.gateway_reference = result.reference
        payment.failure_code = None
        payment.next_retry_on = None
        return
    payment.failure_code = result.code
    retries_done = payment.attempts - payment.attempt_base - 1
    if retries_done >= reauthorization_limit:
        payment.status = PaymentStatus.FAILED
        payment.next_retry_on = None
    else:
        payment.status = PaymentStatus.DECLINED
        payment.next_retry_on = today + timedelta(days=retry_days)


async def attempt_payment(
    payment: Payment,
    gateway: PaymentGateway,
    *,
    today: date,
    retry_days: int,
    reauthorization_limit: int,
) -> GatewayResult:
    """Call the gateway for ``payment`` and record the outcome on the row."""
    method = await PaymentMethod.get(id=payment.payment_method_id)
    result = await call_gateway(payment, gateway, method.gateway_token)
    record_outcome(
        payment,
        result,
        today=today,
        retry_days=retry_days,
        reauthorization_limit=reauthorization_limit,
    )
    async with in_transaction() as conn:
        await payment.save(update_fields=list(OUTCOME_FIELDS), using_db=conn)
        event = payment_event(payment)
        if event is not None:  # the outbox, with the outcome
            await emit_many([event], conn=conn)
    return result
