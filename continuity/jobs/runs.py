"""Recording job runs: every run leaves a row with its counts and per-item failures."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

from continuity.enums import JobRunStatus
from continuity.models import JobRun


class RunRecorder:
    """Collects what a run did; one failing item is recorded, never aborts the batch."""

    def __init__(self, run: JobRun) -> None:
        self.run = run
        self.counts: Counter[str] = Counter()
        self.failures: list[dict[str, Any]] = []

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] += n

    def fail(self, item: str, error: str) -> None:
        self.failures.append({"item": item, "error": error})


@asynccontextmanager
async def recorded_run(
    job: str, as_of: date, filters: dict[str, Any], triggered_by: str
) -> AsyncIterator[RunRecorder]:
    run = await JobRun.create(job=job, as_of=as_of, filters=filters, triggered_by=triggered_by)
    recorder = RunRecorder(run)
    try:
        yield recorder
    except BaseException as exc:
        recorder.fail("run", f"{type(exc).__name__}: {exc}")
        await _finish(recorder, JobRunStatus.FAILED)
        raise
    await _finish(recorder, JobRunStatus.PARTIAL if recorder.failures else JobRunStatus.SUCCEEDED)


async def _finish(recorder: RunRecorder, status: JobRunStatus) -> None:
    run = recorder.run
    run.status = status
    run.finished_at = datetime.now(UTC)
    run.counts = dict(recorder.counts)
    run.failures = recorder.failures
    await run.save(update_fields=["status", "finished_at", "counts", "failures"])
