"""The models keep their invariants when built in Python, without the loader."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from rules.model import Billing, EventRule, Gap, PaymentScheduleRule, ProgramRule


def _program(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "club",
        "name": "Club",
        "active": True,
        "currency": "USD",
        "parent_product": {"sku": "CLUB", "name": "Club", "price": "0.00"},
        "cadence": {"unit": "month", "count": 1},
        "events": [
            {"number": 2, "items": [{"sku": "B", "quantity": 1}], "action": "end"},
            {"number": 1, "items": [{"sku": "A", "quantity": 1, "price": Decimal("9.99")}]},
        ],
    }
    data.update(changes)
    return data


def test_events_are_sorted_by_number() -> None:
    program = ProgramRule.model_validate(_program())
    assert [event.number for event in program.events] == [1, 2]
    assert program.event(2).action == "end"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"order_start": "current_event"}, "current_event_anchor is required"),
        ({"current_event_anchor": date(2026, 1, 1)}, "current_event_anchor is required"),
        ({"billing": {"up_front": True}, "events": [
            {"number": 1, "items": [{"sku": "A", "quantity": 1}], "repeat": "forever"}
        ]}, "cannot be billed up front"),
        ({"events": []}, "at least one event"),
        ({"events": [{"number": 2, "items": [{"sku": "A", "quantity": 1}]}]}, "must be 1 to 1"),
        ({"parent_product": {"sku": "C", "name": "C", "price": "0.001"}}, "more decimals"),
    ],
)  # fmt: skip
def test_program_invariants(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ProgramRule.model_validate(_program(**changes))


def test_event_item_rules() -> None:
    with pytest.raises(ValidationError, match="a skip event ships nothing"):
        EventRule(number=1, action="skip", items=({"sku": "A", "quantity": 1},))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="needs at least one item"):
        EventRule(number=1)


def test_billing_invariants() -> None:
    with pytest.raises(ValidationError, match="split an up-front total"):
        Billing(payment_schedule="three-monthly")
    with pytest.raises(ValidationError, match="must be one of allowed_schedules"):
        Billing(up_front=True, payment_schedule="a", allowed_schedules=("b",))
    with pytest.raises(ValidationError, match="needs schedules to choose from"):
        Billing(up_front=True, prompt_for_payment_schedule=True)
    choices = Billing(up_front=True, payment_schedule="b", allowed_schedules=("a", "b"))
    assert choices.schedule_choices == ("b", "a")


def test_schedule_invariants() -> None:
    with pytest.raises(ValidationError, match="add up to exactly 100"):
        PaymentScheduleRule.model_validate(
            {"id": "x", "name": "X", "lines": [{"percent": "50", "offset_days": 0}] * 3}
        )
    with pytest.raises(ValidationError, match="ship_after_installment must be 1 to 2"):
        PaymentScheduleRule(
            id="x",
            name="X",
            installments=2,
            every=Gap(unit="day", count=14),
            ship_after_installment=3,
        )


def test_gap_months_at_least_one() -> None:
    with pytest.raises(ValidationError, match="1 to 120 months"):
        Gap(unit="month", count=0)
    assert Gap(unit="month", count=2).times(3) == Gap(unit="month", count=6)
    assert str(Gap(unit="month", count=1)) == "1 month"


def test_models_are_frozen() -> None:
    gap = Gap(unit="day", count=1)
    with pytest.raises(ValidationError):
        gap.count = 2
