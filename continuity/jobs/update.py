"""Job 3, "continuity update" (SPEC §5): orders on an old program version move to the live one.

Only what has not been released changes: the one re-planner plans the order again from its
first pending occurrence (keeping that occurrence's date, and the day of month its monthly
run started on) with the new version's items, prices, quantities and gaps, and the order's
own substitutions and quantity; released history is never rewritten; customers' skips
survive. An order whose next event no longer exists in the new version ends there (its
pending lines are cancelled). Prepaid orders keep the total they paid. Each move is logged in
the order's history. ``preview_continuity_update`` is the dry run: the same plan, nothing
written, shown line by line old → new (a line kept in its slot whose price changes is a
change, not a removal and an addition).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from continuity.engine.plan import HISTORY, LineDiff, LineRow, Plan, kept_anchor, line_diffs
from continuity.engine.spec import ProgramSpec
from continuity.enums import ContinuityLineStatus, EventAction
from continuity.jobs.batch import run_batches
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.locking import claim_order, id_list
from continuity.jobs.runs import RunRecorder, recorded_run
from continuity.models import (
    ContinuityLine,
    ContinuityOrder,
    JobRun,
    Product,
    ProgramVersion,
)
from continuity.notifications.events import EventType, emit
from continuity.orders.changes import now
from continuity.orders.history import record
from continuity.orders.replan import (
    OrderFacts,
    OrderState,
    Replanned,
    load_states,
    write_plans,
)
from continuity.orders.status import OPEN
from continuity.parameters import load_call_center_parameters
from continuity.programs import version_spec

JOB_NAME = "continuity-update"


#: ``LineRow`` names → the preview's words for a line's values.
FIELD_NAMES = {
    "product_id": "sku",
    "quantity": "quantity",
    "price_minor": "price",
    "ship_date": "planned_ship_date",
    "action": "action",
    "status": "status",
}


@dataclass(frozen=True)
class LineValues:
    """A line's values as a merchandiser reads them (``sku`` is ``None`` on a skip line)."""

    sku: str | None
    quantity: int
    price_minor: int
    planned_ship_date: date
    action: EventAction
    status: ContinuityLineStatus


@dataclass(frozen=True)
class LineUpdate:
    """One line of an order the update adds, removes or changes, old → new."""

    event_number: int
    repeat_index: int
    item_seq: int
    before: LineValues | None
    after: LineValues | None
    #: What differs on a changed line (``FIELD_NAMES`` values); empty when added or removed.
    fields: tuple[str, ...]

    @property
    def kind(self) -> str:
        """``added``, ``removed`` or ``changed``."""
        if self.before is None:
            return "added"
        return "removed" if self.after is None else "changed"


@dataclass(frozen=True)
class OrderUpdate:
    """What moving one order to the live version changes."""

    order_id: int
    order_number: str
    from_version: int
    to_version: int
    #: Lines that go: slots the new version no longer has, or cancelled when the order ends.
    lines_removed: int
    #: Lines in slots the order did not hold.
    lines_added: int
    #: Lines kept in their slot whose values change.
    lines_changed: int
    date_changes: int
    cancelled_events: tuple[int, ...]
    currency: str = "USD"
    #: Line by line (the preview only), in event, repeat and item order.
    lines: tuple[LineUpdate, ...] = ()


@dataclass(frozen=True)
class _Move:
    """One order's move, planned: a re-plan under the new version, or the end of the order
    when its next event is gone."""

    old: ProgramVersion
    new: ProgramVersion
    state: OrderState
    plan: Plan | None
    cancelled_events: tuple[int, ...] = ()
    #: The lines cancelled when the order ends: its pending and skipped lines from the
    #: first pending occurrence on.
    cancelled_lines: tuple[int, ...] = ()


async def _stale_orders(filters: JobFilters, after: int, size: int) -> list[int]:
    """Open orders whose version is not their program's live (highest) version."""
    query = ContinuityOrder.filter(status__in=list(OPEN), id__gt=after)
    if filters.order is not None:
        query = query.filter(id=filters.order)
    if filters.program is not None:
        query = query.filter(program__code=filters.program)
    live: dict[int, int] = {}
    for version in await ProgramVersion.all().order_by("number").only("id", "program_id"):
        live[version.program_id] = version.id
    if not live:
        return []
    query = query.exclude(program_version_id__in=list(live.values()))
    return await id_list(query.order_by("id").limit(size))


async def _plans(
    orders: list[ContinuityOrder], threshold: int, as_of: date | None, conn: BaseDBAsyncClient
) -> list[_Move]:
    """Each order's move, planned for all of them at once: the versions in two queries, the
    orders' states in two per spec (``load_states``), the specs from the process's cache."""
    if not orders:
        return []
    olds = {
        v.id: v
        for v in await ProgramVersion.filter(
            id__in={o.program_version_id for o in orders}
        ).using_db(conn)
    }
    lives: dict[int, ProgramVersion] = {}
    for version in await (
        ProgramVersion.filter(program_id__in={o.program_id for o in orders})
        .order_by("number")
        .using_db(conn)
    ):
        lives[version.program_id] = version
    facts = [OrderFacts.of(order) for order in orders]
    currents = await load_states(
        conn, [(f, await version_spec(f.program_version_id, conn)) for f in facts], as_of=as_of
    )
    specs = [await version_spec(lives[f.program_id].id, conn) for f in facts]
    states = await load_states(conn, list(zip(facts, specs, strict=True)), as_of=as_of)
    return [
        _move(order, olds[order.program_version_id], lives[order.program_id], c, s, spec, threshold)
        for order, c, s, spec in zip(orders, currents, states, specs, strict=True)
    ]


def _move(
    order: ContinuityOrder,
    old: ProgramVersion,
    new: ProgramVersion,
    current: OrderState,
    state: OrderState,
    spec: ProgramSpec,
    threshold: int,
) -> _Move:
    anchor = kept_anchor(current.schedule, current.held)
    numbers = {event.number for event in spec.events}
    if anchor is None:  # nothing pending: the order keeps its lines, on the new version
        return _Move(old, new, state, None)
    if anchor.event_number not in numbers or order.first_event_number not in numbers:
        gone = [
            line for line in state.held if line.row.status not in HISTORY and line.key >= anchor.key
        ]
        events = tuple(sorted({line.key[0] for line in gone}))
        return _Move(old, new, state, None, events, tuple(line.id for line in gone))
    return _Move(old, new, state, state.plan(threshold=threshold, anchor=anchor))


def _diffs(move: _Move, result: Replanned | None) -> list[LineDiff]:
    if result is not None:
        return line_diffs(result.state.held, result.changes)
    cancelled = set(move.cancelled_lines)
    return [
        LineDiff(line.row.slot, line.row, None) for line in move.state.held if line.id in cancelled
    ]


def _values(row: LineRow | None, skus: dict[int, str]) -> LineValues | None:
    if row is None:
        return None
    return LineValues(
        skus[row.product_id] if row.product_id is not None else None,
        row.quantity,
        row.price_minor,
        row.ship_date,
        row.action,
        row.status,
    )


def _summary(
    order: ContinuityOrder,
    move: _Move,
    result: Replanned | None,
    skus: dict[int, str] | None = None,
) -> OrderUpdate:
    """The counts (the job's history and notice) and, given the SKUs, the lines (the
    preview)."""
    diffs = _diffs(move, result)
    lines: tuple[LineUpdate, ...] = ()
    if skus is not None:
        lines = tuple(
            LineUpdate(
                *diff.slot,
                _values(diff.before, skus),
                _values(diff.after, skus),
                tuple(FIELD_NAMES[name] for name in diff.fields),
            )
            for diff in diffs
        )
    return OrderUpdate(
        order_id=order.id,
        order_number=order.number,
        from_version=move.old.number,
        to_version=move.new.number,
        lines_removed=sum(1 for diff in diffs if diff.after is None),
        lines_added=sum(1 for diff in diffs if diff.before is None),
        lines_changed=sum(
            1 for diff in diffs if diff.before is not None and diff.after is not None
        ),
        date_changes=result.moved if result is not None else 0,
        cancelled_events=move.cancelled_events,
        currency=order.currency,
        lines=lines,
    )


async def preview_continuity_update(filters: JobFilters = NO_FILTERS) -> list[OrderUpdate]:
    """The dry run: what the continuity update would change, order by order."""
    params = await load_call_center_parameters()
    skus = dict(await Product.all().values_list("id", "sku"))  # the catalog is bounded
    result: list[OrderUpdate] = []
    after = 0
    while True:
        ids = await _stale_orders(filters, after, 500)
        if not ids:
            return result
        after = ids[-1]
        async with in_transaction() as conn:
            orders = await ContinuityOrder.filter(id__in=ids).order_by("id").using_db(conn)
            moves = await _plans(orders, params.repeat_threshold, None, conn)
            replans = iter(
                await write_plans(
                    conn,
                    [(move.state, move.plan) for move in moves if move.plan is not None],
                    dry_run=True,
                )
            )
            for order, move in zip(orders, moves, strict=True):
                planned = next(replans) if move.plan is not None else None
                result.append(_summary(order, move, planned, skus))


async def continuity_update(
    as_of: date,
    *,
    env: JobEnv,
    filters: JobFilters = NO_FILTERS,
    triggered_by: str = "scheduler",
) -> JobRun:
    params = await load_call_center_parameters()
    async with recorded_run(JOB_NAME, as_of, filters.as_dict(), triggered_by) as run:

        async def stale(after: int, size: int) -> list[int]:
            return await _stale_orders(filters, after, size)

        async def update(ids: list[int], _room: int | None) -> None:
            for order_id in ids:  # one transaction per order: a move is a few rows
                await _update_order(order_id, as_of, params.repeat_threshold, run)

        await run_batches(run, select=stale, step=update, size=env.batch_size)
    return run.run


async def _update_order(order_id: int, as_of: date, threshold: int, run: RunRecorder) -> None:
    async with in_transaction() as conn:
        order = await claim_order(order_id, conn)
        if order is None or order.status not in OPEN:
            return
        [move] = await _plans([order], threshold, as_of, conn)
        if move.old.id == move.new.id:
            return
        result = None
        if move.cancelled_events:
            await (
                ContinuityLine.filter(id__in=list(move.cancelled_lines))
                .using_db(conn)
                .update(status=ContinuityLineStatus.CANCELLED, updated_at=now())
            )
            order.schedule_complete = True
        elif move.plan is not None:
            [result] = await write_plans(conn, [(move.state, move.plan)])
            anchor = move.plan.schedule.anchor
            order.anchor_date, order.anchor_event_number = anchor.ship_date, anchor.event_number
            order.anchor_repeat_index, order.anchor_run_start = (
                anchor.repeat_index,
                anchor.run_start,
            )
            order.schedule_complete = move.plan.complete
        order.program_version_id = move.new.id
        await order.save(
            update_fields=[
                "program_version_id",
                "anchor_date",
                "anchor_event_number",
                "anchor_repeat_index",
                "anchor_run_start",
                "schedule_complete",
                "updated_at",
            ],
            using_db=conn,
        )
        summary = _summary(order, move, result)
        entry = await record(
            order.id,
            "program_updated",
            actor=f"job:{JOB_NAME}",
            reason=f"program version {move.old.number} → {move.new.number}",
            details={
                "from_version": move.old.number,
                "to_version": move.new.number,
                "lines_removed": summary.lines_removed,
                "lines_added": summary.lines_added,
                "lines_changed": summary.lines_changed,
                "date_changes": summary.date_changes,
                "cancelled_events": list(summary.cancelled_events),
            },
            using_db=conn,
        )
        await emit(
            order,
            EventType.PROGRAM_CHANGED,
            {
                "program_version_before": move.old.number,
                "program_version_after": move.new.number,
                "lines_removed": summary.lines_removed,
                "lines_added": summary.lines_added,
                "lines_changed": summary.lines_changed,
                "date_changes": summary.date_changes,
                "cancelled_events": list(summary.cancelled_events),
            },
            conn=conn,
            discriminator=f"h{entry.id}",
        )
        run.count("orders_updated")
        run.count("lines_replanned", summary.lines_added)
