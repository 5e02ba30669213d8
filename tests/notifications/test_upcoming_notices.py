"""``upcoming_shipment`` rows are built by the database (``notices.upcoming_shipments``): they
must be the rows ``emit_many`` writes from the payload built in Python from the same lines, key
for key and field for field, on both backends: several items an occurrence, prepaid and
per-shipment orders, lines on a child order not shipped yet (announced, with its number) or
shipped (not), paused orders (not), a customer without an address, a long recipient hashed,
a name that is not ASCII, a subscriber that does not want the event."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext

from continuity.enums import ChildOrderStatus, EventAction
from continuity.jobs import JobEnv
from continuity.jobs.child_orders import create_child_orders
from continuity.jobs.payments import process_payments
from continuity.models import ChildOrder, ContinuityLine, Customer, Notification
from continuity.notifications.events import EventType, dedupe_key, money
from continuity.notifications.policy import NotificationPolicy, Subscriber
from continuity.orders.pause import pause_order
from continuity.payments.gateway import TestGateway
from continuity.sql import dialect, fetch
from tests.jobs.world import buyer, open_business, order

pytestmark = pytest.mark.db

DAY0 = date(2027, 1, 10)
WINDOW = 45
ERP = Subscriber("erp", "http://127.0.0.1:9/hooks", "s3cret-s3cret-s3cret")
#: A subscriber that wants other events only: never a recipient of these.
BILLING = Subscriber("billing", "http://127.0.0.1:9/b", "s3cret-s3cret-s3cret", frozenset())

#: Every line with what the Python writer read for its notice (the reference).
_LINES = """
SELECT l.continuity_order_id AS order_id, l.event_number, l.repeat_index, l.item_seq,
       l.planned_ship_date, l.status, l.quantity, l.price_minor, l.product_id,
       p.sku, p.name AS product_name, c.status AS child_status, c.number AS child_number,
       o.status AS order_status, o.number AS order_number, o.billing_mode, o.currency,
       u.id AS customer_id, u.account_number, u.name AS customer_name, u.email
FROM continuity_line l
JOIN continuity_order o ON o.id = l.continuity_order_id
JOIN customer u ON u.id = o.customer_id
LEFT JOIN product p ON p.id = l.product_id
LEFT JOIN child_order c ON c.id = l.child_order_id
ORDER BY l.continuity_order_id, l.planned_ship_date, l.event_number, l.repeat_index, l.item_seq
"""


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _announced(row: dict[str, Any], as_of: date, horizon: date) -> bool:
    if row["order_status"] != "active" or not as_of <= _day(row["planned_ship_date"]) <= horizon:
        return False
    return row["status"] == "pending" or (
        row["status"] == "released" and row["child_status"] in ("created", "authorized")
    )


async def _reference(as_of: date, horizon: date) -> dict[str, tuple[Any, ...]]:
    """key → (order id, channel, recipient, payload), as the Python writer built them."""
    occurrences: dict[tuple[int, int, int, date], list[dict[str, Any]]] = defaultdict(list)
    for row in await fetch(get_connection("default"), _LINES):
        if _announced(row, as_of, horizon):
            key = (
                int(row["order_id"]),
                row["event_number"],
                row["repeat_index"],
                _day(row["planned_ship_date"]),
            )
            occurrences[key].append(row)
    want: dict[str, tuple[Any, ...]] = {}
    for (order_id, event_number, repeat_index, ship_date), group in occurrences.items():
        first = group[0]
        charged = first["billing_mode"] == "per_shipment"
        amount = sum(int(r["quantity"]) * int(r["price_minor"]) for r in group) if charged else 0
        payload = {
            "order": first["order_number"],
            "order_id": order_id,
            "customer": {
                "id": int(first["customer_id"]),
                "account_number": first["account_number"],
                "name": first["customer_name"],
            },
            "event_number": event_number,
            "repeat_index": repeat_index,
            "ship_date": ship_date.isoformat(),
            "items": [
                {"sku": r["sku"], "name": r["product_name"], "quantity": int(r["quantity"])}
                for r in group
                if r["product_id"] is not None
            ],
            "amount": money(amount, first["currency"]),
            "prepaid": not charged,
            "child_order": first["child_number"],
        }
        recipients = [("webhook", "erp")]
        if first["email"]:
            recipients.insert(0, ("email", first["email"]))
        discriminator = f"{event_number}.{repeat_index}@{ship_date.isoformat()}"
        for channel, recipient in recipients:
            written = dedupe_key(
                EventType.UPCOMING_SHIPMENT, order_id, discriminator, channel, recipient
            )
            want[written] = (order_id, channel, recipient, payload)
    return want


async def test_upcoming_shipment_rows_are_those_of_the_python_writer(
    db: TortoiseContext, rules_dir: Path, use_policy: Any
) -> None:
    use_policy(NotificationPolicy(subscribers=(ERP, BILLING), upcoming_shipment_days=WINDOW))
    rules = await open_business(rules_dir, authorize_child_orders=False)
    gateway = TestGateway()
    ada = await buyer("ADA", today=DAY0)
    zoe = await buyer("ZOE", today=DAY0)
    bob = await buyer("BOB", today=DAY0)
    cat = await buyer("CAT", today=DAY0)
    # a recipient too long for the key (hashed), a name that is not ASCII, no address at all
    await Customer.filter(id=zoe.customer_id).update(
        email="zoë." + "x" * 150 + "@example.com", name="Zoë Ünal"
    )
    await Customer.filter(id=bob.customer_id).update(email=None)
    for who in (ada, zoe, bob):
        for program in ("GIFTBOX6", "VITREFILL", "BOOKCLUB"):
            await order(who, program, DAY0, rules, gateway)
    paused = (await order(cat, "VITREFILL", DAY0, rules, gateway)).continuity_orders[0]
    await pause_order(paused.id, today=DAY0, actor="test")
    # today's lines go on child orders; one of them leaves the warehouse (no notice any more)
    assert not (await create_child_orders(DAY0, env=JobEnv(gateway=gateway))).failures
    children = await ChildOrder.all().order_by("id")
    assert len(children) >= 6
    await ChildOrder.filter(id=children[0].id).update(status=ChildOrderStatus.SHIPPED)

    want = await _reference(DAY0, DAY0 + timedelta(days=WINDOW))
    run = await process_payments(DAY0, env=JobEnv(gateway=gateway))
    assert not run.failures
    written = await Notification.filter(event_type="upcoming_shipment").order_by("id")
    got = {
        n.dedupe_key: (n.continuity_order_id, n.channel, n.recipient, n.payload) for n in written
    }
    assert got == want
    # the world the reference covers
    payloads = [payload for _o, _c, _r, payload in want.values()]
    assert any(len(p["items"]) > 1 for p in payloads)
    assert any(p["prepaid"] for p in payloads)
    assert any(not p["prepaid"] for p in payloads)
    assert any(p["child_order"] for p in payloads)
    assert children[0].number not in {p["child_order"] for p in payloads}
    assert paused.id not in {o for o, _c, _r, _p in want.values()}
    assert any("#" in key for key in got)  # the long address was hashed
    assert {r for _o, _c, r, _p in want.values()} >= {"erp", "ada@example.com"}
    assert await ContinuityLine.filter(
        action=EventAction.NORMAL, planned_ship_date__gt=DAY0 + timedelta(days=WINDOW)
    ).exists()  # lines past the window are left out
    # the count is of events (an occurrence), not rows; rows in the order of their occurrences
    occurrences = {(o, p["event_number"], p["repeat_index"]) for o, _c, _r, p in want.values()}
    assert run.counts["shipment_notices"] == len(occurrences)
    ordered = [(n.continuity_order_id, n.payload["ship_date"]) for n in written]
    assert ordered == sorted(ordered)
    if dialect(get_connection("default")) == "sqlite":  # read back in json_text's order
        assert all(list(n.payload) == sorted(n.payload) for n in written)
    # a second run the same day writes nothing, and counts nothing
    again = await process_payments(DAY0, env=JobEnv(gateway=gateway))
    assert "shipment_notices" not in again.counts
    assert await Notification.filter(event_type="upcoming_shipment").count() == len(want)


async def test_no_recipient_no_statement(
    db: TortoiseContext, rules_dir: Path, use_policy: Any
) -> None:
    use_policy(NotificationPolicy(email_enabled=False, subscribers=(BILLING,)))
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    await order(ada, "VITREFILL", DAY0, rules, TestGateway())
    run = await process_payments(DAY0 + timedelta(days=27), env=JobEnv(gateway=TestGateway()))
    assert "shipment_notices" not in run.counts
    assert not await Notification.filter(event_type="upcoming_shipment").exists()
