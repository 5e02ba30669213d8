"""Attempting a recorded payment against the gateway, exactly once in effect.

Each attempt uses the key ``<payment key>#<attempt number>``: a retry after a decline is a new
attempt (a real gateway would replay the decline for the same key), while a crash between the
gateway call and the database write, or an outcome the gateway left unknown (timeout, 5xx),
repeats the *same* attempt, whose key the gateway recognises, so the customer is never charged
twice. An unknown outcome therefore does not count as an attempt.

The gateway call and the bookkeeping are separate (``call_gateway`` / ``record_outcome``) so
that batch jobs can run many calls concurrently and write the outcomes in one statement
(``continuity.payments.outcomes.write_outcomes``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from continuity.connection import connection
from continuity.enums import PaymentKind, PaymentStatus
from continuity.faults import gateway_delay
from continuity.models import Payment
from continuity.payments.gateway import (
    AUTHENTICATION_REQUIRED,
    ChargeRequest,
    GatewayOutcome,
    GatewayResult,
    PaymentGateway,
)
from continuity.payments.outcomes import write_outcomes
from continuity.sql import fetch

log = logging.getLogger("continuity.payments")

#: The columns ``record_outcome`` changes.
OUTCOME_FIELDS = (
    "attempts",
    "last_attempt_at",
    "status",
    "gateway_reference",
    "failure_code",
    "next_retry_on",
    "authorization_expires_at",
    "updated_at",
)


def attempt_key(payment: Payment) -> str:
    return f"{payment.idempotency_key}#{payment.attempts + 1}"


def captures_authorization(payment: Payment) -> bool:
    """A charge that takes the money an authorization holds: it carries the authorization's
    reference and expiry until it succeeds (``continuity.payments.authorizations``)."""
    return (
        payment.kind is PaymentKind.CHARGE
        and payment.authorization_expires_at is not None
        and payment.gateway_reference is not None
    )


@dataclass(frozen=True)
class CallContext:
    """What a gateway call needs besides the payment row: the card, and the metadata that
    names what is paid for (shown in the provider's dashboard, echoed by its webhooks)."""

    token: str
    customer: str | None
    metadata: dict[str, str]


#: ``call_contexts``' reads, in SQL on the batch's ids (docs/ARCHITECTURE.md, "no ORM
#: machinery over a batch's thousands of rows").
_CARDS = "SELECT id, gateway_token, gateway_customer FROM payment_method WHERE id IN (:ids)"
_NUMBERS = {
    table: f"SELECT id, number FROM {table} WHERE id IN (:ids)"
    for table in ("sales_order", "continuity_order", "child_order")
}


async def call_contexts(payments: list[Payment]) -> dict[int, CallContext]:
    """The contexts of many payments in four queries (the batch path)."""
    conn = connection()
    cards = {
        int(row["id"]): (str(row["gateway_token"]), row["gateway_customer"])
        for row in await fetch(conn, _CARDS, ids=sorted({p.payment_method_id for p in payments}))
    }
    numbers: dict[str, dict[int, str]] = {}
    for table, ids in (
        ("sales_order", {p.sales_order_id for p in payments}),
        ("continuity_order", {p.continuity_order_id for p in payments}),
        ("child_order", {p.child_order_id for p in payments}),
    ):
        wanted = sorted(i for i in ids if i is not None)
        rows = await fetch(conn, _NUMBERS[table], ids=wanted) if wanted else []
        numbers[table] = {int(row["id"]): str(row["number"]) for row in rows}
    contexts = {}
    for payment in payments:
        token, customer = cards[payment.payment_method_id]
        metadata = {
            "continuity_payment": str(payment.id),
            "attempt_key": attempt_key(payment),
            "purpose": payment.purpose.value,
        }
        for name, ref in (
            ("sales_order", payment.sales_order_id),
            ("continuity_order", payment.continuity_order_id),
            ("child_order", payment.child_order_id),
        ):
            if ref is not None and ref in numbers[name]:
                metadata[name] = numbers[name][ref]
        if payment.installment_number is not None:
            metadata["installment"] = str(payment.installment_number)
        contexts[payment.id] = CallContext(token, customer and str(customer), metadata)
    return contexts


#: Told of every money call to the gateway, after it: (operation, idempotency key, amount,
#: currency, result; ``None`` when the call raised). The server's metrics and the crash tests'
#: journal (``continuity.faults``) listen here, so no wrapper has to mirror the gateway.
GatewayCallObserver = Callable[[str, str, int, str, GatewayResult | None], None]
_call_observers: list[GatewayCallObserver] = []


def add_gateway_call_observer(observer: GatewayCallObserver) -> Callable[[], None]:
    """Hear of every gateway call of this process; returns the way to stop."""
    _call_observers.append(observer)
    return lambda: _call_observers.remove(observer) if observer in _call_observers else None


def _operation(payment: Payment) -> str:
    if payment.kind is PaymentKind.REFUND:
        return "refund"
    if captures_authorization(payment):
        return "capture"
    return "authorize" if payment.kind is PaymentKind.AUTHORIZATION else "charge"


async def call_gateway(
    payment: Payment, gateway: PaymentGateway, context: CallContext, *, off_session: bool
) -> GatewayResult:
    """The gateway call for the payment's next attempt; touches no database.

    ``off_session``: the customer is not there to authenticate (the jobs)."""
    await gateway_delay()
    operation, key = _operation(payment), attempt_key(payment)
    result: GatewayResult | None = None
    try:
        result = await _call(payment, gateway, context, key, off_session=off_session)
        return result
    finally:
        for observer in list(_call_observers):
            observer(operation, key, payment.amount_minor, payment.currency, result)


async def _call(
    payment: Payment,
    gateway: PaymentGateway,
    context: CallContext,
    key: str,
    *,
    off_session: bool,
) -> GatewayResult:
    if payment.kind is PaymentKind.REFUND:
        return await gateway.refund(
            reference=payment.gateway_reference or "",
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            idempotency_key=key,
            metadata=context.metadata,
        )
    if captures_authorization(payment):
        return await gateway.capture(
            reference=payment.gateway_reference or "",
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            idempotency_key=key,
        )
    request = ChargeRequest(
        token=context.token,
        customer=context.customer,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        idempotency_key=key,
        off_session=off_session,
        metadata=context.metadata,
    )
    if payment.kind is PaymentKind.AUTHORIZATION:
        return await gateway.authorize(request)
    return await gateway.charge(request)


def record_outcome(
    payment: Payment,
    result: GatewayResult,
    *,
    today: date,
    retry_days: int,
    reauthorization_limit: int,
) -> None:
    """Set the outcome on the row (not saved).

    Unknown: the attempt is not counted, so the next try (the next payments run, whatever its
    date) sends the same key. Approved: paid (an authorization keeps its expiry). Action
    required: ``failed`` at once, the caller puts the order on hold and the customer is asked
    to act. Declined: retried ``retry_days`` later, up to ``reauthorization_limit`` retries;
    after that ``failed`` and the caller puts the order on hold. A capture that fails leaves
    nothing to capture: the next attempt charges the card itself.
    """
    payment.last_attempt_at = datetime.now(UTC)
    if result.outcome is GatewayOutcome.UNKNOWN:
        payment.status = PaymentStatus.UNKNOWN
        payment.failure_code = result.code or "unknown"
        payment.next_retry_on = None
        return
    payment.attempts += 1
    if result.approved:
        payment.status = PaymentStatus.SUCCEEDED
        payment.gateway_reference = result.reference or payment.gateway_reference
        payment.failure_code = None
        payment.next_retry_on = None
        if payment.kind is PaymentKind.AUTHORIZATION:
            payment.authorization_expires_at = result.expires_at
        return
    if captures_authorization(payment):
        payment.gateway_reference = None
        payment.authorization_expires_at = None
    elif result.reference and payment.kind is not PaymentKind.REFUND:
        payment.gateway_reference = result.reference  # e.g. the one the customer may confirm
    payment.failure_code = result.code
    if result.outcome is GatewayOutcome.ACTION_REQUIRED:
        payment.failure_code = AUTHENTICATION_REQUIRED
        payment.status = PaymentStatus.FAILED
        payment.next_retry_on = None
        return
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
    actor: str = "payments",
    off_session: bool = False,
) -> GatewayResult:
    """Call the gateway for one pending ``payment`` and record the outcome with its
    consequences (events, child order, payment hold), as the batch path does."""
    context = (await call_contexts([payment]))[payment.id]
    try:
        result = await call_gateway(payment, gateway, context, off_session=off_session)
    except Exception:  # an adapter bug must not lose the payment: unknown, retried
        log.exception("the %s gateway failed on payment %s", gateway.name, payment.id)
        result = GatewayResult(GatewayOutcome.UNKNOWN, code="gateway_error")
    record_outcome(
        payment,
        result,
        today=today,
        retry_days=retry_days,
        reauthorization_limit=reauthorization_limit,
    )
    await write_outcomes([payment], as_of=today, actor=actor)
    return result
