"""Events built from what the payment and child-order code wrote, for the batch paths.

The payments and child-order jobs write their outcomes set-based; these helpers turn the rows
of one batch into ``Event``s that the caller writes with ``emit_many`` in the *same*
transaction as the outcomes.
"""

from __future__ import annotations

from collections import defaultdict

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.enums import PaymentKind, PaymentStatus
from continuity.models import ChildOrder, ChildOrderLine, ContinuityLine, Payment, Product
from continuity.notifications.events import Event, EventType, money


def payment_event(payment: Payment) -> Event | None:
    """``payment_succeeded`` or ``payment_failed`` for the attempt just recorded on a continuity
    order's charge; ``None`` for refunds, ordinary-line charges and payments not attempted.

    The discriminator is the payment and its attempt number: every attempt is told once, and
    the same attempt replayed after a crash (same gateway key) is not told twice.
    """
    if payment.kind is not PaymentKind.CHARGE or payment.continuity_order_id is None:
        return None
    if payment.status is PaymentStatus.SUCCEEDED:
        event = EventType.PAYMENT_SUCCEEDED
    elif payment.status in (PaymentStatus.DECLINED, PaymentStatus.FAILED):
        event = EventType.PAYMENT_FAILED
    else:
        return None
    payload: dict[str, object] = {
        "payment_id": payment.id,
        "purpose": payment.purpose.value,
        "amount": money(payment.amount_minor, payment.currency),
        "attempt": payment.attempts,
        "installment": payment.installment_number,
        "due_date": payment.due_date.isoformat(),
    }
    if event is EventType.PAYMENT_FAILED:
        payload["failure_code"] = payment.failure_code
        payload["retry_on"] = payment.next_retry_on.isoformat() if payment.next_retry_on else None
        payload["final"] = payment.status is PaymentStatus.FAILED
    return Event(
        order_id=payment.continuity_order_id,
        type=event,
        payload=payload,
        discriminator=f"payment-{payment.id}#{payment.attempts}",
    )


def hold_event(payment: Payment, *, released: bool) -> Event | None:
    """``payment_hold`` (the payment failed for good) or ``payment_hold_released``."""
    if payment.continuity_order_id is None:
        return None
    payload: dict[str, object] = {
        "payment_id": payment.id,
        "amount": money(payment.amount_minor, payment.currency),
        "attempts": payment.attempts,
    }
    if not released:
        payload["failure_code"] = payment.failure_code
    return Event(
        order_id=payment.continuity_order_id,
        type=EventType.PAYMENT_HOLD_RELEASED if released else EventType.PAYMENT_HOLD,
        payload=payload,
        discriminator=f"payment-{payment.id}#{payment.attempts}",
    )


async def child_order_events(
    conn: BaseDBAsyncClient, *, job_run_id: int, after_id: int
) -> list[Event]:
    """``child_order_created`` for the child orders a run created after ``after_id`` (one
    batch of the child-order job), with their items; four queries whatever the batch size."""
    children = (
        await ChildOrder.filter(job_run_id=job_run_id, id__gt=after_id)
        .order_by("id")
        .using_db(conn)
    )
    if not children:
        return []
    lines = await ChildOrderLine.filter(child_order_id__in=[c.id for c in children]).using_db(conn)
    products = {
        p.id: p
        for p in await Product.filter(id__in={line.product_id for line in lines}).using_db(conn)
    }
    planned = {
        line.id: line
        for line in await ContinuityLine.filter(
            id__in=[line.continuity_line_id for line in lines]
        ).using_db(conn)
    }
    by_child: dict[int, list[ChildOrderLine]] = defaultdict(list)
    for line in lines:
        by_child[line.child_order_id].append(line)
    events = []
    for child in children:
        mine = sorted(by_child[child.id], key=lambda line: line.id)
        occurrences = sorted(
            {
                (
                    planned[line.continuity_line_id].event_number,
                    planned[line.continuity_line_id].repeat_index,
                )
                for line in mine
                if line.continuity_line_id in planned
            }
        )
        ship_dates = sorted(
            {
                planned[line.continuity_line_id].planned_ship_date.isoformat()
                for line in mine
                if line.continuity_line_id in planned
            }
        )
        events.append(
            Event(
                order_id=child.continuity_order_id,
                type=EventType.CHILD_ORDER_CREATED,
                payload={
                    "child_order": child.number,
                    "status": child.status.value,
                    "consolidated": child.consolidated,
                    "created_for": child.created_for.isoformat(),
                    "occurrences": [list(o) for o in occurrences],
                    "planned_ship_dates": ship_dates,
                    "items": [
                        {
                            "sku": products[line.product_id].sku,
                            "name": products[line.product_id].name,
                            "quantity": line.quantity,
                        }
                        for line in mine
                    ],
                    "total": money(child.total_minor, child.currency),
                },
                discriminator=child.number,
            )
        )
    return events
