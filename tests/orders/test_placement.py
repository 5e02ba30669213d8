"""Placing orders through the domain: lines, dates, billing, payments, errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from tortoise.context import TortoiseContext
from tortoise.exceptions import IntegrityError

from continuity.enums import BillingMode, ContinuityLineStatus, PaymentPurpose, PaymentStatus
from continuity.errors import ContinuityError, ErrorCode
from continuity.models import (
    ContinuityLine,
    ContinuityOrder,
    OrderHistoryEntry,
    Payment,
    Program,
    SalesOrder,
)
from continuity.orders.placement import OrderLineInput, SalesOrderInput, place_sales_order
from continuity.payments.gateway import TestGateway
from tests.orders.fixtures import RULES, TODAY, Buyer, setup
from tests.statements import Statements, capturing

pytestmark = pytest.mark.db


def _order(buyer: Buyer, *lines: OrderLineInput) -> SalesOrderInput:
    return SalesOrderInput(buyer.customer.id, buyer.address.id, buyer.card.id, tuple(lines))


async def test_book_club_per_shipment(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    gateway = TestGateway()
    placed = await place_sales_order(
        _order(buyer, OrderLineInput("BOOKCLUB")),
        order_date=TODAY,
        actor="agent:7",
        rules=RULES,
        gateway=gateway,
    )
    order = placed.continuity_orders[0]
    assert (order.billing_mode, order.start_date, order.total_minor) == (
        BillingMode.PER_SHIPMENT,
        TODAY,
        0,
    )
    lines = await ContinuityLine.filter(continuity_order_id=order.id).order_by("event_number")
    assert [(line.event_number, line.planned_ship_date) for line in lines][:3] == [
        (1, date(2027, 1, 31)),
        (2, date(2027, 2, 28)),
        (3, date(2027, 3, 31)),
    ]
    assert len(lines) == 12
    assert lines[6].status is ContinuityLineStatus.SKIPPED
    assert lines[0].price_minor == 999
    assert await Payment.filter(continuity_order_id=order.id).count() == 0
    assert gateway.calls == 0
    history = await OrderHistoryEntry.get(continuity_order_id=order.id)
    assert (history.action, history.actor, history.details["lines"]) == ("placed", "agent:7", 12)


async def test_gift_box_up_front_charged_now(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    gateway = TestGateway()
    placed = await place_sales_order(
        _order(buyer, OrderLineInput("GIFTBOX6", quantity=2)),
        order_date=TODAY,
        actor="web",
        rules=RULES,
        gateway=gateway,
    )
    order = placed.continuity_orders[0]
    lines = await ContinuityLine.filter(continuity_order_id=order.id)
    assert order.billing_mode is BillingMode.UP_FRONT
    assert order.total_minor == sum(line.quantity * line.price_minor for line in lines)
    payment = await Payment.get(continuity_order_id=order.id)
    assert (payment.purpose, payment.status, payment.amount_minor) == (
        PaymentPurpose.UP_FRONT,
        PaymentStatus.SUCCEEDED,
        order.total_minor,
    )
    assert gateway.moved_minor == order.total_minor


async def test_installments_first_due_now(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    placed = await place_sales_order(
        _order(buyer, OrderLineInput("WINECLUB12")),
        order_date=date(2026, 3, 10),
        actor="web",
        rules=RULES,
        gateway=TestGateway(),
    )
    order = placed.continuity_orders[0]
    assert (order.billing_mode, order.first_event_number) == (BillingMode.INSTALLMENTS, 3)
    payments = await Payment.filter(continuity_order_id=order.id).order_by("installment_number")
    assert [(p.installment_number, p.due_date, p.status) for p in payments] == [
        (1, date(2026, 3, 10), PaymentStatus.SUCCEEDED),
        (2, date(2026, 4, 10), PaymentStatus.SCHEDULED),
        (3, date(2026, 5, 10), PaymentStatus.SCHEDULED),
    ]
    assert sum(p.amount_minor for p in payments) == order.total_minor


async def test_declined_charge_keeps_the_order(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir, token="tok_decline")
    placed = await place_sales_order(
        _order(buyer, OrderLineInput("GIFTBOX6")),
        order_date=TODAY,
        actor="web",
        rules=RULES,
        gateway=TestGateway(),
    )
    payment = await Payment.get(continuity_order_id=placed.continuity_orders[0].id)
    assert (payment.status, payment.attempts, payment.next_retry_on, payment.failure_code) == (
        PaymentStatus.DECLINED,
        1,
        date(2027, 2, 2),
        "card_declined",
    )
    assert await ContinuityOrder.all().count() == 1


@pytest.mark.parametrize(
    ("line", "code", "field"),
    [
        (OrderLineInput("NOPE"), ErrorCode.UNKNOWN_SKU, "sku"),
        (OrderLineInput("BOOK-007"), ErrorCode.PRODUCT_INACTIVE, "sku"),
        (OrderLineInput("BOOKCLUB", quantity=0), ErrorCode.INVALID_INPUT, "quantity"),
        (
            OrderLineInput("WINECLUB12", payment_schedule="nope"),
            ErrorCode.PAYMENT_SCHEDULE_NOT_ALLOWED,
            "paymentSchedule",
        ),
        (
            OrderLineInput("COFFEECLUB", start_date=date(2027, 1, 1)),
            ErrorCode.START_DATE_NOT_ALLOWED,
            "startDate",
        ),
    ],
)
async def test_bad_lines_write_nothing(
    db: TortoiseContext, rules_dir: Path, line: OrderLineInput, code: ErrorCode, field: str
) -> None:
    buyer = await setup(rules_dir)
    with pytest.raises(ContinuityError) as raised:
        await place_sales_order(
            _order(buyer, OrderLineInput("BOOK-001"), line),
            order_date=TODAY,
            actor="web",
            rules=RULES,
            gateway=TestGateway(),
        )
    assert (raised.value.code, raised.value.field) == (code, ("input", "lines", "1", field))
    assert await SalesOrder.all().count() == 0
    assert await Payment.all().count() == 0


async def test_the_same_attempt_never_charges_twice(db: TortoiseContext, rules_dir: Path) -> None:
    """A crash between the gateway call and the database write repeats the same attempt key:
    the gateway answers with its first outcome and moves no money again."""
    from continuity.payments.charges import attempt_key, attempt_payment

    buyer = await setup(rules_dir)
    gateway = TestGateway()
    placed = await place_sales_order(
        _order(buyer, OrderLineInput("GIFTBOX6")),
        order_date=TODAY,
        actor="web",
        rules=RULES,
        gateway=TestGateway(),  # another gateway: this one has seen nothing
    )
    payment = await Payment.get(continuity_order_id=placed.continuity_orders[0].id)
    payment.status, payment.attempts = PaymentStatus.PENDING, 0  # as if the write was lost
    key = attempt_key(payment)
    for _ in range(2):
        stale = await Payment.get(id=payment.id)
        stale.status, stale.attempts = PaymentStatus.PENDING, 0
        await attempt_payment(stale, gateway, today=TODAY, retry_days=2, reauthorization_limit=3)
    assert key.endswith("#1")
    assert (gateway.calls, gateway.moved_minor) == (1, payment.amount_minor)
    with pytest.raises(IntegrityError):  # the unique index backs the key
        await Payment.create(
            kind=payment.kind,
            purpose=payment.purpose,
            status=PaymentStatus.PENDING,
            payment_method_id=payment.payment_method_id,
            amount_minor=1,
            currency="USD",
            due_date=TODAY,
            idempotency_key=payment.idempotency_key,
        )


async def test_orders_alike_share_their_plan_and_write_the_same_lines(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir)
    placed = [
        await place_sales_order(
            _order(buyer, OrderLineInput("BOOKCLUB", quantity=quantity)),
            order_date=TODAY,
            actor="web",
            rules=rules,
            gateway=TestGateway(),
        )
        for quantity, rules in (
            (2, RULES),
            (2, RULES),
            (3, RULES),
            (2, replace(RULES, repeat_threshold=1)),
        )
    ]
    orders = [p.continuity_orders[0] for p in placed]

    async def lines(order: ContinuityOrder) -> list[tuple[object, ...]]:
        return [
            (line.event_number, line.repeat_index, line.planned_ship_date, line.quantity)
            for line in await ContinuityLine.filter(continuity_order_id=order.id).order_by("id")
        ]

    first, same, more, fewer = [await lines(order) for order in orders]
    assert first == same
    assert [row[:3] for row in more] == [row[:3] for row in first]
    assert {row[3] for row in more} - {0} == {3}  # a skipped occurrence's line ships 0
    assert {row[3] for row in first} - {0} == {2}
    assert len(fewer) <= len(first)
    assert orders[0].schedule_complete == orders[1].schedule_complete


async def test_the_order_is_read_in_one_statement(db: TortoiseContext, rules_dir: Path) -> None:
    """Its customer, address, card, products, programs and live versions: on PostgreSQL
    each statement is a round trip through the pool."""
    buyer = await setup(rules_dir)
    order = _order(buyer, OrderLineInput("BOOKCLUB"), OrderLineInput("COFFEECLUB"))
    await place_sales_order(
        order, order_date=TODAY, actor="web", rules=RULES, gateway=TestGateway()
    )
    parts = ("FROM CUSTOMER", "FROM PRODUCT", "FROM ADDRESS", "FROM PAYMENT_METHOD", "FROM PROGRAM")

    def reads_a_part(sql: str) -> bool:
        return sql.startswith("SELECT") and any(part in sql.replace('"', "") for part in parts)

    with capturing(Statements(reads_a_part)) as reads:
        placed = await place_sales_order(
            order, order_date=TODAY, actor="web", rules=RULES, gateway=TestGateway()
        )
    assert len(reads.sql) == 1, reads.sql
    assert [made.program_id for made in placed.continuity_orders] == [
        (await Program.get(code=code)).id for code in ("book-club", "coffee")
    ]


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"customer_id": 999_999}, "customerId", ErrorCode.NOT_FOUND),
        ({"ship_to_address_id": 999_999}, "shipToAddressId", ErrorCode.NOT_FOUND),
        ({"payment_method_id": 999_999}, "paymentMethodId", ErrorCode.NOT_FOUND),
        ({"lines": (OrderLineInput("NOPE"),) * 51}, "lines", ErrorCode.INVALID_INPUT),
        ({"lines": ()}, "lines", ErrorCode.INVALID_INPUT),
    ],
)
async def test_the_orders_parts_are_checked_before_its_lines(
    db: TortoiseContext, rules_dir: Path, change: dict[str, Any], field: str, code: ErrorCode
) -> None:
    """An unknown SKU is named only once the customer, address, card and line count hold."""
    buyer = await setup(rules_dir)
    order = replace(_order(buyer, OrderLineInput("NOPE"), OrderLineInput("BOOKCLUB")), **change)
    with pytest.raises(ContinuityError) as raised:
        await place_sales_order(
            order, order_date=TODAY, actor="web", rules=RULES, gateway=TestGateway()
        )
    assert (raised.value.code, raised.value.field) == (code, ("input", field))
    assert await SalesOrder.all().count() == 0
