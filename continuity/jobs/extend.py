"""Job 2, "extend continuity lines" (SPEC §5).

Tops repeating events back up to ``repeat_threshold`` pending occurrences, never beyond their
repeat count: the engine continues each order's schedule past the lines it already holds.
An order whose every occurrence is held is marked ``schedule_complete`` and never looked at
again.

Only orders that need it are read: materialization always stops on a repeating event, so an
order needs more lines when fewer than ``repeat_threshold`` occurrences of its last held event
are pending (one indexed query). They are then extended a batch at a time: one query reads
the batch's lines, the engine plans in memory, and the new lines, history entries and
completion flags are written with one statement each.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from typing import Any

from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from continuity.engine.schedule import Anchor, Occurrence, all_occurrences, is_finite, materialize
from continuity.engine.spec import ProgramSpec
from continuity.enums import ContinuityLineStatus, EventAction
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.runs import RunRecorder, recorded_run
from continuity.models import JobRun, Program, ProgramVersion
from continuity.parameters import load_call_center_parameters
from continuity.programs import program_spec
from continuity.sql import execute, execute_many, fetch, json_text

JOB_NAME = "extend-lines"
ACTOR = f"job:{JOB_NAME}"

_OPEN = ("active", "paused", "payment_hold")

_CANDIDATES = """
SELECT o.id FROM continuity_order o
WHERE o.id > :after AND o.schedule_complete = :no AND o.status IN (:open) {filters}
  AND (SELECT COUNT(DISTINCT l.repeat_index) FROM continuity_line l
       WHERE l.continuity_order_id = o.id AND l.status = 'pending'
         AND l.event_number = (SELECT MAX(m.event_number) FROM continuity_line m
                               WHERE m.continuity_order_id = o.id)) < :threshold
ORDER BY o.id
LIMIT :size
"""

_ORDERS = """
SELECT id, program_id, program_version_id, first_event_number, anchor_date,
       anchor_event_number, anchor_repeat_index, quantity
FROM continuity_order WHERE id IN (:orders) AND schedule_complete = :no AND status IN (:open)
ORDER BY id {lock}
"""

_LINES = """
SELECT continuity_order_id, event_number, repeat_index, status FROM continuity_line
WHERE continuity_order_id IN (:orders)
"""

_INSERT_LINE = """
INSERT INTO continuity_line (continuity_order_id, event_number, repeat_index, item_seq, action,
                             product_id, quantity, price_minor, planned_ship_date, status,
                             created_at, updated_at)
VALUES (:order, :event, :repeat, :seq, :action, :product, :quantity, :price, :ship, :status,
        :now, :now)
"""

_HISTORY = """
INSERT INTO order_history_entry (continuity_order_id, at, actor, action, details)
VALUES (:order, :now, :actor, 'lines_extended', :details{json})
"""


async def extend_lines(
    as_of: date,
    *,
    env: JobEnv,
    filters: JobFilters = NO_FILTERS,
    triggered_by: str = "scheduler",
) -> JobRun:
    params = await load_call_center_parameters()
    async with recorded_run(JOB_NAME, as_of, filters.as_dict(), triggered_by) as run:
        specs: dict[int, ProgramSpec] = {}
        after = 0
        while True:
            run.checkpoint()
            ids = await _candidates(filters, after, env.batch_size, params.repeat_threshold)
            if not ids:
                break
            after = ids[-1]
            try:
                await _extend_batch(ids, params.repeat_threshold, specs, run)
            except Exception:  # a failing batch is retried order by order
                for order_id in ids:
                    try:
                        await _extend_batch([order_id], params.repeat_threshold, specs, run)
                    except Exception as exc:  # one bad order never aborts the batch
                        run.fail(f"order {order_id}", f"{type(exc).__name__}: {exc}")
    return run.run


async def _candidates(filters: JobFilters, after: int, size: int, threshold: int) -> list[int]:
    clauses, extra = "", dict[str, Any]()
    if filters.order is not None:
        clauses += " AND o.id = :order"
        extra["order"] = filters.order
    if filters.program is not None:
        clauses += " AND o.program_id IN (SELECT id FROM program WHERE code = :program)"
        extra["program"] = filters.program
    conn = get_connection("default")
    rows = await fetch(
        conn,
        _CANDIDATES.replace("{filters}", clauses),
        after=after,
        no=False,
        open=_OPEN,
        threshold=threshold,
        size=size,
        **extra,
    )
    return [int(row["id"]) for row in rows]


async def _spec(version_id: int, program_id: int, specs: dict[int, ProgramSpec]) -> ProgramSpec:
    """Versions are immutable: one spec per version for the whole run."""
    if version_id not in specs:
        version = await ProgramVersion.get(id=version_id)
        program = await Program.get(id=program_id)
        specs[version_id] = await program_spec(version, program.code)
    return specs[version_id]


async def _extend_batch(
    ids: list[int], threshold: int, specs: dict[int, ProgramSpec], run: RunRecorder
) -> None:
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        lock = "FOR UPDATE SKIP LOCKED" if conn.capabilities.dialect == "postgres" else ""
        orders = await fetch(
            conn, _ORDERS.replace("{lock}", lock), orders=ids, no=False, open=_OPEN
        )
        if not orders:
            return
        held: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for line in await fetch(conn, _LINES, orders=[o["id"] for o in orders]):
            held[int(line["continuity_order_id"])].append(line)
        new_lines: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        completed: list[int] = []
        for order in orders:
            order_id = int(order["id"])
            spec = await _spec(int(order["program_version_id"]), int(order["program_id"]), specs)
            added, complete = _plan(order, held[order_id], spec, threshold)
            new_lines += _rows(order_id, added, now)
            if added:
                history.append(
                    {
                        "order": order_id,
                        "now": now,
                        "actor": ACTOR,
                        "details": json_text({"occurrences": [list(o.key) for o in added]}),
                    }
                )
            if complete:
                completed.append(order_id)
            run.count("orders_extended" if added else "orders_checked")
            run.count("occurrences_added", len(added))
        await execute_many(conn, _INSERT_LINE, new_lines)
        await execute_many(conn, _HISTORY, history)
        if completed:
            await execute(
                conn,
                "UPDATE continuity_order SET schedule_complete = :yes WHERE id IN (:ids)",
                yes=True,
                ids=completed,
            )
            run.count("orders_completed", len(completed))


def _plan(
    order: dict[str, Any], lines: list[dict[str, Any]], spec: ProgramSpec, threshold: int
) -> tuple[list[Occurrence], bool]:
    """The occurrences to add, and whether the order then holds its whole schedule."""
    keys = frozenset((int(ln["event_number"]), int(ln["repeat_index"])) for ln in lines)
    pending = Counter(
        int(event)
        for event, _repeat in {
            (ln["event_number"], ln["repeat_index"])
            for ln in lines
            if ln["status"] == ContinuityLineStatus.PENDING.value
        }
    )
    anchor_date = order["anchor_date"]
    if isinstance(anchor_date, str):
        anchor_date = date.fromisoformat(anchor_date)
    anchor = Anchor(
        anchor_date, int(order["anchor_event_number"]), int(order["anchor_repeat_index"])
    )
    first, quantity = int(order["first_event_number"]), int(order["quantity"])
    added = materialize(
        spec,
        first,
        anchor,
        quantity=quantity,
        threshold=threshold,
        up_front=False,
        pending=pending,
        skip_keys=keys,
    )
    start = (anchor.event_number, anchor.repeat_index)
    complete = is_finite(spec, first) and len(
        all_occurrences(spec, first, anchor, quantity=quantity)
    ) <= len(added) + len({key for key in keys if key >= start})
    return added, complete


def _rows(order_id: int, added: list[Occurrence], now: datetime) -> list[dict[str, Any]]:
    rows = []
    for occurrence in added:
        status = (
            ContinuityLineStatus.SKIPPED
            if occurrence.action is EventAction.SKIP
            else ContinuityLineStatus.PENDING
        )
        for seq, item in enumerate(occurrence.items or (None,)):
            rows.append(
                {
                    "order": order_id,
                    "event": occurrence.event_number,
                    "repeat": occurrence.repeat_index,
                    "seq": seq,
                    "action": occurrence.action.value,
                    "product": item.product_id if item else None,
                    "quantity": item.quantity if item else 0,
                    "price": item.price_minor if item else 0,
                    "ship": occurrence.ship_date,
                    "status": status.value,
                    "now": now,
                }
            )
    return rows
