"""The event catalogue and the outbox writer.

``emit`` is called by the operation that causes an event, inside that operation's transaction
(``conn``): the rows commit or roll back with the change. It writes one ``Notification`` per
recipient (the customer's e-mail, each interested webhook subscriber) with the key
``<event>:<order id>:<discriminator>:<channel>:<recipient>``. The discriminator names the cause
(a history entry, a payment attempt, a child order, an occurrence and its date), so replaying
the cause (a job run twice, a resumed run, a second replica) finds the key taken and writes
nothing: ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` the keys that went in. The batch
jobs' thousands of ``child_order_created`` and ``upcoming_shipment`` rows are written the same
way by one ``INSERT … SELECT`` each (``setbased``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.connection import connection
from continuity.models import ContinuityOrder, Customer
from continuity.money import from_minor
from continuity.sql import fetch, json_text
from continuity.writes import RowSet

if TYPE_CHECKING:
    from continuity.notifications.policy import NotificationPolicy


class EventType(StrEnum):
    """Every event that leaves the service; docs/NOTIFICATIONS.md lists their payloads."""

    ORDER_PLACED = "order_placed"
    UPCOMING_SHIPMENT = "upcoming_shipment"
    PLAN_RENEWAL = "plan_renewal"
    INSTALLMENT_BILL = "installment_bill"
    CHILD_ORDER_CREATED = "child_order_created"
    #: The shipment notice: the warehouse shipped a child order (carrier, tracking number).
    CHILD_ORDER_SHIPPED = "child_order_shipped"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_HOLD = "payment_hold"
    PAYMENT_HOLD_RELEASED = "payment_hold_released"
    #: The card needs the customer's authentication (3-D Secure): the order is on hold.
    PAYMENT_ACTION_REQUIRED = "payment_action_required"
    #: The customer disputed a charge with their bank: for the operators, never the customer.
    PAYMENT_DISPUTED = "payment_disputed"
    ORDER_PAUSED = "order_paused"
    ORDER_RESUMED = "order_resumed"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_CLOSED = "order_closed"
    PROGRAM_CHANGED = "program_changed"


EVENT_TYPES: frozenset[str] = frozenset(event.value for event in EventType)
#: Events for the call center's operators: e-mailed to ``operator_email`` (when set) instead
#: of the customer; webhook subscribers receive them like any other.
OPERATOR_EVENTS: frozenset[EventType] = frozenset({EventType.PAYMENT_DISPUTED})

EMAIL = "email"
WEBHOOK = "webhook"
#: ``Notification.dedupe_key`` is at most this long; longer keys hash their recipient.
MAX_KEY = 200
#: Keys looked up / rows inserted per statement.
CHUNK = 500


def dedupe_key(
    event: EventType, order_id: int, discriminator: str, channel: str, recipient: str
) -> str:
    """Deterministic per cause and recipient; a long recipient (an e-mail address) is hashed
    so that the key fits its column."""
    key = f"{event.value}:{order_id}:{discriminator}:{channel}:{recipient}"
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(recipient.encode()).hexdigest()[:32]
    return f"{event.value}:{order_id}:{discriminator}:{channel}:#{digest}"[:MAX_KEY]


def money(minor: int, currency: str) -> dict[str, str]:
    """An amount in a payload: a decimal string, never a float."""
    return {"amount": str(from_minor(minor, currency)), "currency": currency}


@dataclass(frozen=True)
class Event:
    """One event about one continuity order, before it is addressed to its recipients."""

    order_id: int
    type: EventType
    payload: Mapping[str, Any]
    #: Names the cause: with the event type and order it makes the de-duplication key.
    discriminator: str


#: What a payload and its recipient need of the customer.
CUSTOMER_FIELDS = ("id", "account_number", "name", "email")


async def emit(
    order: ContinuityOrder,
    event: EventType,
    payload: Mapping[str, Any],
    *,
    conn: BaseDBAsyncClient | None,
    discriminator: str,
    policy: NotificationPolicy | None = None,
    customer: Customer | None = None,
) -> int:
    """Write the outbox rows of one event about ``order``; return how many were new.

    ``conn`` is the transaction of the change that causes the event (``None`` only for
    notices that no change causes, such as the schedule notices). ``customer``, the order's
    customer when the caller has just read it (placement), saves a query.
    """
    return await emit_many(
        [Event(order.id, event, payload, discriminator)],
        conn=conn,
        policy=policy,
        orders={order.id: (order.number, order.customer_id)},
        customers=(
            {customer.id: {f: getattr(customer, f) for f in CUSTOMER_FIELDS}}
            if customer is not None and customer.id == order.customer_id
            else None
        ),
    )


async def emit_many(
    events: Sequence[Event],
    *,
    conn: BaseDBAsyncClient | None,
    policy: NotificationPolicy | None = None,
    orders: Mapping[int, tuple[str, int]] | None = None,
    customers: Mapping[int, Mapping[str, Any]] | None = None,
) -> int:
    """Write the outbox rows of many events in a few statements (batch jobs); return how many
    events had at least one new row. Every payload gets the order number and the customer;
    the event's own fields follow. ``orders`` (id → (number, customer id)) saves a query when
    known; ``customers`` (id → ``CUSTOMER_FIELDS``) likewise."""
    from continuity.notifications.policy import current_policy

    if not events:
        return 0
    policy = policy or current_policy()
    known = dict(orders or {})
    missing = {e.order_id for e in events} - known.keys()
    if missing:
        found = (
            await ContinuityOrder.filter(id__in=missing)
            .using_db(conn)
            .values_list("id", "number", "customer_id")
        )
        for order_id, number, customer_id in found:
            known[int(order_id)] = (str(number), int(customer_id))
    customers = dict(customers or {})
    unread = {known[e.order_id][1] for e in events} - customers.keys()
    if unread:
        for row in await Customer.filter(id__in=unread).using_db(conn).values(*CUSTOMER_FIELDS):
            customers[int(row["id"])] = row
    rows, source = _outbox_rows(events, policy, known, customers)
    if not rows:
        return 0
    # ``RETURNING`` names the rows that went in, so no look-up of existing keys is needed (it
    # was most of the job's time at a million orders: a scan of the outbox per chunk); a key
    # already there, or written at the same time by another replica, is skipped quietly.
    target = conn or connection()
    items = list(rows.values())
    written: set[str] = set()
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        params: dict[str, Any] = {}
        values = []
        for i, row in enumerate(chunk):
            values.append(
                f"(:o{i}, :e{i}, :c{i}, :r{i}, :p{i}{{json}}, :k{i}, 'pending', 0, :n{i})"
            )
            params.update(
                {
                    f"o{i}": row["order"],
                    f"e{i}": row["event"],
                    f"c{i}": row["channel"],
                    f"r{i}": row["recipient"],
                    f"p{i}": row["payload"],
                    f"k{i}": row["key"],
                    f"n{i}": row["now"],
                }
            )
        inserted = await fetch(target, _INSERT.format(values=", ".join(values)), **params)
        written.update(str(row["dedupe_key"]) for row in inserted)
    return len({source[key] for key in written})


def _outbox_rows(
    events: Sequence[Event],
    policy: NotificationPolicy,
    orders: Mapping[int, tuple[str, int]],
    customers: Mapping[int, Mapping[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """The outbox rows of ``events`` by dedupe key, and the index of each key's event."""
    now = datetime.now(UTC)
    rows: dict[str, dict[str, Any]] = {}
    source: dict[str, int] = {}  # dedupe key → index of its event
    for index, event in enumerate(events):
        number, customer_id = orders[event.order_id]
        customer = customers[customer_id]
        body: dict[str, Any] = {
            "order": number,
            "order_id": event.order_id,
            "customer": {
                "id": customer["id"],
                "account_number": customer["account_number"],
                "name": customer["name"],
            },
            **event.payload,
        }
        targets: list[tuple[str, str]] = []
        mailbox = policy.operator_email if event.type in OPERATOR_EVENTS else customer["email"]
        if mailbox and policy.emails(event.type):
            targets.append((EMAIL, str(mailbox)))
        targets.extend((WEBHOOK, s.name) for s in policy.subscribers if s.wants(event.type))
        for channel, recipient in targets:
            key = dedupe_key(event.type, event.order_id, event.discriminator, channel, recipient)
            source[key] = index
            rows[key] = {
                "order": event.order_id,
                "event": event.type.value,
                "channel": channel,
                "recipient": recipient,
                "payload": json_text(body),
                "key": key,
                "now": now,
            }
    return rows, source


#: An outbox row's status and attempts when written.
_NEW = ("pending", 0)
#: The columns of an outbox row (``outbox_row_set``).
OUTBOX_COLUMNS = (
    "continuity_order_id",
    "event_type",
    "channel",
    "recipient",
    "payload",
    "dedupe_key",
    "status",
    "attempts",
    "created_at",
)


def outbox_row_set(
    order: ContinuityOrder,
    event: EventType,
    payload: Mapping[str, Any],
    *,
    discriminator: str,
    customer: Customer,
    policy: NotificationPolicy | None = None,
) -> RowSet:
    """``emit``'s rows as rows to write with the change's others (``continuity.writes``:
    placement's one statement); a key already taken is skipped, as ``emit`` skips it."""
    from continuity.notifications.policy import current_policy

    rows, _source = _outbox_rows(
        [Event(order.id, event, payload, discriminator)],
        policy or current_policy(),
        {order.id: (order.number, order.customer_id)},
        {customer.id: {f: getattr(customer, f) for f in CUSTOMER_FIELDS}},
    )
    return RowSet(
        "notification",
        OUTBOX_COLUMNS,
        [
            (
                r["order"],
                r["event"],
                r["channel"],
                r["recipient"],
                r["payload"],
                r["key"],
                *_NEW,
                r["now"],
            )
            for r in rows.values()
        ],
        skip_conflict="dedupe_key",
    )


_INSERT = (
    f"INSERT INTO notification ({', '.join(OUTBOX_COLUMNS)}) VALUES {{values}} "
    "ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key"
)
