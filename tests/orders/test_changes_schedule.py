"""Skipping an occurrence, pausing and resuming (docs/CHANGES.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.enums import ContinuityLineStatus, ContinuityOrderStatus
from continuity.errors import ContinuityError, ErrorCode
from continuity.models import ContinuityOrder
from continuity.orders.changes import skip_shipment
from continuity.orders.pause import pause_order, resume_order
from continuity.orders.projection import upcoming_shipments
from continuity.payments.gateway import TestGateway
from tests.orders.changing import (
    last_history,
    lines,
    pending_dates,
    place,
    release,
    snapshot,
)
from tests.orders.fixtures import RULES, TODAY, setup

pytestmark = pytest.mark.db

TODAY_PLUS_1 = date(2027, 2, 1)


async def test_skip_a_book_club_month(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "BOOKCLUB")
    before = {(ln.event_number, ln.repeat_index): ln.planned_ship_date for ln in await lines(order)}
    await skip_shipment(
        order.id,
        2,
        0,
        today=TODAY,
        rules=RULES,
        gateway=TestGateway(),
        actor="agent:3",
        reason="on holiday",
    )
    after = await lines(order)
    assert [ln.event_number for ln in after if ln.status is ContinuityLineStatus.SKIPPED] == [2, 7]
    assert {(ln.event_number, ln.repeat_index): ln.planned_ship_date for ln in after} == before
    upcoming = await upcoming_shipments(await ContinuityOrder.get(id=order.id), 3)
    assert [s.event_number for s in upcoming] == [1, 3, 4]
    entry = await last_history(order)
    assert (entry.action, entry.actor, entry.reason) == ("skipped", "agent:3", "on holiday")
    assert entry.details["event_number"] == 2
    assert entry.details["before"] == {"status": "pending"}
    assert entry.details["after"] == {"status": "skipped"}
    assert entry.details["amount_minor"] == 1399


async def test_skip_takes_every_item_of_the_occurrence(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "GIFTBOX6")
    await skip_shipment(
        order.id, 1, 0, today=TODAY, rules=RULES, gateway=TestGateway(), actor="web"
    )
    first = [ln for ln in await lines(order) if ln.event_number == 1]
    assert len(first) == 3
    assert {ln.status for ln in first} == {ContinuityLineStatus.SKIPPED}
    others = [ln for ln in await lines(order) if ln.event_number != 1]
    assert {ln.status for ln in others} == {ContinuityLineStatus.PENDING}


@pytest.mark.parametrize(
    ("event", "repeat", "code"),
    [
        (1, 0, ErrorCode.INVALID_STATE),  # released to a child order
        (7, 0, ErrorCode.INVALID_STATE),  # a skip event, already skipped
        (99, 0, ErrorCode.NOT_FOUND),
        (2, 1, ErrorCode.NOT_FOUND),  # event 2 does not repeat
    ],
)
async def test_skip_refusals_write_nothing(
    db: TortoiseContext, rules_dir: Path, event: int, repeat: int, code: ErrorCode
) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "BOOKCLUB")
    await release(order, 1)
    before = await snapshot(order.id)
    with pytest.raises(ContinuityError) as caught:
        await skip_shipment(
            order.id, event, repeat, today=TODAY, rules=RULES, gateway=TestGateway(), actor="web"
        )
    assert (caught.value.code, caught.value.field) == (code, ("input", "eventNumber"))
    assert await snapshot(order.id) == before


async def test_skip_twice_is_refused(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "BOOKCLUB")
    await skip_shipment(
        order.id, 3, 0, today=TODAY, rules=RULES, gateway=TestGateway(), actor="web"
    )
    before = await snapshot(order.id)
    with pytest.raises(ContinuityError) as caught:
        await skip_shipment(
            order.id, 3, 0, today=TODAY, rules=RULES, gateway=TestGateway(), actor="web"
        )
    assert caught.value.code is ErrorCode.INVALID_STATE
    assert await snapshot(order.id) == before


async def test_unknown_order_and_long_reason(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "BOOKCLUB")
    with pytest.raises(ContinuityError) as caught:
        await skip_shipment(
            order.id + 100, 2, 0, today=TODAY, rules=RULES, gateway=TestGateway(), actor="web"
        )
    assert (caught.value.code, caught.value.field) == (ErrorCode.NOT_FOUND, ("input", "orderId"))
    before = await snapshot(order.id)
    with pytest.raises(ContinuityError) as caught:
        await skip_shipment(
            order.id,
            2,
            0,
            today=TODAY,
            rules=RULES,
            gateway=TestGateway(),
            actor="web",
            reason="x" * 501,
        )
    assert (caught.value.code, caught.value.field) == (
        ErrorCode.VALUE_TOO_LONG,
        ("input", "reason"),
    )
    assert await snapshot(order.id) == before


async def test_pause_two_months_then_resume_replans_without_loss(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "BOOKCLUB")  # 2027-01-31, monthly
    await release(order, 1)
    planned = await pending_dates(order)
    assert planned[0] == (2, 0, date(2027, 2, 28))
    paused = await pause_order(
        order.id, until=date(2027, 4, 10), today=date(2027, 2, 10), actor="web", reason="moving"
    )
    assert (paused.status, paused.paused_until) == (
        ContinuityOrderStatus.PAUSED,
        date(2027, 4, 10),
    )
    entry = await last_history(order)
    assert (entry.action, entry.reason, entry.details["after"]) == (
        "paused",
        "moving",
        {"status": "paused", "paused_until": "2027-04-10"},
    )

    resumed = await resume_order(order.id, today=date(2027, 4, 10), actor="job:resume")
    row = await ContinuityOrder.get(id=order.id)
    assert (row.status, row.paused_until) == (ContinuityOrderStatus.ACTIVE, None)
    assert resumed.status is ContinuityOrderStatus.ACTIVE
    assert (row.anchor_date, row.anchor_event_number, row.anchor_repeat_index) == (
        date(2027, 4, 10),
        2,
        0,
    )
    after = await pending_dates(order)
    assert len(after) == len(planned) == 10
    assert [key[:2] for key in after] == [key[:2] for key in planned]
    assert [when for *_, when in after] == [
        date(2027, 4, 10),  # event 2, on the resume date
        date(2027, 5, 10),
        date(2027, 6, 10),
        date(2027, 7, 10),
        date(2027, 8, 10),  # event 6; event 7 (the summer skip) takes 2027-09-10
        date(2027, 10, 10),
        date(2027, 11, 10),
        date(2027, 12, 10),
        date(2028, 1, 10),
        date(2028, 2, 10),
    ]
    by_event = {ln.event_number: ln for ln in await lines(order)}
    assert by_event[1].planned_ship_date == date(2027, 1, 31)  # released: untouched
    # the summer skip keeps its slot: between event 6 and event 8, re-dated with them
    assert by_event[7].planned_ship_date == date(2027, 9, 10)
    entry = await last_history(order)
    assert (entry.action, entry.actor) == ("resumed", "job:resume")
    assert entry.details["lines_rescheduled"] == 11  # the ten books and the summer skip
    assert entry.details["before"]["anchor"] == {
        "date": "2027-01-31",
        "event_number": 1,
        "repeat_index": 0,
    }
    assert entry.details["after"]["anchor"]["date"] == "2027-04-10"


async def test_resume_before_any_missed_date_changes_no_date(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "BOOKCLUB")
    await release(order, 1)
    planned = await pending_dates(order)
    await pause_order(order.id, today=date(2027, 2, 1), actor="web")
    await resume_order(order.id, today=date(2027, 2, 28), actor="web")
    assert await pending_dates(order) == planned
    row = await ContinuityOrder.get(id=order.id)
    assert (row.status, row.anchor_date, row.anchor_event_number) == (
        ContinuityOrderStatus.ACTIVE,
        date(2027, 1, 31),
        1,
    )
    assert (await last_history(order)).details["lines_rescheduled"] == 0


async def test_resume_keeps_each_events_own_gap(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "COFFEECLUB")  # starts 2027-02-02: every 14 days, then monthly
    await release(order, 1, 0)
    assert await pending_dates(order) == [
        (1, 1, date(2027, 2, 16)),
        (1, 2, date(2027, 3, 2)),
        (2, 0, date(2027, 4, 2)),
        (2, 1, date(2027, 5, 2)),
        (2, 2, date(2027, 6, 2)),
    ]
    await pause_order(order.id, today=date(2027, 2, 5), actor="web")
    await resume_order(order.id, today=date(2027, 3, 1), actor="web")
    assert await pending_dates(order) == [
        (1, 1, date(2027, 3, 1)),
        (1, 2, date(2027, 3, 15)),
        (2, 0, date(2027, 4, 15)),
        (2, 1, date(2027, 5, 15)),
        (2, 2, date(2027, 6, 15)),
    ]


async def test_resume_is_idempotent_for_the_jobs(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "BOOKCLUB")
    await pause_order(order.id, until=date(2027, 3, 1), today=TODAY_PLUS_1, actor="web")
    await resume_order(order, today=date(2027, 3, 1), actor="job", if_paused=True)
    once = await snapshot(order.id)
    again = await resume_order(order, today=date(2027, 3, 2), actor="job", if_paused=True)
    assert again.status is ContinuityOrderStatus.ACTIVE
    assert await snapshot(order.id) == once
    with pytest.raises(ContinuityError) as caught:
        await resume_order(order.id, today=date(2027, 3, 2), actor="web")
    assert (caught.value.code, caught.value.field) == (
        ErrorCode.INVALID_STATE,
        ("input", "orderId"),
    )
    assert await snapshot(order.id) == once


@pytest.mark.parametrize(
    ("status", "until", "code", "field"),
    [
        (ContinuityOrderStatus.PAYMENT_HOLD, None, ErrorCode.INVALID_STATE, "orderId"),
        (ContinuityOrderStatus.PAUSED, None, ErrorCode.INVALID_STATE, "orderId"),
        (ContinuityOrderStatus.CANCELLED, None, ErrorCode.INVALID_STATE, "orderId"),
        (ContinuityOrderStatus.ACTIVE, TODAY_PLUS_1, ErrorCode.INVALID_INPUT, "until"),
        (ContinuityOrderStatus.ACTIVE, date(2027, 1, 1), ErrorCode.INVALID_INPUT, "until"),
    ],
)
async def test_pause_refusals_write_nothing(
    db: TortoiseContext,
    rules_dir: Path,
    status: ContinuityOrderStatus,
    until: date | None,
    code: ErrorCode,
    field: str,
) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "BOOKCLUB")
    await ContinuityOrder.filter(id=order.id).update(status=status)
    before = await snapshot(order.id)
    with pytest.raises(ContinuityError) as caught:
        await pause_order(order.id, until=until, today=TODAY_PLUS_1, actor="web")
    assert (caught.value.code, caught.value.field) == (code, ("input", field))
    assert await snapshot(order.id) == before


async def test_payment_hold_cannot_be_resumed(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "BOOKCLUB")
    await ContinuityOrder.filter(id=order.id).update(status=ContinuityOrderStatus.PAYMENT_HOLD)
    before = await snapshot(order.id)
    with pytest.raises(ContinuityError) as caught:
        await resume_order(order.id, today=TODAY_PLUS_1, actor="web")
    assert caught.value.code is ErrorCode.INVALID_STATE
    assert await snapshot(order.id) == before
