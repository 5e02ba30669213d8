"""How an up-front order's total is billed: all at once, or in installments of a schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from continuity.engine.calendar import DateWalker, GapSpec
from continuity.money import split_by_percent, split_evenly


@dataclass(frozen=True)
class ScheduleSpec:
    """A payment schedule: ``count`` equal installments every ``period``, or specified lines
    of (hundredths of a percent, days after placement)."""

    code: str
    count: int
    period: GapSpec | None = None
    lines: tuple[tuple[int, int], ...] = ()
    ship_after_installment: int | None = None


@dataclass(frozen=True)
class Installment:
    number: int
    due_date: date
    amount_minor: int


def installments(total_minor: int, schedule: ScheduleSpec, placed_on: date) -> list[Installment]:
    """Split ``total_minor``; the amounts always sum exactly to it (remainder on the last one).

    The first installment of an equal schedule is due at placement, the next one ``period``
    later, and so on (month-end clamped, no drift).
    """
    if schedule.lines:
        amounts = split_by_percent(
            total_minor, [Decimal(hundredths) / 100 for hundredths, _ in schedule.lines]
        )
        dues = [placed_on + timedelta(days=offset) for _, offset in schedule.lines]
    else:
        if schedule.period is None:
            raise ValueError(f"schedule {schedule.code} has neither lines nor a period")
        amounts = split_evenly(total_minor, schedule.count)
        walker = DateWalker(placed_on)
        dues = [placed_on] + [walker.step(schedule.period) for _ in range(schedule.count - 1)]
    return [
        Installment(number, due, amount)
        for number, (due, amount) in enumerate(zip(dues, amounts, strict=True), start=1)
    ]
