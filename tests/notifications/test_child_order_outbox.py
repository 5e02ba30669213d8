"""``child_order_created`` rows are built by the database (``emit_child_orders_created``): they
must be the rows ``emit_many`` writes from the payload built in Python, key for key and field
for field, on both backends, long recipients hashed, amounts formatted as ``money`` does."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext

from continuity.globalids import global_id
from continuity.jobs import JobEnv
from continuity.jobs.child_orders import create_child_orders
from continuity.models import ChildOrder, Customer, Notification
from continuity.money import CURRENCY_MINOR_UNITS
from continuity.notifications.events import EventType, dedupe_key, money
from continuity.notifications.policy import NotificationPolicy, Subscriber
from continuity.notifications.setbased import money_sql
from continuity.payments.gateway import TestGateway
from continuity.sql import dialect, fetch
from tests.jobs.world import buyer, open_business, order

pytestmark = pytest.mark.db

DAY0 = date(2027, 1, 10)
ERP = Subscriber("erp", "http://127.0.0.1:9/hooks", "s3cret-s3cret-s3cret")

#: The payload as the Python writer built it before the database did (the reference).
_LINES = """
SELECT c.id AS child_id, c.number, c.continuity_order_id, c.status, c.consolidated,
       c.created_for, c.planned_ship_date AS child_planned, c.total_minor, c.currency,
       cl.quantity, cl.price_minor, p.sku, p.name, l.event_number, l.repeat_index,
       l.planned_ship_date, a.name AS ship_name, a.line1, a.line2, a.city, a.region,
       a.postal_code, a.country, u.email, u.phone, pr.code AS program, o.number AS order_number,
       oc.id AS customer_id, oc.account_number, oc.name AS customer_name
FROM child_order c
JOIN child_order_line cl ON cl.child_order_id = c.id
JOIN product p ON p.id = cl.product_id
JOIN continuity_line l ON l.id = cl.continuity_line_id
JOIN address a ON a.id = c.ship_to_id
JOIN customer u ON u.id = c.customer_id
JOIN continuity_order o ON o.id = c.continuity_order_id
JOIN customer oc ON oc.id = o.customer_id
JOIN program pr ON pr.id = o.program_id
ORDER BY c.id, cl.id
"""


def _iso(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _reference(mine: list[dict[str, Any]]) -> dict[str, Any]:
    first = mine[0]
    currency = first["currency"]
    return {
        "order": first["order_number"],
        "order_id": int(first["continuity_order_id"]),
        "customer": {
            "id": int(first["customer_id"]),
            "account_number": first["account_number"],
            "name": first["customer_name"],
        },
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


async def test_child_order_rows_are_those_of_the_python_writer(
    db: TortoiseContext, rules_dir: Path, use_policy: Any
) -> None:
    use_policy(NotificationPolicy(subscribers=(ERP,)))
    # not charged at creation: the reference reads the child orders' status after the run
    rules = await open_business(rules_dir, authorize_child_orders=False)
    ada = await buyer("ADA", today=DAY0)
    zoe = await buyer("ZOE", today=DAY0)
    # a recipient too long for the key (hashed) and a name that is not ASCII
    await Customer.filter(id=zoe.customer_id).update(
        email="zoë." + "x" * 150 + "@example.com", name="Zoë Ünal"
    )
    for who in (ada, zoe):
        for program in ("GIFTBOX6", "VITREFILL"):
            await order(who, program, DAY0, rules, TestGateway())
    # started three months back: its missed months go out consolidated on one child order
    start = DAY0 - timedelta(days=90)
    await order(ada, "BOOKCLUB", DAY0, rules, TestGateway(), start_date=start)
    run = await create_child_orders(DAY0, env=JobEnv(gateway=TestGateway()))
    assert not run.failures
    conn = get_connection("default")
    by_child: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in await fetch(conn, _LINES):
        by_child[int(row["child_id"])].append(row)
    assert len(by_child) == await ChildOrder.all().count() >= 4
    want = {}
    for mine in by_child.values():
        payload = _reference(mine)
        email = mine[0]["email"]
        event = EventType.CHILD_ORDER_CREATED
        for channel, recipient in (("email", email), ("webhook", "erp")):
            key = dedupe_key(event, payload["order_id"], payload["child_order"], channel, recipient)
            want[key] = (payload["order_id"], channel, recipient, payload)
    written = await Notification.filter(event_type="child_order_created").order_by("id")
    got = {
        n.dedupe_key: (n.continuity_order_id, n.channel, n.recipient, n.payload) for n in written
    }
    assert got == want
    assert any("#" in key for key in got)  # the long address was hashed
    consolidated = [p for _, _, _, p in got.values() if p["consolidated"]]
    assert consolidated
    assert all(len(p["occurrences"]) > 1 for p in consolidated)
    assert all(len(p["planned_ship_dates"]) > 1 for p in consolidated)
    # both ways of building the lists (``outcomes._LISTS``): one line, and several
    assert any(len(p["items"]) == 1 for _, _, _, p in got.values())
    assert any(len(p["items"]) > 1 and not p["consolidated"] for _, _, _, p in got.values())
    if dialect(conn) == "sqlite":  # the text reads back in the order json_text writes
        for n in written:
            assert list(n.payload) == sorted(n.payload)
    # a second run writes nothing
    again = await create_child_orders(DAY0, env=JobEnv(gateway=TestGateway()))
    assert not again.failures
    assert await Notification.filter(event_type="child_order_created").count() == len(want)


async def test_amounts_in_sql_are_those_of_money(db: TortoiseContext) -> None:
    conn = get_connection("default")
    postgres = dialect(conn) == "postgres"
    values = [0, 1, 5, 9, 10, 99, 100, 101, 999, 1000, 1234, 123456789, -1, -5, -100, -12345]
    for currency in CURRENCY_MINOR_UNITS:
        for value in values:
            cast = "::bigint" if postgres else ""
            expression = money_sql(f"{value}{cast}", f"'{currency}'", postgres)
            [row] = await conn.execute_query_dict(f"SELECT {expression} AS m")
            got = row["m"]
            if isinstance(got, str):
                got = json.loads(got)
            assert got == money(value, currency), (value, currency)
