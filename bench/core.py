"""What every benchmark shares: its sizes, its result line, and running a measured worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

#: The business date every benchmark runs on (data is generated around it).
AS_OF = date(2027, 3, 1)


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is: ``quick`` (CI, under a minute) or full (the published run)."""

    quick: bool
    child_orders: int
    child_due: int
    child_time_limit: float
    chain_orders: int
    chain_due: int
    chain_time_limit: float
    charges: int
    charges_time_limit: float
    http_seconds: float
    http_connections: int
    reload_programs: int
    projection_orders: int

    @classmethod
    def for_mode(cls, quick: bool, scale: float = 1.0) -> Sizes:
        """``quick`` (CI) or full sizes; ``scale`` multiplies the full data sizes (0.1: a
        tenth of a million orders) for runs on a small machine."""
        if quick:
            return cls(
                quick=True,
                child_orders=20_000,
                child_due=2_000,
                child_time_limit=float(os.environ.get("BENCH_CHILD_TIME_LIMIT", "30")),
                chain_orders=20_000,
                chain_due=700,
                chain_time_limit=float(os.environ.get("BENCH_CHAIN_TIME_LIMIT", "4")),
                charges=200,
                charges_time_limit=float(os.environ.get("BENCH_CHARGES_TIME_LIMIT", "3")),
                http_seconds=1.0,
                http_connections=16,
                reload_programs=50,
                projection_orders=200,
            )

        def n(count: int) -> int:
            return max(1, round(count * scale))

        return cls(
            quick=False,
            child_orders=n(1_000_000),
            child_due=n(100_000),
            child_time_limit=float(os.environ.get("BENCH_CHILD_TIME_LIMIT", "120")),
            chain_orders=n(1_000_000),
            chain_due=n(35_000),
            chain_time_limit=float(os.environ.get("BENCH_CHAIN_TIME_LIMIT", "120")),
            charges=n(35_000),
            charges_time_limit=float(os.environ.get("BENCH_CHARGES_TIME_LIMIT", "60")),
            http_seconds=10.0,
            http_connections=16,
            reload_programs=n(1_000),
            projection_orders=n(10_000),
        )


@dataclass
class Result:
    """One benchmark on one backend: the figure, the baseline of the same run, their ratio.

    ``ratio`` is always figure ÷ baseline (so for a rate higher is better, for a duration lower
    is better: the target says which); ``ok`` compares with the target and is ``None`` when
    there is no target.
    """

    name: str
    backend: str
    figure: float
    unit: str
    baseline: float
    baseline_unit: str
    baseline_label: str
    ratio: float
    target: str
    ok: bool | None
    valid: bool = True
    #: The figure is a bound (a time limit was hit), printed with ">" or "<".
    bound: str = ""
    extras: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        verdict = "-" if self.ok is None else ("ok" if self.ok else "MISSED")
        if not self.valid:
            verdict = "INVALID"
        parts = [
            f"{self.name:<14}",
            f"{self.backend:<8}",
            f"{self.bound}{fmt(self.figure)} {self.unit}",
            f"baseline {fmt(self.baseline)} {self.baseline_unit} ({self.baseline_label})",
            f"ratio {fmt_ratio(self.ratio)}",
            f"target {self.target}",
            verdict,
        ]
        line = "  ".join(parts)
        extras = [extra for extra in self.extras if extra]
        if extras:
            line += "  | " + "; ".join(extras)
        return line

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def fmt(value: float) -> str:
    """``18,234`` for big numbers, ``0.53`` for small ones."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def fmt_ratio(value: float) -> str:
    """Two decimals, or two significant digits below 0.1 (``0.0036``)."""
    return f"{value:.2f}" if value >= 0.1 or value == 0 else f"{value:.2g}"


def failed(name: str, backend: str, message: str) -> Result:
    """A benchmark that could not run: printed, and marked invalid."""
    return Result(
        name=name,
        backend=backend,
        figure=0.0,
        unit="",
        baseline=0.0,
        baseline_unit="",
        baseline_label="not measured",
        ratio=0.0,
        target="-",
        ok=None,
        valid=False,
        notes=[message],
    )


def note(message: str) -> None:
    """A progress or warning line on stderr (stdout carries the result lines)."""
    print(f"# {message}", file=sys.stderr, flush=True)


def run_worker(*args: str, timeout: float | None = None) -> dict[str, Any]:
    """Run ``python -m bench.worker ARGS`` in a fresh process; return the JSON it prints last.

    Every measured path runs in a process of its own, so that one path's caches, connections
    and garbage never slow the next.
    """
    command = [sys.executable, "-m", "bench.worker", *args]
    started = time.perf_counter()
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"worker {' '.join(args[:1])} failed ({proc.returncode}) after "
            f"{time.perf_counter() - started:.1f} s:\n{proc.stderr[-3000:]}"
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"worker {args[0]} printed no result:\n{proc.stdout[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result
