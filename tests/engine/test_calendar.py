from __future__ import annotations

from datetime import date, timedelta
from itertools import islice

from hypothesis import given
from hypothesis import strategies as st

from continuity.engine.calendar import (
    CalendarEvent,
    DateWalker,
    GapSpec,
    add_months,
    current_event,
    program_calendar,
)
from continuity.enums import GapUnit

MONTH = GapSpec(GapUnit.MONTH, 1)


def test_month_end_clamps_and_never_drifts() -> None:
    walker = DateWalker(date(2027, 1, 31))
    dates = [walker.step(MONTH) for _ in range(4)]
    assert dates == [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31)]


def test_leap_february() -> None:
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2028, 2, 29), 12) == date(2029, 2, 28)


def test_days_from_last_adds_days_and_restarts_the_month_run() -> None:
    walker = DateWalker(date(2026, 1, 31))
    assert walker.step(GapSpec(GapUnit.DAY, 30)) == date(2026, 3, 2)
    assert walker.step(MONTH) == date(2026, 4, 2)


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2150, 1, 1)), st.integers(1, 400))
def test_monthly_walk_keeps_the_day_of_month(start: date, steps: int) -> None:
    walker = DateWalker(start)
    previous = start
    for months in range(1, min(steps, 60) + 1):
        current = walker.step(MONTH)
        assert current > previous
        assert current == add_months(start, months)
        assert current.day == start.day or current.day < start.day  # clamped, never later
        previous = current


def test_program_calendar_repeats_then_moves_on_and_restarts() -> None:
    events = [
        CalendarEvent(1, MONTH, 2),
        CalendarEvent(2, GapSpec(GapUnit.DAY, 10), 1),
    ]
    got = list(islice(program_calendar(date(2026, 1, 15), events), 5))
    assert got == [
        (1, date(2026, 1, 15)),
        (1, date(2026, 2, 15)),
        (2, date(2026, 2, 25)),
        (1, date(2026, 3, 25)),
        (1, date(2026, 4, 25)),
    ]


def test_current_event_follows_the_calendar() -> None:
    events = [CalendarEvent(n, MONTH, 1) for n in range(1, 13)]
    anchor = date(2026, 1, 1)
    assert current_event(anchor, events, date(2025, 12, 31)) == 1
    assert current_event(anchor, events, anchor) == 1
    assert current_event(anchor, events, date(2026, 3, 31)) == 3
    assert current_event(anchor, events, date(2026, 4, 1)) == 4
    assert current_event(anchor, events, date(2026, 12, 31)) == 12
    assert current_event(anchor, events, date(2027, 1, 1)) == 1  # next season


def test_forever_stays_on_its_event() -> None:
    events = [CalendarEvent(1, MONTH, 1), CalendarEvent(2, GapSpec(GapUnit.DAY, 30), None)]
    assert current_event(date(2026, 1, 1), events, date(2026, 1, 30)) == 1
    assert current_event(date(2026, 1, 1), events, date(2026, 1, 31)) == 2
    assert current_event(date(2026, 1, 1), events, date(2036, 2, 1)) == 2


@given(st.integers(0, 3000))
def test_current_event_is_the_last_slot_started(offset: int) -> None:
    events = [CalendarEvent(1, MONTH, 3), CalendarEvent(2, GapSpec(GapUnit.DAY, 45), 2)]
    anchor = date(2026, 5, 31)
    as_of = anchor + timedelta(days=offset)
    expected = 1
    for number, when in program_calendar(anchor, events):
        if when > as_of:
            break
        expected = number
    assert current_event(anchor, events, as_of) == expected
