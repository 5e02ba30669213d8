"""Re-planning an order's pending lines from a new anchor and/or a new program version.

Used by the continuity update (a new version), the agent's "update start date", and resume
after a pause. Released, closed and cancelled lines are history and are never rewritten; a
customer's own skip (a normal occurrence marked skipped) survives the re-plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.engine.schedule import Anchor, Occurrence, all_occurrences, is_finite, materialize
from continuity.engine.spec import ProgramSpec
from continuity.enums import ContinuityLineStatus, EventAction
from continuity.models import ContinuityLine, ContinuityOrder


@dataclass
class Replan:
    """What a re-plan changes (computed first, so that dry runs can show it)."""

    anchor: Anchor | None
    removed: list[ContinuityLine] = field(default_factory=list)
    added: list[Occurrence] = field(default_factory=list)
    customer_skips: frozenset[tuple[int, int]] = frozenset()
    cancelled_events: list[int] = field(default_factory=list)
    complete: bool = False

    @property
    def date_changes(self) -> list[tuple[tuple[int, int], date, date]]:
        """(occurrence, old date, new date) for occurrences held before and after."""
        old = {(ln.event_number, ln.repeat_index): ln.planned_ship_date for ln in self.removed}
        return [
            (o.key, old[o.key], o.ship_date)
            for o in self.added
            if o.key in old and old[o.key] != o.ship_date
        ]


def plan_replan(
    order: ContinuityOrder,
    lines: Sequence[ContinuityLine],
    spec: ProgramSpec,
    *,
    threshold: int,
    anchor_date: date | None = None,
    up_front: bool = False,
) -> Replan:
    """Pending lines out, the engine's occurrences from the first pending one in.

    ``anchor_date`` moves the first pending occurrence to that date (resume, new start date);
    by default it keeps its planned date.
    """
    replaceable = [
        line
        for line in lines
        if line.status in (ContinuityLineStatus.PENDING, ContinuityLineStatus.SKIPPED)
    ]
    pending = sorted(
        (line for line in replaceable if line.status is ContinuityLineStatus.PENDING),
        key=lambda line: (line.planned_ship_date, line.event_number, line.repeat_index),
    )
    if not pending:
        return Replan(anchor=None, complete=order.schedule_complete)
    first = pending[0]
    start_key = (first.event_number, first.repeat_index)
    removed = [line for line in replaceable if (line.event_number, line.repeat_index) >= start_key]
    removed_ids = {line.id for line in removed}
    kept = {(line.event_number, line.repeat_index) for line in lines if line.id not in removed_ids}
    customer_skips = frozenset(
        (line.event_number, line.repeat_index)
        for line in removed
        if line.status is ContinuityLineStatus.SKIPPED and line.action is not EventAction.SKIP
    )
    numbers = {event.number for event in spec.events}
    if first.event_number not in numbers or order.first_event_number not in numbers:
        return Replan(
            anchor=None,
            removed=removed,
            complete=True,
            cancelled_events=sorted({line.event_number for line in removed}),
        )
    anchor = Anchor(anchor_date or first.planned_ship_date, *start_key)
    added = materialize(
        spec,
        order.first_event_number,
        anchor,
        quantity=order.quantity,
        threshold=threshold,
        up_front=up_front,
        skip_keys=frozenset(kept - customer_skips),
    )
    complete = is_finite(spec, order.first_event_number) and len(
        all_occurrences(spec, order.first_event_number, anchor, quantity=order.quantity)
    ) <= len(added) + len({key for key in kept if key >= start_key})
    return Replan(anchor, removed, added, customer_skips, [], complete)


async def apply_replan(order: ContinuityOrder, replan: Replan, conn: BaseDBAsyncClient) -> None:
    """Write a re-plan inside the caller's transaction."""
    if replan.removed:
        await (
            ContinuityLine.filter(id__in=[line.id for line in replan.removed])
            .using_db(conn)
            .delete()
        )
    rows = []
    for occurrence in replan.added:
        if occurrence.action is EventAction.SKIP or occurrence.key in replan.customer_skips:
            status = ContinuityLineStatus.SKIPPED
        else:
            status = ContinuityLineStatus.PENDING
        for seq, item in enumerate(occurrence.items or (None,)):
            rows.append(
                ContinuityLine(
                    continuity_order_id=order.id,
                    event_number=occurrence.event_number,
                    repeat_index=occurrence.repeat_index,
                    item_seq=seq,
                    action=occurrence.action,
                    product_id=item.product_id if item else None,
                    quantity=item.quantity if item else 0,
                    price_minor=item.price_minor if item else 0,
                    planned_ship_date=occurrence.ship_date,
                    status=status,
                )
            )
    if rows:
        await ContinuityLine.bulk_create(rows, using_db=conn)
    if replan.anchor is not None:
        order.anchor_date = replan.anchor.ship_date
        order.anchor_event_number = replan.anchor.event_number
        order.anchor_repeat_index = replan.anchor.repeat_index
    order.schedule_complete = replan.complete
    await order.save(
        update_fields=[
            "anchor_date",
            "anchor_event_number",
            "anchor_repeat_index",
            "schedule_complete",
            "program_version_id",
            "updated_at",
        ],
        using_db=conn,
    )
