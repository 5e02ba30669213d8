"""The outbox: rows written with the change that causes them, one per recipient, never twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise.context import TortoiseContext

from continuity.enums import CancelReason, ContinuityOrderStatus, NotificationStatus
from continuity.jobs import JobEnv
from continuity.jobs.child_orders import create_child_orders
from continuity.jobs.close import close_orders
from continuity.jobs.payments import process_payments
from continuity.models import ContinuityOrder, Notification, OrderHistoryEntry, Payment
from continuity.notifications import events
from continuity.notifications.events import EventType, dedupe_key, emit
from continuity.notifications.policy import NotificationPolicy, Subscriber
from continuity.orders import pause
from continuity.orders.cancel import cancel_order
from continuity.payments.gateway import TestGateway
from tests.jobs.world import buyer, fulfil, open_business, order

pytestmark = pytest.mark.db

DAY0 = date(2027, 1, 10)
SECRET = "s3cret-s3cret-s3cret"
ERP = Subscriber("erp", "http://127.0.0.1:9/hooks", SECRET)
BILLING = Subscriber(
    "billing", "http://127.0.0.1:9/b", SECRET, frozenset({EventType.PAYMENT_FAILED})
)
Use = Callable[[NotificationPolicy], None]


async def rows(**filters: Any) -> list[tuple[str, str, str]]:
    found = await Notification.filter(**filters).order_by("id")
    return [(n.event_type, n.channel, n.recipient) for n in found]


async def test_placement_writes_one_order_placed_row_per_recipient(
    db: TortoiseContext, rules_dir: Path, use_policy: Use
) -> None:
    use_policy(NotificationPolicy(subscribers=(ERP, BILLING)))
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    placed = await order(ada, "VITREFILL", DAY0, rules, TestGateway())
    co = placed.continuity_orders[0]
    assert await rows() == [
        ("order_placed", "email", "ada@example.com"),
        ("order_placed", "webhook", "erp"),  # billing wants payment_failed only
    ]
    row = await Notification.get(channel="webhook")
    assert row.dedupe_key == f"order_placed:{co.id}:placed:webhook:erp"
    assert row.status is NotificationStatus.PENDING
    assert row.payload["order"] == co.number
    assert row.payload["program"] == "vitamins-refill"
    assert row.payload["customer"]["account_number"] == "ADA"
    assert row.payload["total"] == {"amount": "0.00", "currency": "USD"}


async def test_a_change_that_fails_leaves_no_notification(
    db: TortoiseContext, rules_dir: Path, use_policy: Use, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy(NotificationPolicy(subscribers=(ERP,)))
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    co = (await order(ada, "BOOKCLUB", DAY0, rules, TestGateway())).continuity_orders[0]
    before = await Notification.all().count()

    async def emit_then_fail(*args: Any, **kwargs: Any) -> int:
        written = await emit(*args, **kwargs)
        assert written == 1  # the event's rows (e-mail, webhook) were written in the transaction...
        raise RuntimeError("the change fails after its notifications were written")

    monkeypatch.setattr(pause, "emit", emit_then_fail)
    with pytest.raises(RuntimeError):
        await pause.pause_order(co.id, today=DAY0, actor="test")
    # ... and rolled back with it
    assert await Notification.all().count() == before
    assert not await Notification.filter(event_type="order_paused").exists()
    assert (await ContinuityOrder.get(id=co.id)).status is ContinuityOrderStatus.ACTIVE
    assert not await OrderHistoryEntry.filter(continuity_order_id=co.id, action="paused").exists()
    monkeypatch.undo()
    await pause.pause_order(co.id, today=DAY0, actor="test")
    assert await rows(event_type="order_paused") == [
        ("order_paused", "email", "ada@example.com"),
        ("order_paused", "webhook", "erp"),
    ]


async def test_every_catalogued_cause_writes_its_event(
    db: TortoiseContext, rules_dir: Path, use_policy: Use
) -> None:
    use_policy(NotificationPolicy(email_enabled=False, subscribers=(ERP,)))
    gateway = TestGateway()
    rules = await open_business(rules_dir, retry_days=2, reauthorization_limit=1)
    ada = await buyer("ADA", today=DAY0)
    bob = await buyer("BOB", today=DAY0, token="tok_insufficient_funds")
    gift = (await order(ada, "GIFTBOX6", DAY0, rules, gateway)).continuity_orders[0]
    vit = (await order(bob, "VITREFILL", DAY0, rules, gateway)).continuity_orders[0]
    env = JobEnv(gateway=gateway)
    await create_child_orders(DAY0, env=env)  # bob's charge is declined
    await process_payments(DAY0 + timedelta(days=2), env=env)  # declined again: payment hold
    await pause.pause_order(gift.id, today=DAY0, actor="test")
    await pause.resume_order(gift.id, today=DAY0 + timedelta(days=1), actor="test")
    await cancel_order(
        gift.id,
        reason_code=CancelReason.CUSTOMER_REQUEST,
        today=DAY0 + timedelta(days=1),
        actor="test",
        rules=rules,
        gateway=gateway,
    )
    by_order = {
        order_id: [e for e, _c, _r in await rows(continuity_order_id=order_id)]
        for order_id in (gift.id, vit.id)
    }
    assert by_order[gift.id] == [
        "order_placed",
        "payment_succeeded",
        "child_order_created",
        "order_paused",
        "order_resumed",
        "order_cancelled",
    ]
    assert by_order[vit.id] == [
        "order_placed",
        "child_order_created",
        "payment_failed",
        "payment_failed",
        "payment_hold",  # a held order gets no upcoming-shipment notice
    ]
    failed = await Notification.filter(event_type="payment_failed").order_by("id")
    assert [n.payload["retry_on"] for n in failed] == [
        (DAY0 + timedelta(days=2)).isoformat(),
        None,
    ]
    assert [n.payload["final"] for n in failed] == [False, True]
    payment = await Payment.get(continuity_order_id=vit.id)
    assert failed[0].dedupe_key == f"payment_failed:{vit.id}:payment-{payment.id}#1:webhook:erp"


async def test_a_replayed_cause_never_notifies_twice(
    db: TortoiseContext, rules_dir: Path, use_policy: Use
) -> None:
    use_policy(NotificationPolicy(subscribers=(ERP,), upcoming_shipment_days=3))
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    co = (await order(ada, "BOOKCLUB", DAY0, rules, gateway)).continuity_orders[0]
    env = JobEnv(gateway=gateway)
    notice_day = date(2027, 2, 7)  # book 2 ships 2027-02-10
    first = await process_payments(notice_day, env=env)
    assert first.counts["shipment_notices"] == 1
    notices = await Notification.filter(event_type="upcoming_shipment")
    assert sorted(n.dedupe_key for n in notices) == [
        f"upcoming_shipment:{co.id}:2.0@2027-02-10:email:ada@example.com",
        f"upcoming_shipment:{co.id}:2.0@2027-02-10:webhook:erp",
    ]
    count = await Notification.all().count()
    again = await process_payments(notice_day, env=env)  # the same day again
    later = await process_payments(notice_day + timedelta(days=1), env=env)  # still in the window
    assert "shipment_notices" not in again.counts
    assert "shipment_notices" not in later.counts
    assert await Notification.all().count() == count
    # the outbox writer itself: the same cause twice writes once (two rows: e-mail, webhook)
    before = await Notification.all().count()
    assert await emit(co, EventType.ORDER_CLOSED, {}, conn=None, discriminator="x") == 1
    assert await emit(co, EventType.ORDER_CLOSED, {}, conn=None, discriminator="x") == 0
    assert await Notification.all().count() == before + 2


async def test_a_long_recipient_is_hashed_into_the_key() -> None:
    long_address = "a" * 180 + "@example.com"
    key = dedupe_key(EventType.ORDER_PLACED, 7, "placed", "email", long_address)
    assert len(key) <= events.MAX_KEY
    assert key.startswith("order_placed:7:placed:email:#")
    assert key == dedupe_key(EventType.ORDER_PLACED, 7, "placed", "email", long_address)


async def test_the_close_job_and_prepaid_notices(
    db: TortoiseContext, rules_dir: Path, use_policy: Use
) -> None:
    use_policy(NotificationPolicy(email_enabled=False, subscribers=(ERP,), renewal_notice_days=30))
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    gift = (await order(ada, "GIFTBOX6", DAY0, rules, gateway)).continuity_orders[0]
    env = JobEnv(gateway=gateway)
    day = DAY0
    while (await ContinuityOrder.get(id=gift.id)).status is not ContinuityOrderStatus.CLOSED:
        await process_payments(day, env=env)
        await create_child_orders(day, env=env)
        await fulfil(day, gateway)
        await close_orders(day, env=env)
        day += timedelta(days=1)
        assert day < DAY0 + timedelta(days=400)
    renewal = await Notification.get(event_type="plan_renewal")
    last_ship = date.fromisoformat(renewal.payload["last_ship_date"])
    assert renewal.payload["kind"] == "term_end"
    assert renewal.payload["renews"] is False
    assert renewal.created_at.date() <= last_ship
    closed = await Notification.get(event_type="order_closed")
    assert closed.payload["order"] == gift.number
    # the first box ships on the order day; this warehouse ships the later boxes as soon as
    # their child orders exist (days_before_delivery ahead), before their notice is due
    notices = await Notification.filter(event_type="upcoming_shipment").count()
    assert notices == 1
