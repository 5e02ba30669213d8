"""``continuity simulate``: the real chain over a virtual calendar on a throwaway database."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from config.settings import load_settings
from server.simulate import simulate
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent


async def test_a_quarter_of_the_coffee_program(rules_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(f"sqlite://{tmp_path / 'unused.sqlite3'}", rules_dir)
    result = await simulate(settings, date(2027, 1, 31), 95, program="coffee")
    assert result.orders == {"coffee": 1}
    busy = [(row.day, row.child_orders, row.charged_minor) for row in result.days if not row.quiet]
    assert busy == [
        (date(2027, 1, 31), ["coffee 1.0"], 1900),  # starts Feb 2 (2 days after the order)
        (date(2027, 2, 11), ["coffee 1.1"], 1900),  # Feb 16, released 5 days ahead
        (date(2027, 2, 25), ["coffee 1.2"], 1900),  # Mar 2
        (date(2027, 3, 28), ["coffee 2.0"], 3050),  # Apr 2: the second roast and house blend
        (date(2027, 4, 27), ["coffee 2.1"], 3050),  # May 2
    ]
    assert "total" in result.table().splitlines()[-1]
    assert not (tmp_path / "unused.sqlite3").exists()  # the configured database is untouched


def test_the_simulate_command_prints_a_table() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "simulate",
            "--from",
            "2027-01-31",
            "--days",
            "35",
            "--program",
            "gift-box",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Simulated 35 days from 2027-01-31")
    assert lines[2].split()[:3] == ["2027-01-31", "1", "129.00"]  # prepaid at placement
    assert lines[3].split()[:3] == ["2027-02-24", "1", "0.00"]
    assert load_settings(environ={}).database_url not in result.stdout
