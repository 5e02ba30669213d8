"""Every bound of rules/limits.py: values a database could not store or a business could not
mean, and hostile files, are refused at ``path:line:column`` with the limit in the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules import limits
from rules.errors import RuleError
from rules.loader import check_rules
from rules.suggest import Suggester
from tests.rules.util import (
    CATALOG,
    PROGRAM,
    SCHEDULES,
    only_error,
    program_errors,
    where,
    write_rules,
)

ITEM = "  - items: [{sku: BOOK-001, quantity: 1}]\n"


def _catalog_errors(root: Path, catalog: str) -> list[RuleError]:
    return check_rules(write_rules(root, {}, catalog=catalog))


def _schedule_errors(root: Path, schedules: str) -> list[RuleError]:
    return check_rules(write_rules(root, {}, schedules=schedules))


# -- values ---------------------------------------------------------------------------------


def test_repeat_beyond_the_shipments_an_order_can_hold(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "    repeat: 99999999999\n")
    assert where(error) == (11, 13)
    assert error.message == (
        "events.0.repeat: must be at most 9999 repeats (an order ships at most 10000 times) "
        "or 'forever'"
    )


def test_a_number_too_long_for_any_field(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "    repeat: " + "9" * 30 + "\n")
    assert where(error) == (11, 13)
    assert error.message == "events.0.repeat: 99999999999999999999… is too large a number"


def test_the_largest_repeat_is_accepted(tmp_path: Path) -> None:
    text = PROGRAM + f"    repeat: {limits.MAX_REPEAT}\n    every: 1 day\n"
    assert program_errors(tmp_path, text) == []


def test_all_events_together_ship_at_most_the_engine_limit(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "    repeat: 9999\n" + ITEM)
    assert where(error) == (8, 3)
    assert error.message == (
        "events: an order of this program would ship 10,001 times: at most 10,000 (lower a repeat)"
    )


def test_a_finite_program_spans_at_most_a_century(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "    repeat: 9999\n    every: 120 months\n")
    assert where(error) == (8, 3)
    assert error.message.startswith("events: an order of this program would span about 101,907")
    assert error.message.endswith("at most 36,525 days (shorter gaps or fewer repeats)")


def test_forever_is_not_bounded_by_the_span(tmp_path: Path) -> None:
    text = PROGRAM + "    repeat: forever\n    every: 120 months\n"
    assert program_errors(tmp_path, text) == []


def test_price_beyond_the_largest_amount(tmp_path: Path) -> None:
    text = PROGRAM.replace("quantity: 1", 'quantity: 1\n        price: "99999999999999999999.00"')
    error = only_error(tmp_path, text)
    assert where(error) == (11, 16)
    assert error.message == "events.0.items.0.price: must be at most 100000000"


def test_the_largest_amount_is_accepted(tmp_path: Path) -> None:
    text = PROGRAM.replace('price: "0.00"', 'price: "100000000.00"')
    assert program_errors(tmp_path, text) == []
    text = PROGRAM.replace('price: "0.00"', 'price: "100000000.01"')
    assert only_error(tmp_path / "b", text).message == (
        "parent_product.price: must be at most 100000000"
    )


def test_catalog_price_beyond_the_largest_amount(tmp_path: Path) -> None:
    catalog = CATALOG.replace('price: "9.99"', "price: 1000000000")
    errors = _catalog_errors(tmp_path, catalog)
    assert [(e.line, e.column, e.message) for e in errors] == [
        (2, 44, "items.0.price: must be at most 100000000")
    ]


def test_quantity_bound(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("quantity: 1", "quantity: 10001"))
    assert error.message == "events.0.items.0.quantity: must be at most 10000"


def test_dates_are_business_dates(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "    not_before: 9999-12-31\n")
    assert where(error) == (11, 17)
    assert error.message == "events.0.not_before: must be between 1900-01-01 and 2200-12-31"
    text = PROGRAM.replace(
        "cadence:", "order_start: current_event\ncurrent_event_anchor: 1899-12-31\ncadence:"
    )
    error = only_error(tmp_path / "b", text)
    assert error.message == "current_event_anchor: must be between 1900-01-01 and 2200-12-31"


def test_days_and_months_bounds(tmp_path: Path) -> None:
    errors = program_errors(tmp_path, PROGRAM + "    days_from_last: 3661\n")
    assert [e.message for e in errors] == [
        "events.0.days_from_last: must be a whole number of days, 0 to 3660"
    ]
    error = only_error(tmp_path / "b", PROGRAM.replace("every: 1 month", "every: 121 months"))
    assert error.message == "cadence.every: must be at most 120 months"
    text = PROGRAM.replace("cadence:", "days_after_order: 99999999999\ncadence:")
    assert only_error(tmp_path / "c", text).message == "days_after_order: must be at most 3660"


def test_event_and_item_counts(tmp_path: Path) -> None:
    text = PROGRAM.replace("events:\n", "events:\n" + ITEM * limits.MAX_EVENTS)
    error = only_error(tmp_path, text)
    assert where(error) == (8, 3)
    assert error.message == "events: has 1001 entries: at most 1000"
    items = ", ".join(["{sku: BOOK-001, quantity: 1}"] * (limits.MAX_EVENT_ITEMS + 1))
    error = only_error(tmp_path / "b", PROGRAM + f"  - items: [{items}]\n")
    assert where(error) == (11, 12)
    assert error.message == "events.1.items: has 101 entries: at most 100"


def test_parent_product_events_bound(tmp_path: Path) -> None:
    text = PROGRAM.replace('price: "0.00"}', 'price: "0.00", events: 99999999999}')
    error = only_error(tmp_path, text)
    assert error.message == "parent_product.events: must be at most 1000"


def test_percent_is_stored_in_hundredths(tmp_path: Path) -> None:
    schedules = SCHEDULES.replace('"30"', '"30.005"').replace('"70"', '"69.995"')
    errors = _schedule_errors(tmp_path, schedules)
    advice = 'has more than 2 decimals: write a percent like "33.33"'
    assert [(e.line, e.column, e.message) for e in errors] == [
        (6, 19, f"schedules.1.lines.0.percent: 30.005 {advice}"),
        (7, 19, f"schedules.1.lines.1.percent: 69.995 {advice}"),
    ]


def test_installments_end_within_ten_years(tmp_path: Path) -> None:
    schedules = SCHEDULES.replace(
        "installments: 3, every: 1 month", "installments: 100, every: 2 months"
    )
    errors = _schedule_errors(tmp_path, schedules)
    assert [(e.line, e.column) for e in errors] == [(2, 64)]
    assert errors[0].message == (
        "schedules.0.every: the last installment would be due more than 3660 days "
        "(120 months) after the first: fewer installments, or a shorter every"
    )
    schedules = SCHEDULES.replace("installments: 3,", "installments: 99999999999,")
    errors = _schedule_errors(tmp_path / "b", schedules)
    assert [e.message for e in errors] == ["schedules.0.installments: must be at most 120"]


def test_ship_after_installment_is_bounded_even_without_installments(tmp_path: Path) -> None:
    schedules = SCHEDULES + "    ship_after_installment: 99999999999\n"
    errors = _schedule_errors(tmp_path, schedules)
    assert "schedules.1.ship_after_installment: must be" in errors[0].message


def test_catalog_item_count(tmp_path: Path) -> None:
    items = "".join(
        f"  - {{sku: X{n}, name: X, price: 1, currency: USD}}\n"
        for n in range(limits.MAX_CATALOG_ITEMS + 1)
    )
    errors = _catalog_errors(tmp_path, "items:\n" + items)
    assert [(e.line, e.column) for e in errors] == [(2, 3)]
    assert errors[0].message == "items: has 5001 entries: at most 5000"


# -- reading a file -------------------------------------------------------------------------


def test_file_size_limit(tmp_path: Path) -> None:
    error = only_error(tmp_path, b"a: " + b"x" * limits.MAX_FILE_BYTES)
    assert where(error) == (1, 1)
    assert error.message == (
        "file is too large (4,194,307 bytes; a rule file is at most 4,194,304)"
    )


def test_one_long_list_is_refused_at_the_first_entry_past_the_limit(tmp_path: Path) -> None:
    error = only_error(tmp_path, "items:\n" + "- 1\n" * (limits.MAX_ENTRIES + 5), name="club")
    assert where(error) == (limits.MAX_ENTRIES + 2, 3)
    assert error.message == "items: more than 10,000 entries (the limit per list or mapping)"


def test_one_long_mapping_is_refused_too(tmp_path: Path) -> None:
    keys = "".join(f"  k{n}: 1\n" for n in range(limits.MAX_ENTRIES + 1))
    error = only_error(tmp_path, "x:\n" + keys)
    assert where(error) == (limits.MAX_ENTRIES + 2, 3)
    assert error.message == "x: more than 10,000 entries (the limit per list or mapping)"


def test_node_count_limit(tmp_path: Path) -> None:
    row = "- [" + ", ".join(["1"] * 5000) + "]\n"
    error = only_error(tmp_path, "x:\n" + row * 21)
    assert error.line == 21
    assert error.message == "the file has more than 100,000 values (the limit per rule file)"


def test_long_values_and_keys(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("name: Club", "name: " + "x" * 2000, 1))
    assert where(error) == (2, 7)
    assert error.message == "name: a value of 2,000 characters (at most 1,000)"
    error = only_error(tmp_path / "b", PROGRAM + "k" * 1010 + ": 1\n")
    assert where(error) == (11, 1)
    assert error.message == "a key of 1,010 characters (at most 1,000)"
    error = only_error(tmp_path / "c", PROGRAM + "k" * 2000 + ": 1\n")
    assert where(error) == (11, 1)
    assert error.message == "YAML syntax error: a key longer than 1,024 characters"


def test_billion_laughs_is_refused_at_the_aliases_without_expanding_them(tmp_path: Path) -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    errors = program_errors(tmp_path, "\n".join(lines) + "\n")
    assert len(errors) == 81
    assert errors[0] == RuleError(
        errors[0].path, 2, 10, "aliases (*a0) are not allowed in rule files: write the value out"
    )


def test_errors_per_file_are_capped(tmp_path: Path) -> None:
    events = "".join(
        f"  - items: [{{sku: BOOK-001, quantity: 1}}]\n    colour{n}: 1\n" for n in range(150)
    )
    errors = program_errors(tmp_path, PROGRAM.replace("events:\n", "events:\n" + events))
    assert len(errors) == limits.MAX_ERRORS_PER_FILE + 1
    assert errors[-1].message == (
        "more errors in this file are not listed (at most 100 per file): fix these first"
    )
    assert (errors[-1].line, errors[-1].column) == (9 + 2 * 100, 5)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("ESPRESO-BEANS", "ESPRESSO-BEANS"),
        ("ESPRESSO-BAENS", "ESPRESSO-BEANS"),
        ("ESPRESSO-BEANZ", "ESPRESSO-BEANS"),
        ("XESPRESSO-BEANS", "ESPRESSO-BEANS"),
        ("TEA", None),
    ],
)
def test_suggestions_in_a_large_catalog(word: str, expected: str | None) -> None:
    suggest = Suggester([*(f"P{n:05d}X" for n in range(10_000)), "ESPRESSO-BEANS"])
    assert suggest(word) == expected
