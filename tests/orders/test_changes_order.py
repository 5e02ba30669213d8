"""Changing the ship-to address, the payment method, an item, the quantity (docs/CHANGES.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.customers import AddressInput, PaymentMethodInput, add_address, add_payment_method
from continuity.enums import ContinuityLineStatus, ContinuityOrderStatus, PaymentStatus
from continuity.errors import ContinuityError, ErrorCode
from continuity.models import ContinuityOrder, Payment, PaymentMethod, Product
from continuity.orders.changes import (
    change_payment_method,
    change_quantity,
    change_ship_to,
    swap_item,
)
from tests.orders.changing import last_history, lines, place, release, snapshot
from tests.orders.fixtures import TODAY, setup

pytestmark = pytest.mark.db

HOME = AddressInput(
    name="Ada Lovelace", line1="1 Ockham Park", city="Ripley", postal_code="GU23 6", country="GB"
)


async def _card(customer_id: int, token: str = "tok_mastercard", year: int = 2031) -> int:
    method = await add_payment_method(
        customer_id,
        PaymentMethodInput(
            gateway_token=token, brand="mastercard", last4="5454", exp_month=6, exp_year=year
        ),
        today=TODAY,
    )
    return method.id


async def test_change_ship_to(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "BOOKCLUB")
    home = await add_address(buyer.customer.id, HOME)
    changed = await change_ship_to(order.id, home.id, actor="agent:2", reason="moved house")
    assert changed.ship_to_id == home.id
    assert (await ContinuityOrder.get(id=order.id)).ship_to_id == home.id
    entry = await last_history(order)
    assert (entry.action, entry.actor, entry.reason) == (
        "ship_to_changed",
        "agent:2",
        "moved house",
    )
    assert entry.details["before"] == {"ship_to_id": buyer.address.id}
    assert entry.details["after"]["ship_to_id"] == home.id


async def test_change_ship_to_refusals(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    other = await setup(rules_dir, account="C-2")
    order = await place(buyer, "BOOKCLUB")
    before = await snapshot(order.id)
    for address_id, code in [
        (other.address.id, ErrorCode.NOT_FOUND),
        (buyer.address.id, ErrorCode.INVALID_INPUT),
    ]:
        with pytest.raises(ContinuityError) as caught:
            await change_ship_to(order.id, address_id, actor="web")
        assert (caught.value.code, caught.value.field) == (code, ("input", "addressId"))
    assert await snapshot(order.id) == before
    await ContinuityOrder.filter(id=order.id).update(status=ContinuityOrderStatus.CLOSED)
    before = await snapshot(order.id)
    home = await add_address(buyer.customer.id, HOME)
    with pytest.raises(ContinuityError) as caught:
        await change_ship_to(order.id, home.id, actor="web")
    assert caught.value.code is ErrorCode.INVALID_STATE
    assert await snapshot(order.id) == before


async def test_change_payment_method_moves_unpaid_installments(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "WINECLUB12", order_date=date(2026, 3, 10))
    new = await _card(buyer.customer.id)
    await change_payment_method(
        order.id, new, today=date(2026, 3, 20), actor="web", reason="new card"
    )
    assert (await ContinuityOrder.get(id=order.id)).payment_method_id == new
    payments = await Payment.filter(continuity_order_id=order.id).order_by("installment_number")
    assert [(p.status, p.payment_method_id) for p in payments] == [
        (PaymentStatus.SUCCEEDED, buyer.card.id),
        (PaymentStatus.SCHEDULED, new),
        (PaymentStatus.SCHEDULED, new),
    ]
    entry = await last_history(order)
    assert entry.action == "payment_method_changed"
    assert entry.details["before"] == {"payment_method_id": buyer.card.id, "last4": "4242"}
    assert entry.details["after"] == {"payment_method_id": new, "last4": "5454"}
    assert entry.details["payments_moved"] == 2


async def test_order_on_hold_stays_on_hold_with_a_new_card(
    db: TortoiseContext, rules_dir: Path
) -> None:
    """The failed charge is left to the payments job, which moves it to the order's new card."""
    buyer = await setup(rules_dir, token="tok_decline")
    order = await place(buyer, "GIFTBOX6")
    await ContinuityOrder.filter(id=order.id).update(status=ContinuityOrderStatus.PAYMENT_HOLD)
    await Payment.filter(continuity_order_id=order.id).update(status=PaymentStatus.FAILED)
    new = await _card(buyer.customer.id)
    changed = await change_payment_method(order.id, new, today=TODAY, actor="web")
    assert changed.status is ContinuityOrderStatus.PAYMENT_HOLD
    row = await ContinuityOrder.get(id=order.id)
    assert (row.status, row.payment_method_id) == (ContinuityOrderStatus.PAYMENT_HOLD, new)
    payment = await Payment.get(continuity_order_id=order.id)
    assert (payment.status, payment.payment_method_id) == (PaymentStatus.FAILED, buyer.card.id)


async def test_a_declined_charge_is_retried_on_the_new_card(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir, token="tok_decline")
    order = await place(buyer, "GIFTBOX6")
    declined = await Payment.get(continuity_order_id=order.id)
    assert (declined.status, declined.attempts, declined.next_retry_on) == (
        PaymentStatus.DECLINED,
        1,
        date(2027, 2, 2),
    )
    new = await _card(buyer.customer.id)
    await change_payment_method(order.id, new, today=TODAY, actor="web")
    payment = await Payment.get(id=declined.id)
    assert (
        payment.status,
        payment.payment_method_id,
        payment.attempts,
        payment.attempt_base,
        payment.next_retry_on,
    ) == (PaymentStatus.DECLINED, new, 1, 1, TODAY)
    assert (await last_history(order)).details["payments_moved"] == 1


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("foreign", ErrorCode.NOT_FOUND),
        ("inactive", ErrorCode.PAYMENT_METHOD_INACTIVE),
        ("expired", ErrorCode.PAYMENT_METHOD_EXPIRED),
        ("same", ErrorCode.INVALID_INPUT),
    ],
)
async def test_change_payment_method_refusals(
    db: TortoiseContext, rules_dir: Path, case: str, code: ErrorCode
) -> None:
    buyer = await setup(rules_dir)
    other = await setup(rules_dir, account="C-2")
    order = await place(buyer, "WINECLUB12", order_date=date(2026, 3, 10))
    method = {
        "foreign": other.card.id,
        "inactive": await _card(buyer.customer.id),
        "expired": await _card(buyer.customer.id, year=2027),
        "same": buyer.card.id,
    }[case]
    if case == "inactive":
        await PaymentMethod.filter(id=method).update(active=False)
    before = await snapshot(order.id)
    with pytest.raises(ContinuityError) as caught:
        await change_payment_method(order.id, method, today=date(2027, 7, 1), actor="web")
    assert (caught.value.code, caught.value.field) == (code, ("input", "paymentMethodId"))
    assert await snapshot(order.id) == before


async def test_swap_rewrites_pending_lines_only(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "COFFEECLUB")
    await release(order, 2, 0)
    single = await Product.get(sku="COF-SINGLE-12")
    house = await Product.get(sku="COF-HOUSE-12")
    await swap_item(
        order.id, "COF-SINGLE-12", "COF-HOUSE-12", today=TODAY, actor="web", reason="decaf"
    )
    swapped = [ln for ln in await lines(order) if ln.event_number == 2 and ln.item_seq == 0]
    assert [(ln.repeat_index, ln.status, ln.product_id, ln.price_minor) for ln in swapped] == [
        (0, ContinuityLineStatus.RELEASED, single.id, 1850),
        (1, ContinuityLineStatus.PENDING, house.id, 1600),
        (2, ContinuityLineStatus.PENDING, house.id, 1600),
    ]
    entry = await last_history(order)
    assert (entry.action, entry.reason) == ("item_swapped", "decaf")
    assert entry.details["before"] == {"sku": "COF-SINGLE-12", "price_minor": [1850]}
    assert entry.details["after"] == {"sku": "COF-HOUSE-12", "price_minor": [1600]}
    assert entry.details["occurrences"] == [[2, 1], [2, 2]]


async def test_swap_on_a_prepaid_order_keeps_the_price(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "GIFTBOX6")
    chocolate = await Product.get(sku="GIFT-CHOC")
    book = await Product.get(sku="BOOK-013")
    before = [ln for ln in await lines(order) if ln.product_id == chocolate.id]
    assert len(before) == 5
    await swap_item(order.id, "GIFT-CHOC", "BOOK-013", today=TODAY, actor="web")
    after = {ln.id: ln for ln in await lines(order)}
    assert {(after[ln.id].product_id, after[ln.id].price_minor) for ln in before} == {
        (book.id, 1200)  # BOOK-013 costs 13.99 in the catalog: the paid price is kept
    }
    assert (await last_history(order)).details["price_kept"] is True


@pytest.mark.parametrize(
    ("from_sku", "to_sku", "code", "field"),
    [
        ("BOOK-002", "NOPE", ErrorCode.UNKNOWN_SKU, "toSku"),
        ("BOOK-002", "BOOK-007", ErrorCode.PRODUCT_INACTIVE, "toSku"),
        ("BOOK-002", "BOOKCLUB", ErrorCode.INVALID_INPUT, "toSku"),
        ("BOOK-002", "EURO-BOOK", ErrorCode.CURRENCY_MISMATCH, "toSku"),
        ("BOOK-001", "BOOK-013", ErrorCode.NOT_FOUND, "fromSku"),  # only on a released line
        ("COF-HOUSE-12", "BOOK-013", ErrorCode.NOT_FOUND, "fromSku"),
        ("BOOK-002", "BOOK-002", ErrorCode.INVALID_INPUT, "toSku"),
    ],
)
async def test_swap_refusals_write_nothing(
    db: TortoiseContext,
    rules_dir: Path,
    from_sku: str,
    to_sku: str,
    code: ErrorCode,
    field: str,
) -> None:
    buyer = await setup(rules_dir)
    await Product.create(sku="EURO-BOOK", name="Ein Buch", price_minor=1500, currency="EUR")
    order = await place(buyer, "BOOKCLUB")
    await release(order, 1)
    before = await snapshot(order.id)
    with pytest.raises(ContinuityError) as caught:
        await swap_item(order.id, from_sku, to_sku, today=TODAY, actor="web")
    assert (caught.value.code, caught.value.field) == (code, ("input", field))
    assert await snapshot(order.id) == before


async def test_change_quantity_multiplies_event_quantities(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, "COFFEECLUB", quantity=2)
    await release(order, 1, 0)
    await swap_item(order.id, "COF-HOUSE-12", "COF-SINGLE-12", today=TODAY, actor="web")
    changed = await change_quantity(order.id, 3, today=TODAY, actor="agent:5", reason="family")
    assert changed.quantity == 3
    assert (await ContinuityOrder.get(id=order.id)).quantity == 3
    assert [
        (ln.event_number, ln.repeat_index, ln.status, ln.quantity) for ln in await lines(order)
    ] == [
        (1, 0, ContinuityLineStatus.RELEASED, 2),
        (1, 1, ContinuityLineStatus.PENDING, 3),
        (1, 2, ContinuityLineStatus.PENDING, 3),
        *[(2, r, ContinuityLineStatus.PENDING, 3) for r in (0, 0, 1, 1, 2, 2)],
    ]
    entry = await last_history(order)
    assert (entry.action, entry.actor, entry.reason) == ("quantity_changed", "agent:5", "family")
    assert entry.details == {"before": {"quantity": 2}, "after": {"quantity": 3}, "lines": 8}


PAIRS = """\
id: pairs
name: Pairs
active: true
currency: USD
parent_product: {sku: PAIRS, name: "Two books a month", price: "0.00"}
prompt_for_start_date: false
consolidate_past_orders: false
cadence: {every: 1 month}
events:
  - items: [{sku: BOOK-001, quantity: 2}]
  - items: [{sku: BOOK-002, quantity: 2}, {sku: BOOK-003, quantity: 1}]
"""


async def test_change_quantity_reads_event_quantities_from_the_program(
    db: TortoiseContext, rules_dir: Path
) -> None:
    """Quantities come from the program's event items, never from the lines' own values."""
    (rules_dir / "programs" / "pairs.yaml").write_text(PAIRS, encoding="utf-8")
    buyer = await setup(rules_dir)
    order = await place(buyer, "PAIRS", quantity=2)
    assert [ln.quantity for ln in await lines(order)] == [4, 4, 2]
    first = (await lines(order))[0]
    first.quantity = 7  # whatever a line holds, the program decides
    await first.save(update_fields=["quantity"])
    await change_quantity(order.id, 3, today=TODAY, actor="web")
    assert [ln.quantity for ln in await lines(order)] == [6, 6, 3]


@pytest.mark.parametrize(
    ("sku", "quantity", "code", "field"),
    [
        ("GIFTBOX6", 2, ErrorCode.INVALID_STATE, "orderId"),
        ("WINECLUB12", 2, ErrorCode.INVALID_STATE, "orderId"),
        ("BOOKCLUB", 0, ErrorCode.INVALID_INPUT, "quantity"),
        ("BOOKCLUB", 1001, ErrorCode.INVALID_INPUT, "quantity"),
        ("BOOKCLUB", 1, ErrorCode.INVALID_INPUT, "quantity"),
    ],
)
async def test_change_quantity_refusals(
    db: TortoiseContext, rules_dir: Path, sku: str, quantity: int, code: ErrorCode, field: str
) -> None:
    buyer = await setup(rules_dir)
    order = await place(buyer, sku)
    before = await snapshot(order.id)
    with pytest.raises(ContinuityError) as caught:
        await change_quantity(order.id, quantity, today=TODAY, actor="web")
    assert (caught.value.code, caught.value.field) == (code, ("input", field))
    if code is ErrorCode.INVALID_STATE:
        assert "cancel and re-order" in caught.value.message
    assert await snapshot(order.id) == before
