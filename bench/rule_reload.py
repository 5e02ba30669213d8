"""6. ``rule-reload``: load + validate + sync of 1,000 program files versus plain libyaml.

The files are the bundled programs copied with new ids and parent SKUs (the catalog and the
payment schedules are copied as they are). Measured in a fresh process: libyaml
(``yaml.load(…, Loader=yaml.CSafeLoader)``) of every file, then ``load_rules`` (the ratio
compares these two), then ``sync_rules`` into a freshly migrated database, then a second
load + sync of the unchanged files, which must touch no row (row counts and ``updated_at``
compared before and after).

The two timings of the ratio are taken ``ROUNDS`` times, one after the other, and each
side's best counts (as ``timeit`` advises): each lasts a fraction of a second, and one
reading of each swung the ratio from 1.2 to 2.2 with the same code on the shared VM of
docs/PERFORMANCE.md, where libyaml's C took 0.29–0.53 s from one minute to the next. The
first load in the process is no slower than the later ones (0.83 s against 0.80–0.85).
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from bench.backends import Backend, RawDB
from bench.core import Result, Sizes, run_worker

NAME = "rule-reload"
TARGET = 2.0
#: Readings of each side of the ratio (libyaml, ``load_rules``), alternated.
ROUNDS = 5

_RULE_TABLES = (
    "product",
    "payment_schedule",
    "payment_schedule_line",
    "program",
    "program_version",
    "program_version_schedule",
    "program_event",
    "program_event_item",
)
_STAMPED = ("product", "payment_schedule", "program")


def write_rules(directory: Path, programs: int) -> list[Path]:
    """``programs`` program files made from the bundled ones, with the catalog and schedules."""
    from rules.loader import BUNDLED_RULES_DIR, CATALOG_FILE, PROGRAMS_DIR, SCHEDULES_FILE

    shutil.copyfile(BUNDLED_RULES_DIR / CATALOG_FILE, directory / CATALOG_FILE)
    shutil.copyfile(BUNDLED_RULES_DIR / SCHEDULES_FILE, directory / SCHEDULES_FILE)
    out = directory / PROGRAMS_DIR
    out.mkdir()
    sources = sorted((BUNDLED_RULES_DIR / PROGRAMS_DIR).glob("*.yaml"))
    written = [directory / CATALOG_FILE, directory / SCHEDULES_FILE]
    for index in range(programs):
        source = sources[index % len(sources)]
        program_id = f"{source.stem}-{index:04d}"
        text = source.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^id: .*$", f"id: {program_id}", text, count=1)
        text = re.sub(
            r"(parent_product:\s*\{\s*sku:\s*)([A-Z0-9._-]+)",
            rf"\g<1>\g<2>-{index:04d}",
            text,
            count=1,
        )
        path = out / f"{program_id}.yaml"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


async def _snapshot(url: str) -> dict[str, Any]:
    async with RawDB(url) as db:
        counts = {t: int(await db.value(f"SELECT COUNT(*) FROM {t}")) for t in _RULE_TABLES}
        stamps = {
            t: {row[0]: str(row[1]) for row in await db.fetch(f"SELECT id, updated_at FROM {t}")}
            for t in _STAMPED
        }
    return {"counts": counts, "stamps": stamps}


def _touched(before: dict[str, Any], after: dict[str, Any]) -> int:
    touched = sum(abs(int(after["counts"][t]) - int(before["counts"][t])) for t in _RULE_TABLES)
    for table in _STAMPED:
        old, new = before["stamps"][table], after["stamps"][table]
        touched += sum(1 for key, value in new.items() if old.get(key) != value)
    return touched


def _libyaml(rules_dir: Path) -> tuple[list[Path], float]:
    """The baseline: every rule file parsed by libyaml, nothing else (page cache warm)."""
    files = [*sorted(rules_dir.glob("*.yaml")), *sorted((rules_dir / "programs").glob("*.yaml"))]
    for path in files:
        path.read_bytes()
    started = time.perf_counter()
    for path in files:
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
    return files, time.perf_counter() - started


async def measure(url: str, rules_dir: Path) -> dict[str, Any]:
    """The worker side (``bench.worker reload``): every timing of this benchmark."""
    from continuity.db import migrate, open_database
    from rules.loader import load_rules
    from rules.sync import sync_rules

    yaml_times: list[float] = []
    load_times: list[float] = []
    for _ in range(ROUNDS):
        files, seconds = _libyaml(rules_dir)
        yaml_times.append(seconds)
        started = time.perf_counter()
        rule_set = load_rules(rules_dir)
        load_times.append(time.perf_counter() - started)
    await migrate(url)
    async with open_database(url):
        from continuity.models import Product

        await Product.all().count()  # warm-up: open the connection
        started = time.perf_counter()
        report = await sync_rules(rule_set)
        sync_seconds = time.perf_counter() - started
        before = await _snapshot(url)
        started = time.perf_counter()
        again = await sync_rules(load_rules(rules_dir))
        reload_seconds = time.perf_counter() - started
        after = await _snapshot(url)
    return {
        "files": len(files),
        "programs": len(rule_set.programs),
        "yaml_seconds": min(yaml_times),
        "load_seconds": min(load_times),
        "yaml_times": yaml_times,
        "load_times": load_times,
        "sync_seconds": sync_seconds,
        "reload_seconds": reload_seconds,
        "programs_created": len(report.programs),
        "second_reload_changed": again.changed,
        "touched": _touched(before, after),
    }


async def run(backend: Backend, base_url: str, sizes: Sizes) -> Result:
    rules_dir = backend.directory / "rules-bench"
    rules_dir.mkdir()
    try:
        write_rules(rules_dir, sizes.reload_programs)
        url = await backend.create("rules")
        try:
            m = run_worker("reload", url, str(rules_dir))
        finally:
            await backend.drop(url)
    finally:
        shutil.rmtree(rules_dir, ignore_errors=True)
    ratio = m["load_seconds"] / m["yaml_seconds"]
    touched = int(m["touched"])
    return Result(
        name=NAME,
        backend=backend.name,
        figure=m["load_seconds"],
        unit="s load+validate",
        baseline=m["yaml_seconds"],
        baseline_unit="s",
        baseline_label="libyaml CSafeLoader",
        ratio=ratio,
        target=f"≤{TARGET:.1f}",
        ok=ratio <= TARGET and touched == 0,
        valid=m["programs_created"] == m["programs"],
        extras=[
            f"{m['programs']:,} programs",
            f"best of {len(m['load_times'])} each; the pairs' ratios "
            + ", ".join(
                f"{a / b:.2f}" for a, b in zip(m["load_times"], m["yaml_times"], strict=True)
            ),
            f"sync {m['sync_seconds']:.2f} s",
            f"unchanged reload {m['reload_seconds']:.2f} s",
            "unchanged reload touched 0 rows"
            if touched == 0
            else f"unchanged reload touched {touched} rows",
        ],
        details=m,
    )
