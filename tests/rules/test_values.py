"""Scalars: money, dates, currencies and gaps, each reported at its own node."""

from __future__ import annotations

from pathlib import Path

from rules.loader import check_rules, load_rules
from rules.model import Gap
from tests.rules.util import CATALOG, PROGRAM, only_error, program_errors, where, write_rules


def test_float_money_refused(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace('price: "0.00"', "price: 12.99"))
    assert where(error) == (5, 48)
    assert error.message == 'parent_product.price: write money as a quoted string, e.g. "12.99"'


def test_integer_money_accepted(tmp_path: Path) -> None:
    rules_dir = write_rules(tmp_path, {"club": PROGRAM.replace('price: "0.00"', "price: 12")})
    program = load_rules(rules_dir).program("club")
    assert program is not None
    assert str(program.rule.parent_product.price) == "12"


def test_malformed_money_string(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace('price: "0.00"', 'price: "12,99"'))
    assert where(error) == (5, 48)
    assert (
        error.message == "parent_product.price: '12,99' is not an amount: write it like \"12.99\""
    )


def test_non_finite_money_refused(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace('price: "0.00"', "price: .inf"))
    assert "write money as a quoted string" in error.message
    error = only_error(tmp_path / "b", PROGRAM.replace('price: "0.00"', 'price: "NaN"'))
    assert "'NaN' is not an amount" in error.message


def test_negative_money_refused(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace('price: "0.00"', 'price: "-1.00"'))
    assert where(error) == (5, 48)
    assert error.message == "parent_product.price: must not be negative"


def test_too_many_decimals_for_the_program_currency(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + '        price: "9.999"\n')
    assert where(error) == (11, 16)
    assert error.message == "events.0.items.0.price: 9.999 has more decimals than USD allows (2)"


def test_trailing_zeros_are_not_extra_decimals(tmp_path: Path) -> None:
    assert program_errors(tmp_path, PROGRAM + '        price: "9.9900"\n') == []


def test_too_many_decimals_for_a_zero_decimal_currency(tmp_path: Path) -> None:
    catalog = CATALOG + '  - {sku: YEN-001, name: Yen book, price: "1200.5", currency: JPY}\n'
    errors = check_rules(write_rules(tmp_path, catalog=catalog))
    assert [(e.path, e.line, e.column, e.message) for e in errors] == [
        (
            str(tmp_path / "catalog.yaml"),
            6,
            43,
            "items.4.price: 1200.5 has more decimals than JPY allows (0)",
        )
    ]


def test_unknown_currency(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("currency: USD", "currency: USB"))
    assert where(error) == (4, 11)
    assert error.message.startswith("currency: unknown currency 'USB' (known: AUD, BHD")


def test_unknown_catalog_currency(tmp_path: Path) -> None:
    catalog = CATALOG.replace("currency: EUR", "currency: eur")
    errors = check_rules(write_rules(tmp_path, catalog=catalog))
    assert [(e.line, e.column) for e in errors] == [(5, 63)]
    assert "items.3.currency: unknown currency 'eur'" in errors[0].message


def test_malformed_date_month_13(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "    not_before: 2026-13-01\n")
    assert where(error) == (11, 17)
    assert error.message == (
        "events.0.not_before: malformed date '2026-13-01': write a real date as YYYY-MM-DD"
    )


def test_malformed_date_february_30_quoted(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + '    not_before: "2026-02-30"\n')
    assert where(error) == (11, 17)
    assert "malformed date '2026-02-30'" in error.message


def test_date_with_time_refused(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "    not_before: 2026-03-01 10:00:00\n")
    assert where(error) == (11, 17)
    assert "malformed date '2026-03-01 10:00:00'" in error.message


def test_plain_and_quoted_dates_load_as_dates(tmp_path: Path) -> None:
    text = PROGRAM + "    not_before: 2026-03-01\n"
    text += '  - items: [{sku: BOOK-002, quantity: 1}]\n    not_before: "2026-04-01"\n'
    program = load_rules(write_rules(tmp_path, {"club": text})).program("club")
    assert program is not None
    assert [str(event.not_before) for event in program.rule.events] == ["2026-03-01", "2026-04-01"]


def test_malformed_every(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("every: 1 month", "every: 1 fortnight"))
    assert where(error) == (6, 18)
    assert error.message.startswith("cadence.every: malformed gap '1 fortnight'")


def test_every_zero_months(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "    every: 0 months\n")
    assert where(error) == (11, 12)
    assert error.message.startswith("events.0.every: must be at least 1 month")


def test_every_and_days_from_last_together(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "    every: 1 month\n    days_from_last: 30\n")
    assert where(error) == (12, 5)
    assert (
        error.message == "events.0.days_from_last: write either every or days_from_last, not both"
    )


def test_days_from_last_must_be_a_whole_number(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM + "    days_from_last: 30.5\n")
    assert where(error) == (11, 21)
    assert error.message == "events.0.days_from_last: must be a whole number of days, 0 to 3660"


def test_gap_spellings(tmp_path: Path) -> None:
    text = PROGRAM.replace("every: 1 month", "days_from_last: 0") + "    every: 2 weeks\n"
    program = load_rules(write_rules(tmp_path, {"club": text})).program("club")
    assert program is not None
    assert program.rule.cadence == Gap(unit="day", count=0)
    assert program.rule.events[0].gap == Gap(unit="day", count=14)
    assert str(program.rule.events[0].gap) == "14 days"
