"""The one batch loop: keyset batches, per-item isolation, the run cap on every path."""

from __future__ import annotations

from datetime import date

import pytest
from tortoise.context import TortoiseContext

from continuity.enums import JobRunStatus
from continuity.jobs.batch import Outcome, run_batches
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
