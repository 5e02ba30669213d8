"""Job 2, "extend continuity lines" (SPEC §5).

Tops repeating events back up to ``repeat_threshold`` pending occurrences, never beyond their
repeat count: the one re-planner (``continuity.orders.replan``) plans each order from its
anchor, with its quantity and item substitutions, and the lines it does not hold yet are
added. An order whose every occurrence is held is marked ``schedule_complete`` and never
looked at again.

Only orders that need it are read: materialization always stops on a repeating event, so an
order needs more lines when fewer than ``repeat_threshold`` occurrences of its last held event
are pending (one indexed query). An occurrence released on a child order for the run date (or
later) still counts as pending, so a second run for the same date, after the child-order job
released some, adds nothing. The orders are then extended a batch at a time through the one
batch loop: one query reads the batch's lines, the planner works in memory, and the new lines,
history entries and completion flags are written with a statement each.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tortoise.transactions import in_transaction

from continuity.connection import connection
from continuity.jobs.batch import Select, in_windows, run_batches, target_seconds
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.runs import RunRecorder, recorded_run
from continuity.models import ContinuityOrder, JobRun
from continuity.orders.replan import ORDER_COLUMNS, OrderFacts, SpecCache, load_states, write_plans
from continuity.orders.status import OPEN_VALUES
from continuity.parameters import load_call_center_parameters
from continuity.sql import execute_many, fetch, for_update, json_text

JOB_NAME = "extend-lines"
ACTOR = f"job:{JOB_NAME}"

#: ``o.status || ''``: an expression, so that SQLite walks the orders by id from the keyset
#: position instead of reading every open order through the (status, program) index, then
#: sorting them, for every batch (98 of the 120 s of the job on a second day at 1 M orders).
_CANDIDATES = """
SELECT o.id FROM continuity_order o
WHERE o.id > :after {upto}
  AND o.schedule_complete = :no AND o.status || '' IN (:open) {filters}
  AND (SELECT COUNT(DISTINCT l.repeat_index) FROM continuity_line l
       WHERE l.continuity_order_id = o.id
         AND (l.status = 'pending'
              OR (l.status = 'released'
                  AND EXISTS (SELECT 1 FROM child_order c
                              WHERE c.id = l.child_order_id AND c.created_for >= :as_of)))
         AND l.event_number = (SELECT MAX(m.event_number) FROM continuity_line m
                               WHERE m.continuity_order_id = o.id)) < :threshold
ORDER BY o.id
LIMIT :size
"""

_ORDERS = (
    "SELECT "
    + ORDER_COLUMNS
    + """ FROM continuity_order
WHERE id IN (:orders) AND schedule_complete = :no AND status || '' IN (:open)
ORDER BY id {lock}
"""
)

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
    threshold = params.repeat_threshold
    specs = SpecCache()
    async with recorded_run(JOB_NAME, as_of, filters.as_dict(), triggered_by) as run:

        async def in_range(after: int, upto: int | None, size: int) -> list[int]:
            return await _candidates(filters, after, upto, size, threshold, as_of)

        async def unbounded(after: int, size: int) -> list[int]:
            return await in_range(after, None, size)

        candidates: Select = unbounded
        if target_seconds() is not None:
            # SQLite: one statement over the whole table held the API's one connection;
            # PostgreSQL serves the API on other pooled connections, and a bound on the ids
            # made its planner read the whole table per statement (70 s on a second day)
            last = await ContinuityOrder.all().order_by("-id").first()
            candidates = in_windows(in_range, last.id if last is not None else 0)

        async def extend(ids: list[int], _room: int | None) -> None:
            await _extend_batch(ids, as_of, threshold, specs, run)

        await run_batches(run, select=candidates, step=extend, size=env.batch_size)
    return run.run


async def _candidates(
    filters: JobFilters, after: int, upto: int | None, size: int, threshold: int, as_of: date
) -> list[int]:
    clauses, extra = "", dict[str, Any]()
    if upto is not None:
        extra["upto"] = upto
    if filters.order is not None:
        clauses += " AND o.id = :order"
        extra["order"] = filters.order
    if filters.program is not None:
        clauses += " AND o.program_id IN (SELECT id FROM program WHERE code = :program)"
        extra["program"] = filters.program
    conn = connection()
    rows = await fetch(
        conn,
        _CANDIDATES.replace("{filters}", clauses).replace(
            "{upto}", "" if upto is None else "AND o.id <= :upto"
        ),
        after=after,
        no=False,
        open=OPEN_VALUES,
        threshold=threshold,
        as_of=as_of,
        size=size,
        **extra,
    )
    return [int(row["id"]) for row in rows]


async def _extend_batch(
    ids: list[int], as_of: date, threshold: int, specs: SpecCache, run: RunRecorder
) -> None:
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        rows = await fetch(
            conn,
            _ORDERS.replace("{lock}", for_update(conn, skip_locked=True)),
            orders=ids,
            no=False,
            open=OPEN_VALUES,
        )
        if not rows:
            return
        orders = [OrderFacts.from_row(row) for row in rows]
        states = await load_states(
            conn,
            [(o, await specs.get(o.program_version_id, o.program_id, conn)) for o in orders],
            as_of=as_of,
        )
        results = await write_plans(
            conn, [(state, state.plan(threshold=threshold)) for state in states], now=now
        )
        history = []
        for result in results:
            added = result.added_keys
            if added:
                history.append(
                    {
                        "order": result.state.facts.id,
                        "now": now,
                        "actor": ACTOR,
                        "details": json_text({"occurrences": [list(key) for key in added]}),
                    }
                )
            run.count("orders_extended" if added else "orders_checked")
            run.count("occurrences_added", len(added))
            if result.plan.complete and not result.state.facts.schedule_complete:
                run.count("orders_completed")
        await execute_many(conn, _HISTORY, history)
