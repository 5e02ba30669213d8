"""The one planner (``continuity.engine.plan``): hand-written cases, then a property test that
walks generated programs through random sequences of what happens to an order (skip, pause,
resume, start-date shift, swap, extend, days passing and shipping) and checks after every step
that the lines stay a faithful plan of the schedule.

The property test runs ``PLANNER_EXAMPLES`` examples (bounded in CI); ``HYPOTHESIS_PROFILE=slow``
runs far more (docs/TESTING.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from itertools import islice

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from continuity.engine.calendar import GapSpec
from continuity.engine.plan import (
    HISTORY,
    HeldLine,
    LineChanges,
    LineRow,
    OrderSchedule,
    Plan,
    PlanError,
    Substitution,
    changes,
    kept_anchor,
    line_diffs,
    plan,
    resume_anchor,
    shifted_anchor,
    ships_later,
    upcoming,
)
from continuity.engine.schedule import Anchor, occurrences
from continuity.engine.spec import EventSpec, ItemSpec, ProgramSpec
from continuity.enums import ContinuityLineStatus, EventAction, GapUnit
from tests.engine.strategies import dates, programs

MONTH = GapSpec(GapUnit.MONTH, 1)
PENDING, SKIPPED, RELEASED = (
    ContinuityLineStatus.PENDING,
    ContinuityLineStatus.SKIPPED,
    ContinuityLineStatus.RELEASED,
)


def _item(product_id: int, price: int = 1000) -> tuple[ItemSpec, ...]:
    return (ItemSpec(product_id, f"SKU-{product_id}", 1, price),)


COFFEE = ProgramSpec(
    code="coffee",
    currency="USD",
    events=(
        EventSpec(1, GapSpec(GapUnit.DAY, 14), items=_item(1, 1900), shipments=3),
        EventSpec(2, MONTH, items=_item(2, 1200), shipments=9, action=EventAction.END),
    ),
)
#: Monthly: three books, a summer skip, two more books.
BOOKS = ProgramSpec(
    code="books",
    currency="USD",
    events=(
        EventSpec(1, MONTH, items=_item(11)),
        EventSpec(2, MONTH, items=_item(12)),
        EventSpec(3, MONTH, items=_item(13)),
        EventSpec(4, MONTH, action=EventAction.SKIP),
        EventSpec(5, MONTH, items=_item(15)),
        EventSpec(6, MONTH, items=_item(16)),
    ),
)
REFILL = ProgramSpec(
    code="refill",
    currency="USD",
    events=(EventSpec(1, GapSpec(GapUnit.DAY, 30), items=_item(1, 2450), shipments=None),),
)


class Order:
    """An order in memory: a schedule and the lines it holds, changed only through plans."""

    def __init__(self, schedule: OrderSchedule) -> None:
        self.schedule = schedule
        self.lines: dict[int, LineRow] = {}
        self.in_flight: set[int] = set()
        self._next_id = 1

    @property
    def held(self) -> list[HeldLine]:
        return [HeldLine(i, row, i in self.in_flight) for i, row in sorted(self.lines.items())]

    def apply(self, planned: Plan) -> LineChanges:
        done = changes(self.held, planned)
        for line_id in done.delete:
            del self.lines[line_id]
        for line_id, row in done.update:
            self.lines[line_id] = row
        for row in done.insert:
            self.lines[self._next_id] = row
            self._next_id += 1
        self.schedule = planned.schedule
        return done

    def replan(self, *, threshold: int | None, anchor: Anchor | None = None) -> LineChanges:
        schedule = self.schedule if anchor is None else self.schedule.with_anchor(anchor)
        return self.apply(plan(schedule, self.held, threshold=threshold))

    def set(self, key: tuple[int, int], status: ContinuityLineStatus) -> None:
        for line_id, row in list(self.lines.items()):
            if row.key == key:
                self.lines[line_id] = row._replace(status=status)

    def dates(self) -> dict[tuple[int, int], date]:
        return {row.key: row.ship_date for row in self.lines.values()}

    def keys(self, status: ContinuityLineStatus) -> list[tuple[int, int]]:
        return sorted({row.key for row in self.lines.values() if row.status is status})


def _placed(spec: ProgramSpec, start: date, threshold: int = 3) -> Order:
    order = Order(OrderSchedule(spec, spec.events[0].number, Anchor(start, spec.events[0].number)))
    order.replan(threshold=threshold)
    return order


# --- hand-written cases -------------------------------------------------------------------


def test_threshold_holds_a_prefix_and_extension_tops_it_up() -> None:
    order = _placed(COFFEE, date(2027, 1, 31), threshold=2)
    assert order.keys(PENDING) == [(1, 0), (1, 1)]
    order.set((1, 0), RELEASED)  # one shipped: extending tops event 1 up and moves on
    added = order.replan(threshold=2)
    assert [row.key for row in added.insert] == [(1, 2), (2, 0), (2, 1)]
    assert added.update == ()
    assert added.delete == ()
    assert order.replan(threshold=2) == LineChanges()  # a second extension adds nothing
    full = plan(order.schedule, threshold=2, up_front=True)
    assert len(full.keys) == 12
    assert full.complete


def test_an_occurrence_released_for_the_run_date_still_counts_as_pending() -> None:
    order = _placed(REFILL, date(2027, 1, 31))
    order.set((1, 0), RELEASED)
    order.in_flight = set(order.lines)  # released today: the same day's extension adds none
    assert order.replan(threshold=3) == LineChanges()
    order.in_flight = set()  # the next day it has shipped: one more is held
    assert [row.key for row in order.replan(threshold=3).insert] == [(1, 3)]


def test_a_customer_skip_is_not_pending_and_survives_every_replan() -> None:
    order = _placed(REFILL, date(2027, 1, 31))
    order.set((1, 1), SKIPPED)
    assert [row.key for row in order.replan(threshold=3).insert] == [(1, 3)]
    order.replan(threshold=None, anchor=Anchor(date(2027, 6, 1), 1, 0))
    assert order.keys(SKIPPED) == [(1, 1)]
    assert order.dates()[(1, 1)] == date(2027, 7, 1)  # re-dated with its slot


def test_resume_moves_a_skip_event_with_its_neighbours() -> None:
    order = _placed(BOOKS, date(2027, 1, 31))
    order.set((1, 0), RELEASED)
    anchor = resume_anchor(order.held, date(2027, 4, 10))
    assert anchor == Anchor(date(2027, 4, 10), 2, 0)
    order.replan(threshold=None, anchor=anchor)
    assert sorted(order.dates().items()) == [
        ((1, 0), date(2027, 1, 31)),  # shipped: history
        ((2, 0), date(2027, 4, 10)),
        ((3, 0), date(2027, 5, 10)),
        ((4, 0), date(2027, 6, 10)),  # the skip keeps its slot
        ((5, 0), date(2027, 7, 10)),
        ((6, 0), date(2027, 8, 10)),
    ]
    assert resume_anchor(order.held, date(2027, 4, 1)) is None  # nothing overdue: no move


def test_a_shift_before_a_shipment_already_made_is_refused() -> None:
    order = _placed(BOOKS, date(2027, 1, 31))
    order.set((1, 0), RELEASED)
    with pytest.raises(PlanError, match="before an earlier shipment on 2027-01-31"):
        shifted_anchor(order.held, -40)
    anchor = shifted_anchor(order.held, 5)
    assert anchor == Anchor(date(2027, 3, 5), 2, 0)


def test_the_continuity_update_anchor_keeps_the_31st() -> None:
    order = _placed(BOOKS, date(2027, 1, 31))
    order.set((1, 0), RELEASED)
    anchor = kept_anchor(order.schedule, order.held)
    assert anchor == Anchor(date(2027, 2, 28), 2, 0, run_start=date(2027, 1, 31))
    order.replan(threshold=3, anchor=anchor)
    assert order.dates()[(3, 0)] == date(2027, 3, 31)  # not the 28th


def test_a_substitution_holds_for_held_and_later_occurrences() -> None:
    order = _placed(REFILL, date(2027, 1, 31), threshold=2)
    swap = Substitution(1, 9, "DECAF", 2200)
    order.schedule = order.schedule._replace(substitutions=(swap,))
    done = order.replan(threshold=None)
    assert [(line_id, row.product_id, row.price_minor) for line_id, row in done.update] == [
        (1, 9, 2200),
        (2, 9, 2200),
    ]
    order.set((1, 0), RELEASED)
    order.replan(threshold=2)
    assert {row.product_id for row in order.lines.values()} == {9}
    assert [o.items[0].sku for o in islice(upcoming(order.schedule, order.held), 4)] == [
        "DECAF"
    ] * 4
    assert not ships_later(order.schedule, order.held, 1)
    assert ships_later(order.schedule, order.held, 9)
    # prepaid: the new item keeps the price paid; A→B then B→C ships C
    chained = order.schedule.with_anchor(order.schedule.anchor)
    chained = chained._replace(
        substitutions=(Substitution(1, 9, "DECAF", None), Substitution(9, 7, "TEA", None)),
    )
    first = next(iter(chained.occurrences()))
    assert (first.items[0].product_id, first.items[0].price_minor) == (7, 2450)


def test_a_new_version_reads_as_line_changes_not_removals() -> None:
    order = _placed(BOOKS, date(2027, 1, 31), threshold=3)
    order.set((1, 0), RELEASED)
    dearer = replace(
        BOOKS,
        events=(
            BOOKS.events[0],
            replace(BOOKS.events[1], items=_item(12, 1500)),  # a new price
            replace(BOOKS.events[2], items=_item(13) + _item(14)),  # a second item
            *BOOKS.events[3:],
        ),
    )
    held = order.held
    anchor = kept_anchor(order.schedule, held)
    assert anchor is not None
    planned = plan(order.schedule._replace(spec=dearer, anchor=anchor), held, threshold=3)
    diffs = line_diffs(held, changes(held, planned))
    assert [(d.slot, d.fields, d.before is None, d.after is None) for d in diffs] == [
        ((2, 0, 0), ("price_minor",), False, False),
        ((3, 0, 1), (), True, False),
    ]
    assert diffs[0].before is not None
    assert diffs[0].after is not None
    assert (diffs[0].before.price_minor, diffs[0].after.price_minor) == (1000, 1500)
    shorter = replace(BOOKS, events=BOOKS.events[:2])
    gone = plan(order.schedule._replace(spec=shorter, anchor=anchor), held, threshold=3)
    removed = line_diffs(held, changes(held, gone))
    assert [(d.slot, d.after) for d in removed] == [((e, 0, 0), None) for e in (3, 4, 5, 6)]


# --- the property test --------------------------------------------------------------------

#: How many generated programs with their random histories CI runs; the ``slow`` profile
#: raises it (``HYPOTHESIS_PROFILE=slow``, docs/TESTING.md).
PLANNER_EXAMPLES = max(400, settings().max_examples)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("days"), st.integers(1, 75)),
        st.tuples(st.just("extend"), st.integers(1, 4)),
        st.tuples(st.just("skip"), st.integers(0, 5)),
        st.tuples(st.just("pause"), st.just(0)),
        st.tuples(st.just("resume"), st.just(0)),
        st.tuples(st.just("shift"), st.integers(-60, 60)),
        st.tuples(st.just("swap"), st.integers(1, 50)),
    ),
    max_size=25,
)


@dataclass
class _Walk:
    """What the property test knows independently of the planner."""

    order: Order
    today: date
    threshold: int
    paused: bool = False
    skipped: set[tuple[int, int]] = field(default_factory=set)
    shipped: dict[int, LineRow] = field(default_factory=dict)


def _step(walk: _Walk, operation: str, value: int) -> None:
    order = walk.order
    if operation == "days":  # time passes; the child-order job ships what is due
        walk.today += timedelta(days=value)
        if not walk.paused:
            order.in_flight = set()
            for line_id, row in list(order.lines.items()):
                if row.status is PENDING and row.ship_date <= walk.today:
                    order.lines[line_id] = row._replace(status=RELEASED)
                    order.in_flight.add(line_id)
                    walk.shipped[line_id] = order.lines[line_id]
    elif operation == "extend":
        order.replan(threshold=value)
    elif operation == "skip":
        pending = order.keys(PENDING)
        if pending:
            key = pending[value % len(pending)]
            order.set(key, SKIPPED)
            walk.skipped.add(key)
    elif operation == "pause":
        walk.paused = True
    elif operation == "resume" and walk.paused:
        walk.paused = False
        anchor = resume_anchor(order.held, walk.today)
        if anchor is not None:
            order.replan(threshold=None, anchor=anchor)
    elif operation == "shift":
        try:
            anchor = shifted_anchor(order.held, value)
        except PlanError:
            return  # refused: nothing changes
        if anchor is not None and value:
            order.replan(threshold=None, anchor=anchor)
    elif operation == "swap":
        swap = Substitution(value, value + 100, f"S{value + 100}", None)
        order.schedule = order.schedule._replace(
            substitutions=(*order.schedule.substitutions, swap)
        )
        order.replan(threshold=None)


def _check(walk: _Walk, spec: ProgramSpec, first: int) -> None:
    lines = walk.order.lines
    by_key: dict[tuple[int, int], list[LineRow]] = {}
    for row in lines.values():
        by_key.setdefault(row.key, []).append(row)
    keys = sorted(by_key)
    # no occurrence lost or duplicated: the lines are a prefix of the schedule's occurrences,
    # each with its items once
    stream = occurrences(spec, first, Anchor(date(2000, 1, 1), first))
    expected = [o.key for o in islice(stream, len(keys))]
    assert keys == expected
    for key, rows in by_key.items():
        assert sorted(row.item_seq for row in rows) == list(range(len(rows)))
        assert len({(row.ship_date, row.status) for row in rows}) == 1
        event = spec.event(key[0])
        assert len(rows) == (1 if event.action is EventAction.SKIP else len(event.items))
    # planned dates never go backwards in (event, repeat) order
    dated = [by_key[key][0].ship_date for key in keys]
    assert dated == sorted(dated)
    # skips keep their slot: a skip event is a skipped line; a customer's skip stays skipped
    for key in keys:
        row = by_key[key][0]
        if row.action is EventAction.SKIP:
            assert row.status is SKIPPED
    assert walk.skipped <= {key for key in keys if by_key[key][0].status is SKIPPED}
    # what shipped is history: never rewritten
    for line_id, row in walk.shipped.items():
        assert lines[line_id] == row
    assert all(row.status in HISTORY or row.status in (PENDING, SKIPPED) for row in lines.values())


@settings(
    max_examples=PLANNER_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(programs(), dates, st.integers(1, 4), operations)
def test_any_history_of_an_order_keeps_its_lines_a_faithful_plan(
    spec: ProgramSpec, start: date, threshold: int, steps: list[tuple[str, int]]
) -> None:
    first = spec.events[0].number
    walk = _Walk(_placed(spec, start, threshold), start, threshold)
    _check(walk, spec, first)
    for operation, value in steps:
        held_before = len({row.key for row in walk.order.lines.values()})
        _step(walk, operation, value)
        _check(walk, spec, first)
        if operation == "extend":  # beyond what was held, at most ``value`` pending a repeat
            keys = sorted({row.key for row in walk.order.lines.values()})
            added = Counter(
                key[0]
                for key in keys[held_before:]
                if spec.event(key[0]).repeats and key in walk.order.keys(PENDING)
            )
            assert all(count <= value for count in added.values())


def test_the_slow_mode_runs_thousands_of_examples() -> None:
    """``HYPOTHESIS_PROFILE=slow`` (README, docs/TESTING.md) is a registered profile."""
    assert settings.get_profile("slow").max_examples >= 5000
    assert settings.get_profile("ci").max_examples <= PLANNER_EXAMPLES
