"""Checks across keys and files, each reported at the node to fix."""

from __future__ import annotations

from pathlib import Path

from rules.loader import check_rules
from tests.rules.util import (
    CATALOG,
    PROGRAM,
    SCHEDULES,
    only_error,
    program_errors,
    where,
    write_rules,
)

#: Lines 1-6 of every program below.
HEAD = """\
id: club
name: Club
active: true
currency: USD
parent_product: {sku: CLUB, name: Club, price: "0.00"}
cadence: {every: 1 month}
"""

ONE_EVENT = "events:\n  - items: [{sku: BOOK-001, quantity: 1}]\n"


def messages(root: Path, text: str) -> list[tuple[int, int, str]]:
    return [(e.line, e.column, e.message) for e in program_errors(root, text)]


# --- items -------------------------------------------------------------------------------


def test_unknown_sku(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("BOOK-001", "BOOK-099"))
    assert where(error) == (9, 14)
    assert error.message.startswith(
        "events.0.items.0.sku: unknown SKU 'BOOK-099': it is not in the catalog"
    )


def test_unknown_sku_suggestion(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("BOOK-001", "BOOK-01"))
    assert error.message.endswith("(did you mean 'BOOK-001'?)")


def test_unknown_sku_not_reported_when_the_sku_itself_is_invalid(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("sku: BOOK-001", "sku: 99"))
    assert error.message == 'events.0.items.0.sku: must be text: quote it, e.g. "99"'


def test_parent_product_of_this_program_as_item(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("sku: BOOK-001", "sku: CLUB"))
    assert where(error) == (9, 14)
    assert error.message == (
        "events.0.items.0.sku: 'CLUB' is the parent product of program 'club': it never ships"
    )


def test_parent_product_of_another_program_as_item(tmp_path: Path) -> None:
    other = PROGRAM.replace("id: club", "id: other").replace("sku: CLUB", "sku: OTHER")
    club = PROGRAM.replace("sku: BOOK-001", "sku: OTHER")
    errors = check_rules(write_rules(tmp_path, {"club": club, "other": other}))
    assert [(e.path, e.line, e.column) for e in errors] == [
        (str(tmp_path / "programs" / "club.yaml"), 9, 14)
    ]
    assert "'OTHER' is the parent product of program 'other'" in errors[0].message


def test_parent_sku_is_a_catalog_sku(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("sku: CLUB", "sku: BOOK-002"))
    assert where(error) == (5, 23)
    assert error.message == (
        "parent_product.sku: 'BOOK-002' is a catalog item: a parent product needs a SKU of its own"
    )


def test_parent_sku_shared_by_two_programs(tmp_path: Path) -> None:
    other = PROGRAM.replace("id: club", "id: other")
    errors = check_rules(write_rules(tmp_path, {"club": PROGRAM, "other": other}))
    assert [(e.path, e.line, e.column, e.message) for e in errors] == [
        (
            str(tmp_path / "programs" / "other.yaml"),
            5,
            23,
            "parent_product.sku: 'CLUB' is already the parent product of program 'club'",
        )
    ]


def test_mixed_currencies(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("BOOK-001", "EURO-001"))
    assert where(error) == (9, 14)
    assert error.message == (
        "events.0.items.0.sku: 'EURO-001' is priced in EUR in the catalog, "
        "but the program is in USD"
    )


def test_inactive_item_in_active_program(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("BOOK-001", "OLD-001"))
    assert where(error) == (9, 14)
    assert "'OLD-001' is inactive in the catalog" in error.message


def test_inactive_item_in_inactive_program_is_fine(tmp_path: Path) -> None:
    text = PROGRAM.replace("BOOK-001", "OLD-001").replace("active: true", "active: false")
    assert program_errors(tmp_path, text) == []


def test_zero_quantity(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("quantity: 1", "quantity: 0"))
    assert where(error) == (10, 19)
    assert error.message == "events.0.items.0.quantity: must be greater than 0"


def test_negative_quantity(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace("quantity: 1", "quantity: -3"))
    assert where(error) == (10, 19)
    assert error.message == "events.0.items.0.quantity: must be greater than 0"


# --- identity ----------------------------------------------------------------------------


def test_id_must_match_the_file_name(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM, name="book-club")
    assert where(error) == (1, 5)
    assert error.message == "id: the id must be the file name: 'book-club' (or rename the file)"


def test_duplicate_program_id_across_files(tmp_path: Path) -> None:
    copy = PROGRAM.replace("sku: CLUB", "sku: CLUB2")
    errors = check_rules(write_rules(tmp_path, {"club": PROGRAM, "club-copy": copy}))
    copy_path = str(tmp_path / "programs" / "club-copy.yaml")
    assert [(e.path, e.line, e.column, e.message) for e in errors] == [
        (copy_path, 1, 5, "id: the id must be the file name: 'club-copy' (or rename the file)"),
        (
            str(tmp_path / "programs" / "club.yaml"),
            1,
            5,
            "id: duplicate program id 'club' (also in programs/club-copy.yaml)",
        ),
    ]


def test_duplicate_catalog_sku(tmp_path: Path) -> None:
    catalog = CATALOG + '  - {sku: BOOK-002, name: Again, price: "1.00", currency: USD}\n'
    errors = check_rules(write_rules(tmp_path, catalog=catalog))
    assert [(e.path, e.line, e.column, e.message) for e in errors] == [
        (
            str(tmp_path / "catalog.yaml"),
            6,
            11,
            "items.4.sku: duplicate SKU 'BOOK-002' (first listed at line 3, column 11)",
        )
    ]


def test_duplicate_schedule_id(tmp_path: Path) -> None:
    schedules = (
        SCHEDULES + "  - {id: three-monthly, name: Again, installments: 2, every: 14 days}\n"
    )
    errors = check_rules(write_rules(tmp_path, schedules=schedules))
    assert [(e.line, e.column, e.message) for e in errors] == [
        (
            8,
            10,
            "schedules.2.id: duplicate schedule id 'three-monthly' "
            "(first used at line 2, column 10)",
        )
    ]


# --- event numbers and order -------------------------------------------------------------


def test_duplicate_event_number(tmp_path: Path) -> None:
    text = HEAD + "events:\n"
    text += "  - {number: 1, items: [{sku: BOOK-001, quantity: 1}]}\n"  # line 8
    text += "  - {number: 1, items: [{sku: BOOK-002, quantity: 1}]}\n"  # line 9
    assert messages(tmp_path, text) == [
        (9, 14, "events.1.number: event number 1 is used twice (also at line 8, column 14)")
    ]


def test_event_number_gap_is_out_of_range(tmp_path: Path) -> None:
    text = HEAD + "events:\n"
    text += "  - {number: 1, items: [{sku: BOOK-001, quantity: 1}]}\n"
    text += "  - {number: 3, items: [{sku: BOOK-002, quantity: 1}]}\n"
    assert messages(tmp_path, text) == [
        (
            9,
            14,
            "events.1.number: event number 3 is out of range: "
            "2 events are numbered 1 to 2; missing: 2",
        )
    ]


def test_event_number_zero(tmp_path: Path) -> None:
    text = HEAD + "events:\n  - {number: 0, items: [{sku: BOOK-001, quantity: 1}]}\n"
    assert messages(tmp_path, text) == [(8, 14, "events.0.number: must be at least 1")]


def test_numbered_and_unnumbered_events_mixed(tmp_path: Path) -> None:
    text = HEAD + "events:\n"
    text += "  - {number: 1, items: [{sku: BOOK-001, quantity: 1}]}\n"
    text += "  - {items: [{sku: BOOK-002, quantity: 1}]}\n"
    assert messages(tmp_path, text) == [
        (9, 5, "events.1: number every event or none: other events have a number")
    ]


def test_numbers_set_the_order(tmp_path: Path) -> None:
    text = HEAD + "events:\n"
    text += "  - {number: 2, items: [{sku: BOOK-002, quantity: 1}], action: end}\n"
    text += "  - {number: 1, items: [{sku: BOOK-001, quantity: 1}]}\n"
    assert program_errors(tmp_path, text) == []


def test_event_after_end_is_never_reached(tmp_path: Path) -> None:
    text = HEAD + ONE_EVENT + "    action: end\n  - items: [{sku: BOOK-002, quantity: 1}]\n"
    assert messages(tmp_path, text) == [
        (10, 5, "events.1: event 2 is never reached: event 1 ends the program (action: end)")
    ]


def test_event_after_forever_is_never_reached(tmp_path: Path) -> None:
    text = HEAD + ONE_EVENT + "    repeat: forever\n  - items: [{sku: BOOK-002, quantity: 1}]\n"
    assert messages(tmp_path, text) == [
        (10, 5, "events.1: event 2 is never reached: event 1 repeats forever")
    ]


def test_no_events(tmp_path: Path) -> None:
    assert messages(tmp_path, HEAD + "events: []\n") == [
        (7, 9, "events: a program needs at least one event")
    ]


def test_normal_event_without_items(tmp_path: Path) -> None:
    text = HEAD + "events:\n  - action: normal\n    not_before: 2026-01-01\n"
    assert messages(tmp_path, text) == [
        (8, 5, "events.0: event 1 has no items: an event with action 'normal' ships")
    ]


def test_end_event_with_empty_items(tmp_path: Path) -> None:
    text = HEAD + "events:\n  - {action: end, items: []}\n"
    assert messages(tmp_path, text) == [
        (8, 26, "events.0.items: an event with action 'end' needs items")
    ]


def test_skip_event_with_items(tmp_path: Path) -> None:
    text = HEAD + ONE_EVENT + "  - action: skip\n    items: [{sku: BOOK-002, quantity: 1}]\n"
    assert messages(tmp_path, text) == [
        (10, 12, "events.1.items: a skip event ships nothing: remove its items")
    ]


def test_parent_events_more_than_events(tmp_path: Path) -> None:
    text = PROGRAM.replace('price: "0.00"}', 'price: "0.00", events: 2}')
    error = only_error(tmp_path, text)
    assert where(error) == (5, 64)
    assert error.message == (
        "parent_product.events: the program has only 1 events (0 means all of them)"
    )


def test_parent_events_negative(tmp_path: Path) -> None:
    error = only_error(tmp_path, PROGRAM.replace('price: "0.00"}', 'price: "0.00", events: -1}'))
    assert where(error) == (5, 64)
    assert error.message == "parent_product.events: must not be negative"


def test_current_event_without_anchor(tmp_path: Path) -> None:
    error = only_error(tmp_path, HEAD + "order_start: current_event\n" + ONE_EVENT)
    assert where(error) == (7, 14)
    assert error.message.startswith("order_start: current_event needs current_event_anchor")


def test_anchor_without_current_event(tmp_path: Path) -> None:
    error = only_error(tmp_path, HEAD + "current_event_anchor: 2026-01-01\n" + ONE_EVENT)
    assert where(error) == (7, 23)
    assert error.message == (
        "current_event_anchor: current_event_anchor is only used with order_start: current_event"
    )


# --- billing -----------------------------------------------------------------------------


def test_forever_billed_up_front(tmp_path: Path) -> None:
    text = HEAD + "billing: {up_front: true}\n" + ONE_EVENT + "    repeat: forever\n"
    assert messages(tmp_path, text) == [
        (
            10,
            13,
            "events.0.repeat: a 'forever' repeat cannot be billed up front "
            "(billing.up_front is true)",
        )
    ]


def test_forever_on_a_payment_schedule(tmp_path: Path) -> None:
    billing = "billing: {up_front: false, payment_schedule: three-monthly}\n"
    text = HEAD + billing + ONE_EVENT + "    repeat: forever\n"
    assert messages(tmp_path, text) == [
        (
            7,
            46,
            "billing.payment_schedule: payment schedules split an up-front total: "
            "set billing.up_front: true",
        ),
        (10, 13, "events.0.repeat: a 'forever' repeat cannot be paid on a payment schedule"),
    ]


def test_unknown_payment_schedule(tmp_path: Path) -> None:
    billing = "billing:\n  up_front: true\n  payment_schedule: three-monthli\n"
    billing += "  allowed_schedules: [three-monthli, monthly]\n"
    text = HEAD + billing + ONE_EVENT
    assert messages(tmp_path, text) == [
        (
            9,
            21,
            "billing.payment_schedule: unknown payment schedule 'three-monthli' "
            "(did you mean 'three-monthly'?)",
        ),
        (
            10,
            23,
            "billing.allowed_schedules.0: unknown payment schedule 'three-monthli' "
            "(did you mean 'three-monthly'?)",
        ),
        (
            10,
            38,
            "billing.allowed_schedules.1: unknown payment schedule 'monthly' "
            "(did you mean 'three-monthly'?)",
        ),
    ]


def test_allowed_schedules_without_up_front(tmp_path: Path) -> None:
    text = HEAD + "billing: {allowed_schedules: [three-monthly]}\n" + ONE_EVENT
    assert messages(tmp_path, text) == [
        (
            7,
            30,
            "billing.allowed_schedules: payment schedules split an up-front total: "
            "set billing.up_front: true",
        )
    ]


def test_default_schedule_not_allowed(tmp_path: Path) -> None:
    billing = "billing:\n  up_front: true\n  payment_schedule: three-monthly\n"
    billing += "  allowed_schedules: [deposit-balance]\n"
    assert messages(tmp_path, HEAD + billing + ONE_EVENT) == [
        (
            9,
            21,
            "billing.payment_schedule: the default schedule 'three-monthly' "
            "must be one of allowed_schedules",
        )
    ]


def test_prompt_for_schedule_without_schedules(tmp_path: Path) -> None:
    billing = "billing: {up_front: true, prompt_for_payment_schedule: true}\n"
    assert messages(tmp_path, HEAD + billing + ONE_EVENT) == [
        (
            7,
            56,
            "billing.prompt_for_payment_schedule: there is no schedule to choose from: "
            "list allowed_schedules",
        )
    ]


# --- payment schedules -------------------------------------------------------------------


def schedule_messages(root: Path, schedules: str) -> list[tuple[int, int, str]]:
    errors = check_rules(write_rules(root, schedules=schedules))
    assert all(e.path == str(root / "payment-schedules.yaml") for e in errors)
    return [(e.line, e.column, e.message) for e in errors]


def test_schedule_percents_must_add_up_to_100(tmp_path: Path) -> None:
    text = SCHEDULES.replace('percent: "70"', 'percent: "60"')
    assert schedule_messages(tmp_path, text) == [
        (6, 7, "schedules.1.lines: the percents add up to 90, not 100")
    ]


def test_schedule_float_percent(tmp_path: Path) -> None:
    text = SCHEDULES.replace('percent: "70"', "percent: 70.0")
    assert schedule_messages(tmp_path, text) == [
        (7, 19, 'schedules.1.lines.1.percent: write money as a quoted string, e.g. "12.99"')
    ]


def test_schedule_first_offset_and_order(tmp_path: Path) -> None:
    text = SCHEDULES.replace("offset_days: 0}", "offset_days: 40}")
    assert schedule_messages(tmp_path, text) == [
        (
            6,
            38,
            "schedules.1.lines.0.offset_days: the first line is due when the order is placed: "
            "write offset_days: 0",
        ),
        (
            7,
            38,
            "schedules.1.lines.1.offset_days: must not be earlier than the previous line (40 days)",
        ),
    ]


def test_schedule_ship_after_out_of_range(tmp_path: Path) -> None:
    text = SCHEDULES.replace("every: 1 month}", "every: 1 month, ship_after_installment: 4}")
    assert schedule_messages(tmp_path, text) == [
        (
            2,
            95,
            "schedules.0.ship_after_installment: must be 1 to 3: the schedule has 3 installments",
        )
    ]


def test_schedule_both_shapes(tmp_path: Path) -> None:
    text = SCHEDULES + "    installments: 2\n"
    assert schedule_messages(tmp_path, text) == [
        (8, 19, "schedules.1.installments: write either installments + every, or lines, not both")
    ]


def test_schedule_needs_a_shape(tmp_path: Path) -> None:
    text = "schedules:\n  - {id: nothing, name: Nothing}\n"
    assert schedule_messages(tmp_path, text) == [
        (2, 5, "schedules.0: write installments + every (equal parts), or lines")
    ]


def test_schedule_one_installment(tmp_path: Path) -> None:
    text = SCHEDULES.replace("installments: 3", "installments: 1")
    assert schedule_messages(tmp_path, text) == [
        (2, 52, "schedules.0.installments: must be at least 2")
    ]


def test_schedule_bad_id(tmp_path: Path) -> None:
    text = SCHEDULES.replace("id: three-monthly", "id: Three Monthly")
    assert schedule_messages(tmp_path, text)[0][:2] == (2, 10)
