from __future__ import annotations

from decimal import Decimal

from rules.loader import BUNDLED_RULES_DIR, check_rules, load_rules
from rules.model import Gap, PlannedInstallment


def test_bundled_rules_are_valid() -> None:
    assert check_rules(BUNDLED_RULES_DIR) == []


def test_bundled_programs_sorted_by_id_with_their_paths() -> None:
    rules = load_rules(BUNDLED_RULES_DIR)
    ids = [program.rule.id for program in rules.programs]
    assert ids == ["book-club", "coffee", "gift-box", "seasonal-wine", "vitamins-refill"]
    for program in rules.programs:
        assert program.path == str(BUNDLED_RULES_DIR / "programs" / f"{program.rule.id}.yaml")


def test_book_club() -> None:
    book_club = load_rules(BUNDLED_RULES_DIR).program("book-club")
    assert book_club is not None
    rule = book_club.rule
    assert len(rule.events) == 12
    assert [event.number for event in rule.events] == list(range(1, 13))
    assert [event.number for event in rule.events if event.action == "skip"] == [7]
    assert rule.event(7).items == ()
    assert rule.event(12).action == "end"
    assert rule.cadence == Gap(unit="month", count=1)
    assert rule.event(1).items[0].price == Decimal("9.99")
    assert rule.event(2).items[0].price is None
    assert rule.prompt_for_start_date
    assert rule.consolidate_past_orders


def test_vitamins_repeat_forever() -> None:
    vitamins = load_rules(BUNDLED_RULES_DIR).program("vitamins-refill")
    assert vitamins is not None
    assert vitamins.rule.events[0].repeat == "forever"
    assert vitamins.rule.events[0].occurrences is None
    assert vitamins.rule.cadence == Gap(unit="day", count=30)
    assert not vitamins.rule.is_finite


def test_coffee_gaps_and_repeats() -> None:
    coffee = load_rules(BUNDLED_RULES_DIR).program("coffee")
    assert coffee is not None
    first, second = coffee.rule.events
    assert (first.repeat, first.gap) == (2, Gap(unit="day", count=14))
    assert (second.repeat, second.action, second.occurrences) == (8, "end", 9)
    assert not coffee.rule.consolidate_past_orders


def test_gift_box_and_wine_billing() -> None:
    rules = load_rules(BUNDLED_RULES_DIR)
    gift = rules.program("gift-box")
    wine = rules.program("seasonal-wine")
    assert gift is not None
    assert wine is not None
    assert gift.rule.billing.up_front
    assert gift.rule.billing.payment_schedule is None
    assert len(gift.rule.events[0].items) == 3
    assert gift.rule.parent_product.price == Decimal("129.00")
    assert wine.rule.billing.schedule_choices == ("three-monthly", "deposit-balance")
    assert wine.rule.order_start == "current_event"
    assert str(wine.rule.current_event_anchor) == "2026-01-01"
    assert len(wine.rule.events) == 12


def test_bundled_catalog_and_schedules() -> None:
    rules = load_rules(BUNDLED_RULES_DIR)
    inactive = [item.sku for item in rules.catalog.items if not item.active]
    assert inactive == ["BOOK-007"]
    item = rules.catalog.item("BOOK-001")
    assert item is not None
    assert item.price == Decimal("14.99")
    assert item.currency == "USD"
    three = rules.schedule("three-monthly")
    deposit = rules.schedule("deposit-balance")
    assert three is not None
    assert deposit is not None
    assert three.installment_plan() == (
        PlannedInstallment(None, Gap(unit="day", count=0)),
        PlannedInstallment(None, Gap(unit="month", count=1)),
        PlannedInstallment(None, Gap(unit="month", count=2)),
    )
    assert deposit.installment_plan() == (
        PlannedInstallment(Decimal("30"), Gap(unit="day", count=0)),
        PlannedInstallment(Decimal("70"), Gap(unit="day", count=30)),
    )
    assert three.ship_after_installment == 1
