"""Agent changes over a chosen set of orders, with a dry run first (SPEC §5, job 3).

"Update start date" moves each order's first pending occurrence by a number of days (a new
start date, or days to add) and re-plans the rest after it; "substitute product" ships another
item instead of one on every occurrence still to ship. Either applies to all the chosen orders
in ONE transaction, or to none: an error on any order rolls everything back. A dry run
computes the same changes and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from tortoise.transactions import in_transaction

from continuity.engine.plan import PlanError, shifted_anchor
from continuity.enums import ContinuityLineStatus
from continuity.errors import ContinuityError, ErrorCode, InvalidInput
from continuity.models import ContinuityLine, ContinuityOrder
from continuity.orders.changes import clean_reason, locked_order, require_open, swap_item
from continuity.orders.history import record
from continuity.orders.replan import order_state, save

MAX_ORDERS = 1000
MAX_SHIFT = timedelta(days=366)


@dataclass(frozen=True)
class StartDateChange:
    order_id: int
    order_number: str
    from_start: date
    to_start: date
    lines_moved: int


@dataclass(frozen=True)
class Substitution:
    order_id: int
    order_number: str
    lines_changed: int


class _DryRun(Exception):
    """Raised at the end of a dry run so that its transaction rolls back."""


def _check_orders(order_ids: Sequence[int]) -> list[int]:
    unique = list(dict.fromkeys(order_ids))
    if not unique:
        raise InvalidInput("name at least one order", field=["input", "orderIds"])
    if len(unique) > MAX_ORDERS:
        raise InvalidInput(f"at most {MAX_ORDERS} orders at once", field=["input", "orderIds"])
    return unique


async def update_start_date(
    order_ids: Sequence[int],
    *,
    new_start: date | None = None,
    add_days: int | None = None,
    actor: str,
    reason: str | None = None,
    dry_run: bool = False,
) -> list[StartDateChange]:
    """Move each order's dates: its first pending occurrence by the shift, every later one
    re-planned after it by the one re-planner (released history stays; a ``skip`` event and
    the customer's skips keep their slot). A shift of zero days is refused, as is one that
    would date a shipment before one already made."""
    field = ["input", "newStartDate" if new_start is not None else "addDays"]
    if (new_start is None) == (add_days is None):
        raise InvalidInput("give either newStartDate or addDays", field=["input", "addDays"])
    if add_days is not None and not 0 < abs(add_days) <= MAX_SHIFT.days:
        raise InvalidInput(
            f"must be a non-zero number of days up to {MAX_SHIFT.days}", field=["input", "addDays"]
        )
    why = clean_reason(reason)
    changes: list[StartDateChange] = []
    try:
        async with in_transaction() as conn:
            for order_id in _check_orders(order_ids):
                order = await locked_order(order_id, conn)
                require_open(order)
                shift = (
                    (new_start - order.start_date) if new_start else timedelta(days=add_days or 0)
                )
                if not shift:
                    raise InvalidInput(
                        f"order {order.number} already starts on {order.start_date.isoformat()}: "
                        "nothing would move",
                        field=field,
                    )
                if abs(shift) > MAX_SHIFT:
                    raise InvalidInput("moves the start date by more than a year", field=field)
                state = await order_state(conn, order, as_of=None)
                try:
                    anchor = shifted_anchor(state.held, shift.days)
                except PlanError as error:
                    raise InvalidInput(f"order {order.number}: {error}", field=field) from None
                if anchor is None:
                    raise InvalidInput(
                        f"order {order.number} has no pending shipment to move",
                        field=["input", "orderIds"],
                        code=ErrorCode.INVALID_STATE,
                    )
                result = await save(conn, order, state, state.plan(threshold=None, anchor=anchor))
                before = order.start_date
                order.start_date = before + shift
                await order.save(update_fields=["start_date", "updated_at"], using_db=conn)
                await record(
                    order.id,
                    "start_date_updated",
                    actor=actor,
                    reason=why,
                    details={
                        "before": before.isoformat(),
                        "after": order.start_date.isoformat(),
                        "days": shift.days,
                        "lines_moved": result.lines_moved,
                    },
                    using_db=conn,
                )
                changes.append(
                    StartDateChange(
                        order.id, order.number, before, order.start_date, result.pending_moved
                    )
                )
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return changes


async def substitute_product(
    order_ids: Sequence[int],
    from_sku: str,
    to_sku: str,
    *,
    today: date,
    actor: str,
    reason: str | None = None,
    dry_run: bool = False,
) -> list[Substitution]:
    """Swap ``from_sku`` for ``to_sku`` on every chosen order (``swap_item``: the pending
    lines and every later occurrence); orders that ship nothing of ``from_sku`` any more are
    reported with 0 lines and left alone. ``lines_changed``: the pending lines swapped."""
    result: list[Substitution] = []
    try:
        async with in_transaction():
            for order_id in _check_orders(order_ids):
                count = await ContinuityLine.filter(
                    continuity_order_id=order_id,
                    status=ContinuityLineStatus.PENDING,
                    product__sku=from_sku.strip(),
                ).count()
                try:
                    order = await swap_item(
                        order_id, from_sku, to_sku, today=today, actor=actor, reason=reason
                    )
                except ContinuityError as error:
                    if error.code is ErrorCode.NOT_FOUND and error.field == ("input", "fromSku"):
                        untouched = await ContinuityOrder.get(id=order_id)
                        result.append(Substitution(untouched.id, untouched.number, 0))
                        continue
                    raise
                result.append(Substitution(order.id, order.number, count))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return result
