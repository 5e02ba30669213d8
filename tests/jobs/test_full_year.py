"""Each bundled program from placement through 400 days of the daily chain.

The warehouse ships and invoices every paid child order the day it appears. Expected dates
and amounts are written out by hand from the rule files (not computed by the engine).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.enums import ContinuityOrderStatus, PaymentKind, PaymentPurpose, PaymentStatus
from continuity.models import ChildOrder, ContinuityLine, ContinuityOrder, Payment
from continuity.payments.gateway import TestGateway
from tests.jobs.world import buyer, open_business, order, run_days

pytestmark = pytest.mark.db

DAY0 = date(2027, 1, 31)
DAYS = 400
LEAD = 5  # days_before_delivery


def d(text: str) -> date:
    return date.fromisoformat(text)


MONTH_ENDS = [
    "2027-01-31",
    "2027-02-28",
    "2027-03-31",
    "2027-04-30",
    "2027-05-31",
    "2027-06-30",
    "2027-07-31",
    "2027-08-31",
    "2027-09-30",
    "2027-10-31",
    "2027-11-30",
    "2027-12-31",
]
#: (planned ship date, per-shipment charge in cents) per program
EXPECTED = {
    "BOOKCLUB": [
        (d(day), amount)
        for day, amount in zip(
            MONTH_ENDS[:6] + MONTH_ENDS[7:],  # event 7 (July) is the summer-break skip
            [999, 1399, 1499, 1299, 1599, 1499, 1399, 1499, 1599, 1499, 1699],
            strict=True,
        )
    ],
    "VITREFILL": [(DAY0 + timedelta(days=30 * k), 2450) for k in range(14)],
    "COFFEECLUB": [(d("2027-02-02"), 1900), (d("2027-02-16"), 1900), (d("2027-03-02"), 1900)]
    + [(d(f"2027-{month:02d}-02"), 3050) for month in range(4, 13)],
    "GIFTBOX6": [(d(f"2027-{month:02d}-01"), 0) for month in range(2, 8)],
    "WINECLUB12": [(d(day), 0) for day in MONTH_ENDS],
}
FINAL_STATUS = {
    "BOOKCLUB": ContinuityOrderStatus.CLOSED,
    "VITREFILL": ContinuityOrderStatus.ACTIVE,  # forever
    "COFFEECLUB": ContinuityOrderStatus.CLOSED,
    "GIFTBOX6": ContinuityOrderStatus.CLOSED,
    "WINECLUB12": ContinuityOrderStatus.CLOSED,
}


async def test_a_year_of_every_bundled_program(db: TortoiseContext, rules_dir: Path) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    orders = {}
    for sku in EXPECTED:
        placed = await order(ada, sku, DAY0, rules, gateway)
        orders[sku] = placed.continuity_orders[0].id
    await run_days(DAY0, DAYS, gateway)
    for sku, expected in EXPECTED.items():
        children = await ChildOrder.filter(continuity_order_id=orders[sku]).order_by("id")
        shipped = []
        for child in children:
            lines = await ContinuityLine.filter(child_order_id=child.id)
            planned = {line.planned_ship_date for line in lines}
            assert len(planned) == 1, (sku, child.number)
            shipped.append((planned.pop(), child.total_minor))
            assert child.created_for == max(DAY0, shipped[-1][0] - timedelta(days=LEAD))
        assert shipped == expected, sku
        final = await ContinuityOrder.get(id=orders[sku])
        assert final.status is FINAL_STATUS[sku], sku

    # authorize_child_orders: each shipment authorized when created, captured when invoiced
    charges = await Payment.filter(purpose=PaymentPurpose.SHIPMENT, kind=PaymentKind.CHARGE)
    holds = await Payment.filter(purpose=PaymentPurpose.SHIPMENT, kind=PaymentKind.AUTHORIZATION)
    assert all(p.status is PaymentStatus.SUCCEEDED for p in [*charges, *holds])
    assert sorted((p.child_order_id, p.amount_minor, p.gateway_reference) for p in charges) == (
        sorted((p.child_order_id, p.amount_minor, p.gateway_reference) for p in holds)
    )
    assert sum(p.amount_minor for p in charges) == sum(
        amount for rows in EXPECTED.values() for _, amount in rows
    )
    gift = await Payment.get(continuity_order_id=orders["GIFTBOX6"])
    assert (gift.purpose, gift.amount_minor, gift.due_date) == (
        PaymentPurpose.UP_FRONT,
        12900,
        DAY0,
    )
    wine = await Payment.filter(continuity_order_id=orders["WINECLUB12"]).order_by(
        "installment_number"
    )
    assert [(p.due_date, p.amount_minor, p.status) for p in wine] == [
        (d("2027-01-31"), 19000, PaymentStatus.SUCCEEDED),
        (d("2027-02-28"), 19000, PaymentStatus.SUCCEEDED),
        (d("2027-03-31"), 19000, PaymentStatus.SUCCEEDED),
    ]
    # money moved = every charge that succeeded, nothing twice
    collected = await Payment.filter(status=PaymentStatus.SUCCEEDED, kind=PaymentKind.CHARGE)
    assert gateway.moved_minor == sum(p.amount_minor for p in collected)
