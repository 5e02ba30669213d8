"""7. ``rule-limits``: hostile rule files just under the size limit, checked within bounds.

Each file (a long list, a wide mapping, many short lists, deep nesting, one huge value, an
alias "billion laughs", a flood of errors, the largest valid catalog, a file one byte over the
limit) is checked by ``check_rules`` in a fresh process, which reports its seconds and peak RSS;
every one must be refused or accepted in under 2 s and 200 MB. The baseline is what reading
the same file cost before the bounds: libyaml composing its node tree
(``yaml.compose(…, Loader=yaml.CSafeLoader)``), also in a fresh process and in the same run.
Quick mode uses files of 1/16 of the limit.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.backends import Backend
from bench.core import Result, Sizes, run_worker

NAME = "rule-limits"
TARGET_SECONDS = 2.0
TARGET_MB = 200.0
#: A compose that takes longer than this is reported at the limit (full mode only).
BASELINE_TIME_LIMIT = 300.0


def _fill(size: int, head: str, unit: str, tail: str = "") -> str:
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


def _catalog_item(index: int) -> str:
    return (
        f'  - {{sku: ITEM-{index:05d}, name: "Catalog item number {index}", '
        f'price: "{index % 90 + 9}.99", currency: USD}}\n'
    )


def _laughs(_size: int) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\nitems: *a9\n"


def _error_flood(size: int) -> str:
    row = "  - {sku: bad sku, name: [1], price: 1.5, currency: XXX, active: yes, colour: red}\n"
    return _fill(size, "items:\n", row)


#: name -> (text of catalog.yaml for a file of about ``size`` bytes, accepted?)
FILES: dict[str, tuple[Callable[[int], str], bool]] = {
    "one-long-list": (lambda size: _fill(size, "items:\n", "- 1\n"), False),
    "wide-mapping": (
        lambda size: "items:\n" + "".join(f"  k{n:08d}: 1\n" for n in range(size // 15)),
        False,
    ),
    "many-lists": (
        lambda size: _fill(size, "items:\n", "- [" + ", ".join(["1"] * 500) + "]\n"),
        False,
    ),
    "deep-nesting": (lambda size: _fill(size, "items: ", "["), False),
    "one-huge-value": (lambda size: _fill(size, "items: ", "x", "\n"), False),
    "billion-laughs": (_laughs, False),
    "error-flood": (_error_flood, False),
    "largest-catalog": (
        lambda _size: "items:\n" + "".join(_catalog_item(n) for n in range(5_000)),
        True,
    ),
    "over-the-limit": (lambda size: _fill(size + 2, "items: ", "x", "\n"), False),
}


def write_files(directory: Path, quick: bool) -> dict[str, Path]:
    """One rules directory per hostile file (its ``catalog.yaml``), beside bundled schedules."""
    from rules.limits import MAX_FILE_BYTES
    from rules.loader import BUNDLED_RULES_DIR, SCHEDULES_FILE

    size = MAX_FILE_BYTES // 16 if quick else MAX_FILE_BYTES - 64
    written: dict[str, Path] = {}
    for name, (make, _accepted) in FILES.items():
        rules_dir = directory / name
        (rules_dir / "programs").mkdir(parents=True)
        shutil.copyfile(BUNDLED_RULES_DIR / SCHEDULES_FILE, rules_dir / SCHEDULES_FILE)
        target = MAX_FILE_BYTES if name == "over-the-limit" else size
        (rules_dir / "catalog.yaml").write_text(make(target), encoding="utf-8")
        written[name] = rules_dir
    return written


def measure_check(rules_dirs: list[Path]) -> dict[str, Any]:
    """The worker side (``bench.worker limits DIR…``): ``check_rules`` of each, timed."""
    from rules.loader import check_rules

    files = []
    for rules_dir in rules_dirs:
        started = time.perf_counter()
        errors = check_rules(rules_dir)
        files.append(
            {
                "seconds": time.perf_counter() - started,
                "errors": len(errors),
                "first_error": str(errors[0]).replace(str(rules_dir), "") if errors else "",
                "bytes": (rules_dir / "catalog.yaml").stat().st_size,
            }
        )
    return {"files": files}


def measure_compose(paths: list[Path]) -> dict[str, Any]:
    """The worker side (``bench.worker compose FILE…``): libyaml's node tree of each."""
    import yaml

    files = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        started = time.perf_counter()
        try:
            yaml.compose(text, Loader=yaml.CSafeLoader)
            outcome = "composed"
        except yaml.YAMLError as exc:
            outcome = f"refused: {getattr(exc, 'problem', exc)}"
        files.append({"seconds": time.perf_counter() - started, "outcome": outcome})
    return {"files": files}


def _measure(path: str, targets: list[Path], timeout: float) -> list[dict[str, Any]]:
    """Each target's figures; the process's peak RSS is each one's (one process per target
    in full mode, one for all of them in quick mode, where RSS is then an upper bound)."""
    try:
        result = run_worker(path, *map(str, targets), timeout=timeout)
    except subprocess.TimeoutExpired:
        return [{"seconds": timeout, "outcome": "time limit", "peak_rss_mb": 0.0}] * len(targets)
    return [{**row, "peak_rss_mb": result["peak_rss_mb"]} for row in result["files"]]


async def run(backend: Backend, _base_url: str, sizes: Sizes) -> Result:
    directory = backend.directory / "rule-limits"
    directory.mkdir()
    try:
        files = write_files(directory, sizes.quick)
        groups = [list(files)] if sizes.quick else [[name] for name in files]
        ours: list[dict[str, Any]] = []
        raw: list[dict[str, Any]] = []
        for group in groups:
            ours += _measure("limits", [files[name] for name in group], 120)
            catalogs = [files[name] / "catalog.yaml" for name in group]
            raw += _measure("compose", catalogs, BASELINE_TIME_LIMIT)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    rows: list[dict[str, Any]] = [
        {"name": name, "ours": mine, "compose": theirs}
        for name, mine, theirs in zip(files, ours, raw, strict=True)
    ]
    total = sum(row["ours"]["seconds"] for row in rows)
    baseline = sum(row["compose"]["seconds"] for row in rows)
    worst = max(rows, key=lambda row: row["ours"]["seconds"])
    heaviest = max(row["ours"]["peak_rss_mb"] for row in rows)
    within = all(
        row["ours"]["seconds"] < TARGET_SECONDS and row["ours"]["peak_rss_mb"] < TARGET_MB
        for row in rows
    )
    outcomes_right = all((row["ours"]["errors"] == 0) == FILES[row["name"]][1] for row in rows)
    return Result(
        name=NAME,
        backend=backend.name,
        figure=total,
        unit=f"s to check {len(rows)} files",
        baseline=baseline,
        baseline_unit="s",
        baseline_label="libyaml compose of the same files",
        ratio=total / baseline if baseline else 0.0,
        target=f"each <{TARGET_SECONDS:.0f} s and <{TARGET_MB:.0f} MB",
        ok=within,
        valid=outcomes_right,
        extras=[
            f"worst {worst['name']} {worst['ours']['seconds']:.2f} s",
            f"peak {heaviest:.0f} MB",
            *(
                f"{row['name']} {row['ours']['seconds']:.2f} s {row['ours']['peak_rss_mb']:.0f} MB"
                f" (compose {row['compose']['seconds']:.2f} s"
                f" {row['compose'].get('peak_rss_mb', 0):.0f} MB)"
                for row in rows
            ),
        ],
        details={"files": rows},
    )
