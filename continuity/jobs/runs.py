"""The run ledger: every job run leaves a row with its counts and per-item failures, and a run
that stops before its end says why.

A run's life (``JobRun.status``):

- ``RUNNING`` while it works; it holds a proof of life (``continuity.jobs.liveness``) and writes
  a heartbeat with its counts so far every few seconds;
- ``SUCCEEDED``, or ``PARTIAL`` when some items failed (each recorded, none aborts the batch);
- ``FAILED`` when an unexpected error ended it;
- ``INTERRUPTED`` when it was asked to stop (SIGTERM): the batch loop calls
  ``RunRecorder.checkpoint()`` between batches, so the batch in hand finishes and no new one
  starts; a run cancelled outright (the shutdown's time was up) is interrupted too;
- ``ABANDONED`` when its process died: the next run (or the scheduler's sweep) finds it dead,
  marks it, and releases its payment claims (``continuity.jobs.claims``) so they are due at once.

Work is committed batch by batch and every step is re-checked in its transaction, so the next
run of the same job completes an interrupted or abandoned run without doing anything twice.

Observers (``add_run_observer``) hear of every run that starts and ends: the server counts them
for ``/metrics``, the CLI shows progress. The running run is ``current_run`` (a context
variable), so every log line of a run can carry its id.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from continuity.enums import JobRunStatus
from continuity.jobs import liveness
from continuity.jobs.claims import release_claims
from continuity.models import JobRun
from continuity.money import from_minor
from continuity.sqlite import background

log = logging.getLogger("continuity.jobs")


def split_counts(
    counts: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, list[tuple[Decimal, str]]]]:
    """A run's counts as people read them: the plain numbers, and the amounts (recorded as
    ``<name>_minor:<currency>``) by name, each a list of (amount, currency), one per currency.
    An amount recorded without its currency means nothing and is left out."""
    numbers: dict[str, Any] = {}
    amounts: dict[str, list[tuple[Decimal, str]]] = {}
    for key, value in counts.items():
        name, _, currency = key.partition(":")
        if not name.endswith("_minor"):
            numbers[key] = value
        elif currency:
            amounts.setdefault(name.removesuffix("_minor"), []).append(
                (from_minor(int(value), currency), currency)
            )
    return numbers, amounts


class RunInterrupted(Exception):
    """Raised by ``RunRecorder.checkpoint()`` when a stop was requested."""


class StopToken:
    """A request to stop starting work: set by a signal handler or a shutting-down server."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set


#: Set by the process's SIGTERM handler (``continuity serve``, ``continuity jobs run``).
PROCESS_STOP = StopToken()
_scoped_stop: ContextVar[StopToken | None] = ContextVar("continuity_stop", default=None)


def request_stop() -> None:
    """Ask every run of this process to stop after its current batch (a signal handler)."""
    PROCESS_STOP.set()


def stop_requested() -> bool:
    scoped = _scoped_stop.get()
    return PROCESS_STOP.is_set() or (scoped is not None and scoped.is_set())


@contextmanager
def stop_scope(token: StopToken) -> Iterator[None]:
    """Runs started inside the block also stop when ``token`` is set (a server's own token, so
    that one app shutting down in a test process does not stop the others)."""
    reset = _scoped_stop.set(token)
    try:
        yield
    finally:
        _scoped_stop.reset(reset)


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

    def checkpoint(self) -> None:
        """Call between batches: raises ``RunInterrupted`` when a stop was requested, so that
        the run ends ``INTERRUPTED`` after the batch it finished and starts no other."""
        if stop_requested():
            raise RunInterrupted


#: The run the current task works for (log lines carry its id).
current_run: ContextVar[RunRecorder | None] = ContextVar("continuity_run", default=None)


class RunObserver(Protocol):
    def run_started(self, recorder: RunRecorder) -> None: ...

    def run_finished(self, run: JobRun) -> None: ...


_observers: list[RunObserver] = []
#: Ids of the runs in progress in this process (never mistaken for dead ones).
_active: set[int] = set()


def add_run_observer(observer: RunObserver) -> Callable[[], None]:
    """Hear of every run of this process that starts and ends; returns the way to stop."""
    _observers.append(observer)
    return lambda: _observers.remove(observer) if observer in _observers else None


def _notify(event: str, value: Any) -> None:
    for observer in list(_observers):
        try:
            getattr(observer, event)(value)
        except Exception:  # an observer never breaks a run
            log.exception("run observer %r failed on %s", observer, event)


@asynccontextmanager
async def recorded_run(
    job: str, as_of: date, filters: dict[str, Any], triggered_by: str
) -> AsyncIterator[RunRecorder]:
    with background():  # on SQLite, the run's reads stay off the API's read connection
        async with liveness.run_lease() as owner:
            now = datetime.now(UTC)
            run = await JobRun.create(
                job=job,
                as_of=as_of,
                filters=filters,
                triggered_by=triggered_by,
                owner=str(owner),
                heartbeat_at=now,
            )
            _active.add(run.id)
            recorder = RunRecorder(run)
            token = current_run.set(recorder)
            heartbeat = asyncio.create_task(_heartbeat(recorder))
            try:
                await abandon_dead_runs(found_by=run.id)
                log.info("run %s: %s for %s started (%s)", run.id, job, as_of, triggered_by)
                _notify("run_started", recorder)
                try:
                    yield recorder
                except RunInterrupted:
                    await _end(recorder, JobRunStatus.INTERRUPTED, heartbeat)
                except asyncio.CancelledError:
                    recorder.fail("run", "interrupted: cancelled before its end")
                    await _end(recorder, JobRunStatus.INTERRUPTED, heartbeat)
                    raise
                except BaseException as exc:
                    recorder.fail("run", f"{type(exc).__name__}: {exc}")
                    await _end(recorder, JobRunStatus.FAILED, heartbeat)
                    raise
                else:
                    status = JobRunStatus.PARTIAL if recorder.failures else JobRunStatus.SUCCEEDED
                    await _end(recorder, status, heartbeat)
            finally:
                heartbeat.cancel()
                _active.discard(run.id)
                current_run.reset(token)


async def _heartbeat(recorder: RunRecorder) -> None:
    """Proof of life for other hosts, and the counts so far for whoever reads ``jobRuns``."""
    while True:
        await asyncio.sleep(liveness.HEARTBEAT_SECONDS)
        try:
            await JobRun.filter(id=recorder.run.id, status=JobRunStatus.RUNNING).update(
                heartbeat_at=datetime.now(UTC), counts=dict(recorder.counts)
            )
        except Exception as exc:  # the database may be busy or briefly away: try again later
            log.warning("run %s: heartbeat not written: %s", recorder.run.id, exc)


async def _end(recorder: RunRecorder, status: JobRunStatus, heartbeat: asyncio.Task[None]) -> None:
    """Record the end of a run and hand back the claims it still holds, in one transaction."""
    heartbeat.cancel()
    run = recorder.run
    run.status = status
    run.finished_at = datetime.now(UTC)
    run.counts = dict(recorder.counts)
    run.failures = recorder.failures
    async with in_transaction() as conn:
        await run.save(
            update_fields=["status", "finished_at", "counts", "failures"],
            using_db=conn,
        )
        released = await release_claims([run.id], conn)
    if released:
        log.info("run %s: %d unfinished payment claim(s) released", run.id, released)
    log.info("run %s: %s for %s %s %s", run.id, run.job, run.as_of, status.value, run.counts)
    _notify("run_finished", run)


async def abandon_dead_runs(*, found_by: int | None = None) -> list[JobRun]:
    """Mark every ``RUNNING`` run whose process is gone ``ABANDONED`` and release its claims.

    Safe to call from several processes at once: a run is marked by whoever gets there first
    (a state step re-checked in its transaction), and releasing a claim twice changes nothing.
    """
    now = datetime.now(UTC)
    abandoned: list[JobRun] = []
    for row in await JobRun.filter(status=JobRunStatus.RUNNING).order_by("id"):
        if row.id in _active or not await liveness.is_dead(row.owner, row.heartbeat_at, now):
            continue
        finder = f"run {found_by}" if found_by else "the scheduler's sweep"
        row.failures = [
            *row.failures,
            {
                "item": "run",
                "error": f"abandoned: its process ({row.owner or 'unknown'}) stopped without "
                f"finishing; found by {finder}, which released its claims",
            },
        ]
        async with in_transaction() as conn:
            marked = (
                await JobRun.filter(id=row.id, status=JobRunStatus.RUNNING)
                .using_db(conn)
                .update(status=JobRunStatus.ABANDONED, finished_at=now, failures=row.failures)
            )
            if not marked:
                continue
            released = await release_claims([row.id], conn)
        row.status, row.finished_at = JobRunStatus.ABANDONED, now
        log.warning(
            "run %s (%s for %s) abandoned by its process %s; %d payment claim(s) released",
            row.id,
            row.job,
            row.as_of,
            row.owner,
            released,
        )
        abandoned.append(row)
        _notify("run_finished", row)
    return abandoned
