"""Writing payment outcomes, and what they mean for the order: the one place that does.

Used by every path that attempts a payment (placement, cancel refunds, invoicing, the jobs) and
by the gateway's webhooks, so that "paid", "declined, retry later", "unknown, ask again" and
"failed: payment hold" mean the same everywhere:

- ``write_outcomes``: the outcomes this process recorded on claimed (``pending``) rows, in one
  transaction with their notifications; a row that changed meanwhile (a cancel, a webhook that
  settled it) is respected. Then ``apply_outcome`` for the rare consequences.
- ``apply_outcome``: a paid authorization or shipment charge makes its child order ready to
  ship; a charge or authorization that failed for good puts its order on payment hold (and
  asks the customer to act when the card needs authentication); the last failed payment paid
  releases the hold.
- ``late_refund``: money taken for an order that was cancelled meanwhile goes back.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from continuity.connection import connection
from continuity.enums import (
    ChildOrderStatus,
    ContinuityOrderStatus,
    PaymentKind,
    PaymentStatus,
)
from continuity.models import ContinuityOrder, Payment
from continuity.notifications.events import Event, emit_many
from continuity.notifications.outcomes import hold_event, payment_event
from continuity.orders.history import record
from continuity.payments.gateway import AUTHENTICATION_REQUIRED
from continuity.payments.records import PREPAID, refund_unowed_money
from continuity.sql import execute, execute_many, fetch, for_update

#: Payments that pay an order (the others refund one).
PAYING = (PaymentKind.CHARGE, PaymentKind.AUTHORIZATION)


class Counts(Protocol):
    def count(self, what: str, n: int = 1) -> None: ...


_WRITE_OUTCOME = """
UPDATE payment SET status = :status, attempts = :attempts, last_attempt_at = :at,
       next_retry_on = :retry, gateway_reference = :reference, failure_code = :code,
       authorization_expires_at = :expires, updated_at = :at
WHERE id = :id
"""

#: A batch's statements on its ids, in SQL (docs/ARCHITECTURE.md, "no ORM machinery over a
#: batch's thousands of rows").
_CURRENT = "SELECT id, status, gateway_reference FROM payment WHERE id IN (:ids)"
_ORDERS_IN = "SELECT id FROM continuity_order WHERE id IN (:ids) AND status = :status"
_READY_TO_SHIP = """
UPDATE child_order SET status = :ready WHERE id IN (:ids) AND status = :created
"""


async def write_outcomes(
    done: list[Payment], *, as_of: date, actor: str, counts: Counts | None = None
) -> list[Payment]:
    """Write the outcomes recorded on ``done`` (rows this process claimed: ``pending``) and
    apply their consequences; return the rows written."""
    if not done:
        return []
    async with in_transaction() as conn:
        written = await _still_ours(done, conn, as_of)
        await execute_many(
            conn,
            _WRITE_OUTCOME,
            [
                {
                    "status": p.status.value,
                    "attempts": p.attempts,
                    "at": p.last_attempt_at,
                    "retry": p.next_retry_on,
                    "reference": p.gateway_reference,
                    "code": p.failure_code,
                    "expires": p.authorization_expires_at,
                    "id": p.id,
                }
                for p in written
            ],
        )
        # the outbox, in the outcomes' transaction: payment_succeeded / payment_failed
        await emit_many([e for p in written if (e := payment_event(p)) is not None], conn=conn)
        await _ready_to_ship(written, conn)
    held = await _orders_in(connection(), written, ContinuityOrderStatus.PAYMENT_HOLD)
    for payment in written:
        if payment.status is PaymentStatus.FAILED or payment.continuity_order_id in held:
            await apply_outcome(payment, actor=actor)
            failed = payment.status is PaymentStatus.FAILED and payment.kind in PAYING
            if counts is not None and failed:
                counts.count("payment_holds")
    return written


async def _ready_to_ship(payments: list[Payment], conn: BaseDBAsyncClient) -> None:
    """A paid authorization or shipment charge lets its child order ship."""
    paid_children = [
        p.child_order_id
        for p in payments
        if p.status is PaymentStatus.SUCCEEDED and p.kind in PAYING and p.child_order_id is not None
    ]
    if paid_children:
        await execute(
            conn,
            _READY_TO_SHIP,
            ids=paid_children,
            ready=ChildOrderStatus.AUTHORIZED.value,
            created=ChildOrderStatus.CREATED.value,
        )


async def _still_ours(done: list[Payment], conn: BaseDBAsyncClient, as_of: date) -> list[Payment]:
    """The outcomes to record. A row still ``pending`` is ours. A row that a webhook settled
    while the call was in flight keeps what the webhook wrote (should that be another
    PaymentIntent, ours took the money twice: it is refunded). A payment cancelled while its
    call was in flight (the order was cancelled meanwhile) keeps its cancelled status, unless
    the money moved: then the charge is recorded as it happened and given back
    (``refund_unowed``). The rows are locked so a concurrent cancel waits or has finished."""
    current = {
        int(row["id"]): (str(row["status"]), row["gateway_reference"])
        for row in await fetch(conn, f"{_CURRENT} {for_update(conn)}", ids=[p.id for p in done])
    }
    cancelled = await cancelled_orders(done, conn)
    kept: list[Payment] = []
    for payment in done:
        status, reference = current.get(payment.id, ("", None))
        paid = payment.status is PaymentStatus.SUCCEEDED and payment.kind is PaymentKind.CHARGE
        if status in (PaymentStatus.PENDING.value, PaymentStatus.CANCELLED.value):
            if status == PaymentStatus.PENDING.value or paid:
                kept.append(payment)
                await refund_unowed(
                    payment,
                    was=PaymentStatus(status),
                    order_cancelled=payment.continuity_order_id in cancelled,
                    as_of=as_of,
                    conn=conn,
                )
        elif (
            status == PaymentStatus.SUCCEEDED.value
            and paid
            and reference
            not in (
                None,
                payment.gateway_reference,
            )
        ):
            await late_refund(payment, as_of, conn, suffix=f"refund-{payment.gateway_reference}")
    return kept


async def cancelled_orders(payments: list[Payment], conn: BaseDBAsyncClient) -> set[int]:
    return await _orders_in(conn, payments, ContinuityOrderStatus.CANCELLED)


async def _orders_in(
    conn: BaseDBAsyncClient, payments: list[Payment], status: ContinuityOrderStatus
) -> set[int]:
    """The continuity orders of ``payments`` that have ``status``."""
    ids = sorted({p.continuity_order_id for p in payments if p.continuity_order_id})
    if not ids:
        return set()
    return {int(row["id"]) for row in await fetch(conn, _ORDERS_IN, ids=ids, status=status.value)}


async def refund_unowed(
    payment: Payment,
    *,
    was: PaymentStatus,
    order_cancelled: bool,
    as_of: date,
    conn: BaseDBAsyncClient,
) -> Payment | None:
    """Money taken that is not owed goes back: a charge that was cancelled (``was``) while its
    outcome was not known, or a prepaid charge paid after its order was cancelled (the cancel
    refunded what was paid then). Returns the refund queued, if any."""
    if payment.status is not PaymentStatus.SUCCEEDED or payment.kind is not PaymentKind.CHARGE:
        return None
    if was is PaymentStatus.CANCELLED or (payment.purpose in PREPAID and order_cancelled):
        return await late_refund(payment, as_of, conn)
    return None


async def late_refund(
    payment: Payment,
    as_of: date,
    conn: BaseDBAsyncClient,
    *,
    suffix: str = "refund-late",
    reference: str | None = None,
    amount_minor: int | None = None,
) -> Payment:
    """Queue the refund of money a charge took that is not owed (``records`` writes it)."""
    return await refund_unowed_money(
        conn, payment, today=as_of, suffix=suffix, reference=reference, amount_minor=amount_minor
    )


async def apply_outcome(payment: Payment, *, actor: str) -> None:
    """A paid authorization or shipment charge makes its child order ready to ship; a payment
    that failed for good puts its order on payment hold (asking the customer to act when the
    card needs their authentication); the last failed payment paid releases the hold."""
    async with in_transaction() as conn:
        await _ready_to_ship([payment], conn)
        if payment.continuity_order_id is None:
            return
        order = await ContinuityOrder.get(id=payment.continuity_order_id, using_db=conn)
        if (
            payment.status is PaymentStatus.FAILED
            and payment.kind in PAYING
            and order.status is ContinuityOrderStatus.ACTIVE
        ):
            order.status = ContinuityOrderStatus.PAYMENT_HOLD
            await order.save(update_fields=["status", "updated_at"], using_db=conn)
            action_needed = payment.failure_code == AUTHENTICATION_REQUIRED
            await record(
                order.id,
                "payment_hold",
                actor=actor,
                reason=(
                    "the card needs the customer's authentication"
                    if action_needed
                    else f"payment {payment.id} failed after {payment.attempts} attempt(s)"
                ),
                details={"payment": payment.id, "failure_code": payment.failure_code},
                using_db=conn,
            )
            await emit_many(_events(hold_event(payment, released=False)), conn=conn)
        elif (
            payment.status is PaymentStatus.SUCCEEDED
            and order.status is ContinuityOrderStatus.PAYMENT_HOLD
            and not await Payment.filter(continuity_order_id=order.id, status=PaymentStatus.FAILED)
            .using_db(conn)
            .exists()
        ):
            order.status = ContinuityOrderStatus.ACTIVE
            await order.save(update_fields=["status", "updated_at"], using_db=conn)
            await record(
                order.id,
                "payment_hold_released",
                actor=actor,
                details={"payment": payment.id},
                using_db=conn,
            )
            await emit_many(_events(hold_event(payment, released=True)), conn=conn)


def _events(event: Event | None) -> list[Event]:
    return [event] if event is not None else []
