"""Calendar arithmetic for gaps between shipments, and a program's own event calendar.

``every: N months`` keeps the day of month of the date the monthly run started and clamps to
the month's last day (Jan 31 → Feb 28/29 → Mar 31): each date is computed from that start,
never from the previous clamped date, so a schedule never drifts. ``days_from_last`` adds days
and starts a new run.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from continuity.enums import GapUnit


@dataclass(frozen=True)
class GapSpec:
    unit: GapUnit
    count: int


@dataclass(frozen=True)
class CalendarEvent:
    """What the calendar needs of an event: its number, gap from the previous shipment and
    how many times it ships (``None`` = forever)."""

    number: int
    gap: GapSpec
    shipments: int | None


def add_months(start: date, months: int) -> date:
    """``start`` plus whole months, clamped to the last day of the target month."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last_day))


def months_between(start: date, end: date) -> int:
    """Whole calendar months from ``start``'s month to ``end``'s (days ignored)."""
    return (end.year * 12 + end.month) - (start.year * 12 + start.month)


class DateWalker:
    """Steps through dates gap by gap without month-end drift.

    ``run_start``: the walk continues a run of month gaps that began on that date (the first
    date is ``run_start`` plus whole months); a re-anchored schedule passes it so that a run
    started on the 31st keeps returning to the 31st.
    """

    def __init__(self, first: date, run_start: date | None = None) -> None:
        self.current = first
        self._run_start = first  # where the current run of month gaps began
        self._months = 0
        if run_start is not None and run_start <= first:
            months = months_between(run_start, first)
            if add_months(run_start, months) == first:
                self._run_start, self._months = run_start, months

    @property
    def run_start(self) -> date:
        """Where the run of month gaps the current date belongs to began."""
        return self._run_start

    def hold_until(self, earliest: date) -> date:
        """Move to ``earliest`` if the walk is before it (``not_before``); a new run starts."""
        if self.current < earliest:
            self.current = self._run_start = earliest
            self._months = 0
        return self.current

    def step(self, gap: GapSpec) -> date:
        if gap.unit is GapUnit.MONTH:
            self._months += gap.count
            self.current = add_months(self._run_start, self._months)
        else:
            self.current = self.current + timedelta(days=gap.count)
            self._run_start, self._months = self.current, 0
        return self.current


#: Bound on the occurrences walked to find a date (about 270 years of daily shipments).
MAX_OCCURRENCES = 100_000


def program_calendar(anchor: date, events: Sequence[CalendarEvent]) -> Iterator[tuple[int, date]]:
    """The program's own calendar: (event number, date) from the anchor, event 1 first.

    A finite program's calendar starts over at event 1 when its last event has passed (the
    next season), using event 1's gap, so that ``current_event`` is always defined.
    """
    if not events:
        return
    walker = DateWalker(anchor)
    first = True
    while True:
        for event in events:
            shipments = event.shipments
            index = 0
            while shipments is None or index < shipments:
                yield event.number, (anchor if first else walker.step(event.gap))
                first = False
                index += 1


def current_event(anchor: date, events: Sequence[CalendarEvent], as_of: date) -> int:
    """The event whose slot of the program calendar contains ``as_of`` (event 1 before the
    anchor)."""
    if not events:
        raise ValueError("a program without events has no current event")
    number = events[0].number
    for count, (event_number, when) in enumerate(program_calendar(anchor, events)):
        if when > as_of:
            break
        number = event_number
        if count >= MAX_OCCURRENCES:
            raise ValueError("as_of is too far past the anchor to walk the calendar")
    return number
