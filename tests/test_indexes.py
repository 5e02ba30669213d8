"""Every index and composite unique constraint the models declare exists after migrating,
on SQLite too (Tortoise's SQLite schema editor drops them: see migration 0003)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

pytestmark = pytest.mark.db

MIGRATIONS = Path(__file__).resolve().parent.parent / "continuity/migrations"
#: 0003 recreated every index; 0004 those of ``payment`` (rebuilt again) and a new one; 0006
#: and 0007 those Tortoise skipped (0007 also the one SQLite's rebuild of ``job_run`` dropped);
#: 0008 the age index of ``idempotency_key`` (the sweep's).
#: 0009 the pick list's and the customer search's. 0010 replaced the lines' (status, planned
#: ship date) index by one that also holds the order (Tortoise's ``AddIndex``). 0011 dropped, on
#: SQLite, the composite unique indexes of 0003 that repeated a table's unique constraint.
REPLACED = {"idx_continuity__status_61f5d0": "idx_continuity__status_af0c62"}
UNIQUE = re.compile(r"CREATE UNIQUE INDEX IF NOT EXISTS (\w+) ON (\w+) \(([^)]*)\)")
#: Every unique index the migrations declare: name → (table, columns).
DECLARED_UNIQUE = {
    name: (table, tuple(column.strip() for column in columns.split(",")))
    for migration in sorted(MIGRATIONS.glob("0*.py"))
    for name, table, columns in UNIQUE.findall(migration.read_text())
}
DECLARED = {
    REPLACED.get(name, name)
    for migration in (
        "0003_foreign_key_indexes.py",
        "0004_payment_gateways.py",
        "0006_substitutions_and_payment_links.py",
        "0007_run_leases.py",
        "0008_idempotency_keys.py",
        "0009_fulfilment.py",
    )
    for name in re.findall(
        r"CREATE (?:UNIQUE )?INDEX IF NOT EXISTS (\w+)", (MIGRATIONS / migration).read_text()
    )
}


async def _index_names(db: TortoiseContext) -> set[str]:
    conn = db.db()
    if conn.capabilities.dialect == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public'"
        )
    else:
        rows = await conn.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'index'")
    return {str(row["name"]) for row in rows}


async def _unique_indexes(db: TortoiseContext) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every unique index: name → (table, columns in order)."""
    conn = db.db()
    if conn.capabilities.dialect == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT i.relname AS name, t.relname AS tbl, "
            "array_to_string(ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY "
            "AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
            "ORDER BY k.n), ',') AS cols "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace s ON s.oid = t.relnamespace "
            "WHERE x.indisunique AND s.nspname = 'public'"
        )
        return {r["name"]: (r["tbl"], tuple(r["cols"].split(","))) for r in rows}
    found = {}
    tables = await conn.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'table'")
    for table in (str(row["name"]) for row in tables):
        for index in await conn.execute_query_dict(f'PRAGMA index_list("{table}")'):
            if index["unique"]:
                info = await conn.execute_query_dict(f'PRAGMA index_info("{index["name"]}")')
                columns = tuple(r["name"] for r in sorted(info, key=lambda r: r["seqno"]))
                found[str(index["name"])] = (table, columns)
    return found


async def test_every_declared_index_exists(db: TortoiseContext) -> None:
    """By name, but for a composite unique that SQLite holds as its table's constraint
    (migration 0011): there the same columns' unique index is enough."""
    assert len(DECLARED) == 31
    missing = DECLARED - await _index_names(db)
    uniques = set((await _unique_indexes(db)).values())
    assert {name for name in missing if DECLARED_UNIQUE.get(name) not in uniques} == set()
    assert len(DECLARED_UNIQUE) == 9


async def test_no_two_unique_indexes_of_a_table_hold_the_same_columns(db: TortoiseContext) -> None:
    """Each insert writes every index: a duplicate is twice the work and the space (SQLite's
    lines had one until migration 0011)."""
    held = list((await _unique_indexes(db)).values())
    assert len(held) == len(set(held)), sorted(held)
    assert ("continuity_line", DECLARED_UNIQUE["uid_continuity__continu_e2d742"][1]) in held


async def test_composite_uniques_are_enforced(db: TortoiseContext) -> None:
    from tortoise.exceptions import IntegrityError

    conn = db.db()
    await conn.execute_script(
        "INSERT INTO program (code, name, active, currency, retired, created_at, updated_at) "
        "VALUES ('p', 'P', TRUE, 'USD', FALSE, '2027-01-01', '2027-01-01')"
    )
    insert = (
        "INSERT INTO program_version (program_id, number, content_hash, source_path, name, "
        "active, currency, parent_sku, parent_name, parent_price_minor, parent_event_count, "
        "order_start, days_after_order, prompt_for_start_date, consolidate_past_orders, "
        "bill_up_front, prompt_for_payment_schedule, cadence_unit, cadence_count, created_at) "
        "SELECT id, 1, 'h', 'f', 'P', TRUE, 'USD', 'S', 'P', 0, 0, 'first_event', 0, FALSE, "
        "FALSE, FALSE, FALSE, 'month', 1, '2027-01-01' FROM program"
    )
    await conn.execute_script(insert)
    with pytest.raises(IntegrityError):
        await conn.execute_script(insert)  # (program, number) is unique


async def test_a_continuity_line_ships_on_one_child_order_line_only(db: TortoiseContext) -> None:
    """The one-to-one ``ChildOrderLine.continuity_line`` is unique in the database."""
    names = await _index_names(db)
    assert "child_order_line_continuity_line_id_key" in names
    assert "continuity_order_sales_line_id_key" in names


async def test_the_run_ledger_indexes_exist(db: TortoiseContext) -> None:
    """Migration 0007: the payment claims of a run are released by ``claimed_by_run_id`` (at
    every run's end), and SQLite's rebuild of ``job_run`` must keep its (job, as_of) index."""
    names = await _index_names(db)
    assert {"idx_payment_claimed_by_run", "idx_job_run_job_86ae53"} <= names
