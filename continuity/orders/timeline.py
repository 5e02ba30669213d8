"""An order's timeline: everything that happened to a continuity order, newest first, in one
list an agent reads while the customer is on the phone.

Four sources, each read with one query for all the orders asked for (the ``n`` newest rows
of each order, on the order's foreign-key indexes: ``keyset.pages``), merged: the history
(who changed what), the child orders (what shipped), the payments (what was charged) and the
notifications (what the customer was told). An entry is dated when its row was created;
``before`` pages further back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from continuity import keyset
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


def _history(h: OrderHistoryEntry) -> TimelineItem:
    said = f": {h.reason}" if h.reason else ""
    return TimelineItem(h.at, TimelineKind.HISTORY, h.id, f"{h.action} by {h.actor}{said}")


def _child_order(c: ChildOrder) -> TimelineItem:
    shipped = f", {c.carrier or 'shipped'} {c.tracking_number or ''}".rstrip()
    return TimelineItem(
        c.created_at,
        TimelineKind.CHILD_ORDER,
        c.id,
        f"child order {c.number} {c.status.value}, planned "
        f"{c.planned_ship_date or c.created_for}" + (shipped if c.shipped_at else ""),
    )


def _payment(p: Payment) -> TimelineItem:
    return TimelineItem(
        p.created_at,
        TimelineKind.PAYMENT,
        p.id,
        f"{p.purpose.value} {p.kind.value} of {_money(p.amount_minor, p.currency)} "
        f"{p.status.value} (due {p.due_date}, {p.attempts} attempt(s))",
    )


def _notification(n: Notification) -> TimelineItem:
    return TimelineItem(
        n.created_at,
        TimelineKind.NOTIFICATION,
        n.id,
        f"{n.event_type} {n.channel} to {n.recipient}: {n.status.value}",
    )


#: Each source: its rows of an order, newest first, and how a row reads in the timeline.
_SOURCES: dict[TimelineKind, tuple[keyset.Relation[Any], Callable[[Any], TimelineItem]]] = {
    TimelineKind.HISTORY: (
        keyset.Relation(
            OrderHistoryEntry, "continuity_order_id", keyset.Ordering(("at", "id"), True)
        ),
        _history,
    ),
    TimelineKind.CHILD_ORDER: (
        keyset.Relation(
            ChildOrder, "continuity_order_id", keyset.Ordering(("created_at", "id"), True)
        ),
        _child_order,
    ),
    TimelineKind.PAYMENT: (
        keyset.Relation(
            Payment, "continuity_order_id", keyset.Ordering(("created_at", "id"), True)
        ),
        _payment,
    ),
    TimelineKind.NOTIFICATION: (
        keyset.Relation(
            Notification, "continuity_order_id", keyset.Ordering(("created_at", "id"), True)
        ),
        _notification,
    ),
}


async def timelines(
    order_ids: Sequence[int],
    *,
    limit: int,
    before: datetime | None = None,
    kinds: frozenset[TimelineKind] = frozenset(TimelineKind),
) -> dict[int, list[TimelineItem]]:
    """The ``limit`` newest entries of each order (older than ``before``), of ``kinds`` (the
    caller may not read every kind of object): one statement per kind for all the orders
    (``keyset.pages``), so that a page of orders with their timelines costs the same queries
    for 2 orders or 20."""
    # (before, 0): in a newest-first list, the rows after that key are those older than it
    window = keyset.Window(
        size=limit, after=None if before is None else (before.astimezone(UTC), 0)
    )
    items: dict[int, list[TimelineItem]] = {order_id: [] for order_id in order_ids}
    for kind in TimelineKind:
        if kind not in kinds:
            continue
        relation, entry = _SOURCES[kind]
        for order_id, page in (await keyset.pages(relation, order_ids, window)).items():
            items[order_id].extend(entry(row) for row in page.rows)
    return {
        order_id: sorted(found, key=TimelineItem.sort_key, reverse=True)[:limit]
        for order_id, found in items.items()
    }


async def timeline(
    order_id: int,
    *,
    limit: int,
    before: datetime | None = None,
    kinds: frozenset[TimelineKind] = frozenset(TimelineKind),
) -> list[TimelineItem]:
    """One order's timeline (see ``timelines``)."""
    return (await timelines([order_id], limit=limit, before=before, kinds=kinds))[order_id]
