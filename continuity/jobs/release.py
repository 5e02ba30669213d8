"""The set-based core of "create continuity child orders": one batch of orders, a handful of
statements, however many lines.

For the orders of a batch that are eligible (active, card valid on the run date, prepaid
orders' required installment paid), every pending line due by the horizon is released:

1. one ``child_order`` per due occurrence, or one per order for all overdue occurrences when
   the program consolidates (``INSERT … SELECT … GROUP BY``); its number is derived from its
   first line (``CH-<date>-<line id>``), so it is unique and deterministic;
2. one ``child_order_line`` per due line, joined to its child order by that number;
3. the lines become ``released`` with their child order;
4. a pending shipment payment per per-shipment child order: an authorization, captured when
   the child order is invoiced, with ``authorize_child_orders`` (``charge_now``), else a
   charge that the payments job collects (due the next day: the next day's payments run
   takes it);
5. one ``child_order_created`` history entry per child order, and its notifications.

All five run in the caller's transaction; the caller locks the batch's orders first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.notifications.outcomes import emit_child_orders_created
from continuity.payments.records import SHIPMENT_AUTH_KEY_SUFFIX, SHIPMENT_KEY_SUFFIX
from continuity.sql import execute, fetch

#: The due lines of the batch, with their occurrence key and their child-order group.
_DUE = """
due AS (
    SELECT l.id AS line_id, l.continuity_order_id AS order_id, l.product_id, l.quantity,
           l.price_minor, l.planned_ship_date AS planned,
           l.event_number * 100000 + l.repeat_index AS occurrence,
           CASE WHEN v.consolidate_past_orders AND l.planned_ship_date < :as_of
                THEN -1 ELSE l.event_number * 100000 + l.repeat_index END AS grp
    FROM continuity_line l
    JOIN continuity_order o ON o.id = l.continuity_order_id
    JOIN program_version v ON v.id = o.program_version_id
    WHERE l.continuity_order_id IN (:orders)
      AND l.status || '' = 'pending'  -- an expression: the planner must use the order id
      AND l.planned_ship_date <= :horizon
)"""

_CHILD_ORDERS = (
    """
INSERT INTO child_order (number, continuity_order_id, customer_id, ship_to_id,
                         payment_method_id, status, consolidated, currency, total_minor,
                         created_for, planned_ship_date, job_run_id, created_at)
WITH """
    + _DUE
    + """
SELECT CAST(:prefix AS TEXT) || CAST(MIN(d.line_id) AS TEXT), o.id, o.customer_id,
       o.ship_to_id, o.payment_method_id,
       CASE WHEN o.billing_mode = 'per_shipment' THEN 'created' ELSE 'authorized' END,
       COUNT(DISTINCT d.occurrence) > 1, o.currency,
       CASE WHEN o.billing_mode = 'per_shipment'
            THEN SUM(d.quantity * d.price_minor) ELSE 0 END,
       :as_of, CASE WHEN MIN(d.planned) < :as_of THEN :as_of ELSE MIN(d.planned) END,
       :run, :now
FROM due d JOIN continuity_order o ON o.id = d.order_id
GROUP BY o.id, d.grp, o.customer_id, o.ship_to_id, o.payment_method_id, o.billing_mode,
         o.currency
"""
)

_CHILD_LINES = (
    """
INSERT INTO child_order_line (child_order_id, continuity_line_id, product_id, quantity,
                              price_minor)
WITH """
    + _DUE
    + """,
grouped AS (
    SELECT d.*, MIN(d.line_id) OVER (PARTITION BY d.order_id, d.grp) AS first_line FROM due d
)
SELECT c.id, g.line_id, g.product_id, g.quantity, g.price_minor
FROM grouped g JOIN child_order c ON c.number = CAST(:prefix AS TEXT) || CAST(g.first_line AS TEXT)
WHERE g.product_id IS NOT NULL
"""
)

_RELEASE = """
UPDATE continuity_line
SET status = 'released', updated_at = :now,
    child_order_id = (SELECT cl.child_order_id FROM child_order_line cl
                      WHERE cl.continuity_line_id = continuity_line.id)
WHERE id IN (SELECT cl.continuity_line_id FROM child_order_line cl
             JOIN child_order c ON c.id = cl.child_order_id
             WHERE c.job_run_id = :run AND c.id > :mark)
"""

_CHARGES = """
INSERT INTO payment (kind, purpose, status, sales_order_id, continuity_order_id,
                     child_order_id, payment_method_id, amount_minor, currency, due_date,
                     idempotency_key, attempts, attempt_base, created_at, updated_at,
                     last_attempt_at, claimed_by_run_id)
SELECT CAST(:kind AS TEXT), 'shipment', 'pending', o.sales_order_id, o.id, c.id,
       c.payment_method_id, c.total_minor, c.currency, :due,
       c.number || CAST(:suffix AS TEXT), 0, 0, :now, :now, {claimed}
FROM child_order c JOIN continuity_order o ON o.id = c.continuity_order_id
WHERE c.job_run_id = :run AND c.id > :mark AND c.status = 'created'
"""

_HISTORY = """
INSERT INTO order_history_entry (continuity_order_id, at, actor, action, details)
SELECT c.continuity_order_id, :now, :actor, 'child_order_created',
       ('{"as_of":"' || CAST(:as_of_text AS TEXT) || '","child_order":"' || c.number
        || '","consolidated":' || CASE WHEN c.consolidated THEN 'true' ELSE 'false' END
        || ',"lines":' || CAST((SELECT COUNT(*) FROM child_order_line cl
                               WHERE cl.child_order_id = c.id) AS TEXT) || '}'){json}
FROM child_order c WHERE c.job_run_id = :run AND c.id > :mark
"""


@dataclass(frozen=True)
class Released:
    child_orders: int
    lines: int
    consolidated: int
    charge_ids: list[int]


async def release_batch(
    conn: BaseDBAsyncClient,
    order_ids: list[int],
    *,
    as_of: date,
    horizon: date,
    run_id: int,
    actor: str,
    charge_now: bool = False,
) -> Released:
    """Release every due line of ``order_ids`` (already checked and locked by the caller).

    ``charge_now``: the caller authorizes the new shipment payments right after the commit, so
    they are authorizations created already claimed by run ``run_id``
    (``continuity.jobs.claims``) and the
    payments job of another replica leaves them alone.
    """
    if not order_ids:
        return Released(0, 0, 0, [])
    now = datetime.now(UTC)
    prefix = f"CH-{as_of:%Y%m%d}-"
    mark_rows = await fetch(
        conn,
        "SELECT COALESCE(MAX(id), 0) AS mark FROM child_order WHERE job_run_id = :run",
        run=run_id,
    )
    mark = int(mark_rows[0]["mark"])
    common = {"orders": order_ids, "as_of": as_of, "horizon": horizon, "prefix": prefix}
    children = await execute(conn, _CHILD_ORDERS, **common, run=run_id, now=now)
    if not children:
        return Released(0, 0, 0, [])
    lines = await execute(conn, _CHILD_LINES, **common)
    await execute(conn, _RELEASE, now=now, run=run_id, mark=mark)
    # claimed by this run (continuity.jobs.claims): released when the run ends or dies
    charges_sql = _CHARGES.replace("{claimed}", ":now, :run" if charge_now else "NULL, NULL")
    kind, suffix = (
        ("authorization", SHIPMENT_AUTH_KEY_SUFFIX)
        if charge_now
        else ("charge", SHIPMENT_KEY_SUFFIX)
    )
    # not authorized now: the next day's payments run charges it (today's ran before this
    # job, and a second run of the chain for the same date must find nothing new to do)
    due = as_of if charge_now else as_of + timedelta(days=1)
    await execute(
        conn, charges_sql, due=due, now=now, run=run_id, mark=mark, kind=kind, suffix=suffix
    )
    await execute(
        conn, _HISTORY, now=now, actor=actor, as_of_text=as_of.isoformat(), run=run_id, mark=mark
    )
    # the outbox, in the same transaction: child_order_created per new child order
    await emit_child_orders_created(conn, job_run_id=run_id, after_id=mark, now=now)
    stats = await fetch(
        conn,
        """SELECT COUNT(*) AS n, SUM(CASE WHEN consolidated THEN 1 ELSE 0 END) AS merged
           FROM child_order WHERE job_run_id = :run AND id > :mark""",
        run=run_id,
        mark=mark,
    )
    charges = await fetch(
        conn,
        """SELECT p.id FROM payment p JOIN child_order c ON c.id = p.child_order_id
           WHERE c.job_run_id = :run AND c.id > :mark ORDER BY p.id""",
        run=run_id,
        mark=mark,
    )
    return Released(
        child_orders=int(stats[0]["n"]),
        lines=lines,
        consolidated=int(stats[0]["merged"] or 0),
        charge_ids=[int(row["id"]) for row in charges],
    )
