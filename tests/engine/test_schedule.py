"""The schedule engine over hand-written and generated programs."""

from __future__ import annotations

from datetime import date
from itertools import islice, pairwise

from hypothesis import given
from hypothesis import strategies as st

from continuity.engine.calendar import GapSpec, add_months
from continuity.engine.schedule import (
    Anchor,
    all_occurrences,
    covered_events,
    first_event_number,
    is_finite,
    occurrences,
    start_date,
)
from continuity.engine.spec import EventSpec, ItemSpec, ProgramSpec
from continuity.enums import EventAction, GapUnit, OrderStart
from tests.engine.strategies import dates, programs

MONTH = GapSpec(GapUnit.MONTH, 1)


def _item(product_id: int, price: int = 1000) -> tuple[ItemSpec, ...]:
    return (ItemSpec(product_id, f"SKU-{product_id}", 1, price),)


COFFEE = ProgramSpec(
    code="coffee",
    currency="USD",
    days_after_order=2,
    events=(
        EventSpec(1, GapSpec(GapUnit.DAY, 14), items=_item(1, 1900), shipments=3),
        EventSpec(2, MONTH, items=_item(2, 1200), shipments=9, action=EventAction.END),
    ),
)


def test_repeat_then_move_on_with_each_events_gap() -> None:
    start = start_date(COFFEE, date(2027, 1, 29))
    assert start == date(2027, 1, 31)
    planned = all_occurrences(COFFEE, 1, Anchor(start, 1))
    assert [o.key for o in planned[:4]] == [(1, 0), (1, 1), (1, 2), (2, 0)]
    assert [o.ship_date for o in planned[:5]] == [
        date(2027, 1, 31),
        date(2027, 2, 14),
        date(2027, 2, 28),
        date(2027, 3, 28),
        date(2027, 4, 28),
    ]
    assert len(planned) == 12
    assert sum(o.amount_minor for o in planned) == 3 * 1900 + 9 * 1200


def test_skip_occupies_its_slot_and_end_stops() -> None:
    spec = ProgramSpec(
        code="book",
        currency="USD",
        events=(
            EventSpec(1, MONTH, items=_item(1)),
            EventSpec(2, MONTH, action=EventAction.SKIP),
            EventSpec(3, MONTH, items=_item(3), action=EventAction.END),
            EventSpec(4, MONTH, items=_item(4)),
        ),
    )
    planned = all_occurrences(spec, 1, Anchor(date(2027, 1, 31), 1), quantity=2)
    assert [(o.event_number, o.ship_date, o.ships) for o in planned] == [
        (1, date(2027, 1, 31), True),
        (2, date(2027, 2, 28), False),
        (3, date(2027, 3, 31), True),
    ]
    assert planned[1].items == ()
    assert planned[2].items[0].quantity == 2  # the parent line's quantity multiplies


def test_not_before_holds_a_shipment_and_later_ones_follow() -> None:
    spec = ProgramSpec(
        code="wine",
        currency="USD",
        events=(
            EventSpec(1, MONTH, items=_item(1)),
            EventSpec(2, MONTH, items=_item(2), not_before=date(2027, 6, 15)),
            EventSpec(3, MONTH, items=_item(3)),
        ),
    )
    planned = all_occurrences(spec, 1, Anchor(date(2027, 1, 10), 1))
    assert [o.ship_date for o in planned] == [
        date(2027, 1, 10),
        date(2027, 6, 15),
        date(2027, 7, 15),
    ]


def test_current_event_start_and_parent_event_count() -> None:
    spec = ProgramSpec(
        code="wine",
        currency="USD",
        order_start=OrderStart.CURRENT_EVENT,
        current_event_anchor=date(2026, 1, 1),
        parent_event_count=3,
        events=tuple(EventSpec(n, MONTH, items=_item(n)) for n in range(1, 13)),
    )
    first = first_event_number(spec, date(2026, 4, 20))
    assert first == 4
    assert [e.number for e in covered_events(spec, first)] == [4, 5, 6]
    planned = all_occurrences(spec, first, Anchor(date(2026, 4, 20), first))
    assert [(o.event_number, o.ship_date) for o in planned] == [
        (4, date(2026, 4, 20)),
        (5, date(2026, 5, 20)),
        (6, date(2026, 6, 20)),
    ]


def test_resuming_from_an_anchor_recomputes_later_dates_only() -> None:
    moved = list(islice(occurrences(COFFEE, 1, Anchor(date(2027, 5, 31), 2, 3)), 3))
    assert [(o.key, o.ship_date) for o in moved] == [
        ((2, 3), date(2027, 5, 31)),
        ((2, 4), date(2027, 6, 30)),
        ((2, 5), date(2027, 7, 31)),
    ]


# --- properties over generated programs -------------------------------------------------


@given(programs(), dates, st.integers(1, 3))
def test_dates_never_go_backwards_and_events_come_in_order(
    spec: ProgramSpec, start: date, quantity: int
) -> None:
    first = spec.events[0].number
    planned = list(islice(occurrences(spec, first, Anchor(start, first), quantity=quantity), 60))
    assert planned[0].ship_date >= start
    for before, after in pairwise(planned):
        assert after.ship_date >= before.ship_date
        assert (after.event_number, after.repeat_index) > (before.event_number, before.repeat_index)
    for occurrence in planned:
        event = spec.event(occurrence.event_number)
        if event.not_before:
            assert occurrence.ship_date >= event.not_before
        assert occurrence.ships == (event.action is not EventAction.SKIP)
        assert all(i.quantity % quantity == 0 for i in occurrence.items)


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)), st.integers(1, 120))
def test_a_monthly_schedule_never_drifts(start: date, count: int) -> None:
    spec = ProgramSpec("m", "USD", (EventSpec(1, MONTH, items=_item(1), shipments=None),))
    planned = list(islice(occurrences(spec, 1, Anchor(start, 1)), count))
    assert [o.ship_date for o in planned] == [add_months(start, n) for n in range(count)]


@given(programs(finite=False), dates)
def test_forever_never_ends_by_itself(spec: ProgramSpec, start: date) -> None:
    first = spec.events[0].number
    assume_forever = not is_finite(spec, first)
    planned = list(islice(occurrences(spec, first, Anchor(start, first)), 500))
    if assume_forever:
        assert len(planned) == 500
    else:  # an end event or the parent's event count came before the forever event
        assert len(planned) < 500


@given(programs(finite=True), dates)
def test_a_finite_order_ends_at_its_last_covered_event(spec: ProgramSpec, start: date) -> None:
    first = spec.events[0].number
    planned = all_occurrences(spec, first, Anchor(start, first))
    covered = covered_events(spec, first)
    assert planned[-1].event_number == covered[-1].number
    assert len(planned) == sum(e.shipments or 0 for e in covered)
