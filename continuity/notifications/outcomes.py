"""Events built from what the payment and child-order code wrote, for the batch paths.

The payments and child-order jobs write their outcomes set-based; these helpers turn the rows
of one batch into ``Event``s that the caller writes with ``emit_many`` in the *same*
transaction as the outcomes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.enums import PaymentKind, PaymentStatus
from continuity.globalids import global_id
from continuity.models import Payment
from continuity.notifications.events import Event, EventType, money
from continuity.payments.gateway import AUTHENTICATION_REQUIRED
from continuity.sql import fetch


def payment_event(payment: Payment) -> Event | None:
    """``payment_succeeded`` or ``payment_failed`` for the attempt just recorded on a continuity
    order's charge (or the failure of an authorization, which asks the customer for a card as
    a failed charge does; an authorization that holds money is not "paid" yet); ``None`` for
    refunds, ordinary-line charges and payments whose outcome is not known.

    The discriminator is the payment and its attempt number: every attempt is told once, and
    the same attempt replayed after a crash (same gateway key) is not told twice.
    """
    if payment.continuity_order_id is None:
        return None
    if payment.kind is PaymentKind.CHARGE and payment.status is PaymentStatus.SUCCEEDED:
        event = EventType.PAYMENT_SUCCEEDED
    elif payment.kind in (PaymentKind.CHARGE, PaymentKind.AUTHORIZATION) and payment.status in (
        PaymentStatus.DECLINED,
        PaymentStatus.FAILED,
    ):
        event = EventType.PAYMENT_FAILED
    else:
        return None
    payload: dict[str, object] = {
        "payment_id": payment.id,
        "kind": payment.kind.value,
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
    """``payment_hold`` (the payment failed for good), ``payment_action_required`` (the hold
    came because the card needs the customer's authentication: they are asked to confirm the
    payment or give another card) or ``payment_hold_released``."""
    if payment.continuity_order_id is None:
        return None
    payload: dict[str, object] = {
        "payment_id": payment.id,
        "amount": money(payment.amount_minor, payment.currency),
        "attempts": payment.attempts,
    }
    event = EventType.PAYMENT_HOLD_RELEASED
    if not released:
        payload["failure_code"] = payment.failure_code
        event = EventType.PAYMENT_HOLD
        if payment.failure_code == AUTHENTICATION_REQUIRED:
            event = EventType.PAYMENT_ACTION_REQUIRED
            payload["hold"] = True
            payload["gateway_reference"] = payment.gateway_reference
    return Event(
        order_id=payment.continuity_order_id,
        type=event,
        payload=payload,
        discriminator=f"payment-{payment.id}#{payment.attempts}",
    )


_CHILD_ORDER_LINES = """
SELECT c.id AS child_id, c.number, c.continuity_order_id, c.status, c.consolidated,
       c.created_for, c.planned_ship_date AS child_planned, c.total_minor, c.currency,
       cl.id AS line_id, cl.quantity, cl.price_minor, p.sku, p.name, l.event_number,
       l.repeat_index, l.planned_ship_date,
       a.name AS ship_name, a.line1, a.line2, a.city, a.region, a.postal_code, a.country,
       u.email, u.phone, pr.code AS program
FROM child_order c
JOIN child_order_line cl ON cl.child_order_id = c.id
JOIN product p ON p.id = cl.product_id
JOIN continuity_line l ON l.id = cl.continuity_line_id
JOIN address a ON a.id = c.ship_to_id
JOIN customer u ON u.id = c.customer_id
JOIN continuity_order o ON o.id = c.continuity_order_id
JOIN program pr ON pr.id = o.program_id
WHERE c.job_run_id = :run AND c.id > :after
ORDER BY c.id, cl.id
"""


def _iso(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _child_order_payload(mine: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything a warehouse needs to pick, pack and ship the child order from the webhook
    alone: its global id (what ``markChildOrderShipped`` takes), its items with their prices,
    the ship-to address as copied onto it, the planned ship date, how to reach the customer."""
    first = mine[0]
    currency = first["currency"]
    return {
        "child_order": first["number"],
        "child_order_id": global_id("ChildOrder", int(first["child_id"])),
        "program": first["program"],
        "status": first["status"],
        "consolidated": bool(first["consolidated"]),
        "created_for": _iso(first["created_for"]),
        "planned_ship_date": _iso(first["child_planned"] or first["created_for"]),
        "occurrences": [
            list(o) for o in sorted({(r["event_number"], r["repeat_index"]) for r in mine})
        ],
        "planned_ship_dates": sorted({_iso(r["planned_ship_date"]) for r in mine}),
        "items": [
            {
                "sku": r["sku"],
                "name": r["name"],
                "quantity": int(r["quantity"]),
                "unit_price": money(int(r["price_minor"]), currency),
                "amount": money(int(r["price_minor"]) * int(r["quantity"]), currency),
            }
            for r in mine
        ],
        "total": money(int(first["total_minor"]), currency),
        "ship_to": {
            "name": first["ship_name"],
            "line1": first["line1"],
            "line2": first["line2"],
            "city": first["city"],
            "region": first["region"],
            "postal_code": first["postal_code"],
            "country": first["country"],
        },
        "contact": {"email": first["email"], "phone": first["phone"]},
    }


async def child_order_events(
    conn: BaseDBAsyncClient, *, job_run_id: int, after_id: int
) -> list[Event]:
    """``child_order_created`` for the child orders a run created after ``after_id`` (one
    batch of the child-order job), with their items: one query, plain rows (a batch job
    cannot afford an ORM object per row)."""
    rows = await fetch(conn, _CHILD_ORDER_LINES, run=job_run_id, after=after_id)
    by_child: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_child[int(row["child_id"])].append(row)
    return [
        Event(
            order_id=int(mine[0]["continuity_order_id"]),
            type=EventType.CHILD_ORDER_CREATED,
            payload=_child_order_payload(mine),
            discriminator=mine[0]["number"],
        )
        for mine in by_child.values()
    ]
