"""Notices that the calendar causes rather than a change: written by the payments job.

SPEC §5 gives "process continuity payments" the notifications, so its run ends with these:

- ``installment_bill``: each scheduled installment, ``on_account_bill_days`` before it is due
  (the notice of an automatic charge that installment programs owe their customers);
- ``upcoming_shipment``: each occurrence of an active order planned from the run date to
  ``upcoming_shipment_days`` after it and not shipped yet (pending, or on a child order not yet
  shipped), with the amount a per-shipment order will be charged for it;
- ``plan_renewal``: for a prepaid order (up front or installments), ``renewal_notice_days``
  before its last shipment: the prepaid term ends there and the plan does not renew by itself.

Each key names the occurrence or installment *and its date*, so a run repeated for the same
day (or a second replica) writes nothing, catching up after downtime sends what is still
ahead, and an occurrence whose date moves (a resume re-plans it) is announced again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any, Protocol, cast

from tortoise.connection import get_connection
from tortoise.functions import Max
from tortoise.queryset import QuerySet

from continuity.enums import (
    BillingMode,
    ChildOrderStatus,
    ContinuityLineStatus,
    ContinuityOrderStatus,
    PaymentPurpose,
    PaymentStatus,
)
from continuity.models import ChildOrder, ContinuityLine, ContinuityOrder, Payment, Product
from continuity.notifications.events import Event, EventType, emit, emit_many, money
from continuity.notifications.policy import NotificationPolicy, current_policy
from continuity.orders.status import NOT_BILLED
from continuity.sql import as_date, fetch, id_list

_PREPAID = (BillingMode.UP_FRONT, BillingMode.INSTALLMENTS)
#: A released line still to ship: its child order has not left the warehouse.
_NOT_SHIPPED = (ChildOrderStatus.CREATED, ChildOrderStatus.AUTHORIZED)


class Counts(Protocol):
    def count(self, what: str, n: int = 1) -> None: ...


def _orders_filter(
    query: QuerySet[Any], prefix: str, order: int | None, program: str | None
) -> QuerySet[Any]:
    if order is not None:
        query = query.filter(**{f"{prefix}id": order})
    if program is not None:
        query = query.filter(**{f"{prefix}program__code": program})
    return query


async def issue_notices(
    as_of: date,
    *,
    bill_days: int,
    counts: Counts,
    order: int | None = None,
    program: str | None = None,
    policy: NotificationPolicy | None = None,
) -> None:
    """Every notice due on ``as_of`` (see the module); ``order``/``program`` restrict the run."""
    policy = policy or current_policy()
    await installment_bills(as_of, bill_days, counts, order, program, policy)
    await upcoming_shipments(as_of, counts, order, program, policy)
    await plan_renewals(as_of, counts, order, program, policy)


async def installment_bills(
    as_of: date,
    lead_days: int,
    counts: Counts,
    order: int | None,
    program: str | None,
    policy: NotificationPolicy,
) -> None:
    upcoming = await _orders_filter(
        Payment.filter(
            status=PaymentStatus.SCHEDULED,
            purpose=PaymentPurpose.INSTALLMENT,
            due_date__lte=as_of + timedelta(days=lead_days),
        ).exclude(continuity_order__status__in=list(NOT_BILLED)),
        "continuity_order__",
        order,
        program,
    ).prefetch_related("continuity_order")
    for payment in upcoming:
        parent = cast(ContinuityOrder, payment.continuity_order)
        written = await emit(
            parent,
            EventType.INSTALLMENT_BILL,
            {
                "installment": payment.installment_number,
                "amount": money(payment.amount_minor, payment.currency),
                "due_date": payment.due_date.isoformat(),
                "issued_for": as_of.isoformat(),
            },
            conn=None,
            discriminator=f"installment-{payment.installment_number}@{payment.due_date}",
            policy=policy,
        )
        if written:
            counts.count("bills_issued")


#: Orders announced per batch: one read of their lines, one outbox write.
BATCH = 1000


async def upcoming_shipments(
    as_of: date,
    counts: Counts,
    order: int | None,
    program: str | None,
    policy: NotificationPolicy,
) -> None:
    """Batched: a million orders have tens of thousands of shipments a few days ahead.

    First the ids of the orders with a line in the window, from the (status, planned ship
    date) index; then their lines a batch of orders at a time, by order id (``_BATCH_LINES``).
    One query over
    the whole window with a keyset ``LIMIT`` let PostgreSQL pick a plan that read most of the
    table per batch once the day before had released lines (minutes at a million orders)."""
    horizon = as_of + timedelta(days=policy.upcoming_shipment_days)
    window = {"planned_ship_date__gte": as_of, "planned_ship_date__lte": horizon}
    candidates = sorted(
        set(
            await id_list(
                _orders_filter(
                    ContinuityLine.filter(
                        status__in=[ContinuityLineStatus.PENDING, ContinuityLineStatus.RELEASED],
                        **window,
                    ),
                    "continuity_order__",
                    order,
                    program,
                ).distinct(),
                "continuity_order_id",
            )
        )
    )
    conn = get_connection("default")
    for start in range(0, len(candidates), BATCH):
        rows = [
            row
            for row in await fetch(
                conn, _BATCH_LINES, orders=candidates[start : start + BATCH], active="active"
            )
            if _announced(row, as_of, horizon)
        ]
        rows.sort(
            key=lambda r: (
                r["continuity_order_id"],
                r["planned_ship_date"],
                r["event_number"],
                r["repeat_index"],
                r["item_seq"],
            )
        )
        if not rows:
            continue
        written = await _announce(rows, policy)
        if written:
            counts.count("shipment_notices", written)


#: Every line of a batch of orders, by the lines' order index only: with the window's
#: conditions in SQL, SQLite picked the (status, planned_ship_date) index and read the whole
#: window for every batch. The window is applied in Python (``_announced``).
_BATCH_LINES = """
SELECT l.continuity_order_id, l.event_number, l.repeat_index, l.item_seq, l.planned_ship_date,
       l.product_id, l.quantity, l.price_minor, l.child_order_id, l.status,
       c.status AS child_status
FROM continuity_line l
JOIN continuity_order o ON o.id = l.continuity_order_id
LEFT JOIN child_order c ON c.id = l.child_order_id
WHERE l.continuity_order_id IN (:orders) AND o.status = :active
"""


def _announced(row: dict[str, Any], as_of: date, horizon: date) -> bool:
    """In the window, and still to ship: pending, or on a child order not shipped yet."""
    row["planned_ship_date"] = as_date(row["planned_ship_date"])
    if not as_of <= row["planned_ship_date"] <= horizon:
        return False
    if row["status"] == ContinuityLineStatus.PENDING.value:
        return True
    return row["status"] == ContinuityLineStatus.RELEASED.value and row["child_status"] in {
        status.value for status in _NOT_SHIPPED
    }


async def _announce(rows: list[dict[str, Any]], policy: NotificationPolicy) -> int:
    parents = {
        int(cast(int, o[0])): o
        for o in await ContinuityOrder.filter(
            id__in={int(r["continuity_order_id"]) for r in rows}
        ).values_list("id", "number", "customer_id", "currency", "billing_mode")
    }
    names = await _product_names(r["product_id"] for r in rows)
    children = await _child_numbers(r["child_order_id"] for r in rows)
    occurrences: OrderedDict[tuple[int, int, int, date], list[dict[str, Any]]] = OrderedDict()
    for row in rows:
        ship = row["planned_ship_date"]
        ship = date.fromisoformat(ship) if isinstance(ship, str) else ship
        key = (int(row["continuity_order_id"]), row["event_number"], row["repeat_index"], ship)
        occurrences.setdefault(key, []).append(row)
    events = []
    for (order_id, event_number, repeat_index, ship_date), group in occurrences.items():
        _id, _number, _customer, currency, mode = parents[order_id]
        charged = str(mode) == BillingMode.PER_SHIPMENT.value
        amount = sum(r["quantity"] * r["price_minor"] for r in group) if charged else 0
        child = group[0]["child_order_id"]
        events.append(
            Event(
                order_id=order_id,
                type=EventType.UPCOMING_SHIPMENT,
                payload={
                    "event_number": event_number,
                    "repeat_index": repeat_index,
                    "ship_date": ship_date.isoformat(),
                    "items": [
                        {
                            "sku": names.get(r["product_id"], ("", ""))[0],
                            "name": names.get(r["product_id"], ("", ""))[1],
                            "quantity": r["quantity"],
                        }
                        for r in group
                        if r["product_id"] is not None
                    ],
                    "amount": money(amount, str(currency)),
                    "prepaid": not charged,
                    "child_order": children.get(child) if child is not None else None,
                },
                discriminator=f"{event_number}.{repeat_index}@{ship_date.isoformat()}",
            )
        )
    return await emit_many(
        events,
        conn=None,
        policy=policy,
        orders={i: (str(o[1]), int(cast(int, o[2]))) for i, o in parents.items()},
    )


async def plan_renewals(
    as_of: date,
    counts: Counts,
    order: int | None,
    program: str | None,
    policy: NotificationPolicy,
) -> None:
    horizon = as_of + timedelta(days=policy.renewal_notice_days)
    # The prepaid orders first, then their lines: grouping every line of a million orders
    # to find the few prepaid ones was most of this job's time on SQLite.
    prepaid = await id_list(
        _orders_filter(
            ContinuityOrder.filter(status=ContinuityOrderStatus.ACTIVE, billing_mode__in=_PREPAID),
            "",
            order,
            program,
        ).order_by("id")
    )
    rows: list[dict[str, Any]] = []
    for start in range(0, len(prepaid), BATCH):
        rows += (
            await ContinuityLine.filter(
                status__in=[ContinuityLineStatus.PENDING, ContinuityLineStatus.RELEASED],
                continuity_order_id__in=prepaid[start : start + BATCH],
            )
            .annotate(last=Max("planned_ship_date"))
            .group_by("continuity_order_id")
            .values("continuity_order_id", "last")
        )
    for row in sorted(rows, key=lambda r: int(r["continuity_order_id"])):
        last = row["last"]
        if isinstance(last, str):  # SQLite returns the aggregate as text
            last = date.fromisoformat(last)
        if not isinstance(last, date) or not as_of <= last <= horizon:
            continue
        parent = await ContinuityOrder.get(id=int(row["continuity_order_id"]))
        written = await emit(
            parent,
            EventType.PLAN_RENEWAL,
            {
                "kind": "term_end",
                "billing_mode": parent.billing_mode.value,
                "last_ship_date": last.isoformat(),
                "total": money(parent.total_minor, parent.currency),
                "renews": False,
            },
            conn=None,
            discriminator=f"term-end@{last.isoformat()}",
            policy=policy,
        )
        if written:
            counts.count("renewal_notices")


async def _product_names(ids: Iterable[int | None]) -> dict[int, tuple[str, str]]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {p.id: (p.sku, p.name) for p in await Product.filter(id__in=wanted)}


async def _child_numbers(ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {c.id: c.number for c in await ChildOrder.filter(id__in=wanted)}
