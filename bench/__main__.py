"""``python -m bench all [--quick] [--backend sqlite|postgres|both] [--only NAME,…] [--json PATH]``

Prints one line per benchmark and backend (figure, the baseline measured in the same run on
the same data, their ratio, the target), then a summary table. Each backend runs in a process
of its own (Tortoise keeps per-process state for the first engine it sees).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import (
    chain_load,
    charges,
    child_orders,
    daily_chain,
    graphql_read,
    place_orders,
    projection,
    rule_limits,
    rule_reload,
    simulate,
)
from bench.backends import Backend, postgres_admin_url, postgres_reachable
from bench.core import Result, Sizes, failed, fmt, fmt_ratio, note
from bench.datagen import prepare

Runner = Callable[[Backend, str, Sizes], Awaitable[Result]]

BENCHMARKS: dict[str, Runner] = {
    child_orders.NAME: child_orders.run,
    daily_chain.NAME: daily_chain.run,
    charges.NAME: charges.run,
    graphql_read.NAME: graphql_read.run,
    place_orders.NAME: place_orders.run,
    rule_reload.NAME: rule_reload.run,
    rule_limits.NAME: rule_limits.run,
    projection.NAME: projection.run,
    simulate.NAME: simulate.run,
    chain_load.NAME: chain_load.run,
}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="The Continuity benchmark suite."
    )
    parser.add_argument("what", nargs="?", default="all", help="'all' or NAME[,NAME…]")
    parser.add_argument("--quick", action="store_true", help="small data: the CI mode (<1 min)")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="full mode: multiply the data sizes (0.1 = 100k orders instead of 1 M)",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = args.only or ("" if args.what == "all" else args.what)
    selected = [n.strip() for n in names.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in selected if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    args.selected = selected
    return args


async def _run_backend(name: str, selected: list[str], sizes: Sizes) -> list[Result]:
    """Every selected benchmark on one backend, in this process."""
    results: list[Result] = []
    async with Backend(name) as backend:
        base = await backend.create("base")
        await prepare(base, authorize_child_orders=False, days_before_delivery=0)
        for bench_name in selected:
            started = time.perf_counter()
            try:
                result = await BENCHMARKS[bench_name](backend, base, sizes)
            except Exception as exc:
                note(f"{bench_name} {name} failed:\n{traceback.format_exc()}")
                result = failed(bench_name, name, f"{type(exc).__name__}: {exc}")
            result.details["wall_seconds"] = round(time.perf_counter() - started, 2)
            print(result.line(), flush=True)
            results.append(result)
    return results


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def summary(results: list[Result]) -> str:
    rows = [["benchmark", "backend", "figure", "baseline", "ratio", "target", "verdict"]]
    for r in results:
        verdict = "-" if r.ok is None else ("ok" if r.ok else "MISSED")
        rows.append(
            [
                r.name,
                r.backend,
                f"{r.bound}{fmt(r.figure)} {r.unit}",
                f"{fmt(r.baseline)} {r.baseline_unit}",
                fmt_ratio(r.ratio),
                r.target,
                verdict if r.valid else "INVALID",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _child(backend: str, args: argparse.Namespace, out: Path) -> list[Result]:
    """One backend in a fresh interpreter; its lines are passed through as they come."""
    command = [
        sys.executable,
        "-m",
        "bench",
        "--backend",
        backend,
        "--only",
        ",".join(args.selected),
        "--json",
        str(out),
        "--in-process",
    ]
    if args.quick:
        command.append("--quick")
    command += ["--scale", str(args.scale)]
    proc = subprocess.run(command, cwd=Path(__file__).resolve().parent.parent, check=False)
    if proc.returncode != 0 or not out.exists():
        return [
            failed(n, backend, f"the {backend} run exited {proc.returncode}") for n in args.selected
        ]
    data = json.loads(out.read_text())
    return [Result(**r) for r in data["results"]]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    sizes = Sizes.for_mode(args.quick, args.scale)
    if args.in_process:
        own = asyncio.run(_run_backend(args.backend, args.selected, sizes))
        if args.json:
            args.json.write_text(json.dumps({"results": [r.as_json() for r in own]}))
        return 0
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    info = machine()
    if "postgres" in backends:
        problem = asyncio.run(postgres_reachable())
        if problem is not None:
            if args.backend == "both":
                print(f"# PostgreSQL at {postgres_admin_url()} is unreachable, skipped: {problem}")
                backends.remove("postgres")
            else:
                print(f"PostgreSQL at {postgres_admin_url()} is unreachable: {problem}")
                return 2
    mode = "quick" if args.quick else ("full" if args.scale == 1 else f"full × {args.scale:g}")
    print(f"# continuity benchmarks, {mode} mode, {', '.join(backends)}; {info['cpu_model']}")
    started = time.perf_counter()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="continuity-bench-") as tmp:
        for backend in backends:
            results += _child(backend, args, Path(tmp) / f"{backend}.json")
    elapsed = time.perf_counter() - started
    print()
    print(summary(results))
    print(f"# {len(results)} results in {elapsed:.0f} s; ratios are printed, never asserted")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "mode": mode,
                    "backends": backends,
                    "machine": info,
                    "seconds": elapsed,
                    "results": [r.as_json() for r in results],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
