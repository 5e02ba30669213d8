"""Progress and summaries for the CLI's long commands (``jobs run``, ``simulate``), with ``rich``.

While job runs work, ``RunProgress`` shows the job in hand and its counts so far: a live
progress bar (jobs done of the chain) on a terminal, or, when stderr is a file or a pipe (a
cron job, CI), one line every few seconds. Both go to stderr, so stdout carries only the
result: a table (``run_table``) with the money in its currency, or JSON with ``--json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from continuity.jobs.claims import Collected
from continuity.jobs.runs import RunRecorder, add_run_observer, split_counts
from continuity.models import JobRun
from continuity.money import from_minor

#: Without a terminal, a progress line this often.
LINE_EVERY_SECONDS = 5.0


def counts_text(counts: dict[str, Any]) -> str:
    """``child_orders=4 authorized_amount=101.47 USD``: amounts with their currency."""
    numbers, amounts = split_counts(counts)
    shown = {key: str(value) for key, value in numbers.items()}
    for name, values in amounts.items():
        shown[name] = ", ".join(f"{amount} {currency}" for amount, currency in values)
    return " ".join(f"{key}={value}" for key, value in sorted(shown.items())) or "-"


def counts_json(counts: dict[str, Any]) -> dict[str, Any]:
    """Counts for ``--json``: amounts as ``[{"amount": "101.47", "currency": "USD"}]``."""
    numbers, amounts = split_counts(counts)
    return {
        **numbers,
        **{
            name: [{"amount": str(amount), "currency": currency} for amount, currency in values]
            for name, values in amounts.items()
        },
    }


def stderr_console() -> Console:
    return Console(stderr=True)


class LiveStatus:
    """Shows ``describe()`` and ``completed()`` of ``total`` while a block runs: a live bar on a
    terminal, else a line every ``every`` seconds."""

    def __init__(
        self,
        total: int,
        describe: Callable[[], str],
        completed: Callable[[], int],
        *,
        console: Console | None = None,
        every: float = LINE_EVERY_SECONDS,
    ) -> None:
        self.total = total
        self.describe = describe
        self.completed = completed
        self.console = console or stderr_console()
        self.every = every
        self.started = time.monotonic()

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        return f"[{elapsed:5.0f} s] {self.completed()}/{self.total} done; {self.describe()}"

    @asynccontextmanager
    async def shown(self) -> AsyncIterator[None]:
        if self.console.is_terminal:
            async with self._bar():
                yield
        else:
            async with self._lines():
                yield

    @asynccontextmanager
    async def _bar(self) -> AsyncIterator[None]:
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=True) as progress:
            task = progress.add_task(self.describe(), total=self.total)

            async def refresh() -> None:
                while True:
                    progress.update(task, completed=self.completed(), description=self.describe())
                    await asyncio.sleep(0.2)

            async with _running(refresh):
                yield

    @asynccontextmanager
    async def _lines(self) -> AsyncIterator[None]:
        async def report() -> None:
            while True:
                await asyncio.sleep(self.every)
                print(self.line(), file=sys.stderr, flush=True)

        async with _running(report):
            yield


class RunProgress:
    """A run observer that shows the job runs of this process as they work."""

    def __init__(self, total: int, *, console: Console | None = None) -> None:
        self.current: RunRecorder | None = None
        self.mine: set[int] = set()
        self.finished: list[JobRun] = []
        self.status = LiveStatus(total, self.describe, lambda: len(self.finished), console=console)

    def run_started(self, recorder: RunRecorder) -> None:
        self.current = recorder
        self.mine.add(recorder.run.id)

    def run_finished(self, run: JobRun) -> None:
        if run.id in self.mine:  # not another process's run this one found abandoned
            self.finished.append(run)
            self.current = None

    def describe(self) -> str:
        if self.current is None:
            return "starting" if not self.finished else "finishing"
        run = self.current.run
        return f"{run.job} {run.as_of}: {counts_text(dict(self.current.counts))}"

    @asynccontextmanager
    async def shown(self) -> AsyncIterator[RunProgress]:
        stop_observing = add_run_observer(self)
        try:
            async with self.status.shown():
                yield self
        finally:
            stop_observing()


@asynccontextmanager
async def _running(loop: Callable[[], Any]) -> AsyncIterator[None]:
    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _seconds(run: JobRun) -> float | None:
    if run.finished_at is None:
        return None
    return round((run.finished_at - run.started_at).total_seconds(), 3)


def run_json(run: JobRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "job": run.job,
        "as_of": run.as_of.isoformat(),
        "status": run.status.value,
        "triggered_by": run.triggered_by,
        "filters": run.filters,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "seconds": _seconds(run),
        "counts": counts_json(run.counts),
        "failures": run.failures,
    }


def amount(line: Collected) -> Decimal:
    return from_minor(line.amount_minor, line.currency)


def money_json(lines: list[Collected]) -> list[dict[str, Any]]:
    return [
        {
            "kind": line.kind,
            "status": line.status,
            "currency": line.currency,
            "count": line.count,
            "amount": str(amount(line)),
        }
        for line in lines
    ]


_MONEY_WORDS = {
    ("charge", "succeeded"): "charged",
    ("refund", "succeeded"): "refunded",
    ("authorization", "succeeded"): "authorized",
}


def money_text(lines: list[Collected]) -> str:
    """``charged 57.00 USD (3 payments); declined 19.00 USD (1 payment)``."""
    parts = []
    for line in lines:
        word = _MONEY_WORDS.get((line.kind, line.status))
        if word is None:
            word = "declined" if line.status in ("declined", "failed") else line.status
            word = f"{line.kind} {word}" if line.kind != "charge" else word
        plural = "payment" if line.count == 1 else "payments"
        parts.append(f"{word} {amount(line)} {line.currency} ({line.count} {plural})")
    return "; ".join(parts) or "no money moved"


def run_table(runs: list[JobRun]) -> Table:
    table = Table(title=None, show_edge=False, pad_edge=False)
    for column in ("job", "as of", "status", "seconds", "done", "failed"):
        table.add_column(column, justify="right" if column in ("seconds", "failed") else "left")
    for run in runs:
        seconds = _seconds(run)
        table.add_row(
            run.job,
            run.as_of.isoformat(),
            run.status.value,
            "-" if seconds is None else f"{seconds:.1f}",
            counts_text(run.counts),
            str(len(run.failures)),
        )
    return table


def stdout_console() -> Console:
    """Tables on stdout; wide enough that a pipe or a file gets whole lines."""
    return Console(width=None if sys.stdout.isatty() else 160, soft_wrap=False)
