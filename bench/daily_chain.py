"""2. ``daily-chain``: the six jobs for a million active orders, time and peak RSS, on the
first day and on the day after (a steady state: what the first day left).

The chain runs in a fresh process (``bench.worker chain``) that reports its peak RSS; the RSS
baseline is the same process opening the ORM on the same data and doing nothing else. The time
baseline is the set-based child-order SQL on another copy of the same data (informational: the
chain does much more than create child orders).
"""

from __future__ import annotations

from typing import Any

from bench.backends import Backend
from bench.core import AS_OF, Result, Sizes, fmt, note, run_worker
from bench.datagen import Shape, generate, set_parameters

NAME = "daily-chain"
TARGET_SECONDS = 60.0
TARGET_RSS_MB = 500.0


async def run(backend: Backend, base_url: str, sizes: Sizes) -> Result:
    shape = Shape(sizes.chain_orders, sizes.chain_due)
    data = await backend.clone(base_url, "chain-data")
    await set_parameters(data, authorize_child_orders=True, days_before_delivery=0)
    note(f"{NAME} {backend.name}: generating {shape.orders:,} orders, {shape.due:,} due")
    await generate(data, shape, AS_OF)
    chain_db = await backend.clone(data, "chain-run")
    sql_db = await backend.clone(data, "chain-sql")
    try:
        idle = run_worker("idle", data)
        baseline = run_worker("child-baseline", sql_db, AS_OF.isoformat())
        limit = sizes.chain_time_limit
        chain = run_worker(
            "chain",
            chain_db,
            AS_OF.isoformat(),
            "--time-limit",
            str(limit),
            "--days",
            "2",
            timeout=2 * limit + 300,
        )
    finally:
        for url in (data, chain_db, sql_db):
            await backend.drop(url)
    seconds = float(chain["seconds"])
    rss = float(chain["peak_rss_mb"])
    idle_rss = float(idle["peak_rss_mb"])
    timed_out = bool(chain["timed_out"])
    per_job = ", ".join(f"{j['job']} {j['seconds']:.1f}s" for j in chain["jobs"])
    days = chain["days"]
    second: dict[str, Any] | None = days[1] if len(days) > 1 else None
    second_ok = (
        second is not None and not second["timed_out"] and float(second["seconds"]) < TARGET_SECONDS
    )
    second_jobs = ", ".join(
        f"{j['job']} {j['seconds']:.1f}s"
        for j in chain["all_jobs"]
        if second is not None and j["day"] == second["day"]
    )
    extras = [
        f"peak RSS {fmt(rss)} MB, baseline {fmt(idle_rss)} MB (idle ORM), ratio "
        f"{rss / idle_rss:.2f}, target <{TARGET_RSS_MB:.0f} MB "
        f"{'ok' if rss < TARGET_RSS_MB else 'MISSED'}",
        f"jobs: {per_job}"
        + (f", {chain['running']} stopped at the time limit" if timed_out else ""),
        (
            f"second day {'>' if second['timed_out'] else ''}{second['seconds']:.1f} s "
            f"(steady state; target <{TARGET_SECONDS:.0f} s {'ok' if second_ok else 'MISSED'}): "
            f"{second_jobs}"
        )
        if second is not None
        else "second day not run (the first hit the time limit)",
    ]
    if timed_out:
        note(f"{NAME} {backend.name}: stopped at the {limit:.0f} s limit in {chain['running']}")
    return Result(
        name=NAME,
        backend=backend.name,
        figure=seconds,
        unit="s",
        baseline=float(baseline["seconds"]),
        baseline_unit="s",
        baseline_label="set-based child-order SQL, informational",
        ratio=seconds / float(baseline["seconds"]),
        target=f"<{TARGET_SECONDS:.0f} s",
        ok=(not timed_out) and seconds < TARGET_SECONDS and rss < TARGET_RSS_MB and second_ok,
        bound=">" if timed_out else "",
        extras=extras,
        details={
            "orders": shape.orders,
            "due": shape.due,
            "timed_out": timed_out,
            "time_limit": limit,
            "running_at_limit": chain["running"],
            "jobs": chain["jobs"],
            "days": days,
            "second_day_jobs": [j for j in chain["all_jobs"] if j not in chain["jobs"]],
            "peak_rss_mb": rss,
            "idle_rss_mb": idle_rss,
            "rss_ok": rss < TARGET_RSS_MB,
        },
    )
