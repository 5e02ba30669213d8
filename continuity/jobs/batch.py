"""The one batch loop every job runs its work through.

A job supplies two things: ``select(after, size)``, the ids of the next items to work on in
ascending order after ``after`` (keyset pagination: no offset, and an item finished or
claimed by another replica simply stops being selected), and ``step(ids, room)``, the work on
one batch. The loop does the rest, once for every job:

- **keyset batches** of ``size`` ids;
- **per-item isolation**: a step that raises is retried item by item, and an item that fails
  alone is recorded on the run (``run.fail``) and never stops the others; a step must
  therefore be safe to re-run (every step re-checks its items inside its transaction);
- **the run cap** (``cap``, e.g. ``max_child_orders_per_run``): each step is told the
  ``room`` left and reports what it used (``Outcome.used``); on every path, batch or item
  by item, the loop never gives a step more room than is left, stops once it is used up,
  and counts ``capped`` when work was left for the next run;
- the run ledger: counts and failures go to the ``RunRecorder`` of ``recorded_run``;
- **graceful stop**: before each batch it asks the recorder (``checkpoint``), which ends the
  run ``INTERRUPTED`` when a shutdown was requested; the next run completes the work;
- **the API stays responsive**: the jobs run in the server's event loop, and on SQLite every
  query of the process, the API's reads too, goes through one connection that a batch's
  transaction holds until it commits. So on SQLite a batch is kept short: when a step takes
  longer than ``BATCH_SECONDS`` the next batch is smaller in proportion (never under
  ``MIN_BATCH``), and grows back toward ``size`` while steps are quick; time a step spends
  waiting outside the database (``Outcome.waited``: the payments' gateway calls) does not count,
  or a batch of charges would shrink to what the gateway answers in 0.25 s (PostgreSQL serves the
  API from other pooled connections, and keeps the job's full batches: smaller ones cost it
  throughput); on both, the loop yields to the event loop between batches, so that requests
  waiting for it go first (docs/ARCHITECTURE.md, "Jobs and the API in one process").
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import monotonic

from continuity.connection import connection
from continuity.jobs.runs import RunRecorder


@dataclass(frozen=True)
class Outcome:
    """What a step did toward the run's cap: ``used`` units of it; ``full``: the next item
    did not fit in the room left (the run stops there, the rest waits for the next run).
    ``waited``: seconds of the step spent waiting outside the database (a payment gateway's
    answers, no transaction open), which do not count toward ``BATCH_SECONDS``."""

    used: int = 0
    full: bool = False
    waited: float = 0.0


#: How long one batch should hold the database (and, on SQLite, the API's one connection).
BATCH_SECONDS = 0.25
#: Batches never shrink below this many items (a step has a fixed cost per batch).
MIN_BATCH = 50


def target_seconds() -> float | None:
    """How long a batch may hold the database: ``BATCH_SECONDS`` where the API shares the
    jobs' one connection (SQLite), no bound on PostgreSQL."""
    dialect = connection().capabilities.dialect
    return None if dialect == "postgres" else BATCH_SECONDS


def next_size(
    current: int, largest: int, items: int, seconds: float, limit: float | None = BATCH_SECONDS
) -> int:
    """The next batch's size: in proportion when ``items`` took longer than ``limit``,
    doubled (up to ``largest``) when a full batch took under half of it."""
    if limit is None:
        return largest
    if seconds > limit and items > MIN_BATCH:
        return max(MIN_BATCH, min(current, int(items * limit / seconds)))
    if seconds < limit / 2 and items >= current:
        return min(largest, current * 2)
    return current


#: The ids of the next items after ``after``, ascending, at most ``size``.
Select = Callable[[int, int], Awaitable[list[int]]]
#: Work on a batch of ids with ``room`` left under the cap (``None``: no cap).
Step = Callable[[list[int], int | None], Awaitable[Outcome | None]]

#: The ids of the next items in ``(after, upto]``, ascending, at most ``size``.
RangeSelect = Callable[[int, int, int], Awaitable[list[int]]]
#: ``in_windows``' default: how many ids one statement looks at.
WINDOW = 50_000


def in_windows(select: RangeSelect, end: int, span: int = WINDOW) -> Select:
    """A selection that looks at the ids ``span`` at a time, up to ``end``.

    For a query that must test every item to find the few it selects (extend-lines tests
    each open order's pending occurrences): one statement over the whole table held SQLite's
    one connection, and with it every API read, for about two seconds at a million orders.
    Each statement now covers at most ``span`` ids (~0.1 s); the next batch starts where the
    last one found its items, so nothing is skipped. Items added past ``end`` (the largest id
    when the run began) wait for the next run.
    """

    async def select_windowed(after: int, size: int) -> list[int]:
        while after < end:
            upto = min(after + span, end)
            found = await select(after, upto, size)
            if found:
                return found
            after = upto
        return []

    return select_windowed


#: ``read_ahead``'s default: how many batches' ids one selection reads.
READ_AHEAD_BATCHES = 10


def read_ahead(select: Select, batches: int = READ_AHEAD_BATCHES) -> Select:
    """``select`` asked for ``batches`` batches' ids at a time, the batches served from them.

    For a selection whose cost does not shrink with its limit: SQLite answers the child-order
    job's from the lines' (status, planned ship date) index, reading and sorting every due
    line on each call, most of a run's selecting. The batches counted are the largest asked
    for: on SQLite, under the API's load, the loop shrinks its batches (``next_size``), and
    reading ahead from the shrunken size made ten times the statements, each as long (a
    million orders under load: 55 selections of about a second). An item that becomes
    selectable during the run between ids already read waits for the next run, as one behind
    ``after`` always did; an id read ahead that no longer qualifies is dropped by the step,
    which re-checks its items in its transaction (the module docstring).
    """
    buffered: list[int] = []
    largest = 0

    async def select_ahead(after: int, size: int) -> list[int]:
        nonlocal buffered, largest
        largest = max(largest, size)
        buffered = buffered[bisect.bisect_right(buffered, after) :]
        if len(buffered) < size:
            buffered += await select(buffered[-1] if buffered else after, largest * batches)
        return buffered[:size]

    return select_ahead


async def run_batches(
    run: RunRecorder,
    *,
    select: Select,
    step: Step,
    size: int,
    cap: int | None = None,
    item: str = "order",
) -> None:
    """Work through every selected item, a batch at a time (see the module docstring)."""
    used = 0
    after = 0
    current = size
    limit = target_seconds()

    def room() -> int | None:
        return None if cap is None else cap - used

    async def cap_reached() -> None:
        """The cap is used up: is anything left for the next run?"""
        if await select(after, 1):
            run.count("capped")

    while True:
        run.checkpoint()  # a stop was requested (SIGTERM): end after the batch in hand
        left = room()
        if left is not None and left <= 0:
            await cap_reached()
            return
        await asyncio.sleep(0)  # let the API's requests in between two batches
        ids = await select(after, current)
        if not ids:
            return
        started = monotonic()
        try:
            outcome = await step(ids, left) or Outcome()
            held = monotonic() - started - outcome.waited
            current = next_size(current, size, len(ids), held, limit)
        except Exception as exc:
            if len(ids) == 1:
                run.fail(f"{item} {ids[0]}", f"{type(exc).__name__}: {exc}")
                after = ids[0]
                continue
            outcome = None
        if outcome is not None:
            used += outcome.used
            if outcome.full:  # an item did not fit: it waits for the next run
                run.count("capped")
                return
            after = ids[-1]
            continue
        for one in ids:  # the batch failed: each item alone, each within what is left
            left = room()
            if left is not None and left <= 0:
                await cap_reached()
                return
            try:
                single = await step([one], left) or Outcome()
            except Exception as exc:  # one bad item never aborts the run
                run.fail(f"{item} {one}", f"{type(exc).__name__}: {exc}")
                after = one
                continue
            used += single.used
            if single.full:
                run.count("capped")
                return
            after = one
