"""The continuity update re-plans through the one planner: new items, the order's own swaps,
and dates kept to the day of month the order's monthly run started on."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.enums import ContinuityLineStatus
from continuity.jobs import JobEnv
from continuity.jobs.child_orders import create_child_orders
from continuity.jobs.update import continuity_update, preview_continuity_update
from continuity.models import ContinuityLine, OrderHistoryEntry, Product
from continuity.orders.changes import swap_item
from continuity.payments.gateway import TestGateway
from rules.loader import load_rules
from rules.sync import sync_rules
from tests.jobs.world import buyer, open_business, order

pytestmark = pytest.mark.db

DAY0 = date(2027, 1, 31)


async def test_an_update_keeps_month_ends_and_the_orders_swaps(
    db: TortoiseContext, rules_dir: Path
) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    club = (await order(ada, "BOOKCLUB", DAY0, rules, gateway)).continuity_orders[0]
    env = JobEnv(gateway=gateway)
    await create_child_orders(DAY0, env=env)  # book 1 ships on the 31st
    await swap_item(club.id, "BOOK-005", "BOOK-013", today=DAY0, actor="web")
    path = rules_dir / "programs" / "book-club.yaml"
    path.write_text(
        path.read_text().replace("{sku: BOOK-003, quantity: 1}", "{sku: BOOK-010, quantity: 1}")
    )
    await sync_rules(load_rules(rules_dir))
    run = await continuity_update(date(2027, 2, 1), env=env)
    assert run.counts["orders_updated"] == 1
    lines = await ContinuityLine.filter(continuity_order_id=club.id).order_by("event_number")
    products = {p.id: p.sku for p in await Product.all()}
    by_event = {ln.event_number: ln for ln in lines}
    assert by_event[1].status is ContinuityLineStatus.RELEASED
    assert [(e, by_event[e].planned_ship_date) for e in (2, 3, 4, 5)] == [
        (2, date(2027, 2, 28)),
        (3, date(2027, 3, 31)),  # still the 31st: the run started on 31 January
        (4, date(2027, 4, 30)),
        (5, date(2027, 5, 31)),
    ]
    assert products[by_event[3].product_id or 0] == "BOOK-010"  # the new version
    assert products[by_event[5].product_id or 0] == "BOOK-013"  # the order's swap


async def test_the_preview_lists_the_lines_an_ended_order_cancels(
    db: TortoiseContext, rules_dir: Path
) -> None:
    """Event 2 is gone from the new version while the order waits for it: the order ends, and
    the preview lists each of its pending lines as removed, before the job does exactly that."""
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    coffee = (await order(ada, "COFFEECLUB", DAY0, rules, gateway)).continuity_orders[0]
    env = JobEnv(gateway=gateway)
    for day in (DAY0, date(2027, 2, 11), date(2027, 2, 25)):  # event 1's three bags go out
        await create_child_orders(day, env=env)
    path = rules_dir / "programs" / "coffee.yaml"
    text = path.read_text()
    path.write_text(
        text[: text.index("  - number: 2")].replace("repeat: 2", "repeat: 2\n    action: end")
    )
    await sync_rules(load_rules(rules_dir))
    pending = await ContinuityLine.filter(
        continuity_order_id=coffee.id, status=ContinuityLineStatus.PENDING
    ).order_by("event_number", "repeat_index", "item_seq")
    assert {line.event_number for line in pending} == {2}
    [preview] = await preview_continuity_update()
    assert preview.cancelled_events == (2,)
    assert (preview.lines_removed, preview.lines_added, preview.lines_changed) == (
        len(pending),
        0,
        0,
    )
    assert [(u.event_number, u.repeat_index, u.item_seq, u.kind) for u in preview.lines] == [
        (line.event_number, line.repeat_index, line.item_seq, "removed") for line in pending
    ]
    assert [u.before.sku if u.before else None for u in preview.lines[:2]] == [
        "COF-SINGLE-12",
        "COF-HOUSE-12",
    ]
    assert all(u.after is None for u in preview.lines)
    await continuity_update(date(2027, 3, 1), env=env)
    after = await ContinuityLine.filter(id__in=[line.id for line in pending])
    assert {line.status for line in after} == {ContinuityLineStatus.CANCELLED}
    entry = await OrderHistoryEntry.filter(
        continuity_order_id=coffee.id, action="program_updated"
    ).get()
    assert entry.details["lines_removed"] == len(pending)
    assert (entry.details["lines_added"], entry.details["lines_changed"]) == (0, 0)
