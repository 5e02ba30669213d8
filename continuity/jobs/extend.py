"""Job 2, "extend continuity lines" (SPEC §5).

Tops repeating events back up to ``repeat_threshold`` pending occurrences, never beyond their
repeat count: the engine continues the order's schedule past the lines it already holds. An
order whose every occurrence is held is marked ``schedule_complete`` and never looked at again.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from tortoise.transactions import in_transaction

from continuity.engine.schedule import Anchor, all_occurrences, is_finite, materialize
from continuity.enums import (
    ContinuityLineStatus,
    ContinuityOrderStatus,
    EventAction,
)
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.locking import claim_order, id_list
from continuity.jobs.runs import RunRecorder, recorded_run
from continuity.models import ContinuityLine, ContinuityOrder, JobRun, Program, ProgramVersion
from continuity.orders.history import record
from continuity.parameters import load_call_center_parameters
from continuity.programs import program_spec

JOB_NAME = "extend-lines"

_OPEN = (
    ContinuityOrderStatus.ACTIVE,
    ContinuityOrderStatus.PAUSED,
    ContinuityOrderStatus.PAYMENT_HOLD,
)


async def extend_lines(
    as_of: date,
    *,
    env: JobEnv,
    filters: JobFilters = NO_FILTERS,
    triggered_by: str = "scheduler",
) -> JobRun:
    params = await load_call_center_parameters()
    async with recorded_run(JOB_NAME, as_of, filters.as_dict(), triggered_by) as run:
        after = 0
        while True:
            query = ContinuityOrder.filter(schedule_complete=False, status__in=_OPEN, id__gt=after)
            if filters.order is not None:
                query = query.filter(id=filters.order)
            if filters.program is not None:
                query = query.filter(program__code=filters.program)
            ids = await id_list(query.order_by("id").limit(env.batch_size))
            if not ids:
                break
            after = ids[-1]
            for order_id in ids:
                try:
                    await extend_order(order_id, params.repeat_threshold, run)
                except Exception as exc:  # one bad order never aborts the batch
                    run.fail(f"order {order_id}", f"{type(exc).__name__}: {exc}")
    return run.run


async def extend_order(order_id: int, threshold: int, run: RunRecorder | None = None) -> int:
    """Add the lines an order is due to hold; return how many occurrences were added."""
    async with in_transaction() as conn:
        order = await claim_order(order_id, conn)
        if order is None or order.schedule_complete or order.status not in _OPEN:
            return 0
        version = await ProgramVersion.filter(id=order.program_version_id).using_db(conn).get()
        program = await Program.filter(id=order.program_id).using_db(conn).get()
        spec = await program_spec(version, program.code)
        lines = await ContinuityLine.filter(continuity_order_id=order.id).using_db(conn)
        held = frozenset((line.event_number, line.repeat_index) for line in lines)
        pending = Counter({event: len(keys) for event, keys in _pending_keys(lines).items()})
        anchor = Anchor(order.anchor_date, order.anchor_event_number, order.anchor_repeat_index)
        added = materialize(
            spec,
            order.first_event_number,
            anchor,
            quantity=order.quantity,
            threshold=threshold,
            up_front=False,
            pending=pending,
            skip_keys=held,
        )
        rows = [
            ContinuityLine(
                continuity_order_id=order.id,
                event_number=o.event_number,
                repeat_index=o.repeat_index,
                item_seq=seq,
                action=o.action,
                product_id=item.product_id if item else None,
                quantity=item.quantity if item else 0,
                price_minor=item.price_minor if item else 0,
                planned_ship_date=o.ship_date,
                status=(
                    ContinuityLineStatus.SKIPPED
                    if o.action is EventAction.SKIP
                    else ContinuityLineStatus.PENDING
                ),
            )
            for o in added
            for seq, item in enumerate(o.items or (None,))
        ]
        if rows:
            await ContinuityLine.bulk_create(rows, using_db=conn)
        complete = is_finite(spec, order.first_event_number) and len(
            all_occurrences(spec, order.first_event_number, anchor, quantity=order.quantity)
        ) <= len(added) + len(_keys_from_anchor(held, anchor))
        if complete:
            await ContinuityOrder.filter(id=order.id).using_db(conn).update(schedule_complete=True)
        if added:
            await record(
                order.id,
                "lines_extended",
                actor=f"job:{JOB_NAME}",
                details={"occurrences": [list(o.key) for o in added]},
                using_db=conn,
            )
        if run is not None:
            run.count("orders_extended" if added else "orders_checked")
            run.count("occurrences_added", len(added))
            if complete:
                run.count("orders_completed")
        return len(added)


def _pending_keys(lines: list[ContinuityLine]) -> dict[int, set[tuple[int, int]]]:
    keys: dict[int, set[tuple[int, int]]] = {}
    for line in lines:
        if line.status is ContinuityLineStatus.PENDING:
            keys.setdefault(line.event_number, set()).add((line.event_number, line.repeat_index))
    return keys


def _keys_from_anchor(held: frozenset[tuple[int, int]], anchor: Anchor) -> set[tuple[int, int]]:
    start = (anchor.event_number, anchor.repeat_index)
    return {key for key in held if key >= start}
