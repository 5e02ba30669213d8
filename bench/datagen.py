"""Benchmark data, generated with set-based SQL (no Python object per row).

:func:`prepare` runs what the service runs at start-up (migrations, the bundled rules, the
call-center parameters) through the product's own code. :func:`generate` then writes a
continuity business of vitamins-refill orders straight into the tables with ``INSERT …
SELECT`` over a recursive CTE (SQLite) or ``generate_series`` (PostgreSQL):

* one customer per ``orders_per_customer`` orders, each with an address and a card;
* per order one sales order, one ``continuity_parent`` sales line, one continuity order
  (active, per shipment, on the live version of ``vitamins-refill``) and ``lines_per_order``
  pending continuity lines: the next occurrences, ``cadence`` days apart;
* ``due`` orders, spread evenly over the ids, have their first line planned on ``as_of``; the
  others start 1 to 29 days later (with ``days_before_delivery = 0`` nothing else is due).

Values are inlined as SQL literals: they are all generated here, never user input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.backends import RawDB

PROGRAM = "vitamins-refill"

#: Tables the generator writes, in foreign-key order.
TABLES = (
    "customer",
    "address",
    "payment_method",
    "sales_order",
    "sales_order_line",
    "continuity_order",
    "continuity_line",
)


@dataclass(frozen=True)
class Shape:
    orders: int
    due: int
    orders_per_customer: int = 10
    lines_per_order: int = 3

    @property
    def customers(self) -> int:
        return -(-self.orders // self.orders_per_customer)

    def expected(self) -> dict[str, int]:
        """The row counts :func:`generate` writes."""
        return {
            "customer": self.customers,
            "address": self.customers,
            "payment_method": self.customers,
            "sales_order": self.orders,
            "sales_order_line": self.orders,
            "continuity_order": self.orders,
            "continuity_line": self.orders * self.lines_per_order,
        }


def call_center_values(**overrides: Any) -> dict[str, Any]:
    """The configured parameters with the benchmark's overrides."""
    from config.settings import load_settings

    values: dict[str, Any] = load_settings(environ={}).call_center.model_dump()
    values.update(overrides)
    return values


async def prepare(url: str, **parameters: Any) -> None:
    """Migrate, sync the bundled rules and store the parameters, through the product's code."""
    from continuity.db import migrate, open_database
    from continuity.parameters import save_call_center_parameters
    from rules.loader import BUNDLED_RULES_DIR, load_rules
    from rules.sync import sync_rules

    await migrate(url)
    async with open_database(url):
        await sync_rules(load_rules(BUNDLED_RULES_DIR))
        await save_call_center_parameters(call_center_values(**parameters))


async def set_parameters(url: str, **values: Any) -> None:
    """Change call-center parameters of a prepared database (raw UPDATE of its one row)."""
    async with RawDB(url) as db:
        for key, value in values.items():
            if isinstance(value, bool) and db.dialect == "sqlite":
                value = int(value)
            await db.execute(f"UPDATE call_center_parameters SET {key} = ?", value)


class _Sql:
    """Literals and the few expressions that differ between the two dialects."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgres"
        stamp = datetime.now(UTC).isoformat(sep=" ")
        self.ts = f"TIMESTAMPTZ '{stamp}'" if self.pg else f"'{stamp}'"

    def day(self, value: date) -> str:
        return f"DATE '{value.isoformat()}'" if self.pg else f"'{value.isoformat()}'"

    def plus_days(self, value: date, days_sql: str) -> str:
        if self.pg:
            return f"(DATE '{value.isoformat()}' + ({days_sql}))"
        return f"date('{value.isoformat()}', '+' || ({days_sql}) || ' days')"

    def bool(self, value: bool) -> str:
        return ("true" if value else "false") if self.pg else ("1" if value else "0")

    def series(self, count: int) -> tuple[str, str]:
        """(prefix, FROM source) producing ``n`` = 1..count."""
        if self.pg:
            return "", f"generate_series(1, {int(count)}) AS seq(n)"
        prefix = (
            "WITH RECURSIVE seq(n) AS "
            f"(SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {int(count)}) "
        )
        return prefix, "seq"


async def _program(db: RawDB) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT p.id, v.id, v.parent_sku FROM program p JOIN program_version v "
        "ON v.program_id = p.id WHERE p.code = ? ORDER BY v.number DESC LIMIT 1",
        PROGRAM,
    )
    if not rows:
        raise RuntimeError(f"program {PROGRAM!r} is not synced: run prepare() first")
    program_id, version_id, parent_sku = rows[0]
    parent = await db.fetch("SELECT id, price_minor FROM product WHERE sku = ?", parent_sku)
    item = await db.fetch(
        "SELECT i.product_id, i.quantity, i.price_minor, e.gap_count, e.gap_unit "
        "FROM program_event e JOIN program_event_item i ON i.event_id = e.id "
        "WHERE e.version_id = ? AND e.number = 1 ORDER BY i.seq LIMIT 1",
        version_id,
    )
    product_id, quantity, price_minor, gap_count, gap_unit = item[0]
    if gap_unit != "day":
        raise RuntimeError(f"{PROGRAM} is expected to ship every N days, not {gap_unit}")
    return {
        "program": program_id,
        "version": version_id,
        "parent": parent[0][0],
        "parent_price": parent[0][1],
        "item": product_id,
        "quantity": quantity,
        "price": price_minor,
        "gap": gap_count,
    }


async def generate(url: str, shape: Shape, as_of: date) -> dict[str, int]:
    """Write ``shape`` into a prepared database; returns the row counts written."""
    if not 0 <= shape.due <= shape.orders:
        raise ValueError("due must be between 0 and orders")
    async with RawDB(url) as db:
        sql = _Sql(db.dialect)
        if db.dialect == "sqlite":
            await db.execute("PRAGMA foreign_keys=OFF")  # generated consistent; faster
            await db.execute("PRAGMA synchronous=OFF")
        else:  # the generated rows are consistent: skip the per-row foreign-key triggers
            await db.execute("SET session_replication_role = replica")
        p = await _program(db)
        n_orders, customers = shape.orders, shape.customers
        ts, t, f = sql.ts, sql.bool(True), sql.bool(False)
        customer_of = f"((n - 1) % {customers}) + 1"
        is_due = (
            f"(CAST(n AS BIGINT) * {shape.due}) / {n_orders} > "
            f"((CAST(n AS BIGINT) - 1) * {shape.due}) / {n_orders}"
        )
        offset = f"(CASE WHEN {is_due} THEN 0 ELSE 1 + (n % 29) END)"
        order_date = sql.day(as_of - timedelta(days=1))
        statements: list[tuple[int, str]] = [
            (
                customers,
                "INSERT INTO customer (id, account_number, name, email, phone, created_at, "
                "updated_at) SELECT n, 'BENCH-' || n, 'Customer ' || n, "
                f"'c' || n || '@example.com', NULL, {ts}, {ts} FROM {{src}}",
            ),
            (
                customers,
                "INSERT INTO address (id, customer_id, label, name, line1, line2, city, region, "
                "postal_code, country, is_default, created_at) SELECT n, n, NULL, "
                f"'Customer ' || n, '1 Main St', NULL, 'Springfield', NULL, '12345', 'US', {t}, "
                f"{ts} FROM {{src}}",
            ),
            (
                customers,
                "INSERT INTO payment_method (id, customer_id, gateway_token, brand, last4, "
                "exp_month, exp_year, is_default, active, created_at) SELECT n, n, 'tok_visa', "
                f"'visa', '4242', 12, 2035, {t}, {t}, {ts} FROM {{src}}",
            ),
            (
                n_orders,
                "INSERT INTO sales_order (id, number, status, currency, total_minor, order_date, "
                "placed_by, placed_at, customer_id, payment_method_id, ship_to_id) "
                f"SELECT n, 'SO-BENCH-' || n, 'placed', 'USD', 0, {order_date}, 'bench', {ts}, "
                f"{customer_of}, {customer_of}, {customer_of} FROM {{src}}",
            ),
            (
                n_orders,
                "INSERT INTO sales_order_line (id, sales_order_id, line_number, kind, "
                "product_id, quantity, unit_price_minor, amount_minor) "
                f"SELECT n, n, 1, 'continuity_parent', {p['parent']}, 1, {p['parent_price']}, 0 "
                "FROM {src}",
            ),
            (
                n_orders,
                "INSERT INTO continuity_order (id, number, sales_order_id, sales_line_id, "
                "customer_id, program_id, program_version_id, status, start_date, order_date, "
                "schedule_complete, first_event_number, anchor_date, anchor_event_number, "
                "anchor_repeat_index, quantity, currency, billing_mode, payment_schedule_id, "
                "total_minor, ship_to_id, payment_method_id, paused_until, cancel_reason, "
                "created_at, updated_at, closed_at) "
                f"SELECT n, 'CO-BENCH-' || n, n, n, {customer_of}, {p['program']}, "
                f"{p['version']}, 'active', {sql.plus_days(as_of, offset)}, {order_date}, {f}, 1, "
                f"{sql.plus_days(as_of, offset)}, 1, 0, 1, 'USD', 'per_shipment', NULL, 0, "
                f"{customer_of}, {customer_of}, NULL, NULL, {ts}, {ts}, NULL FROM {{src}}",
            ),
        ]
        repeats = " UNION ALL ".join(
            f"SELECT {k} AS k" if k == 0 else f"SELECT {k}" for k in range(shape.lines_per_order)
        )
        line_date = sql.plus_days(as_of, f"{offset} + {p['gap']} * r.k")
        statements.append(
            (
                n_orders,
                "INSERT INTO continuity_line (id, continuity_order_id, event_number, "
                "repeat_index, item_seq, action, product_id, quantity, price_minor, "
                "planned_ship_date, status, child_order_id, created_at, updated_at) "
                f"SELECT {shape.lines_per_order} * (n - 1) + r.k + 1, n, 1, r.k, 0, 'normal', "
                f"{p['item']}, {p['quantity']}, {p['price']}, "
                f"{line_date}, 'pending', NULL, "
                f"{ts}, {ts} FROM {{src}} CROSS JOIN ({repeats}) AS r",
            )
        )
        await db.begin()
        for count, statement in statements:
            prefix, source = sql.series(count)
            await db.execute(prefix + statement.replace("{src}", source))
        await db.commit()
        if db.dialect == "postgres":
            for table in TABLES:
                await db.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
            await db.execute("ANALYZE")
        return {table: int(await db.value(f"SELECT COUNT(*) FROM {table}")) for table in TABLES}
