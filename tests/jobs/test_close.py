"""The close job: an order with nothing left to ship closes, settles what it was paid for and
did not ship, and its sales order follows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.enums import (
    ContinuityLineStatus,
    ContinuityOrderStatus,
    PaymentKind,
    PaymentStatus,
    SalesOrderStatus,
)
from continuity.jobs import JobEnv, run_daily_chain
from continuity.models import ContinuityLine, ContinuityOrder, Payment, SalesOrder
from continuity.payments.gateway import TestGateway
from rules.loader import load_rules
from rules.sync import sync_rules
from tests.jobs.world import buyer, fulfil, open_business, order

pytestmark = pytest.mark.db

DAY0 = date(2027, 1, 10)


async def test_a_prepaid_order_ended_early_by_an_update_refunds_the_rest_when_it_closes(
    db: TortoiseContext, rules_dir: Path
) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    gift = (await order(ada, "GIFTBOX6", DAY0, rules, gateway, start_date=DAY0)).continuity_orders[
        0
    ]
    env = JobEnv(gateway=gateway)
    for day in [date(2027, 1, 11), date(2027, 2, 11), date(2027, 3, 11), date(2027, 4, 11)]:
        await run_daily_chain(day, env=env, triggered_by="test")
        await fulfil(day, gateway)
    # the merchandiser ends the program after its fourth box
    path = rules_dir / "programs" / "gift-box.yaml"
    text = path.read_text()
    text = text.replace('price: "129.00", events: 6}', 'price: "129.00", events: 4}')
    events = text.split("\n  - items:")  # the header, then one chunk per event
    cut = len("\n  - items:".join(events[:5]))  # keep the first four events
    path.write_text(text[:cut])
    await sync_rules(load_rules(rules_dir))
    await run_daily_chain(date(2027, 4, 12), env=env, triggered_by="test")
    closed = await ContinuityOrder.get(id=gift.id)
    assert closed.status is ContinuityOrderStatus.CLOSED
    statuses = {
        ln.event_number: ln.status
        for ln in await ContinuityLine.filter(continuity_order_id=gift.id)
    }
    assert statuses == {
        1: ContinuityLineStatus.CLOSED,
        2: ContinuityLineStatus.CLOSED,
        3: ContinuityLineStatus.CLOSED,
        4: ContinuityLineStatus.CLOSED,
        5: ContinuityLineStatus.CANCELLED,
        6: ContinuityLineStatus.CANCELLED,
    }
    [refund] = await Payment.filter(continuity_order_id=gift.id, kind=PaymentKind.REFUND)
    assert (refund.amount_minor, refund.status) == (2150 + 2150, PaymentStatus.SUCCEEDED)
    assert gateway.moved_minor == 12900 - 4300
    sales = await SalesOrder.get(id=closed.sales_order_id)
    assert sales.status is SalesOrderStatus.CLOSED
