"""The one home of payment records: what each charge and refund is for, its idempotency key,
and the money rules that read them.

Every payment row is made here (placement's charges, whose rows placement writes with the
order's others, refunds of skipped occurrences, of a cancelled or closed order, of a charge
that went through while its order was cancelled), except the per-shipment charges that the
child-order job writes set-based (``continuity.jobs.release``, with the key
``SHIPMENT_KEY_SUFFIX`` defined here). A payment says what it pays for:

- ordinary lines: the sales order (key ``<sales order>:lines``);
- an up-front charge: the continuity order (``<order>:up-front``);
- an installment: the continuity order and its number (``<order>:installment-<n>``);
- a shipment charge: its child order (``<child order>:charge``);
- a refund: the charge it refunds (``refund_of``), and the skipped occurrence
  (``event_number``, ``repeat_index``) or the child order it is for.

Refunds are exact to the cent and never exceed what their charge took: each charge's room is
its amount less the refunds already recorded against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.engine.billing import ScheduleSpec, installments
from continuity.enums import (
    BillingMode,
    ContinuityLineStatus,
    PaymentKind,
    PaymentPurpose,
    PaymentStatus,
)
from continuity.models import ContinuityLine, ContinuityOrder, Payment
from continuity.sql import as_date, execute, fetch_rows

#: Charges that pay for a prepaid order: what its refunds give back from.
PREPAID = (PaymentPurpose.UP_FRONT, PaymentPurpose.INSTALLMENT)
#: Charges not taken yet: cancelled with their order.
UNPAID = (PaymentStatus.SCHEDULED, PaymentStatus.PENDING, PaymentStatus.DECLINED)
#: Lines the customer has (or is getting): their value is kept.
DELIVERED = (ContinuityLineStatus.RELEASED, ContinuityLineStatus.CLOSED)
#: The key of a per-shipment charge is its child order's number plus this.
SHIPMENT_KEY_SUFFIX = ":charge"
#: ... and of its authorization, with ``authorize_child_orders`` (captured at invoicing).
SHIPMENT_AUTH_KEY_SUFFIX = ":auth"


def order_lines_key(sales_order_number: str) -> str:
    return f"{sales_order_number}:lines"


def up_front_key(order_number: str) -> str:
    return f"{order_number}:up-front"


def installment_key(order_number: str, number: int) -> str:
    return f"{order_number}:installment-{number}"


def cancel_refund_key(order_number: str) -> str:
    return f"{order_number}:refund"


def close_refund_key(order_number: str) -> str:
    return f"{order_number}:refund-at-close"


def skip_refund_key(order_number: str, event_number: int, repeat_index: int) -> str:
    return f"{order_number}:refund-skip-{event_number}.{repeat_index}"


def order_lines_charge(
    *,
    sales_order_id: int,
    sales_order_number: str,
    payment_method_id: int,
    amount_minor: int,
    currency: str,
    today: date,
) -> dict[str, Any]:
    """The charge of a sales order's ordinary lines, due at placement: the fields of its
    row, which placement writes with the order's other rows (``continuity.writes``)."""
    return {
        "kind": PaymentKind.CHARGE,
        "purpose": PaymentPurpose.ORDER_LINES,
        "status": PaymentStatus.PENDING,
        "sales_order_id": sales_order_id,
        "payment_method_id": payment_method_id,
        "amount_minor": amount_minor,
        "currency": currency,
        "due_date": today,
        "idempotency_key": order_lines_key(sales_order_number),
    }


def prepaid_charges(
    order: ContinuityOrder,
    schedule: ScheduleSpec | None,
    *,
    payment_method_id: int,
    today: date,
) -> list[dict[str, Any]]:
    """A prepaid order's charges: its whole total now, or its installments (the first due
    now, the others ``SCHEDULED`` for their dates); the fields of their rows, written with
    the order's (``continuity.writes``)."""
    if order.billing_mode is BillingMode.PER_SHIPMENT or order.total_minor == 0:
        return []
    common = {
        "kind": PaymentKind.CHARGE,
        "continuity_order_id": order.id,
        "sales_order_id": order.sales_order_id,
        "payment_method_id": payment_method_id,
        "currency": order.currency,
    }
    if schedule is None:
        return [
            {
                **common,
                "purpose": PaymentPurpose.UP_FRONT,
                "status": PaymentStatus.PENDING,
                "amount_minor": order.total_minor,
                "due_date": today,
                "idempotency_key": up_front_key(order.number),
            }
        ]
    return [
        {
            **common,
            "purpose": PaymentPurpose.INSTALLMENT,
            "status": PaymentStatus.PENDING if i.due_date <= today else PaymentStatus.SCHEDULED,
            "installment_number": i.number,
            "amount_minor": i.amount_minor,
            "due_date": i.due_date,
            "idempotency_key": installment_key(order.number, i.number),
        }
        for i in installments(order.total_minor, schedule, today)
    ]


async def _refund_room(
    conn: BaseDBAsyncClient, order: ContinuityOrder
) -> list[tuple[Payment, int]]:
    """The order's prepaid charges, newest first, each with what can still be refunded
    against it (its amount less the refunds recorded against it)."""
    payments = await Payment.filter(continuity_order_id=order.id).using_db(conn)
    refunded: dict[int, int] = {}
    for p in payments:
        if p.kind is not PaymentKind.REFUND or p.status is PaymentStatus.CANCELLED:
            continue
        if p.refund_of_id is not None:
            refunded[p.refund_of_id] = refunded.get(p.refund_of_id, 0) + p.amount_minor
    charges = sorted(
        (
            p
            for p in payments
            if p.kind is PaymentKind.CHARGE
            and p.purpose in PREPAID
            and p.status is not PaymentStatus.CANCELLED
        ),
        key=lambda p: p.id,
        reverse=True,
    )
    return [(c, c.amount_minor - refunded.get(c.id, 0)) for c in charges]


async def _refund(
    conn: BaseDBAsyncClient,
    charge: Payment,
    amount_minor: int,
    *,
    key: str,
    today: date,
    event_number: int | None = None,
    repeat_index: int | None = None,
) -> Payment:
    """A refund of ``charge``. Against a charge not taken yet it waits (``SCHEDULED``)
    until the charge succeeds, then is sent (``activate_waiting_refunds``)."""
    taken = charge.status is PaymentStatus.SUCCEEDED
    return await Payment.create(
        kind=PaymentKind.REFUND,
        purpose=PaymentPurpose.REFUND,
        status=PaymentStatus.PENDING if taken else PaymentStatus.SCHEDULED,
        sales_order_id=charge.sales_order_id,
        continuity_order_id=charge.continuity_order_id,
        child_order_id=charge.child_order_id,
        payment_method_id=charge.payment_method_id,
        amount_minor=amount_minor,
        currency=charge.currency,
        due_date=today,
        idempotency_key=key,
        # the charge to refund: attempt_payment passes its reference to gateway.refund
        gateway_reference=charge.gateway_reference if taken else None,
        refund_of_id=charge.id,
        event_number=event_number,
        repeat_index=repeat_index,
        using_db=conn,
    )


def _keys(base: str) -> list[str]:
    """``base``, then ``base-2``, ``base-3``, … (one refund per charge refunded)."""
    return [base] + [f"{base}-{n}" for n in range(2, 100)]


async def refund_occurrence(
    conn: BaseDBAsyncClient,
    order: ContinuityOrder,
    lines: Sequence[ContinuityLine],
    *,
    today: date,
) -> list[Payment]:
    """Refund what a prepaid order paid for one occurrence it will not ship (a skip).

    Charges taken are refunded first (newest first: the refund goes out at once); what they
    cannot cover is refunded against the charges still to be taken, each refund waiting for
    its charge. Nothing for per-shipment orders (a skipped occurrence is never charged).
    """
    if order.billing_mode is BillingMode.PER_SHIPMENT or not lines:
        return []
    left = sum(line.quantity * line.price_minor for line in lines)
    event, repeat = lines[0].event_number, lines[0].repeat_index
    room = await _refund_room(conn, order)
    ordered = [r for r in room if r[0].status is PaymentStatus.SUCCEEDED] + [
        r for r in room if r[0].status is not PaymentStatus.SUCCEEDED
    ]
    refunds: list[Payment] = []
    keys = iter(_keys(skip_refund_key(order.number, event, repeat)))
    for charge, available in ordered:
        part = min(left, available)
        if part <= 0:
            continue
        refunds.append(
            await _refund(
                conn,
                charge,
                part,
                key=next(keys),
                today=today,
                event_number=event,
                repeat_index=repeat,
            )
        )
        left -= part
        if left == 0:
            break
    return refunds


async def refundable_minor(conn: BaseDBAsyncClient, order: ContinuityOrder) -> int:
    """What a prepaid order paid and has neither received nor had back (0 per shipment)."""
    if order.billing_mode is BillingMode.PER_SHIPMENT:
        return 0
    payments = await Payment.filter(continuity_order_id=order.id).using_db(conn)
    paid: int = sum(
        p.amount_minor
        for p in payments
        if p.kind is PaymentKind.CHARGE
        and p.purpose in PREPAID
        and p.status is PaymentStatus.SUCCEEDED
    )
    refunded: int = sum(
        p.amount_minor
        for p in payments
        if p.kind is PaymentKind.REFUND and p.status is not PaymentStatus.CANCELLED
    )
    delivered: int = sum(
        line.quantity * line.price_minor
        for line in await ContinuityLine.filter(
            continuity_order_id=order.id, status__in=DELIVERED
        ).using_db(conn)
    )
    return max(0, paid - refunded - delivered)


async def settle(
    conn: BaseDBAsyncClient, order: ContinuityOrder, *, key: str, today: date
) -> list[Payment]:
    """Refund what a prepaid order holds and will not ship (it was cancelled, or it ended
    with occurrences that no longer exist), against its charges taken, newest first."""
    left = await refundable_minor(conn, order)
    refunds: list[Payment] = []
    keys = iter(_keys(key))
    for charge, available in await _refund_room(conn, order):
        if left <= 0:
            break
        if charge.status is not PaymentStatus.SUCCEEDED:
            continue
        part = min(left, available)
        if part > 0:
            refunds.append(await _refund(conn, charge, part, key=next(keys), today=today))
            left -= part
    return refunds


async def cancel_unpaid(conn: BaseDBAsyncClient, order: ContinuityOrder) -> int:
    """A cancelled order's charges not taken yet are never taken, and its refunds still
    waiting for a charge are void (what it did pay is settled by ``settle``). Returns how
    many charges were cancelled."""
    now = datetime.now(UTC)
    await (
        Payment.filter(
            continuity_order_id=order.id, kind=PaymentKind.REFUND, status=PaymentStatus.SCHEDULED
        )
        .using_db(conn)
        .update(status=PaymentStatus.CANCELLED, updated_at=now)
    )
    cancelled: int = await (
        Payment.filter(
            continuity_order_id=order.id,
            kind=PaymentKind.CHARGE,
            purpose__in=PREPAID,
            status__in=UNPAID,
        )
        .using_db(conn)
        .update(status=PaymentStatus.CANCELLED, next_retry_on=None, updated_at=now)
    )
    return cancelled


async def refund_late_charge(conn: BaseDBAsyncClient, charge: Payment, *, today: date) -> Payment:
    """A charge that went through while its order was being cancelled is given back."""
    return await refund_unowed_money(conn, charge, today=today)


async def refund_unowed_money(
    conn: BaseDBAsyncClient,
    charge: Payment,
    *,
    today: date,
    suffix: str = "refund-late",
    reference: str | None = None,
    amount_minor: int | None = None,
) -> Payment:
    """Queue the refund of money ``charge`` took that is not owed (key
    ``<charge key>:<suffix>``; the payments job sends it, today's run included): a charge
    taken while its order was cancelled, or a duplicate at the gateway. ``reference``: the
    provider object to refund when it is not the charge's own (a duplicate)."""
    return await Payment.create(
        kind=PaymentKind.REFUND,
        purpose=PaymentPurpose.REFUND,
        status=PaymentStatus.PENDING,
        sales_order_id=charge.sales_order_id,
        continuity_order_id=charge.continuity_order_id,
        child_order_id=charge.child_order_id,
        payment_method_id=charge.payment_method_id,
        amount_minor=charge.amount_minor if amount_minor is None else amount_minor,
        currency=charge.currency,
        due_date=today,
        idempotency_key=f"{charge.idempotency_key}:{suffix}"[:128],
        gateway_reference=reference or charge.gateway_reference,
        refund_of_id=charge.id,
        event_number=charge.event_number,
        repeat_index=charge.repeat_index,
        using_db=conn,
    )


_ACTIVATE = """
UPDATE payment SET status = 'pending', updated_at = :now,
       gateway_reference = (SELECT c.gateway_reference FROM payment c
                            WHERE c.id = payment.refund_of_id)
WHERE kind = 'refund' AND status = 'scheduled' {orders}
  AND refund_of_id IN (SELECT c.id FROM payment c WHERE c.status = 'succeeded')
"""


async def activate_waiting_refunds(
    conn: BaseDBAsyncClient, order_ids: Sequence[int] | None = None
) -> int:
    """Refunds waiting for their charge become due once it has been taken."""
    sql = _ACTIVATE.replace(
        "{orders}", "AND continuity_order_id IN (:orders)" if order_ids is not None else ""
    )
    params: dict[str, object] = {"now": datetime.now(UTC)}
    if order_ids is not None:
        params["orders"] = list(order_ids)
    return await execute(conn, sql, **params)


#: The charges that gate shipping: a prepaid order ships nothing until its up-front charge,
#: or its installments up to ``ship_after_installment`` (the first when the schedule says
#: nothing), are taken. ``until``: when the next attempt is due.
#: Per order, the charges that gate its shipping and are not taken (``gates_from_rows``).
GATE_SELECT = """
SELECT p.continuity_order_id AS order_id,
       MAX(CASE WHEN p.status = 'declined' THEN p.next_retry_on ELSE p.due_date END) AS until,
       SUM(CASE WHEN p.status = 'failed' THEN 1 ELSE 0 END) AS failed
FROM payment p
JOIN continuity_order o ON o.id = p.continuity_order_id
LEFT JOIN payment_schedule s ON s.id = o.payment_schedule_id
WHERE p.continuity_order_id IN (:orders) AND p.kind = 'charge'
  AND p.status NOT IN ('succeeded', 'cancelled')
  AND (p.purpose = 'up_front'
       OR (p.purpose = 'installment'
           AND p.installment_number <= COALESCE(s.ship_after_installment, 1)))
GROUP BY p.continuity_order_id
"""


async def awaiting_payment(
    conn: BaseDBAsyncClient, order_ids: Sequence[int]
) -> dict[int, date | None]:
    """The orders among ``order_ids`` that may not ship yet because a charge that gates
    shipping is not taken, each with the date its next attempt is due (``None`` when it
    failed for good: the order is on payment hold until it is paid)."""
    if not order_ids:
        return {}
    return gates_from_rows(await fetch_rows(conn, GATE_SELECT, orders=list(order_ids)))


def gates_from_rows(rows: Iterable[Sequence[Any]]) -> dict[int, date | None]:
    """``awaiting_payment``'s answer from the rows of ``GATE_SELECT`` (by position)."""
    return {
        int(order_id): None if int(failed or 0) or until is None else as_date(until)
        for order_id, until, failed in rows
    }
