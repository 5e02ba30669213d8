"""9. ``simulate``: ``continuity simulate`` over 30 days of the bundled programs, end to end.

What a merchandiser waits for: the command in a fresh process (interpreter, imports, rules
loaded, a throwaway SQLite database made, one order per bundled program placed, the real daily
chain run 30 times with the simulated warehouse, the tables printed). Measured as wall time
and as the CPU time of the process (the machine's other work does not count in it). Baseline:
the same command over 1 day, the fixed cost every simulation pays. Target: under 5 s.
The simulation always runs on its own scratch SQLite file, so both backends measure the same.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.backends import Backend
from bench.core import Result, Sizes

NAME = "simulate"
DAYS = 30
TARGET_SECONDS = 5.0
ROOT = Path(__file__).resolve().parent.parent
COMMAND = (sys.executable, "-m", "server.cli", "simulate", "--from", "2027-01-31")


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_simulation(days: int) -> tuple[float, float, dict[str, Any]]:
    """Wall seconds, CPU seconds and the JSON of one ``continuity simulate`` process."""
    cpu = _cpu_of_children()
    started = time.perf_counter()
    proc = subprocess.run(
        [*COMMAND, "--days", str(days), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"continuity simulate failed ({proc.returncode}):\n{proc.stderr}")
    return wall, _cpu_of_children() - cpu, json.loads(proc.stdout)


async def run(backend: Backend, base_url: str, sizes: Sizes) -> Result:
    fixed_wall, fixed_cpu, _ = timed_simulation(1)
    wall, cpu, data = timed_simulation(DAYS)
    shipments = len(data["shipments"])
    charged = ", ".join(f"{c['amount']} {c['currency']}" for c in data["charged"])
    return Result(
        name=NAME,
        backend=backend.name,
        figure=wall,
        unit=f"s for {DAYS} days",
        baseline=fixed_wall,
        baseline_unit="s",
        baseline_label="the same command over 1 day",
        ratio=wall / fixed_wall,
        target=f"<{TARGET_SECONDS:.0f} s",
        ok=wall < TARGET_SECONDS,
        valid=shipments > 0 and len(data["orders"]) > 0,
        extras=[
            f"CPU {cpu:.2f} s (1 day: {fixed_cpu:.2f} s)",
            f"{len(data['orders'])} programs, {shipments} shipments, charged {charged}",
        ],
        details={
            "days": DAYS,
            "simulate_seconds": wall,
            "cpu_seconds": cpu,
            "one_day_wall_seconds": fixed_wall,
            "one_day_cpu_seconds": fixed_cpu,
            "shipments": shipments,
        },
    )
