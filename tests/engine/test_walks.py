"""Walks of a schedule are made once per spec and replayed (``schedule.occurrences``): the
same occurrences as a walk of its own, however consumers interleave or read on."""

from __future__ import annotations

from datetime import date
from itertools import islice

import pytest

from continuity.engine import schedule
from continuity.engine.calendar import GapSpec
from continuity.engine.schedule import Anchor, _walk, occurrences
from continuity.engine.spec import EventSpec, ItemSpec, ProgramSpec
from continuity.enums import GapUnit

MONTH = GapSpec(GapUnit.MONTH, 1)


def _refill() -> ProgramSpec:
    """A fresh spec (its own walks): two boxes, then a monthly refill forever."""
    return ProgramSpec(
        code="refill",
        currency="USD",
        events=(
            EventSpec(1, MONTH, items=(ItemSpec(1, "STARTER", 1, 2500),), shipments=2),
            EventSpec(2, MONTH, items=(ItemSpec(2, "REFILL", 1, 1500),), shipments=None),
        ),
    )


START = Anchor(date(2027, 1, 31), 1)


def test_a_second_walk_replays_the_first_ones_occurrences() -> None:
    spec = _refill()
    first = list(islice(occurrences(spec, 1, START, quantity=2), 6))
    second = list(islice(occurrences(spec, 1, START, quantity=2), 6))
    assert second == list(islice(_walk(spec, 1, START, 2), 6))
    assert all(a is b for a, b in zip(first, second, strict=True))  # not dated again
    assert [o.ship_date for o in second[:4]] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
    ]
    assert second[0].items[0].quantity == 2


def test_walks_differ_by_anchor_and_quantity() -> None:
    spec = _refill()
    later = Anchor(date(2027, 2, 15), 1)
    assert next(occurrences(spec, 1, later)).ship_date == date(2027, 2, 15)
    assert next(occurrences(spec, 1, START)).ship_date == date(2027, 1, 31)
    assert next(occurrences(spec, 1, START, quantity=3)).items[0].quantity == 3
    assert next(occurrences(spec, 1, START)).items[0].quantity == 1


def test_interleaved_consumers_each_read_the_whole_walk() -> None:
    spec = _refill()
    expected = list(islice(_walk(spec, 1, START, 1), 10))
    a, b = occurrences(spec, 1, START), occurrences(spec, 1, START)
    read_a, read_b = [], []
    for step in range(10):
        read_a.append(next(a))
        if step % 2:
            read_b += [next(b), next(b)]
    assert read_a == expected
    assert read_b == expected


def test_reading_past_what_is_kept_walks_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedule, "WALK_PREFIX", 5)
    spec = _refill()
    expected = list(islice(_walk(spec, 1, START, 1), 12))
    assert list(islice(occurrences(spec, 1, START), 12)) == expected
    assert list(islice(occurrences(spec, 1, START), 12)) == expected
    assert len(spec.derived["walks"][(1, START, 1)]._seen) == 5


def test_a_finite_walk_replays_to_its_end() -> None:
    spec = ProgramSpec(
        code="box",
        currency="USD",
        events=(EventSpec(1, MONTH, items=(ItemSpec(1, "BOX", 1, 900),), shipments=3),),
    )
    assert len(list(occurrences(spec, 1, START))) == 3
    assert [o.repeat_index for o in occurrences(spec, 1, START)] == [0, 1, 2]


def test_each_consumer_of_a_failing_walk_gets_the_error() -> None:
    spec = _refill()
    uncovered = Anchor(date(2027, 1, 31), 7)
    for _ in range(2):
        with pytest.raises(ValueError, match="7 is not in list"):
            next(occurrences(spec, 1, uncovered))


def test_a_spec_keeps_at_most_walks_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedule, "WALKS_KEPT", 3)
    spec = _refill()
    anchors = [Anchor(date(2027, 1, day), 1) for day in range(1, 6)]
    for anchor in anchors:
        assert next(occurrences(spec, 1, anchor)).ship_date == anchor.ship_date
    assert [key[1] for key in spec.derived["walks"]] == anchors[2:]
