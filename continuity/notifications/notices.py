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

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol, cast

from tortoise.functions import Max
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from continuity.connection import connection
from continuity.enums import (
    BillingMode,
    ChildOrderStatus,
    ContinuityLineStatus,
    ContinuityOrderStatus,
    PaymentPurpose,
    PaymentStatus,
)
from continuity.models import ContinuityLine, ContinuityOrder, Payment
from continuity.notifications.events import EventType, emit, money
from continuity.notifications.policy import NotificationPolicy, current_policy
from continuity.notifications.setbased import (
    Recipients,
    events_of,
    insert_sql,
    json_bool,
    money_sql,
)
from continuity.orders.status import NOT_BILLED
from continuity.sql import dialect, fetch, id_list, plan_for_today

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


#: Orders announced per statement.
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
    date) index; then one ``INSERT … SELECT`` per batch of orders writes their notices
    (``_UPCOMING``), the payloads built by the database (``setbased``): built in Python they
    were most of the payments job's time at a million orders. One query over the whole window
    with a keyset ``LIMIT`` let PostgreSQL pick a plan that read most of the table per batch
    once the day before had released lines (minutes at a million orders)."""
    recipients = Recipients.of(EventType.UPCOMING_SHIPMENT, policy)
    if not recipients:
        return
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
    postgres = dialect(connection()) == "postgres"
    sql = _upcoming_sql(postgres, recipients.email, len(recipients.hooks))
    params = recipients.params(datetime.now(UTC))
    for start in range(0, len(candidates), BATCH):
        async with in_transaction() as conn:
            await plan_for_today(conn)
            written = await fetch(
                conn,
                sql,
                orders=candidates[start : start + BATCH],
                as_of=as_of,
                horizon=horizon,
                **params,
            )
        announced = events_of(str(row["dedupe_key"]) for row in written)
        if announced:
            counts.count("shipment_notices", announced)


def _announced(line: str, child: str) -> str:
    """The condition on a line (alias ``line``, its child order ``child`` left-joined) to be
    announced: in the window, and still to ship (pending, or on a child order not shipped
    yet). The status is tested as an expression: on the (status, planned_ship_date) index
    SQLite read the whole window for every batch of orders, instead of their lines by the
    lines' order index."""
    not_shipped = ", ".join(f"'{status.value}'" for status in _NOT_SHIPPED)
    return f"""{line}.planned_ship_date >= :as_of AND {line}.planned_ship_date <= :horizon
    AND ({line}.status || '' = '{ContinuityLineStatus.PENDING.value}'
         OR ({line}.status || '' = '{ContinuityLineStatus.RELEASED.value}'
             AND {child}.status IN ({not_shipped})))"""


#: The occurrences of a batch of active orders still to ship in the window, one event each
#: (``upcoming_shipment``, docs/NOTIFICATIONS.md): the lines announced, grouped by occurrence
#: and ship date (a key names both: a re-planned occurrence is announced again). ``items`` are
#: its lines with a product in item order; ``child_order`` is the child order of its first
#: line; ``amount`` what a per-shipment order will be charged (0 when prepaid). SQLite's keys
#: are in sorted order, as ``json_text`` writes them.
_UPCOMING = """
occurrences AS (
    SELECT l.continuity_order_id AS order_id, l.event_number AS e, l.repeat_index AS r,
           l.planned_ship_date AS day, CAST(SUM(l.quantity * l.price_minor) AS BIGINT) AS amount,
           MIN(l.item_seq) AS first_seq
    FROM continuity_line l LEFT JOIN child_order c ON c.id = l.child_order_id
    WHERE l.continuity_order_id IN (:orders) AND {announced_l}
    GROUP BY l.continuity_order_id, l.event_number, l.repeat_index, l.planned_ship_date
),
events AS (
    SELECT o.id AS order_id, oc.email, x.day, x.e, x.r,
           CAST(x.e AS TEXT) || '.' || CAST(x.r AS TEXT) || '@' || CAST(x.day AS TEXT)
           AS discriminator,
           {object}(
               'amount', {amount},
               'child_order', (SELECT fc.number FROM continuity_line f
                               JOIN child_order fc ON fc.id = f.child_order_id
                               WHERE f.continuity_order_id = x.order_id AND f.event_number = x.e
                                 AND f.repeat_index = x.r AND f.item_seq = x.first_seq),
               'customer', {object}('account_number', oc.account_number, 'id', oc.id,
                                    'name', oc.name),
               'event_number', x.e,
               'items', {items},
               'order', o.number,
               'order_id', o.id,
               'prepaid', {prepaid},
               'repeat_index', x.r,
               'ship_date', x.day) AS payload
    FROM occurrences x
    JOIN continuity_order o ON o.id = x.order_id
    JOIN customer oc ON oc.id = o.customer_id
    WHERE o.status || '' = '{active}'  -- not the status index: the batch's orders by id
)"""

#: An occurrence's items, as a JSON array in item order (SQLite passes a subquery's JSON on
#: as text: ``json(…)`` makes it JSON again).
_ITEMS_FROM = """FROM continuity_line f JOIN product p ON p.id = f.product_id
        LEFT JOIN child_order fc ON fc.id = f.child_order_id
        WHERE f.continuity_order_id = x.order_id AND f.event_number = x.e
          AND f.repeat_index = x.r AND f.planned_ship_date = x.day AND {announced_f}"""
_ITEMS = {
    "sqlite": """json((SELECT json_group_array(json(i.item)) FROM (
        SELECT json_object('name', p.name, 'quantity', f.quantity, 'sku', p.sku) AS item
        {items_from}
        ORDER BY f.item_seq) i))""",
    "postgres": """(SELECT COALESCE(jsonb_agg(jsonb_build_object(
            'name', p.name, 'quantity', f.quantity, 'sku', p.sku) ORDER BY f.item_seq),
            '[]'::jsonb)
        {items_from})""",
}


@lru_cache(maxsize=8)
def _upcoming_sql(postgres: bool, email: bool, webhooks: int) -> str:
    per_shipment = f"o.billing_mode = '{BillingMode.PER_SHIPMENT.value}'"
    items = _ITEMS["postgres" if postgres else "sqlite"].format(
        items_from=_ITEMS_FROM.format(announced_f=_announced("f", "fc"))
    )
    ctes = _UPCOMING.format(
        announced_l=_announced("l", "c"),
        object="jsonb_build_object" if postgres else "json_object",
        amount=money_sql(
            f"CASE WHEN {per_shipment} THEN x.amount ELSE 0 END", "o.currency", postgres
        ),
        items=items,
        prepaid=json_bool(f"NOT ({per_shipment})", postgres),
        active=ContinuityOrderStatus.ACTIVE.value,
    )
    return insert_sql(
        ctes,
        postgres=postgres,
        email=email,
        webhooks=webhooks,
        order_by="order_id, day, e, r",
        returning=True,
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
