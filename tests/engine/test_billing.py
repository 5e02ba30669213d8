from __future__ import annotations

from datetime import date
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from continuity.engine.billing import Installment, ScheduleSpec, installments
from continuity.engine.calendar import GapSpec
from continuity.enums import GapUnit

THREE_MONTHLY = ScheduleSpec("three-monthly", 3, period=GapSpec(GapUnit.MONTH, 1))
DEPOSIT = ScheduleSpec("deposit-balance", 2, lines=((3000, 0), (7000, 30)))


def test_three_equal_installments_with_the_remainder_last() -> None:
    assert installments(10000, THREE_MONTHLY, date(2027, 1, 31)) == [
        Installment(1, date(2027, 1, 31), 3333),
        Installment(2, date(2027, 2, 28), 3333),
        Installment(3, date(2027, 3, 31), 3334),
    ]


def test_specified_lines() -> None:
    assert installments(12999, DEPOSIT, date(2027, 1, 1)) == [
        Installment(1, date(2027, 1, 1), 3899),
        Installment(2, date(2027, 1, 31), 9100),
    ]


@st.composite
def schedules(draw: st.DrawFn) -> ScheduleSpec:
    if draw(st.booleans()):
        return ScheduleSpec("eq", draw(st.integers(2, 24)), period=GapSpec(GapUnit.MONTH, 1))
    parts = draw(st.lists(st.integers(1, 5000), min_size=1, max_size=6))
    scale = 10000 / sum(parts)
    hundredths = [max(1, int(p * scale)) for p in parts[:-1]]
    hundredths.append(10000 - sum(hundredths))
    if hundredths[-1] <= 0:
        hundredths = [10000]
    offsets = sorted(
        draw(st.lists(st.integers(0, 365), min_size=len(hundredths), max_size=len(hundredths)))
    )
    return ScheduleSpec("sp", len(hundredths), lines=tuple(zip(hundredths, offsets, strict=True)))


@given(st.integers(0, 10**9), schedules(), st.dates(date(2020, 1, 1), date(2035, 1, 1)))
def test_installments_always_sum_exactly_to_the_total(
    total: int, schedule: ScheduleSpec, placed_on: date
) -> None:
    planned = installments(total, schedule, placed_on)
    assert sum(i.amount_minor for i in planned) == total
    assert all(i.amount_minor >= 0 for i in planned)
    assert [i.number for i in planned] == list(range(1, len(planned) + 1))
    assert planned[0].due_date >= placed_on
    assert all(a.due_date <= b.due_date for a, b in pairwise(planned))
