"""Every worked example of docs/ORDERS.md, run against the real code (the doc cannot rot).

Each ``<!-- example NAME: order -->`` table is placed through ``place_sales_order`` on the
bundled rules; the order, its lines, its payments and its upcoming shipments are read back from
the database and written out in the document's own format, so a failure shows the cell that
differs. The ``<!-- engine: … -->`` tables are checked against the calendar and billing engine.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from config.settings import load_settings
from continuity.engine.billing import ScheduleSpec, installments
from continuity.engine.calendar import DateWalker, GapSpec
from continuity.enums import BillingMode, GapUnit
from continuity.models import (
    ContinuityLine,
    ContinuityOrder,
    OrderHistoryEntry,
    Payment,
    PaymentSchedule,
    Product,
)
from continuity.money import from_minor, to_minor
from continuity.orders.placement import OrderLineInput, SalesOrderInput, place_sales_order
from continuity.orders.projection import upcoming_shipments
from continuity.payments.gateway import TestGateway
from continuity.programs import schedule_spec
from rules.loader import load_rules
from rules.sync import sync_rules
from rules.values import parse_every
from tests.examples.doctables import ENGINE, Table, read_tables
from tests.orders.fixtures import RULES, setup

DOC = Path(__file__).resolve().parents[2] / "docs" / "ORDERS.md"
TABLES = read_tables(DOC)
EXAMPLES = sorted({name for name, _kind in TABLES if name != ENGINE})
NONE = "—"
CURRENCY = "USD"  # every bundled program

#: The examples the brief of the document promises; each shows its lines.
WITH_LINES = {"book-club", "book-club-late", "vitamins", "gift-box", "seasonal-wine"}


def _money(minor: int) -> str:
    return str(from_minor(minor, CURRENCY))


def _optional(value: int | date | None) -> str:
    if value is None:
        return NONE
    return value.isoformat() if isinstance(value, date) else str(value)


def _words(value: str) -> str:
    return value.replace("_", " ")


def _date_or_none(cell: str) -> date | None:
    return None if cell == NONE else date.fromisoformat(cell)


def _table(name: str, kind: str) -> Table:
    return TABLES[(name, kind)]


# -- the document itself ----------------------------------------------------------------------


def test_the_document_has_every_example() -> None:
    assert set(EXAMPLES) >= WITH_LINES | {"gift-box-declined"}
    for name in EXAMPLES:
        kinds = {kind for example, kind in TABLES if example == name}
        assert {"order", "result"} <= kinds, name
        assert kinds <= {"order", "result", "lines", "payments", "upcoming"}, name
        assert len(_table(name, "order").rows) == 1, name
        assert len(_table(name, "result").rows) == 1, name
    for name in WITH_LINES:
        assert (name, "lines") in TABLES, name
    assert {("engine", "dates"), ("engine", "installments")} <= set(TABLES)


def test_the_default_threshold_is_the_one_the_examples_use() -> None:
    """The document says the examples use the default ``repeat_threshold`` (3)."""
    assert load_settings(environ={}).call_center.repeat_threshold == RULES.repeat_threshold == 3


def test_a_marker_without_a_table_is_an_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.md"
    broken.write_text("<!-- example x: order -->\nno table here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.md:1: the marker is not followed"):
        read_tables(broken)


# -- the worked examples ----------------------------------------------------------------------


@pytest.mark.db
@pytest.mark.parametrize("name", EXAMPLES)
async def test_example(db: TortoiseContext, rules_dir: Path, name: str) -> None:
    given = _table(name, "order").rows[0]
    order_date = date.fromisoformat(given["order date"])
    buyer = await setup(rules_dir, token=given["card"])
    schedule = given["payment schedule"]
    placed = await place_sales_order(
        SalesOrderInput(
            buyer.customer.id,
            buyer.address.id,
            buyer.card.id,
            (
                OrderLineInput(
                    given["SKU"],
                    quantity=int(given["quantity"]),
                    start_date=_date_or_none(given["prompted start date"]),
                    payment_schedule=None if schedule == NONE else schedule,
                ),
            ),
        ),
        order_date=order_date,
        actor="docs",
        rules=RULES,
        gateway=TestGateway(),
    )
    [placed_order] = placed.continuity_orders
    order = await ContinuityOrder.get(id=placed_order.id)
    lines = await ContinuityLine.filter(continuity_order_id=order.id).order_by(
        "event_number", "repeat_index", "item_seq"
    )
    skus = {p.id: p.sku for p in await Product.all()}

    missed = {
        (line.event_number, line.repeat_index)
        for line in lines
        if line.product_id is not None and line.planned_ship_date < order_date
    }
    history = await OrderHistoryEntry.get(continuity_order_id=order.id, action="placed")
    assert history.details["missed_occurrences"] == len(missed)
    per_shipment = order.billing_mode is BillingMode.PER_SHIPMENT
    result = {
        "start date": order.start_date.isoformat(),
        "first event": str(order.first_event_number),
        "billing mode": _words(order.billing_mode.value),
        "total": NONE if per_shipment and order.total_minor == 0 else _money(order.total_minor),
        "missed": str(len(missed)),
        "status": order.status.value,
    }
    assert [result] == list(_table(name, "result").rows)

    if (name, "lines") in TABLES:
        actual_lines = [
            {
                "event": str(line.event_number),
                "repeat": str(line.repeat_index),
                "ship date": line.planned_ship_date.isoformat(),
                "action": line.action.value,
                "SKU": NONE if line.product_id is None else skus[line.product_id],
                "quantity": str(line.quantity),
                "price": _money(line.price_minor),
                "status": line.status.value,
            }
            for line in lines
        ]
        assert actual_lines == list(_table(name, "lines").rows)

    payments = await Payment.filter(continuity_order_id=order.id).order_by("due_date", "id")
    actual_payments = [
        {
            "installment": _optional(payment.installment_number),
            "purpose": _words(payment.purpose.value),
            "due date": payment.due_date.isoformat(),
            "amount": _money(payment.amount_minor),
            "status": payment.status.value,
            "attempts": str(payment.attempts),
            "next retry": _optional(payment.next_retry_on),
        }
        for payment in payments
    ]
    expected_payments = list(_table(name, "payments").rows) if (name, "payments") in TABLES else []
    assert actual_payments == expected_payments
    if order.billing_mode is not BillingMode.PER_SHIPMENT:
        assert sum(p.amount_minor for p in payments) == order.total_minor

    if (name, "upcoming") in TABLES:
        expected_upcoming = list(_table(name, "upcoming").rows)
        upcoming = await upcoming_shipments(order, len(expected_upcoming))
        actual_upcoming = [
            {
                "event": str(shipment.event_number),
                "repeat": str(shipment.repeat_index),
                "ship date": shipment.ship_date.isoformat(),
                "charge": _money(shipment.charge_minor),
                "held as a line": "yes" if shipment.materialized else "no",
            }
            for shipment in upcoming
        ]
        assert actual_upcoming == expected_upcoming


# -- engine facts the document states ---------------------------------------------------------


def _gap(text: str) -> GapSpec:
    key, _, value = text.partition(":")
    if key == "days_from_last":
        return GapSpec(GapUnit.DAY, int(value))
    assert key == "every", text
    unit, count = parse_every(value)
    return GapSpec(GapUnit(unit), count)


DATE_ROWS = _table(ENGINE, "dates").rows
ORDINALS = ("1st", "2nd", "3rd", "4th")


@pytest.mark.parametrize("row", DATE_ROWS, ids=[f"{r['run starts']} {r['gap']}" for r in DATE_ROWS])
def test_dates_table(row: dict[str, str]) -> None:
    start = date.fromisoformat(row["run starts"])
    walker = DateWalker(start)
    gap = _gap(row["gap"])
    walked = [walker.current] + [walker.step(gap) for _ in ORDINALS[1:]]
    assert [d.isoformat() for d in walked] == [row[column] for column in ORDINALS]


def test_month_ends_never_drift() -> None:
    """Twelve monthly steps from 31 January land on every month's last day, back on 31 January."""
    walker = DateWalker(date(2027, 1, 31))
    walked = [walker.step(GapSpec(GapUnit.MONTH, 1)) for _ in range(12)]
    assert [d.day for d in walked] == [28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31]
    assert walked[-1] == date(2028, 1, 31)


INSTALLMENT_ROWS = _table(ENGINE, "installments").rows


@pytest.mark.db
@pytest.mark.parametrize(
    "row", INSTALLMENT_ROWS, ids=[f"{r['total']} {r['schedule']}" for r in INSTALLMENT_ROWS]
)
async def test_installments_table(
    db: TortoiseContext, rules_dir: Path, row: dict[str, str]
) -> None:
    await sync_rules(load_rules(rules_dir))
    schedule = await schedule_spec(await PaymentSchedule.get(code=row["schedule"]))
    total = to_minor(Decimal(row["total"]), CURRENCY)
    plan = installments(total, schedule, date.fromisoformat(row["placed on"]))
    assert sum(i.amount_minor for i in plan) == total
    assert [i.number for i in plan] == list(range(1, len(plan) + 1))
    rendered = ", ".join(f"{_money(i.amount_minor)} on {i.due_date.isoformat()}" for i in plan)
    assert rendered == row["installments"]


@pytest.mark.parametrize("total", [1, 2, 100, 10_000, 10_001, 99_999_999])
@pytest.mark.parametrize("count", [2, 3, 7, 12])
def test_equal_installments_always_sum_to_the_total(total: int, count: int) -> None:
    spec = ScheduleSpec("equal", count, GapSpec(GapUnit.MONTH, 1))
    plan = installments(total, spec, date(2027, 1, 31))
    assert sum(i.amount_minor for i in plan) == total
    assert len({i.amount_minor for i in plan[:-1]}) <= 1
    assert plan[-1].amount_minor >= plan[0].amount_minor
    assert plan[0].due_date == date(2027, 1, 31)
