"""Planned occurrences of a continuity order: the one place that knows the schedule rules.

The planner (``continuity.engine.plan``) walks these occurrences for placement, every change,
every job and every projection, so a preview is always what the jobs will do. Rules
(SPEC §3–§4):

- events ship in number order, from the order's first event (event 1, or the program's current
  event); ``repeat: N`` ships N+1 times, ``forever`` never ends; ``skip`` occupies its slot and
  ships nothing; ``end`` (or the last covered event) ends the order;
- the first occurrence ships on the schedule anchor (the start date at placement); each later one
  a gap after the previous (the gap of the event being shipped), never before its ``not_before``;
- dates are computed from the anchor, so monthly schedules never drift (see ``calendar``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from itertools import islice
from typing import NamedTuple

from continuity.engine.calendar import DateWalker, current_event
from continuity.engine.spec import EventSpec, ProgramSpec
from continuity.enums import EventAction, OrderStart

#: Safety bound on the occurrences of one finite order (a program is at most this long).
MAX_FINITE_OCCURRENCES = 10_000


@dataclass(frozen=True)
class PlannedItem:
    product_id: int
    sku: str
    quantity: int
    price_minor: int

    @property
    def amount_minor(self) -> int:
        return self.quantity * self.price_minor


@dataclass(frozen=True)
class Occurrence:
    event_number: int
    repeat_index: int
    action: EventAction
    ship_date: date
    items: tuple[PlannedItem, ...]
    #: Where the run of month gaps that dated this occurrence began (``ship_date`` itself
    #: when it starts a run): re-anchoring here with it keeps later months on the same day.
    run_start: date | None = None

    # Kept once computed (``cached_property`` stores the value in the instance, so a later
    # read is a plain attribute): a walk's occurrences are shared by every order that
    # replays it (``_Walk``), and every projection and plan reads these of each.
    @cached_property
    def key(self) -> tuple[int, int]:
        return self.event_number, self.repeat_index

    @cached_property
    def ships(self) -> bool:
        return self.action is not EventAction.SKIP

    @cached_property
    def amount_minor(self) -> int:
        return sum(item.amount_minor for item in self.items)


class Anchor(NamedTuple):
    """Where the dates of an order are computed from: the occurrence ``(event, repeat)`` ships
    on ``ship_date``. Placement anchors at the first event; a resume re-anchors.

    ``run_start``: the anchor date continues a run of month gaps begun on that date (a
    re-plan that keeps an occurrence's date keeps its run, so the 31st stays the 31st).

    A named tuple, not a frozen dataclass: every order's state makes one, and every walk looks
    its anchor up (``occurrences``): a tuple is made and hashed in C.
    """

    ship_date: date
    event_number: int
    repeat_index: int = 0
    run_start: date | None = None

    @property
    def key(self) -> tuple[int, int]:
        return self.event_number, self.repeat_index


def start_date(spec: ProgramSpec, order_date: date, prompted: date | None = None) -> date:
    """Prompted date (or the order date) plus the program's ``days_after_order``."""
    return (prompted or order_date) + timedelta(days=spec.days_after_order)


def first_event_number(spec: ProgramSpec, start: date) -> int:
    """Event 1, or for ``current_event`` programs the event the program calendar is in."""
    if spec.order_start is OrderStart.CURRENT_EVENT and spec.current_event_anchor is not None:
        return current_event(
            spec.current_event_anchor, [e.calendar_event for e in spec.events], start
        )
    return spec.events[0].number


def covered_events(spec: ProgramSpec, first_event: int) -> tuple[EventSpec, ...]:
    """The events an order starting at ``first_event`` covers: up to the first ``end`` event,
    and at most the parent product's event count (computed once per spec and first event)."""
    key = ("covered", first_event)
    events: tuple[EventSpec, ...] | None = spec.derived.get(key)
    if events is None:
        events = spec.derived[key] = _covered_events(spec, first_event)
    return events


def _covered_events(spec: ProgramSpec, first_event: int) -> tuple[EventSpec, ...]:
    numbers = [e.number for e in spec.events]
    events = spec.events[numbers.index(first_event) :]
    if spec.parent_event_count:
        events = events[: spec.parent_event_count]
    for index, event in enumerate(events):
        if event.action is EventAction.END:
            return events[: index + 1]
    return events


def _event_positions(spec: ProgramSpec, first_event: int) -> dict[int, int]:
    """Where each covered event is in ``covered_events`` (by event number)."""
    key = ("positions", first_event)
    positions: dict[int, int] | None = spec.derived.get(key)
    if positions is None:
        positions = {}
        for index, event in enumerate(covered_events(spec, first_event)):
            positions.setdefault(event.number, index)  # the first, as ``list.index``
        spec.derived[key] = positions
    return positions


def _event_items(
    spec: ProgramSpec, first_event: int, index: int, quantity: int
) -> tuple[PlannedItem, ...]:
    """The items one occurrence of the ``index``-th covered event ships for an order of
    ``quantity`` (none for a ``skip`` event): the same for every occurrence, so built once
    per spec and quantity (the items are frozen: occurrences share them)."""
    key = ("items", first_event, index, quantity)
    items: tuple[PlannedItem, ...] | None = spec.derived.get(key)
    if items is None:
        event = covered_events(spec, first_event)[index]
        items = (
            ()
            if event.action is EventAction.SKIP
            else tuple(
                PlannedItem(i.product_id, i.sku, i.quantity * quantity, i.price_minor)
                for i in event.items
            )
        )
        spec.derived[key] = items
    return items


def is_finite(spec: ProgramSpec, first_event: int) -> bool:
    return all(e.shipments is not None for e in covered_events(spec, first_event))


def occurrences(
    spec: ProgramSpec, first_event: int, anchor: Anchor, *, quantity: int = 1
) -> Iterator[Occurrence]:
    """Every occurrence from the anchor on, in shipping order (endless for ``forever``).

    ``quantity`` (the parent line's quantity) multiplies every item quantity. The walk is a
    function of the spec (immutable), the first event, the anchor and the quantity alone, and
    the day's orders on a program share them (placed alike, never resumed): each such walk is
    made once per spec and replayed (``_Walk``), not dated again occurrence by occurrence for
    every projection, plan and job.
    """
    walks: OrderedDict[tuple[int, Anchor, int], _Walk] | None = spec.derived.get("walks")
    if walks is None:
        walks = spec.derived["walks"] = OrderedDict()
    key = (first_event, anchor, quantity)
    walk = walks.get(key)
    if walk is None:
        walk = walks[key] = _Walk(spec, first_event, anchor, quantity)
        if len(walks) > WALKS_KEPT:
            walks.popitem(last=False)
    else:
        walks.move_to_end(key)
    return walk.replay()


#: Walks a spec keeps (``occurrences``), the least recently used dropped first.
WALKS_KEPT = 512
#: Occurrences a kept walk holds: a consumer that reads on past them walks again on its own
#: (a walk is read only as far as its consumer needs: a projection's next few, a plan up to
#: its threshold). At most ``WALKS_KEPT * WALK_PREFIX`` occurrences (~40 MB) a spec.
WALK_PREFIX = 256


class _Walk:
    """One walk of a schedule, shared: the occurrences dated so far, and the walk that dates
    the next ones on demand (occurrences are frozen, so consumers may share them). Only the
    event loop's thread walks; a consumer's ``next`` dates at most one occurrence and returns,
    so two consumers reading in turn never re-enter the shared walk. A walk that fails (a
    date past the year 9999) is not shared past the failure: each consumer walks there on its
    own and gets the error itself."""

    __slots__ = ("_args", "_rest", "_seen", "_shared")

    def __init__(self, spec: ProgramSpec, first_event: int, anchor: Anchor, quantity: int) -> None:
        self._args = (spec, first_event, anchor, quantity)
        self._seen: list[Occurrence] = []
        self._rest: Iterator[Occurrence] | None = _walk(spec, first_event, anchor, quantity)
        #: Whether the next occurrences come from the shared walk (else each consumer's own).
        self._shared = True

    def replay(self) -> Iterator[Occurrence]:
        if self._rest is None:  # walked to its end
            return iter(self._seen)
        return self._replay()

    def _replay(self) -> Iterator[Occurrence]:
        seen = self._seen
        index = 0
        while True:
            if index < len(seen):
                yield seen[index]
                index += 1
                continue
            rest = self._rest
            if rest is None:
                return
            if index >= WALK_PREFIX or not self._shared:  # on its own from here
                yield from islice(_walk(*self._args), index, None)
                return
            try:
                occurrence = next(rest, None)
            except Exception:
                self._shared = False
                raise
            if occurrence is None:
                self._rest = None
                return
            seen.append(occurrence)


def _walk(
    spec: ProgramSpec, first_event: int, anchor: Anchor, quantity: int
) -> Iterator[Occurrence]:
    """The occurrences from the anchor on, dated one by one (``occurrences``)."""
    events = covered_events(spec, first_event)
    start_index = _event_positions(spec, first_event).get(anchor.event_number)
    if start_index is None:  # not a covered event: the error ``list.index`` gives
        start_index = [e.number for e in events].index(anchor.event_number)
    walker = DateWalker(anchor.ship_date, anchor.run_start)
    first = True
    for index in range(start_index, len(events)):
        event = events[index]
        repeat_index = anchor.repeat_index if event.number == anchor.event_number else 0
        items = _event_items(spec, first_event, index, quantity)
        while event.shipments is None or repeat_index < event.shipments:
            when = walker.current if first else walker.step(event.gap)
            if event.not_before is not None:
                when = walker.hold_until(event.not_before)
            first = False
            yield Occurrence(
                event.number, repeat_index, event.action, when, items, walker.run_start
            )
            repeat_index += 1


def all_occurrences(
    spec: ProgramSpec, first_event: int, anchor: Anchor, *, quantity: int = 1
) -> list[Occurrence]:
    """Every occurrence of a finite order (up-front billing needs them all)."""
    if not is_finite(spec, first_event):
        raise ValueError(f"program {spec.code} repeats forever: its occurrences never end")
    return list(
        islice(occurrences(spec, first_event, anchor, quantity=quantity), MAX_FINITE_OCCURRENCES)
    )
