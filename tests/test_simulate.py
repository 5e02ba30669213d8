"""``continuity simulate``: the real chain over a virtual calendar on a throwaway database.

It shows every shipment by the day it ships (its child order's creation date beside it), skip
slots and ``not_before`` holds, orders by customer, program and number, and money per currency.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

from config.settings import load_settings
from continuity.db import migrate, open_database
from server.simulate import Simulation, simulate, throwaway_schema
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent

#: A euro program beside the bundled dollar ones: a skip month, and a last event held to
#: its ``not_before``.
CAFE = """id: cafe
name: Club Café
active: true
currency: EUR
parent_product: {sku: CAFECLUB, name: "Club Café", price: "0.00"}
order_start: first_event
days_after_order: 0
prompt_for_start_date: false
consolidate_past_orders: false
cadence: {every: 1 month}
events:
  - number: 1
    items: [{sku: CAFE-START, quantity: 1}]
  - number: 2
    action: skip
  - number: 3
    items: [{sku: CAFE-MONTH, quantity: 2}]
    not_before: 2027-04-15
    action: end
"""
CAFE_ITEMS = (
    '  - {sku: CAFE-START, name: "Kit de démarrage", price: "21.00", currency: EUR}\n'
    '  - {sku: CAFE-MONTH, name: "Café du mois", price: "17.50", currency: EUR}\n'
)


def _with_cafe(rules_dir: Path) -> Path:
    catalog = rules_dir / "catalog.yaml"
    catalog.write_text(catalog.read_text() + CAFE_ITEMS)
    (rules_dir / "programs" / "cafe.yaml").write_text(CAFE)
    return rules_dir


async def _run(rules_dir: Path, tmp_path: Path, days: int, **options: Any) -> Simulation:
    settings = make_settings(f"sqlite://{tmp_path / 'unused.sqlite3'}", rules_dir)
    result = await simulate(settings, date(2027, 1, 31), days, **options)
    assert not (tmp_path / "unused.sqlite3").exists()  # the configured database is untouched
    return result


async def test_a_quarter_of_the_coffee_program(rules_dir: Path, tmp_path: Path) -> None:
    seen: list[date] = []
    result = await _run(rules_dir, tmp_path, 95, program="coffee", on_day=seen.append)
    assert result.orders == {"coffee": 1}
    assert len(seen) == 95  # the progress hears of every day
    rows = [(s.ship_date, s.created, s.shipment, s.items, s.amount_minor) for s in result.shipments]
    assert rows == [
        # starts Feb 2 (2 days after the order); released on the day of the order
        (date(2027, 2, 2), date(2027, 1, 31), "event 1", "COF-STARTER", 1900),
        # then each shipment's child order is created 5 days before it ships
        (date(2027, 2, 16), date(2027, 2, 11), "event 1 repeat 1", "COF-STARTER", 1900),
        (date(2027, 3, 2), date(2027, 2, 25), "event 1 repeat 2", "COF-STARTER", 1900),
        (date(2027, 4, 2), date(2027, 3, 28), "event 2", "COF-SINGLE-12, COF-HOUSE-12", 3050),
        (
            date(2027, 5, 2),
            date(2027, 4, 27),
            "event 2 repeat 1",
            "COF-SINGLE-12, COF-HOUSE-12",
            3050,
        ),
    ]
    assert all(re.fullmatch(r"SIM-0001 coffee CO-\S+", s.order) for s in result.shipments)
    busy = [(day.day, day.child_orders, day.charged) for day in result.days if not day.quiet]
    assert busy == [
        (date(2027, 1, 31), 1, {"USD": 1900}),
        (date(2027, 2, 11), 1, {"USD": 1900}),
        (date(2027, 2, 25), 1, {"USD": 1900}),
        (date(2027, 3, 28), 1, {"USD": 3050}),
        (date(2027, 4, 27), 1, {"USD": 3050}),
    ]
    assert result.charged == {"USD": 11800}
    assert result.table().splitlines()[-1].split() == ["total", "5", "118.00", "USD"]


async def test_skips_holds_and_money_per_currency(rules_dir: Path, tmp_path: Path) -> None:
    result = await _run(_with_cafe(rules_dir), tmp_path, 80)
    cafe = [s for s in result.shipments if " cafe " in s.order]
    assert [(s.ship_date, s.created, s.skip, s.held_until, s.amount_minor) for s in cafe] == [
        (date(2027, 1, 31), date(2027, 1, 31), False, None, 2100),
        (date(2027, 2, 28), None, True, None, 0),  # the skip month: visible, ships nothing
        # gaps say Mar 31; not_before holds it to Apr 15, created 5 days ahead
        (date(2027, 4, 15), date(2027, 4, 10), False, date(2027, 4, 15), 3500),
    ]
    assert {s.currency for s in cafe} == {"EUR"}
    # the book club's summer break is not in these 80 days; its February book is
    assert not any(s.skip for s in result.shipments if " cafe " not in s.order)
    # euros are never added into dollars
    assert result.charged["EUR"] == 5600
    assert set(result.charged) == {"EUR", "USD"}
    table = result.table()
    total = table.splitlines()[-1]
    assert total.startswith("total")
    assert "56.00 EUR" in total
    usd = f"{result.charged['USD'] / 100:.2f} USD"
    assert usd in total
    skip_row = next(line for line in table.splitlines() if line.startswith("2027-02-28  -"))
    assert "skip: nothing ships" in skip_row
    assert " cafe " in skip_row
    held_row = next(line for line in table.splitlines() if line.startswith("2027-04-15"))
    assert "held to not_before 2027-04-15" in held_row
    assert "2027-04-10" in held_row  # the creation date beside the ship date


async def test_the_book_clubs_summer_break_shows_as_a_skip(rules_dir: Path, tmp_path: Path) -> None:
    result = await _run(rules_dir, tmp_path, 200, program="book-club")
    skips = [s for s in result.shipments if s.skip]
    assert [(s.ship_date, s.shipment, s.items, s.amount_minor) for s in skips] == [
        (date(2027, 7, 31), "event 7", "", 0)
    ]
    assert skips[0].note == "skip: nothing ships, nothing is charged"


async def test_the_throwaway_schema_is_the_migrated_one(tmp_path: Path) -> None:
    """The simulation makes its tables from the models (fast); they must be the tables,
    columns, indexes, unique constraints and foreign keys that the migrations make."""
    migrated = tmp_path / "migrated.sqlite3"
    await migrate(f"sqlite://{migrated}")
    made = tmp_path / "made.sqlite3"
    async with open_database(f"sqlite://{made}") as ctx:
        await throwaway_schema(ctx)
    assert _shape(made) == _shape(migrated)


def _shape(path: Path) -> dict[str, Any]:
    with sqlite3.connect(path) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name != 'tortoise_migrations'"
            )
        ]
        shape: dict[str, Any] = {}
        for table in tables:
            indexes = {
                (
                    tuple(
                        str(col[2])  # None: an expression (LOWER(email))
                        for col in conn.execute(f"PRAGMA index_info('{index[1]}')")
                    ),
                    bool(index[2]),
                )
                for index in conn.execute(f"PRAGMA index_list('{table}')")
            }
            shape[table] = (
                sorted(tuple(c[1:6]) for c in conn.execute(f"PRAGMA table_info('{table}')")),
                sorted(indexes),
                sorted(tuple(f[2:5]) for f in conn.execute(f"PRAGMA foreign_key_list('{table}')")),
            )
    return shape


COMMAND = (sys.executable, "-m", "server.cli", "simulate", "--from", "2027-01-31")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=dict(os.environ),
    )


def test_the_simulate_command_prints_shipments_by_ship_date() -> None:
    result = _cli("--days", "35", "--program", "gift-box")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Simulated 35 days from 2027-01-31")
    assert lines[1].startswith("Shipments (by ship date")
    assert lines[2].split()[:4] == ["ship", "date", "created", "order"]
    first, second = lines[3].split(), lines[4].split()
    # ships Feb 1 (days_after_order: 1), created on the order date; prepaid at placement
    assert first[:4] == ["2027-02-01", "2027-01-31", "SIM-0001", "gift-box"]
    assert lines[3].endswith("0.00 USD  paid up front")
    assert second[:2] == ["2027-03-01", "2027-02-24"]
    by_day = lines.index("By day (the day the chain ran)")
    assert lines[by_day + 2].split()[:4] == ["2027-01-31", "1", "129.00", "USD"]
    assert lines[-1].split() == ["total", "2", "129.00", "USD"]
    assert load_settings(environ={}).database_url not in result.stdout


def test_the_simulate_command_prints_json() -> None:
    result = _cli("--days", "10", "--program", "coffee", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["orders"] == {"coffee": 1}
    [shipment] = data["shipments"]
    assert shipment["ship_date"] == "2027-02-02"
    assert shipment["created"] == "2027-01-31"
    assert (shipment["amount"], shipment["currency"]) == ("19.00", "USD")
    assert shipment["order"].startswith("SIM-0001 coffee CO-")
    assert data["charged"] == [{"amount": "19.00", "currency": "USD"}]


def test_on_a_terminal_the_command_shows_its_progress() -> None:
    """stderr on a terminal: a live bar counting the days (stdout stays the table)."""
    controller, terminal = pty.openpty()
    shown = b""
    try:
        with subprocess.Popen(
            [*COMMAND, "--days", "20", "--program", "coffee"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            cwd=ROOT,
            env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
        ) as proc:
            os.close(terminal)
            while True:  # read as it comes: a full terminal buffer would block the command
                if select.select([controller], [], [], 0.2)[0]:
                    try:
                        chunk = os.read(controller, 65536)
                    except OSError:  # the command ended and closed the terminal
                        break
                    shown += chunk
                elif proc.poll() is not None:
                    break
            stdout = proc.stdout.read() if proc.stdout else ""
            assert proc.wait(timeout=120) == 0
    finally:
        os.close(controller)
    assert stdout.startswith("Simulated 20 days from 2027-01-31")
    text = shown.decode(errors="replace")
    assert "simulating 2027-" in text
    assert "/20" in text  # days done of 20
