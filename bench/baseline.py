"""The raw set-based "create child orders": what the job writes, in a handful of statements.

One transaction through the raw driver: a temporary table of the due occurrences (with the
child order ids they will get), then ``INSERT … SELECT`` of the child orders, their lines, the
shipment charges and the history entries, and one ``UPDATE … FROM`` releasing the lines. It
covers what the generated data needs (per-occurrence child orders, per-shipment billing); the
job's other branches (consolidation, expired cards, installments) have no rows to act on.

:func:`child_order_counts` is the check that both paths wrote the same rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bench.backends import RawDB

JOB = "create-child-orders"


def _literals(db: RawDB, as_of: date, horizon: date) -> dict[str, str]:
    stamp = datetime.now(UTC).isoformat(sep=" ")
    pg = db.dialect == "postgres"
    return {
        "ts": f"TIMESTAMPTZ '{stamp}'" if pg else f"'{stamp}'",
        "as_of": f"DATE '{as_of.isoformat()}'" if pg else f"'{as_of.isoformat()}'",
        "horizon": f"DATE '{horizon.isoformat()}'" if pg else f"'{horizon.isoformat()}'",
        "false": "false" if pg else "0",
        "day": as_of.strftime("%Y%m%d"),
        "as_of_text": as_of.isoformat(),
        "temp": "CREATE TEMP TABLE bench_due ON COMMIT DROP AS"
        if pg
        else ("CREATE TEMP TABLE bench_due AS"),
        "details": (
            "json_build_object('child_order', c.number, 'consolidated', false, 'occurrences', "
            "json_build_array(json_build_array(d.event_number, d.repeat_index)), 'as_of', "
            f"'{as_of.isoformat()}')"
            if pg
            else "json_object('child_order', c.number, 'consolidated', json('false'), "
            "'occurrences', json_array(json_array(d.event_number, d.repeat_index)), 'as_of', "
            f"'{as_of.isoformat()}')"
        ),
        "empty": "'{}'",
        "list": "'[]'",
    }


async def create_child_orders_sql(url: str, as_of: date, days_before_delivery: int = 0) -> int:
    """Run the set-based child-order step on ``url``; returns the child orders created."""
    async with RawDB(url) as db:
        v = _literals(db, as_of, as_of + timedelta(days=days_before_delivery))
        await db.begin()
        base = int(await db.value("SELECT COALESCE(MAX(id), 0) FROM child_order"))
        await db.execute(
            f"{v['temp']} SELECT {base} + ROW_NUMBER() OVER (ORDER BY l.continuity_order_id, "
            "l.event_number, l.repeat_index) AS child_id, l.continuity_order_id AS order_id, "
            "l.event_number, l.repeat_index, SUM(l.quantity * l.price_minor) AS total "
            "FROM continuity_line l JOIN continuity_order o ON o.id = l.continuity_order_id "
            f"WHERE l.status = 'pending' AND l.planned_ship_date <= {v['horizon']} "
            "AND o.status = 'active' "
            "GROUP BY l.continuity_order_id, l.event_number, l.repeat_index"
        )
        await db.execute(
            "INSERT INTO job_run (job, as_of, filters, status, triggered_by, started_at, "
            f"finished_at, counts, failures) VALUES ('{JOB}', {v['as_of']}, {v['empty']}, "
            f"'succeeded', 'bench', {v['ts']}, {v['ts']}, {v['empty']}, {v['list']})"
        )
        await db.execute(
            "INSERT INTO child_order (id, number, status, consolidated, currency, total_minor, "
            "created_for, created_at, continuity_order_id, customer_id, job_run_id, "
            "payment_method_id, ship_to_id) "
            f"SELECT d.child_id, 'CH-{v['day']}-' || d.child_id, "
            "CASE WHEN o.billing_mode = 'per_shipment' THEN 'created' ELSE 'authorized' END, "
            f"{v['false']}, o.currency, "
            "CASE WHEN o.billing_mode = 'per_shipment' THEN d.total ELSE 0 END, "
            f"{v['as_of']}, {v['ts']}, o.id, o.customer_id, NULL, o.payment_method_id, "
            "o.ship_to_id FROM bench_due d JOIN continuity_order o ON o.id = d.order_id"
        )
        await db.execute(
            "INSERT INTO child_order_line (child_order_id, continuity_line_id, product_id, "
            "quantity, price_minor) "
            "SELECT d.child_id, l.id, l.product_id, l.quantity, l.price_minor "
            # CROSS JOIN: SQLite then loops over the (unanalysed) temp table, looking the
            # lines up by their unique index, instead of the other way round.
            "FROM bench_due d CROSS JOIN continuity_line l WHERE l.continuity_order_id = "
            "d.order_id AND l.event_number = d.event_number AND l.repeat_index = d.repeat_index "
            "AND l.status = 'pending' AND l.product_id IS NOT NULL"
        )
        await db.execute(
            f"UPDATE continuity_line SET status = 'released', child_order_id = c.child_order_id, "
            f"updated_at = {v['ts']} FROM child_order_line c "
            f"WHERE c.continuity_line_id = continuity_line.id AND c.child_order_id > {base}"
        )
        await db.execute(
            "INSERT INTO payment (kind, purpose, status, installment_number, amount_minor, "
            "currency, due_date, idempotency_key, attempts, attempt_base, created_at, "
            "updated_at, child_order_id, continuity_order_id, payment_method_id, sales_order_id) "
            "SELECT 'charge', 'shipment', 'pending', NULL, c.total_minor, c.currency, "
            f"{v['as_of']}, c.number || ':charge', 0, 0, {v['ts']}, {v['ts']}, c.id, o.id, "
            "o.payment_method_id, o.sales_order_id "
            "FROM child_order c JOIN continuity_order o ON o.id = c.continuity_order_id "
            f"WHERE c.id > {base} AND o.billing_mode = 'per_shipment'"
        )
        await db.execute(
            "INSERT INTO order_history_entry (continuity_order_id, at, actor, action, reason, "
            f"details) SELECT d.order_id, {v['ts']}, 'job:{JOB}', 'child_order_created', NULL, "
            f"{v['details']} FROM bench_due d JOIN child_order c ON c.id = d.child_id"
        )
        created = int(await db.value(f"SELECT COUNT(*) FROM child_order WHERE id > {base}"))
        if db.dialect == "sqlite":
            await db.execute("DROP TABLE bench_due")
        await db.commit()
        return created


async def child_order_counts(url: str) -> dict[str, int]:
    """What the child-order step wrote: the same on both paths when both are right."""
    queries = {
        "child_orders": "SELECT COUNT(*) FROM child_order",
        "child_order_lines": "SELECT COUNT(*) FROM child_order_line",
        "released_lines": (
            "SELECT COUNT(*) FROM continuity_line "
            "WHERE status = 'released' AND child_order_id IS NOT NULL"
        ),
        "shipment_payments": "SELECT COUNT(*) FROM payment WHERE purpose = 'shipment'",
        "history_entries": (
            "SELECT COUNT(*) FROM order_history_entry WHERE action = 'child_order_created'"
        ),
    }
    async with RawDB(url) as db:
        return {key: int(await db.value(sql)) for key, sql in queries.items()}
