"""Issue 10, "money and dates right on every path", walked as users walk it: agents and
customers over GraphQL, the daily jobs by ``continuity jobs run``, day by day, on SQLite and
PostgreSQL. One test per promise of SPEC §3, §5 and §6 that a path used to break."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tortoise import connections

from tests.api.graphql import flat, pk_of
from tests.dbutil import on_postgres
from tests.scenarios.shop import Shop

pytestmark = pytest.mark.db

OpenShop = Callable[..., Shop]
D = date(2027, 1, 31)  # the business date every scenario starts on


def _money(payments: list[dict[str, Any]], kind: str) -> Decimal:
    return sum(
        (
            Decimal(p["amount"]["amount"])
            for p in payments
            if p["kind"] == kind and p["status"] == "SUCCEEDED"
        ),
        Decimal(0),
    )


def _dates(order: dict[str, Any]) -> list[tuple[int, int, str]]:
    """(event, repeat, date) per occurrence, in (event, repeat) order."""
    seen = {(ln["eventNumber"], ln["repeatIndex"]): ln["plannedShipDate"] for ln in order["lines"]}
    return [(e, r, when) for (e, r), when in sorted(seen.items())]


# 1. -----------------------------------------------------------------------------------------


def test_skipping_a_prepaid_box_refunds_it_at_once_and_the_order_ends_even(
    open_shop: OpenShop,
) -> None:
    shop = open_shop()
    ids = shop.customer("C-1")
    [order] = shop.order(ids, "TRIO3")  # 3 boxes at 10.00, charged 30.00 up front
    assert _money(shop.state(order)["payments"], "CHARGE") == Decimal("30.00")

    skipped = shop.mutate("skipShipment", orderId=order, eventNumber=2, reason="away")
    assert skipped["userErrors"] == []
    state = shop.state(order)
    refunds = [p for p in state["payments"] if p["kind"] == "REFUND"]
    assert [(r["amount"]["amount"], r["status"]) for r in refunds] == [("10.00", "SUCCEEDED")]
    entry = state["history"][-1]
    assert entry["action"] == "SKIPPED"
    assert entry["details"]["refund"] == {"amount": "10.00", "currencyCode": "USD"}

    # a second skip of the same box is refused and refunds nothing more
    again = shop.mutate("skipShipment", orderId=order, eventNumber=2)
    assert [e["code"] for e in again["userErrors"]] == ["INVALID_STATE"]
    assert len([p for p in shop.state(order)["payments"] if p["kind"] == "REFUND"]) == 1

    # the order runs to its end: two boxes ship, it closes, paid 30 - 10 = 20 = two boxes
    for day in [D, date(2027, 2, 28), date(2027, 3, 31)]:
        shop.jobs(day)
        shop.ship_everything(order)
    shop.jobs(date(2027, 4, 1))
    final = shop.state(order)
    assert final["status"] == "CLOSED"
    shipped = [ln for ln in final["lines"] if ln["status"] == "CLOSED"]
    assert [ln["eventNumber"] for ln in shipped] == [1, 3]
    net = _money(final["payments"], "CHARGE") - _money(final["payments"], "REFUND")
    assert net == Decimal("20.00")


def test_a_cancel_after_a_prepaid_skip_refunds_only_what_is_left(open_shop: OpenShop) -> None:
    shop = open_shop()
    ids = shop.customer("C-1")
    [order] = shop.order(ids, "TRIO3")
    shop.jobs(D)
    shop.ship_everything(order)  # box 1 shipped
    assert shop.mutate("skipShipment", orderId=order, eventNumber=2)["userErrors"] == []
    cancelled = shop.mutate("cancelOrder", orderId=order, reasonCode="CUSTOMER_REQUEST")
    assert cancelled["userErrors"] == []
    payments = shop.state(order)["payments"]
    refunds = [(p["amount"]["amount"], p["status"]) for p in payments if p["kind"] == "REFUND"]
    # box 2 at the skip, box 3 at the cancel; box 1 shipped and is kept
    assert refunds == [("10.00", "SUCCEEDED"), ("10.00", "SUCCEEDED")]
    assert _money(payments, "CHARGE") - _money(payments, "REFUND") == Decimal("10.00")


# 2. -----------------------------------------------------------------------------------------


def test_a_swap_on_a_forever_refill_holds_for_every_later_refill(open_shop: OpenShop) -> None:
    shop = open_shop(repeat_threshold=2)
    ids = shop.customer("C-1")
    [order] = shop.order(ids, "VITREFILL")  # 01-31, 03-02 held; every 30 days forever
    swapped = shop.mutate("swapItem", orderId=order, fromSku="VIT-DAILY-30", toSku="DECAF-30")
    assert swapped["userErrors"] == []
    upcoming = shop.upcoming(order, 5)
    assert [s["items"][0]["sku"] for s in upcoming] == ["DECAF-30"] * 5
    assert [s["charge"]["amount"] for s in upcoming] == ["22.00"] * 5
    # the quantity belongs to the order too
    assert shop.mutate("changeQuantity", orderId=order, quantity=2)["userErrors"] == []
    for day in [D, date(2027, 3, 2), date(2027, 4, 1)]:
        shop.jobs(day)
        shop.ship_everything(order)
    lines = shop.state(order)["lines"]
    # three shipped; two held ahead by the threshold: the one released today and the next
    assert [(ln["repeatIndex"], ln["status"]) for ln in lines] == [
        (0, "CLOSED"),
        (1, "CLOSED"),
        (2, "RELEASED"),
        (3, "PENDING"),
    ]
    assert {(ln["sku"], ln["quantity"], ln["price"]["amount"]) for ln in lines} == {
        ("DECAF-30", 2, "22.00")
    }
    assert [s["items"][0]["sku"] for s in shop.upcoming(order, 4)] == ["DECAF-30"] * 4


# 3. -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sku", ["TRIO3", "TRIO3X2"])
def test_nothing_ships_before_the_up_front_charge_is_paid(open_shop: OpenShop, sku: str) -> None:
    shop = open_shop()
    ids = shop.customer("C-1", token="tok_decline")
    [order] = shop.order(ids, sku)
    [charge] = [p for p in shop.state(order)["payments"] if p["status"] == "DECLINED"]
    assert charge["purpose"] in {"UP_FRONT", "INSTALLMENT"}
    out = shop.jobs(D)
    assert "awaiting_payment" in out
    state = shop.state(order)
    assert {ln["status"] for ln in state["lines"]} == {"PENDING"}  # nothing released
    # the box waits for the retry: that is when it can ship
    assert shop.upcoming(order, 1)[0]["shipDate"] == "2027-02-02"
    # the customer gives a card that works; the next run charges it, then ships the box
    good = shop.card(ids["customerId"], "tok_visa")
    shop.at(date(2027, 2, 1))
    changed = shop.mutate("changePaymentMethod", orderId=order, paymentMethodId=good)
    assert changed["userErrors"] == []
    shop.jobs(date(2027, 2, 1))
    state = shop.state(order)
    first = [ln for ln in state["lines"] if ln["eventNumber"] == 1]
    assert {(ln["status"], ln["childOrder"]["status"]) for ln in first} == {
        ("RELEASED", "AUTHORIZED")
    }
    assert [p["status"] for p in state["payments"] if p["installmentNumber"] in (None, 1)] == [
        "SUCCEEDED"
    ]


# 4. -----------------------------------------------------------------------------------------


def test_upcoming_shipments_of_a_paused_order_are_what_the_jobs_ship(
    open_shop: OpenShop,
) -> None:
    shop = open_shop()
    ids = shop.customer("C-1")
    [order, other] = shop.order(ids, "VITREFILL", "VITREFILL")
    until = D + timedelta(days=40)
    paused = shop.mutate("pauseOrder", orderId=order, until=until.isoformat())
    assert paused["userErrors"] == []
    projected = [s["shipDate"] for s in shop.upcoming(order, 3)]
    assert projected == ["2027-03-12", "2027-04-11", "2027-05-11"]
    # paused with no end date: nothing ships until someone resumes it
    assert shop.mutate("pauseOrder", orderId=other)["userErrors"] == []
    assert shop.upcoming(other, 3) == []
    # the jobs do exactly what was projected
    shop.jobs(D)
    shop.jobs(until)
    released = [ln for ln in shop.state(order)["lines"] if ln["status"] == "RELEASED"]
    assert [ln["plannedShipDate"] for ln in released] == ["2027-03-12"]
    shop.ship_everything(order)
    shop.jobs(date(2027, 4, 11))
    dates = [ln["plannedShipDate"] for ln in shop.state(order)["lines"]]
    assert dates[:3] == projected


# 5. -----------------------------------------------------------------------------------------


def test_resume_and_start_date_shift_move_a_skip_event_with_its_neighbours(
    open_shop: OpenShop,
) -> None:
    shop = open_shop()
    ids = shop.customer("C-1")
    [order] = shop.order(ids, "BOOKCLUB")  # monthly on the 31st; event 7 is a summer skip
    assert shop.mutate("pauseOrder", orderId=order)["userErrors"] == []
    shop.at(date(2027, 4, 10))
    assert shop.mutate("resumeOrder", orderId=order)["userErrors"] == []
    dates = _dates(shop.state(order))
    assert [when for _e, _r, when in dates] == sorted(when for _e, _r, when in dates)
    assert dates[5:8] == [(6, 0, "2027-09-10"), (7, 0, "2027-10-10"), (8, 0, "2027-11-10")]
    shifted = shop.gql(
        """mutation ($input: UpdateStartDateInput!) { updateStartDate(input: $input) {
        applied userErrors { field code } } }""",
        input={"orderIds": [order], "addDays": 5},
    )["updateStartDate"]
    assert shifted == {"applied": True, "userErrors": []}
    after = _dates(shop.state(order))
    assert after[5:8] == [(6, 0, "2027-09-15"), (7, 0, "2027-10-15"), (8, 0, "2027-11-15")]
    assert [when for _e, _r, when in after] == sorted(when for _e, _r, when in after)


# 6. -----------------------------------------------------------------------------------------


def _fail_child_orders_of(shop: Shop, customer_id: str) -> None:
    """A database fault on one customer's child orders (a trigger), so that a batch fails and
    the job falls back to one order at a time."""
    if on_postgres():
        script = f"""
        CREATE FUNCTION scenario_boom() RETURNS trigger AS $$
        BEGIN
            IF NEW.customer_id = {pk_of(customer_id)} THEN RAISE EXCEPTION 'boom'; END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER scenario_boom BEFORE INSERT ON child_order
            FOR EACH ROW EXECUTE FUNCTION scenario_boom();
        """
    else:
        script = f"""
        CREATE TRIGGER scenario_boom BEFORE INSERT ON child_order
        WHEN NEW.customer_id = {pk_of(customer_id)}
        BEGIN SELECT RAISE(ABORT, 'boom'); END;
        """

    async def install() -> None:
        await connections.get("default").execute_script(script)

    shop.client.portal.call(install)  # type: ignore[union-attr]


def test_the_child_order_cap_holds_when_a_batch_falls_back_to_one_order_at_a_time(
    open_shop: OpenShop,
) -> None:
    shop = open_shop(max_child_orders_per_run=2)
    customers = [shop.customer(f"C-{n}") for n in range(6)]
    for ids in customers:
        shop.order(ids, "VITREFILL")  # six orders, one refill due each today
    _fail_child_orders_of(shop, customers[0]["customerId"])
    out = shop.jobs(D, "create-child-orders", ok=False)
    assert "failed order" in out
    created = shop.rows()["child_orders"]
    assert len(created) == 2, out
    # the next run goes on where the cap stopped, still within the cap
    shop.jobs(D + timedelta(days=1), "create-child-orders", ok=False)
    assert len(shop.rows()["child_orders"]) == 4


# 7. -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorize", [True, False])
def test_running_the_daily_chain_twice_for_a_date_changes_no_row(
    open_shop: OpenShop, authorize: bool
) -> None:
    shop = open_shop(authorize_child_orders=authorize)
    ids = shop.customer("C-1")
    shop.order(ids, "VITREFILL", "BOOKCLUB", "COFFEECLUB", "TRIO3")
    declined = shop.customer("C-2", token="tok_decline")
    shop.order(declined, "VITREFILL", "GIFTBOX6")
    for day in [D, date(2027, 3, 2)]:
        shop.jobs(day)
        before = shop.rows()
        shop.jobs(day)
        after = shop.rows()
        changed = {table: rows for table, rows in after.items() if rows != before[table]}
        assert changed == {}, day


# 8. -----------------------------------------------------------------------------------------


def test_a_zero_start_date_shift_is_refused(open_shop: OpenShop) -> None:
    shop = open_shop()
    ids = shop.customer("C-1")
    [order] = shop.order(ids, "BOOKCLUB")
    start = shop.state(order)["startDate"]
    document = """mutation ($input: UpdateStartDateInput!) { updateStartDate(input: $input) {
        applied changes { orderId } userErrors { field code } } }"""
    same = shop.gql(document, input={"orderIds": [order], "newStartDate": start})
    assert same["updateStartDate"] == {
        "applied": False,
        "changes": [],
        "userErrors": [{"field": ["input", "newStartDate"], "code": "INVALID_INPUT"}],
    }
    zero = shop.gql(document, input={"orderIds": [order], "addDays": 0})
    assert zero["updateStartDate"]["userErrors"] == [
        {"field": ["input", "addDays"], "code": "INVALID_INPUT"}
    ]
    assert "START_DATE_UPDATED" not in [h["action"] for h in shop.state(order)["history"]]


# 9. -----------------------------------------------------------------------------------------

PAYMENTS = """query ($id: ID!) { continuityOrder(id: $id) {
  payments(first: 100) { nodes { kind purpose status amount { amount } eventNumber repeatIndex
             childOrder { number } refundOf { purpose amount { amount } } } }
  lines(first: 100) { nodes { eventNumber childOrder { number } } }
  salesOrder { status } } }"""


def test_a_payment_says_what_it_paid_for_and_a_sales_order_follows_its_orders(
    open_shop: OpenShop,
) -> None:
    shop = open_shop()
    ids = shop.customer("C-1")
    [refill] = shop.order(ids, "VITREFILL")
    [trio] = shop.order(ids, "TRIO3")
    shop.jobs(D)
    state = flat(shop.gql(PAYMENTS, id=refill)["continuityOrder"])
    [charge] = state["payments"]
    assert charge["purpose"] == "SHIPMENT"
    assert charge["childOrder"] == state["lines"][0]["childOrder"]
    assert shop.mutate("skipShipment", orderId=trio, eventNumber=3)["userErrors"] == []
    trio_payments = flat(shop.gql(PAYMENTS, id=trio)["continuityOrder"])["payments"]
    refund = next(p for p in trio_payments if p["kind"] == "REFUND")
    assert (refund["eventNumber"], refund["repeatIndex"]) == (3, 0)
    assert refund["refundOf"] == {"purpose": "UP_FRONT", "amount": {"amount": "30.00"}}
    assert refund["childOrder"] is None
    # a sales order follows its continuity orders
    assert flat(shop.gql(PAYMENTS, id=refill)["continuityOrder"])["salesOrder"] == {
        "status": "PLACED"
    }
    shop.mutate("cancelOrder", orderId=refill, reasonCode="CUSTOMER_REQUEST")
    assert flat(shop.gql(PAYMENTS, id=refill)["continuityOrder"])["salesOrder"] == {
        "status": "CANCELLED"
    }
    shop.ship_everything(trio)
    shop.jobs(date(2027, 2, 28))
    shop.ship_everything(trio)
    shop.jobs(date(2027, 3, 1))
    assert shop.state(trio)["status"] == "CLOSED"
    assert flat(shop.gql(PAYMENTS, id=trio)["continuityOrder"])["salesOrder"] == {
        "status": "CLOSED"
    }
