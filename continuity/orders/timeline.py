"""An order's timeline: everything that happened to a continuity order, newest first, in one
list an agent reads while the customer is on the phone.

Four sources, each read with its own order-scoped query (``ORDER BY created … DESC LIMIT n``,
on the order's foreign-key indexes), merged: the history (who changed what), the child orders
(what shipped), the payments (what was charged) and the notifications (what the customer was
told). An entry is dated when its row was created; ``before`` pages further back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from continuity.models import ChildOrder, Notification, OrderHistoryEntry, Payment
from continuity.money import from_minor

#: At most this many entries per call.
MAX_ENTRIES = 200


class TimelineKind(StrEnum):
    HISTORY = "history"
    CHILD_ORDER = "child_order"
    PAYMENT = "payment"
    NOTIFICATION = "notification"


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: TimelineKind
    pk: int
    summary: str

    def sort_key(self) -> tuple[datetime, int, int]:
        return (self.at, list(TimelineKind).index(self.kind), self.pk)


def _money(minor: int, currency: str) -> str:
    return f"{from_minor(minor, currency)} {currency}"


async def timeline(
    order_id: int,
    *,
    limit: int,
    before: datetime | None = None,
    kinds: frozenset[TimelineKind] = frozenset(TimelineKind),
) -> list[TimelineItem]:
    """The ``limit`` newest entries of the order (older than ``before``), of ``kinds`` (the
    caller may not read every kind of object)."""
    items: list[TimelineItem] = []
    if TimelineKind.HISTORY in kinds:
        query = OrderHistoryEntry.filter(continuity_order_id=order_id)
        if before is not None:
            query = query.filter(at__lt=before)
        for h in await query.order_by("-at", "-id").limit(limit):
            said = f": {h.reason}" if h.reason else ""
            items.append(
                TimelineItem(h.at, TimelineKind.HISTORY, h.id, f"{h.action} by {h.actor}{said}")
            )
    if TimelineKind.CHILD_ORDER in kinds:
        query_c = ChildOrder.filter(continuity_order_id=order_id)
        if before is not None:
            query_c = query_c.filter(created_at__lt=before)
        for c in await query_c.order_by("-created_at", "-id").limit(limit):
            shipped = f", {c.carrier or 'shipped'} {c.tracking_number or ''}".rstrip()
            items.append(
                TimelineItem(
                    c.created_at,
                    TimelineKind.CHILD_ORDER,
                    c.id,
                    f"child order {c.number} {c.status.value}, planned "
                    f"{c.planned_ship_date or c.created_for}" + (shipped if c.shipped_at else ""),
                )
            )
    if TimelineKind.PAYMENT in kinds:
        query_p = Payment.filter(continuity_order_id=order_id)
        if before is not None:
            query_p = query_p.filter(created_at__lt=before)
        for p in await query_p.order_by("-created_at", "-id").limit(limit):
            items.append(
                TimelineItem(
                    p.created_at,
                    TimelineKind.PAYMENT,
                    p.id,
                    f"{p.purpose.value} {p.kind.value} of {_money(p.amount_minor, p.currency)} "
                    f"{p.status.value} (due {p.due_date}, {p.attempts} attempt(s))",
                )
            )
    if TimelineKind.NOTIFICATION in kinds:
        query_n = Notification.filter(continuity_order_id=order_id)
        if before is not None:
            query_n = query_n.filter(created_at__lt=before)
        for n in await query_n.order_by("-created_at", "-id").limit(limit):
            items.append(
                TimelineItem(
                    n.created_at,
                    TimelineKind.NOTIFICATION,
                    n.id,
                    f"{n.event_type} {n.channel} to {n.recipient}: {n.status.value}",
                )
            )
    items.sort(key=TimelineItem.sort_key, reverse=True)
    return items[:limit]
