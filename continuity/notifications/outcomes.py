"""Events built from what the payment and child-order code wrote, for the batch paths.

The payments and child-order jobs write their outcomes set-based; these helpers turn the rows
of one batch into ``Event``s that the caller writes with ``emit_many`` in the *same*
transaction as the outcomes, or (``child_order_created``, thousands a batch) write the outbox
rows themselves with one ``INSERT … SELECT`` in that transaction.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.enums import PaymentKind, PaymentStatus
from continuity.models import Payment
from continuity.notifications.events import Event, EventType, money
from continuity.notifications.setbased import (
    FUNCTIONS,
    Recipients,
    insert_sql,
    json_bool,
    money_sql,
)
from continuity.payments.gateway import AUTHENTICATION_REQUIRED
from continuity.sql import dialect, execute

if TYPE_CHECKING:
    from continuity.notifications.policy import NotificationPolicy


def payment_event(payment: Payment) -> Event | None:
    """``payment_succeeded`` or ``payment_failed`` for the attempt just recorded on a continuity
    order's charge (or the failure of an authorization, which asks the customer for a card as
    a failed charge does; an authorization that holds money is not "paid" yet); ``None`` for
    refunds, ordinary-line charges and payments whose outcome is not known.

    The discriminator is the payment and its attempt number: every attempt is told once, and
    the same attempt replayed after a crash (same gateway key) is not told twice.
    """
    if payment.continuity_order_id is None:
        return None
    if payment.kind is PaymentKind.CHARGE and payment.status is PaymentStatus.SUCCEEDED:
        event = EventType.PAYMENT_SUCCEEDED
    elif payment.kind in (PaymentKind.CHARGE, PaymentKind.AUTHORIZATION) and payment.status in (
        PaymentStatus.DECLINED,
        PaymentStatus.FAILED,
    ):
        event = EventType.PAYMENT_FAILED
    else:
        return None
    payload: dict[str, object] = {
        "payment_id": payment.id,
        "kind": payment.kind.value,
        "purpose": payment.purpose.value,
        "amount": money(payment.amount_minor, payment.currency),
        "attempt": payment.attempts,
        "installment": payment.installment_number,
        "due_date": payment.due_date.isoformat(),
    }
    if event is EventType.PAYMENT_FAILED:
        payload["failure_code"] = payment.failure_code
        payload["retry_on"] = payment.next_retry_on.isoformat() if payment.next_retry_on else None
        payload["final"] = payment.status is PaymentStatus.FAILED
    return Event(
        order_id=payment.continuity_order_id,
        type=event,
        payload=payload,
        discriminator=f"payment-{payment.id}#{payment.attempts}",
    )


def hold_event(payment: Payment, *, released: bool) -> Event | None:
    """``payment_hold`` (the payment failed for good), ``payment_action_required`` (the hold
    came because the card needs the customer's authentication: they are asked to confirm the
    payment or give another card) or ``payment_hold_released``."""
    if payment.continuity_order_id is None:
        return None
    payload: dict[str, object] = {
        "payment_id": payment.id,
        "amount": money(payment.amount_minor, payment.currency),
        "attempts": payment.attempts,
    }
    event = EventType.PAYMENT_HOLD_RELEASED
    if not released:
        payload["failure_code"] = payment.failure_code
        event = EventType.PAYMENT_HOLD
        if payment.failure_code == AUTHENTICATION_REQUIRED:
            event = EventType.PAYMENT_ACTION_REQUIRED
            payload["hold"] = True
            payload["gateway_reference"] = payment.gateway_reference
    return Event(
        order_id=payment.continuity_order_id,
        type=event,
        payload=payload,
        discriminator=f"payment-{payment.id}#{payment.attempts}",
    )


#: The ``child_order_created`` payload (docs/NOTIFICATIONS.md) of child order ``c``, built by
#: the database: a batch of the child-order job writes thousands, and building them in Python
#: (rows, dicts, ``json.dumps``, a bound parameter per field) cost more than writing the child
#: orders. SQLite's keys are written in sorted order, as ``json_text`` writes them, so the stored
#: text reads back as the same dict in the same order; PostgreSQL's ``jsonb`` orders keys itself.
#: ``{items}``, ``{occurrences}``, ``{planned_ship_dates}``: the lists of its lines
#: (``_LISTS``); ``{total}``: an amount (``money_sql``); ``{global_id}``: the child order's
#: global id (``continuity.globalids.global_id``).
_PAYLOAD = {
    "sqlite": """json_object(
    'child_order', c.number,
    'child_order_id', {global_id},
    'consolidated', {consolidated},
    'contact', json_object('email', u.email, 'phone', u.phone),
    'created_for', c.created_for,
    'customer', json_object('account_number', oc.account_number, 'id', oc.id, 'name', oc.name),
    'items', {items},
    'occurrences', {occurrences},
    'order', o.number,
    'order_id', o.id,
    'planned_ship_date', COALESCE(c.planned_ship_date, c.created_for),
    'planned_ship_dates', {planned_ship_dates},
    'program', pr.code,
    'ship_to', json_object('city', a.city, 'country', a.country, 'line1', a.line1,
                           'line2', a.line2, 'name', a.name, 'postal_code', a.postal_code,
                           'region', a.region),
    'status', c.status,
    'total', {total})""",
    "postgres": """jsonb_build_object(
    'child_order', c.number,
    'child_order_id', {global_id},
    'consolidated', {consolidated},
    'contact', jsonb_build_object('email', u.email, 'phone', u.phone),
    'created_for', c.created_for,
    'customer', jsonb_build_object('account_number', oc.account_number, 'id', oc.id,
                                   'name', oc.name),
    'items', {items},
    'occurrences', {occurrences},
    'order', o.number,
    'order_id', o.id,
    'planned_ship_date', COALESCE(c.planned_ship_date, c.created_for),
    'planned_ship_dates', {planned_ship_dates},
    'program', pr.code,
    'ship_to', jsonb_build_object('city', a.city, 'country', a.country, 'line1', a.line1,
                                  'line2', a.line2, 'name', a.name,
                                  'postal_code', a.postal_code, 'region', a.region),
    'status', c.status,
    'total', {total})""",
}

#: One item of the payload: child-order line ``{cl}`` and its product ``{p}``.
_ITEM = {
    "sqlite": """json_object('amount', {amount}, 'name', {p}.name, 'quantity', {cl}.quantity,
                'sku', {p}.sku, 'unit_price', {unit_price})""",
    "postgres": """jsonb_build_object('amount', {amount}, 'name', {p}.name,
                      'quantity', {cl}.quantity, 'sku', {p}.sku, 'unit_price', {unit_price})""",
}

#: The payload's three lists, each two ways. Most child orders have one line (one product an
#: event): ``one`` is that line when it is the only one (``_CHILD_ORDERS_CREATED``), and the
#: lists are built from it and its joined ``l1`` and ``p1``. Otherwise ``general`` reads the
#: child order's lines: items in line order, its distinct occurrences and ship dates in order.
#: The three correlated subqueries, each with its own sort, were 60 % of the statement: a
#: child order's lines read three times. SQLite passes a subquery's JSON on as text: ``json(…)``
#: makes it JSON again.
_LISTS = {
    "sqlite": {
        "single": {
            "items": "json_array({item})",
            "occurrences": "json_array(json_array(l1.event_number, l1.repeat_index))",
            "planned_ship_dates": "json_array(l1.planned_ship_date)",
        },
        "general": {
            "items": """json((SELECT json_group_array(json(i.item)) FROM (
        SELECT {item} AS item
        FROM child_order_line cl JOIN product p ON p.id = cl.product_id
        WHERE cl.child_order_id = c.id ORDER BY cl.id) i))""",
            "occurrences": """json((SELECT json_group_array(json(x.pair)) FROM (
        SELECT json_array(l.event_number, l.repeat_index) AS pair
        FROM child_order_line cl JOIN continuity_line l ON l.id = cl.continuity_line_id
        WHERE cl.child_order_id = c.id GROUP BY l.event_number, l.repeat_index
        ORDER BY l.event_number, l.repeat_index) x))""",
            "planned_ship_dates": """json((SELECT json_group_array(d.day) FROM (
        SELECT l.planned_ship_date AS day
        FROM child_order_line cl JOIN continuity_line l ON l.id = cl.continuity_line_id
        WHERE cl.child_order_id = c.id GROUP BY l.planned_ship_date
        ORDER BY l.planned_ship_date) d))""",
        },
    },
    "postgres": {
        "single": {
            "items": "jsonb_build_array({item})",
            "occurrences": "jsonb_build_array(jsonb_build_array(l1.event_number, l1.repeat_index))",
            "planned_ship_dates": "jsonb_build_array(l1.planned_ship_date)",
        },
        "general": {
            "items": """(SELECT jsonb_agg({item} ORDER BY cl.id)
              FROM child_order_line cl JOIN product p ON p.id = cl.product_id
              WHERE cl.child_order_id = c.id)""",
            "occurrences": """(SELECT jsonb_agg(jsonb_build_array(x.e, x.r) ORDER BY x.e, x.r)
        FROM (SELECT DISTINCT l.event_number AS e, l.repeat_index AS r
        FROM child_order_line cl JOIN continuity_line l ON l.id = cl.continuity_line_id
        WHERE cl.child_order_id = c.id) x)""",
            "planned_ship_dates": """(SELECT jsonb_agg(d.day ORDER BY d.day) FROM (
        SELECT DISTINCT l.planned_ship_date AS day
        FROM child_order_line cl JOIN continuity_line l ON l.id = cl.continuity_line_id
        WHERE cl.child_order_id = c.id) d)""",
        },
    },
}

#: The child orders a run created after ``:after`` that have items (as the Python payload was
#: built from their lines: a child order without a line has no event), with what the payload
#: and its recipients need. ``oc`` is the continuity order's customer (the payload's
#: ``customer`` and the e-mail recipient, as ``emit_many`` reads them); ``u`` the child
#: order's (its ``contact``); ``one`` its line when it has only one (``_LISTS``). The child
#: order's number is the key's discriminator.
_CHILD_ORDERS_CREATED = """
events AS (
    SELECT o.id AS order_id, c.number AS discriminator, oc.email, {payload} AS payload
    FROM child_order c
    JOIN continuity_order o ON o.id = c.continuity_order_id
    JOIN customer oc ON oc.id = o.customer_id
    JOIN customer u ON u.id = c.customer_id
    JOIN address a ON a.id = c.ship_to_id
    JOIN program pr ON pr.id = o.program_id
    LEFT JOIN child_order_line one ON one.child_order_id = c.id
         AND NOT EXISTS (SELECT 1 FROM child_order_line other
                         WHERE other.child_order_id = c.id AND other.id <> one.id)
    LEFT JOIN continuity_line l1 ON l1.id = one.continuity_line_id
    LEFT JOIN product p1 ON p1.id = one.product_id
    WHERE c.job_run_id = :run AND c.id > :after
      AND EXISTS (SELECT 1 FROM child_order_line cl WHERE cl.child_order_id = c.id)
)"""


def _item(postgres: bool, cl: str, p: str) -> str:
    """A payload item (``_ITEM``) of line alias ``cl`` and product alias ``p``."""
    return _ITEM["postgres" if postgres else "sqlite"].format(
        cl=cl,
        p=p,
        amount=money_sql(f"{cl}.price_minor * {cl}.quantity", "c.currency", postgres),
        unit_price=money_sql(f"{cl}.price_minor", "c.currency", postgres),
    )


@lru_cache(maxsize=16)
def _created_sql(postgres: bool, email: bool, webhooks: int) -> str:
    """The statement for one dialect and one set of recipients (``setbased.insert_sql``)."""
    name = "postgres" if postgres else "sqlite"
    single = {
        key: text.format(item=_item(postgres, "one", "p1"))
        for key, text in _LISTS[name]["single"].items()
    }
    general = {
        key: text.format(item=_item(postgres, "cl", "p"))
        for key, text in _LISTS[name]["general"].items()
    }
    lists = {
        key: f"CASE WHEN one.id IS NOT NULL THEN {single[key]} ELSE {general[key]} END"
        for key in single
    }
    payload = _PAYLOAD[name].format(
        global_id=FUNCTIONS[name]["b64"].format("'ChildOrder:' || CAST(c.id AS TEXT)"),
        total=money_sql("c.total_minor", "c.currency", postgres),
        consolidated=json_bool("c.consolidated", postgres),
        **lists,
    )
    return insert_sql(
        _CHILD_ORDERS_CREATED.format(payload=payload),
        postgres=postgres,
        email=email,
        webhooks=webhooks,
    )


async def emit_child_orders_created(
    conn: BaseDBAsyncClient,
    *,
    job_run_id: int,
    after_id: int,
    now: datetime,
    policy: NotificationPolicy | None = None,
) -> int:
    """The outbox rows of ``child_order_created`` for the child orders a run created after
    ``after_id`` (one batch of the child-order job), in the caller's transaction, written by
    one ``INSERT … SELECT``: the same rows ``emit_many`` would write (recipients from the
    policy, keys from ``dedupe_key``, a key already taken skipped); returns the rows written."""
    from continuity.notifications.policy import current_policy

    recipients = Recipients.of(EventType.CHILD_ORDER_CREATED, policy or current_policy())
    if not recipients:
        return 0
    sql = _created_sql(dialect(conn) == "postgres", recipients.email, len(recipients.hooks))
    return await execute(conn, sql, run=job_run_id, after=after_id, **recipients.params(now))
