"""The one batch loop: keyset batches, per-item isolation, the run cap on every path."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from tortoise.context import TortoiseContext

from continuity.enums import JobRunStatus
from continuity.jobs import batch
from continuity.jobs.batch import BATCH_SECONDS, MIN_BATCH, Outcome, next_size, run_batches
from continuity.jobs.runs import RunRecorder, recorded_run

pytestmark = pytest.mark.db


class Work:
    """Items 1..n; each step "creates" one unit per item, within the room it is given."""

    def __init__(self, count: int, *, failing: frozenset[int] = frozenset()) -> None:
        self.todo = list(range(1, count + 1))
        self.failing = failing
        self.done: list[int] = []
        self.calls: list[list[int]] = []

    async def select(self, after: int, size: int) -> list[int]:
        return [i for i in self.todo if i > after and i not in self.done][:size]

    async def step(self, ids: list[int], room: int | None) -> Outcome:
        self.calls.append(ids)
        if any(i in self.failing for i in ids):
            raise RuntimeError(f"boom in {ids}")
        fitting = ids if room is None else ids[:room]
        self.done += fitting
        return Outcome(used=len(fitting), full=len(fitting) < len(ids))


async def _run(work: Work, *, size: int, cap: int | None) -> RunRecorder:
    async with recorded_run("test", date(2027, 1, 31), {}, "test") as run:
        await run_batches(run, select=work.select, step=work.step, size=size, cap=cap)
    return run


async def test_batches_in_keyset_order(db: TortoiseContext) -> None:
    work = Work(7)
    run = await _run(work, size=3, cap=None)
    assert work.calls == [[1, 2, 3], [4, 5, 6], [7]]
    assert work.done == list(range(1, 8))
    assert run.run.status is JobRunStatus.SUCCEEDED


async def test_a_failing_batch_is_retried_item_by_item(db: TortoiseContext) -> None:
    work = Work(6, failing=frozenset({2}))
    run = await _run(work, size=3, cap=None)
    assert work.done == [1, 3, 4, 5, 6]
    assert [f["item"] for f in run.failures] == ["order 2"]
    assert run.run.status is JobRunStatus.PARTIAL


@pytest.mark.parametrize("failing", [frozenset(), frozenset({1})])
async def test_the_cap_holds_on_every_path(db: TortoiseContext, failing: frozenset[int]) -> None:
    work = Work(6, failing=failing)
    run = await _run(work, size=10, cap=2)
    assert len(work.done) == 2
    assert run.counts["capped"] == 1


async def test_nothing_left_is_not_capped(db: TortoiseContext) -> None:
    work = Work(2)
    run = await _run(work, size=10, cap=2)
    assert work.done == [1, 2]
    assert "capped" not in run.counts


class SlowWork(Work):
    """Each item of a step takes ``per_item`` seconds (of a fake clock the loop reads)."""

    def __init__(self, count: int, per_item: float) -> None:
        super().__init__(count)
        self.per_item = per_item
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def step(self, ids: list[int], room: int | None) -> Outcome:
        self.now += self.per_item * len(ids)
        return await super().step(ids, room)


async def test_slow_batches_shrink_so_that_none_holds_the_database_long(
    db: TortoiseContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step over BATCH_SECONDS makes the next batch smaller, never under MIN_BATCH; all the
    work is still done, once, in keyset order."""
    work = SlowWork(400, per_item=BATCH_SECONDS / 100)  # 200 items take 2 × BATCH_SECONDS
    monkeypatch.setattr(batch, "monotonic", work.monotonic)
    monkeypatch.setattr(batch, "target_seconds", lambda: BATCH_SECONDS)  # SQLite's bound
    await _run(work, size=200, cap=None)
    sizes = [len(call) for call in work.calls]
    assert sizes[:3] == [200, 100, 100]
    assert min(sizes) >= MIN_BATCH
    assert work.done == list(range(1, 401))


class WaitingWork(SlowWork):
    """Each item also waits ``per_item_wait`` seconds outside the database (a gateway's
    answer), which the step reports."""

    def __init__(self, count: int, per_item: float, per_item_wait: float) -> None:
        super().__init__(count, per_item)
        self.per_item_wait = per_item_wait

    async def step(self, ids: list[int], room: int | None) -> Outcome:
        waited = self.per_item_wait * len(ids)
        self.now += waited
        done = await super().step(ids, room)
        return Outcome(used=done.used, full=done.full, waited=waited)


async def test_time_spent_waiting_outside_the_database_does_not_shrink_batches(
    db: TortoiseContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of charges waits for the gateway with no transaction open: sized by the whole
    step, it shrank to what the gateway answers in BATCH_SECONDS (~150 charges at 50 ms and 64
    at a time), and the job ran at a fraction of the gateway's pace."""
    # 200 items hold the database BATCH_SECONDS / 2 and wait 10 × BATCH_SECONDS
    work = WaitingWork(600, per_item=BATCH_SECONDS / 400, per_item_wait=BATCH_SECONDS / 20)
    monkeypatch.setattr(batch, "monotonic", work.monotonic)
    monkeypatch.setattr(batch, "target_seconds", lambda: BATCH_SECONDS)
    await _run(work, size=200, cap=None)
    assert [len(call) for call in work.calls] == [200, 200, 200]
    assert work.done == list(range(1, 601))


async def test_the_loop_yields_to_other_tasks_between_batches(db: TortoiseContext) -> None:
    """A request waiting for the event loop runs between two batches, not after the run."""
    seen: list[int] = []
    work = Work(6)

    async def step(ids: list[int], room: int | None) -> Outcome:
        seen.append(len(work.calls))
        return await Work.step(work, ids, room)

    async def request() -> None:
        seen.append(-1)

    async with recorded_run("test", date(2027, 1, 31), {}, "test") as run:
        waiting = asyncio.ensure_future(request())
        await run_batches(run, select=work.select, step=step, size=2)
        await waiting
    assert seen.index(-1) < len(seen) - 1  # it ran before the last batch


def test_next_size_in_proportion_and_back() -> None:
    assert next_size(2000, 2000, 2000, BATCH_SECONDS * 4) == 500
    assert next_size(500, 2000, 500, BATCH_SECONDS / 4) == 1000
    assert next_size(1000, 2000, 300, BATCH_SECONDS / 4) == 1000  # a short last batch
    assert next_size(60, 2000, 60, BATCH_SECONDS * 100) == MIN_BATCH
    assert next_size(500, 2000, 500, 100.0, limit=None) == 2000  # PostgreSQL: no bound


async def test_read_ahead_selects_once_for_many_batches_and_the_same_items(
    db: TortoiseContext,
) -> None:
    work = Work(25)
    asked: list[tuple[int, int]] = []

    async def select(after: int, size: int) -> list[int]:
        asked.append((after, size))
        return await work.select(after, size)

    async with recorded_run("test", date(2027, 1, 31), {}, "test") as run:
        await run_batches(run, select=batch.read_ahead(select, 3), step=work.step, size=4)
    assert work.calls == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16],
                          [17, 18, 19, 20], [21, 22, 23, 24], [25]]  # fmt: skip
    assert work.done == list(range(1, 26))
    # three batches' ids a time (12), then from the last id read; the tail asks again
    assert asked[:3] == [(0, 12), (12, 12), (24, 12)]
    assert run.run.status is JobRunStatus.SUCCEEDED


async def test_read_ahead_reads_the_largest_batches_when_the_loop_shrinks_them(
    db: TortoiseContext,
) -> None:
    """SQLite's loop shrinks slow batches; the selection still reads ahead as many ids as for
    the full batches, not ten times as many statements."""
    work = Work(30)
    asked: list[tuple[int, int]] = []

    async def select(after: int, size: int) -> list[int]:
        asked.append((after, size))
        return await work.select(after, size)

    ahead = batch.read_ahead(select, 3)
    assert await ahead(0, 4) == [1, 2, 3, 4]
    assert await ahead(4, 2) == [5, 6]  # a shrunken batch, served from the ids read
    assert await ahead(6, 2) == [7, 8]
    assert await ahead(8, 2) == [9, 10]
    assert await ahead(10, 2) == [11, 12]
    assert await ahead(12, 2) == [13, 14]  # the buffer ran out: 3 batches of 4 again
    assert asked == [(0, 12), (12, 12)]


async def test_read_ahead_leaves_an_item_that_appears_behind_it_to_the_next_run(
    db: TortoiseContext,
) -> None:
    work = Work(10)
    work.todo.remove(5)
    select = batch.read_ahead(work.select, 10)
    assert await select(0, 2) == [1, 2]
    work.todo.insert(4, 5)  # due during the run, between ids already read
    assert await select(2, 2) == [3, 4]
    assert await select(4, 2) == [6, 7]
    next_run = batch.read_ahead(work.select, 10)
    assert await next_run(0, 20) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]


async def test_in_windows_looks_at_span_ids_a_statement_and_skips_nothing(
    db: TortoiseContext,
) -> None:
    wanted = [3, 4, 5, 41, 95, 96, 97, 98]  # gaps longer than a window between them
    looked: list[tuple[int, int]] = []

    async def in_range(after: int, upto: int, size: int) -> list[int]:
        looked.append((after, upto))
        return [i for i in wanted if after < i <= upto][:size]

    select = batch.in_windows(in_range, end=100, span=10)
    work = Work(100)
    work.todo = wanted
    async with recorded_run("test", date(2027, 1, 31), {}, "test") as run:
        await run_batches(run, select=select, step=work.step, size=2)
    assert work.done == wanted
    assert all(upto - after <= 10 for after, upto in looked)
    assert looked[-1][1] == 100  # the last window reaches the end, and no further
    assert work.calls == [[3, 4], [5], [41], [95, 96], [97, 98]]
