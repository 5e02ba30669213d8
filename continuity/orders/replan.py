"""The one re-planner: read orders' state, plan their lines (``continuity.engine.plan``),
write back only what differs.

Placement, resume, start-date updates, swaps and quantity changes, the continuity update and
the extend job all go through here, one order or a batch of thousands alike: one query reads
the lines of every order of the batch, one its substitutions; the engine plans in memory;
one statement each deletes, rewrites and inserts lines, and one updates the orders whose
anchor or completeness moved. A plan that matches the lines writes nothing, so re-running a
job for the same date changes no row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any, NamedTuple

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.engine.plan import (
    HeldLine,
    LineChanges,
    LineRow,
    OrderSchedule,
    Plan,
    Substitution,
    changes,
    moved_dates,
    plan,
)
from continuity.engine.schedule import Anchor
from continuity.engine.spec import ProgramSpec
from continuity.enums import BillingMode, ContinuityLineStatus, EventAction
from continuity.models import ContinuityOrder
from continuity.programs import version_spec
from continuity.sql import as_date, execute, execute_many, fetch_rows
from continuity.writes import RowSet, execute_row_set

#: An order's lines as the planner reads them (``_held``, by position). ``in_flight`` needs
#: each line's child order and counts only for a run date's threshold (``load_states``'s
#: ``as_of``); without one every line reads 0 and the join is left out (``_HELD_AS_OF`` has
#: it). Unsorted: ``states_from_rows`` sorts.
_LINE_COLUMNS = """l.id, l.continuity_order_id, l.event_number, l.repeat_index, l.item_seq,
       l.action, l.product_id, l.quantity, l.price_minor, l.planned_ship_date, l.status"""
HELD_SELECT = f"""
SELECT {_LINE_COLUMNS}, 0 AS in_flight
FROM continuity_line l
WHERE l.continuity_order_id IN (:orders)
"""
_HELD_AS_OF = f"""
SELECT {_LINE_COLUMNS}, CASE WHEN c.created_for >= :as_of THEN 1 ELSE 0 END AS in_flight
FROM continuity_line l LEFT JOIN child_order c ON c.id = l.child_order_id
WHERE l.continuity_order_id IN (:orders)
"""

#: An order's substitutions (``_substitution``, by position). Unsorted: ``states_from_rows``
#: applies them in the order they were made (``id``).
SUBSTITUTIONS_SELECT = """
SELECT s.id, s.continuity_order_id, s.from_product_id, s.to_product_id, p.sku, s.price_minor
FROM order_item_substitution s JOIN product p ON p.id = s.to_product_id
WHERE s.continuity_order_id IN (:orders)
"""

#: Rows of both selects, by order, then by line key (event, repeat, item) or substitution id.
_LINE_ORDER = itemgetter(1, 2, 3, 4)
_SUBSTITUTION_ORDER = itemgetter(1, 0)

_UPDATE = """
UPDATE continuity_line SET action = :action, product_id = :product, quantity = :quantity,
       price_minor = :price, planned_ship_date = :ship, status = :status, updated_at = :now
WHERE id = :id
"""

_SAVE_ORDER = """
UPDATE continuity_order SET anchor_date = :date, anchor_event_number = :event,
       anchor_repeat_index = :repeat, anchor_run_start = :run_start,
       schedule_complete = :complete, updated_at = :now
WHERE id = :id
"""

#: The order columns the planner reads (``OrderFacts.from_row``).
ORDER_COLUMNS = (
    "id, program_id, program_version_id, first_event_number, anchor_date, "
    "anchor_event_number, anchor_repeat_index, anchor_run_start, quantity, billing_mode, "
    "schedule_complete"
)


class OrderFacts(NamedTuple):
    """What the planner needs of an order row. (Named tuples, as the planner's values are:
    see ``continuity.engine.plan.LineRow``.)"""

    id: int
    program_id: int
    program_version_id: int
    first_event: int
    anchor: Anchor
    quantity: int
    up_front: bool
    schedule_complete: bool

    @property
    def schedule_facts(self) -> tuple[Any, ...]:
        """Everything but the order's identity and program version (``id``, ``program_id``,
        ``program_version_id``, the first three fields): what makes two orders of one version
        plan alike (a projection's memo key, ``continuity.orders.projection``)."""
        return self[3:]

    @classmethod
    def of(cls, order: ContinuityOrder) -> OrderFacts:
        return cls(
            order.id,
            order.program_id,
            order.program_version_id,
            order.first_event_number,
            Anchor(
                order.anchor_date,
                order.anchor_event_number,
                order.anchor_repeat_index,
                order.anchor_run_start,
            ),
            order.quantity,
            order.billing_mode is not BillingMode.PER_SHIPMENT,
            order.schedule_complete,
        )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OrderFacts:
        run_start = row["anchor_run_start"]
        return cls(
            int(row["id"]),
            int(row["program_id"]),
            int(row["program_version_id"]),
            int(row["first_event_number"]),
            Anchor(
                as_date(row["anchor_date"]),
                int(row["anchor_event_number"]),
                int(row["anchor_repeat_index"]),
                as_date(run_start) if run_start is not None else None,
            ),
            int(row["quantity"]),
            row["billing_mode"] != BillingMode.PER_SHIPMENT.value,
            bool(row["schedule_complete"]),
        )


class OrderState(NamedTuple):
    """An order as the planner sees it: its schedule and the lines it holds."""

    facts: OrderFacts
    schedule: OrderSchedule
    held: tuple[HeldLine, ...]

    def plan(self, *, threshold: int | None, anchor: Anchor | None = None) -> Plan:
        schedule = self.schedule if anchor is None else self.schedule.with_anchor(anchor)
        return plan(schedule, self.held, threshold=threshold, up_front=self.facts.up_front)


@dataclass(frozen=True)
class Replanned:
    """What writing one order's plan changed."""

    state: OrderState
    plan: Plan
    changes: LineChanges
    #: The order's anchor or completeness changed (its row was written).
    order_changed: bool

    @property
    def replaced(self) -> int:
        """Lines the re-plan looked at again (every line that is not history)."""
        return sum(1 for line in self.state.held if line.key not in self.plan.history)

    @property
    def planned(self) -> int:
        return len(self.plan.rows)

    @property
    def moved(self) -> int:
        """Occurrences held before and after whose date changed."""
        return moved_dates(self.state.held, self.plan)

    @property
    def lines_moved(self) -> int:
        """Lines whose planned date changed."""
        before = {line.id: line.row.ship_date for line in self.state.held}
        return sum(1 for line_id, row in self.changes.update if before[line_id] != row.ship_date)

    @property
    def pending_moved(self) -> int:
        """Pending lines whose planned date changed."""
        before = {line.id: line.row for line in self.state.held}
        return sum(
            1
            for line_id, row in self.changes.update
            if before[line_id].status is ContinuityLineStatus.PENDING
            and before[line_id].ship_date != row.ship_date
        )

    @property
    def added_keys(self) -> list[tuple[int, int]]:
        held = {line.key for line in self.state.held}
        return [key for key in self.plan.keys if key not in held]


#: The enums of a line's text columns by value: a dict look-up, not an ``Enum(value)`` call
#: (about a microsecond each, two a line); an unknown value still fails as the enum fails.
_ACTIONS = {action.value: action for action in EventAction}
_STATUSES = {status.value: status for status in ContinuityLineStatus}


def _held(row: Sequence[Any]) -> HeldLine:
    """A row of ``HELD_SELECT``, by position (a row as the driver gives it, no dict made)."""
    (
        line_id,
        _order,
        event,
        repeat,
        seq,
        action,
        product_id,
        quantity,
        price,
        ship,
        status,
        in_flight,
    ) = row
    return HeldLine(
        int(line_id),
        LineRow(
            int(event),
            int(repeat),
            int(seq),
            _ACTIONS.get(action) or EventAction(action),
            int(product_id) if product_id is not None else None,
            int(quantity),
            int(price),
            as_date(ship),
            _STATUSES.get(status) or ContinuityLineStatus(status),
        ),
        bool(in_flight),
    )


def _substitution(row: Sequence[Any]) -> Substitution:
    """A row of ``SUBSTITUTIONS_SELECT``, by position."""
    _id, _order, from_product_id, to_product_id, sku, price = row
    return Substitution(
        int(from_product_id),
        int(to_product_id),
        str(sku),
        int(price) if price is not None else None,
    )


def states_from_rows(
    orders: Sequence[tuple[OrderFacts, ProgramSpec]],
    held_rows: Iterable[Sequence[Any]],
    substitution_rows: Iterable[Sequence[Any]],
) -> list[OrderState]:
    """The orders' states from the rows of ``HELD_SELECT`` and ``SUBSTITUTIONS_SELECT`` (in
    any order): each order's lines by key, its substitutions in the order they were made."""
    held: dict[int, list[HeldLine]] = defaultdict(list)
    for row in sorted(held_rows, key=_LINE_ORDER):
        held[int(row[1])].append(_held(row))
    swaps: dict[int, list[Substitution]] = defaultdict(list)
    for row in sorted(substitution_rows, key=_SUBSTITUTION_ORDER):
        swaps[int(row[1])].append(_substitution(row))
    return [
        OrderState(
            facts,
            OrderSchedule(
                spec, facts.first_event, facts.anchor, facts.quantity, tuple(swaps[facts.id])
            ),
            tuple(held[facts.id]),
        )
        for facts, spec in orders
    ]


async def load_states(
    conn: BaseDBAsyncClient,
    orders: Sequence[tuple[OrderFacts, ProgramSpec]],
    *,
    as_of: date | None,
) -> list[OrderState]:
    """The state of every order (two queries however many orders). ``as_of``: lines
    released on a child order for that date or later still count as pending (``None``:
    none does; only the threshold reads it)."""
    if not orders:
        return []
    ids = [facts.id for facts, _spec in orders]
    held = (
        await fetch_rows(conn, HELD_SELECT, orders=ids)
        if as_of is None
        else await fetch_rows(conn, _HELD_AS_OF, orders=ids, as_of=as_of)
    )
    return states_from_rows(orders, held, await fetch_rows(conn, SUBSTITUTIONS_SELECT, orders=ids))


#: A new line's columns (``new_lines``).
NEW_LINE_COLUMNS = (
    "continuity_order_id",
    "event_number",
    "repeat_index",
    "item_seq",
    "action",
    "product_id",
    "quantity",
    "price_minor",
    "planned_ship_date",
    "status",
    "created_at",
    "updated_at",
)


def new_lines(inserted: Iterable[tuple[int, LineRow]], now: datetime) -> RowSet:
    """New continuity lines (their order's id, their planned row) as rows to write: what
    ``write_lines`` inserts, and what placement writes with its other rows."""
    return RowSet(
        "continuity_line",
        NEW_LINE_COLUMNS,
        [
            (
                order,
                row.event_number,
                row.repeat_index,
                row.item_seq,
                row.action.value,
                row.product_id,
                row.quantity,
                row.price_minor,
                row.ship_date,
                row.status.value,
                now,
                now,
            )
            for order, row in inserted
        ],
    )


def _values(row: LineRow) -> dict[str, Any]:
    return {
        "event": row.event_number,
        "repeat": row.repeat_index,
        "seq": row.item_seq,
        "action": row.action.value,
        "product": row.product_id,
        "quantity": row.quantity,
        "price": row.price_minor,
        "ship": row.ship_date,
        "status": row.status.value,
    }


async def write_lines(
    conn: BaseDBAsyncClient, changed: Sequence[tuple[int, LineChanges]], now: datetime
) -> None:
    """The one writer of continuity lines: deletes, rewrites, inserts, a statement each
    (placement writes its new lines with its other rows, ``new_lines``)."""
    deleted = [line_id for _order, c in changed for line_id in c.delete]
    if deleted:
        await execute(conn, "DELETE FROM continuity_line WHERE id IN (:ids)", ids=deleted)
    await execute_many(
        conn,
        _UPDATE,
        [
            {**_values(row), "id": line_id, "now": now}
            for _o, c in changed
            for line_id, row in c.update
        ],
    )
    await execute_row_set(
        conn, new_lines(((order, row) for order, c in changed for row in c.insert), now)
    )


async def write_plans(
    conn: BaseDBAsyncClient,
    plans: Sequence[tuple[OrderState, Plan]],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> list[Replanned]:
    """Write each order's plan: its lines and, when they moved, its anchor and completeness."""
    now = now or datetime.now(UTC)
    results = []
    saves: list[dict[str, Any]] = []
    for state, planned in plans:
        line_changes = changes(state.held, planned)
        anchor = planned.schedule.anchor
        order_changed = (
            anchor != state.facts.anchor or planned.complete != state.facts.schedule_complete
        )
        if order_changed:
            saves.append(
                {
                    "id": state.facts.id,
                    "date": anchor.ship_date,
                    "event": anchor.event_number,
                    "repeat": anchor.repeat_index,
                    "run_start": anchor.run_start,
                    "complete": planned.complete,
                    "now": now,
                }
            )
        results.append(Replanned(state, planned, line_changes, order_changed))
    if not dry_run:
        await write_lines(conn, [(r.state.facts.id, r.changes) for r in results if r.changes], now)
        await execute_many(conn, _SAVE_ORDER, saves)
    return results


@dataclass
class SpecCache:
    """Program versions are immutable: one ``ProgramSpec`` per version for a whole run (read
    through the process's cache, ``continuity.programs.version_spec``)."""

    specs: dict[int, ProgramSpec] = field(default_factory=dict)

    async def get(
        self, version_id: int, program_id: int, conn: BaseDBAsyncClient | None = None
    ) -> ProgramSpec:
        if version_id not in self.specs:
            self.specs[version_id] = await version_spec(version_id, conn)
        return self.specs[version_id]


async def order_state(
    conn: BaseDBAsyncClient,
    order: ContinuityOrder,
    *,
    as_of: date | None,
    spec: ProgramSpec | None = None,
) -> OrderState:
    """One order's state, under its own program version unless ``spec`` is given."""
    facts = OrderFacts.of(order)
    if spec is None:
        spec = await SpecCache().get(order.program_version_id, order.program_id, conn)
    [state] = await load_states(conn, [(facts, spec)], as_of=as_of)
    return state


async def save(
    conn: BaseDBAsyncClient, order: ContinuityOrder, state: OrderState, planned: Plan
) -> Replanned:
    """Write one order's plan and keep the in-memory order in step with its row."""
    [result] = await write_plans(conn, [(state, planned)])
    anchor = planned.schedule.anchor
    order.anchor_date = anchor.ship_date
    order.anchor_event_number = anchor.event_number
    order.anchor_repeat_index = anchor.repeat_index
    order.anchor_run_start = anchor.run_start
    order.schedule_complete = planned.complete
    return result
