"""The one planner: which continuity lines an order holds, from its schedule and its state.

Placement, resume, start-date updates, swaps, quantity changes, the continuity update, the
extend job and every projection call ``plan`` (or walk ``OrderSchedule.occurrences``), so a
line is always what the schedule says, and a projection is what the jobs will do. Pure: no
database; ``continuity.orders.replan`` reads an order's rows into these values and writes the
``LineChanges`` back.

The rules, in one place:

- **History is never rewritten.** An occurrence with a line released on a child order, closed
  or cancelled, and every occurrence before the anchor, keeps its lines as they are.
- **Everything else is re-planned** from the anchor with the engine's dates, the order's
  quantity and its item substitutions: pending lines, ``skip`` events (they keep their slot in
  time) and the customer's own skips (they stay skipped, re-dated with their slot).
- **The held window never shrinks.** Every occurrence up to the last one the order holds is
  planned again; beyond it, a repeating event gets new occurrences only while fewer than
  ``threshold`` of them are pending (up-front orders: all of them; ``threshold=None``: none),
  and planning stops at the first occurrence over that limit, so lines are always a prefix
  of the schedule. Occurrences released for the run date or later (``in_flight``) still count
  as pending: a second run of the daily chain for the same date adds nothing.
- **Re-anchoring** (``resume_anchor``, ``shifted_anchor``, ``kept_anchor``) moves the first
  pending occurrence and everything after it; dates never go backwards in (event, repeat)
  order: a re-anchor before an earlier line is refused (``PlanError``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from itertools import islice
from typing import NamedTuple

from continuity.engine.schedule import (
    MAX_FINITE_OCCURRENCES,
    Anchor,
    Occurrence,
    PlannedItem,
    covered_events,
    occurrences,
)
from continuity.engine.spec import ProgramSpec
from continuity.enums import ContinuityLineStatus, EventAction

Key = tuple[int, int]

#: Lines that are history: on a child order (shipping or shipped), or cancelled.
HISTORY = frozenset(
    {ContinuityLineStatus.RELEASED, ContinuityLineStatus.CLOSED, ContinuityLineStatus.CANCELLED}
)


class PlanError(ValueError):
    """A re-plan that would break the schedule's order (a date before an earlier line)."""


@dataclass(frozen=True)
class Substitution:
    """The order ships ``to`` instead of ``from`` on every occurrence not yet released.

    ``price_minor`` is what the new item costs on the order; ``None`` keeps the price of the
    item it replaces (prepaid orders: what was paid stays paid).
    """

    from_product_id: int
    to_product_id: int
    to_sku: str
    price_minor: int | None = None


def substitute(
    items: Iterable[PlannedItem], changes: Sequence[Substitution]
) -> tuple[PlannedItem, ...]:
    """Apply the order's substitutions, oldest first (A→B then B→C ships C)."""
    result = []
    for item in items:
        for change in changes:
            if item.product_id == change.from_product_id:
                price = item.price_minor if change.price_minor is None else change.price_minor
                item = PlannedItem(change.to_product_id, change.to_sku, item.quantity, price)
        result.append(item)
    return tuple(result)


class OrderSchedule(NamedTuple):
    """What dates and items an order's occurrences have: its program version, where its
    dates are anchored, its quantity and its substitutions. (A named tuple: see ``LineRow``.)"""

    spec: ProgramSpec
    first_event: int
    anchor: Anchor
    quantity: int = 1
    substitutions: tuple[Substitution, ...] = ()

    def occurrences(self) -> Iterator[Occurrence]:
        """Every occurrence from the anchor on, with the order's quantity and substitutions
        (endless for ``forever``)."""
        stream = occurrences(self.spec, self.first_event, self.anchor, quantity=self.quantity)
        if not self.substitutions:
            return stream  # the engine's own walk, without a generator around it
        swaps = self.substitutions
        return (replace(o, items=substitute(o.items, swaps)) for o in stream)

    def with_anchor(self, anchor: Anchor) -> OrderSchedule:
        return self._replace(anchor=anchor)

    @property
    def finite(self) -> bool:
        return all(e.shipments is not None for e in covered_events(self.spec, self.first_event))


class LineRow(NamedTuple):
    """One continuity line as the plan wants it (one item of one occurrence).

    A named tuple, as ``HeldLine`` is, not a frozen dataclass: every projection, re-plan and
    job batch builds several per order, and a frozen dataclass of nine fields took 1.5 µs to
    make against 0.4 µs (docs/PERFORMANCE.md)."""

    event_number: int
    repeat_index: int
    item_seq: int
    action: EventAction
    product_id: int | None
    quantity: int
    price_minor: int
    ship_date: date
    status: ContinuityLineStatus

    @property
    def key(self) -> Key:
        return self.event_number, self.repeat_index

    @property
    def slot(self) -> tuple[int, int, int]:
        return self.event_number, self.repeat_index, self.item_seq

    @property
    def amount_minor(self) -> int:
        return self.quantity * self.price_minor


def line_rows(occurrence: Occurrence, status: ContinuityLineStatus) -> list[LineRow]:
    """The lines of one occurrence: one per item; a ``skip`` event's single empty line."""
    if not occurrence.items:
        return [
            LineRow(
                occurrence.event_number,
                occurrence.repeat_index,
                0,
                occurrence.action,
                None,
                0,
                0,
                occurrence.ship_date,
                status,
            )
        ]
    return [
        LineRow(
            occurrence.event_number,
            occurrence.repeat_index,
            seq,
            occurrence.action,
            item.product_id,
            item.quantity,
            item.price_minor,
            occurrence.ship_date,
            status,
        )
        for seq, item in enumerate(occurrence.items)
    ]


class HeldLine(NamedTuple):
    """A line the order holds now. ``in_flight``: released on a child order created for the
    run date or later, so it still counts as pending for the threshold. (A named tuple: see
    ``LineRow``.)"""

    id: int
    row: LineRow
    in_flight: bool = False

    @property
    def key(self) -> Key:
        return self.row.key

    @property
    def customer_skip(self) -> bool:
        return _is_customer_skip(self.row)


def _is_customer_skip(row: LineRow) -> bool:
    """Skipped by the customer (a ``skip`` event's line is the program's own)."""
    return row.status is ContinuityLineStatus.SKIPPED and row.action is not EventAction.SKIP


def _is_history(row: LineRow, anchor_key: Key) -> bool:
    """Kept as it is (the module's first rule): on a child order, closed or cancelled, or
    before the anchor."""
    return row.status in HISTORY or row.key < anchor_key


@dataclass(frozen=True)
class Plan:
    schedule: OrderSchedule
    #: The lines of every occurrence that is not history, in shipping order.
    rows: tuple[LineRow, ...]
    #: The occurrences kept as they are.
    history: frozenset[Key]
    #: Every occurrence of the (finite) schedule is held: nothing left to extend.
    complete: bool

    @property
    def keys(self) -> list[Key]:
        return list(dict.fromkeys(row.key for row in self.rows))


def upcoming(schedule: OrderSchedule, held: Sequence[HeldLine]) -> Iterator[Occurrence]:
    """The occurrences still to ship, in order: not history, not a ``skip`` event, not
    skipped by the customer (endless for ``forever``; bounded like every walk)."""
    passed = _passed(held, schedule.anchor)
    for occurrence in islice(schedule.occurrences(), MAX_FINITE_OCCURRENCES):
        if occurrence.ships and occurrence.key not in passed:
            yield occurrence


def _passed(held: Sequence[HeldLine], anchor: Anchor) -> set[Key]:
    """The occurrences that ship nothing more whatever the schedule says: history and the
    customer's skips, in one pass over the lines (every projection computed asks)."""
    anchor_key = anchor.key
    return {
        line.key
        for line in held
        if _is_history(line.row, anchor_key) or _is_customer_skip(line.row)
    }


def ships_later(schedule: OrderSchedule, held: Sequence[HeldLine], product_id: int) -> bool:
    """Whether any occurrence still to ship (held as a line or not) ships ``product_id``."""
    last_event = covered_events(schedule.spec, schedule.first_event)[-1].number
    for occurrence in upcoming(schedule, held):
        if any(item.product_id == product_id for item in occurrence.items):
            return True
        if occurrence.event_number == last_event:
            return False  # the last event's repeats all ship what this one ships
    return False


def history_keys(held: Sequence[HeldLine], anchor: Anchor) -> frozenset[Key]:
    anchor_key = anchor.key
    return frozenset(line.key for line in held if _is_history(line.row, anchor_key))


def plan(
    schedule: OrderSchedule,
    held: Sequence[HeldLine] = (),
    *,
    threshold: int | None,
    up_front: bool = False,
) -> Plan:
    """The lines the order should hold (see the module docstring for the rules)."""
    history = history_keys(held, schedule.anchor)
    skipped = frozenset(line.key for line in held if line.customer_skip)
    window_end = max((line.key for line in held), default=None)
    counts: Counter[int] = Counter(
        event for event, _repeat in {line.key for line in held if line.in_flight}
    )
    repeating = {e.number for e in schedule.spec.events if e.repeats}
    rows: list[LineRow] = []
    stopped = False
    walked = 0
    for occurrence in schedule.occurrences():
        walked += 1
        if walked > MAX_FINITE_OCCURRENCES:
            stopped = True
            break
        key = occurrence.key
        if key in history:
            continue
        if occurrence.action is EventAction.SKIP or key in skipped:
            rows += line_rows(occurrence, ContinuityLineStatus.SKIPPED)
            continue
        beyond = window_end is None or key > window_end
        if beyond and not up_front:
            if threshold is None:
                stopped = True
                break
            if occurrence.event_number in repeating and counts[occurrence.event_number] >= (
                threshold
            ):
                stopped = True
                break
        counts[occurrence.event_number] += 1
        rows += line_rows(occurrence, ContinuityLineStatus.PENDING)
    return Plan(schedule, tuple(rows), history, complete=not stopped)


@dataclass(frozen=True)
class LineChanges:
    """What writing a plan changes: rows to add, lines to rewrite (by id), lines to drop."""

    insert: tuple[LineRow, ...] = ()
    update: tuple[tuple[int, LineRow], ...] = ()
    delete: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.insert or self.update or self.delete)


def changes(held: Sequence[HeldLine], planned: Plan) -> LineChanges:
    """Turn the lines held into the plan's lines, touching only what differs."""
    current = {line.row.slot: line for line in held if line.key not in planned.history}
    wanted = {row.slot: row for row in planned.rows}
    insert = tuple(row for slot, row in wanted.items() if slot not in current)
    update = tuple(
        (current[slot].id, row)
        for slot, row in wanted.items()
        if slot in current and current[slot].row != row
    )
    delete = tuple(line.id for slot, line in current.items() if slot not in wanted)
    return LineChanges(insert, update, delete)


#: The values of a line a change can touch, as ``LineRow`` names them (the slot never changes).
LINE_FIELDS = ("product_id", "quantity", "price_minor", "ship_date", "action", "status")


@dataclass(frozen=True)
class LineDiff:
    """One line a plan adds (``before`` is ``None``), drops (``after`` is ``None``) or
    rewrites: what a preview shows, old → new."""

    slot: tuple[int, int, int]
    before: LineRow | None
    after: LineRow | None

    @property
    def fields(self) -> tuple[str, ...]:
        """The values that differ (``LINE_FIELDS`` names); empty for an added or dropped
        line."""
        if self.before is None or self.after is None:
            return ()
        return tuple(
            name for name in LINE_FIELDS if getattr(self.before, name) != getattr(self.after, name)
        )


def line_diffs(held: Sequence[HeldLine], line_changes: LineChanges) -> list[LineDiff]:
    """``changes`` line by line, in slot order: a line kept in its slot (same event, repeat
    and item) is a change of values, never a removal and an addition."""
    by_id = {line.id: line.row for line in held}
    diffs = [LineDiff(by_id[line_id].slot, by_id[line_id], None) for line_id in line_changes.delete]
    diffs += [LineDiff(row.slot, by_id[line_id], row) for line_id, row in line_changes.update]
    diffs += [LineDiff(row.slot, None, row) for row in line_changes.insert]
    return sorted(diffs, key=lambda diff: diff.slot)


def moved_dates(held: Sequence[HeldLine], planned: Plan) -> int:
    """How many occurrences held before and after the plan changed date."""
    before = {line.key: line.row.ship_date for line in held if line.key not in planned.history}
    after = {row.key: row.ship_date for row in planned.rows}
    return sum(1 for key, when in after.items() if key in before and before[key] != when)


def first_pending(held: Sequence[HeldLine]) -> HeldLine | None:
    pending = [line for line in held if line.row.status is ContinuityLineStatus.PENDING]
    return min(pending, key=lambda line: line.key, default=None)


def _not_before_history(held: Sequence[HeldLine], anchor: Anchor) -> Anchor:
    earlier = [line.row.ship_date for line in held if line.key < anchor.key]
    if earlier and anchor.ship_date < max(earlier):
        raise PlanError(
            f"event {anchor.event_number} (repeat {anchor.repeat_index}) would ship on "
            f"{anchor.ship_date.isoformat()}, before an earlier shipment on "
            f"{max(earlier).isoformat()}"
        )
    return anchor


def resume_anchor(held: Sequence[HeldLine], resume: date) -> Anchor | None:
    """Resuming on ``resume``: if the first pending occurrence is overdue it ships that day
    and the rest follow with the program's gaps (nothing dropped, nothing bunched); else no
    date moves (``None``)."""
    first = first_pending(held)
    if first is None or first.row.ship_date >= resume:
        return None
    return Anchor(resume, *first.key)


def shifted_anchor(held: Sequence[HeldLine], days: int) -> Anchor | None:
    """Moving the order's dates by ``days``: the first pending occurrence moves that much
    and the rest follow it. ``None`` when nothing is pending."""
    first = first_pending(held)
    if first is None:
        return None
    return _not_before_history(held, Anchor(first.row.ship_date + timedelta(days=days), *first.key))


def kept_anchor(schedule: OrderSchedule, held: Sequence[HeldLine]) -> Anchor | None:
    """An anchor at the first pending occurrence on its planned date, continuing its month
    run (the continuity update re-plans from there with another version's events)."""
    first = first_pending(held)
    if first is None:
        return None
    run_start = None
    for occurrence in islice(schedule.occurrences(), MAX_FINITE_OCCURRENCES):
        if occurrence.key >= first.key:
            if occurrence.key == first.key and occurrence.ship_date == first.row.ship_date:
                run_start = occurrence.run_start
            break
    return Anchor(first.row.ship_date, *first.key, run_start=run_start)
