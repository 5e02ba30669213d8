"""``continuity serve`` as an operator runs it: real processes, signals, several replicas.

- SIGTERM while the scheduled chain runs: the batch in hand finishes, the run is recorded
  ``INTERRUPTED``, the process exits 0; the next start catches the missed chain up, and the
  work is done exactly once.
- Two replicas on PostgreSQL: exactly one leads the scheduler (and runs the catch-up chain);
  when it is killed, the other takes over within seconds (the bound promised is a minute).
- JSON logs carry the request id sent in ``X-Request-Id``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from continuity.db import open_database
from continuity.enums import JobRunStatus
from continuity.jobs import DAILY_CHAIN
from continuity.models import JobRun
from tests.dbutil import on_postgres
from tests.jobs.processes import BUYERS_DEFAULT, exactly_once, journal_lines, populate

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parent.parent
TIMEZONE = "UTC"


def _today() -> date:
    return datetime.now(ZoneInfo(TIMEZONE)).date()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Replica:
    """One ``continuity serve`` process, its port, its log (stderr) and what it printed
    (stdout, next to the log as ``.out``)."""

    def __init__(self, url: str, log: Path, **env: str) -> None:
        self.port = _free_port()
        self.log = log
        with log.open("w") as errors, log.with_suffix(".out").open("w") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)],
                cwd=ROOT,
                env={
                    **os.environ,
                    "CONTINUITY_DATABASE_URL": url,
                    "CONTINUITY_TIMEZONE": TIMEZONE,
                    "CONTINUITY_DAILY_RUN_AT": "00:00",  # today's chain is due at start
                    "CONTINUITY_LEADER_CHECK_SECONDS": "1",
                    "CONTINUITY_DELIVERY_ENABLED": "false",
                    **env,
                },
                stdout=output,
                stderr=errors,
            )

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error), dict(error.headers)

    def ready(self) -> dict[str, Any] | None:
        try:
            status, body, _headers = self.get("/ready")
        except OSError:
            assert self.process.poll() is None, self.log.read_text()
            return None
        return body if status == 200 else None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=60)

    def stopped_cleanly(self) -> bool:
        """SIGTERM, then a complete shutdown (uvicorn re-raises the signal once it is done, as
        process managers expect: the exit status says SIGTERM)."""
        code = self.stop()
        return code in (0, -signal.SIGTERM) and "Application shutdown complete" in (
            self.log.read_text()
        )


def _wait_for(condition: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


async def _runs(url: str) -> list[tuple[str, JobRunStatus, str]]:
    async with open_database(url):
        return [(r.job, r.status, r.triggered_by) for r in await JobRun.filter(as_of=_today())]


def test_sigterm_interrupts_the_chain_and_the_next_start_catches_up(
    shared_url: str, rules_dir: Path, tmp_path: Path
) -> None:
    asyncio.run(populate(shared_url, rules_dir, BUYERS_DEFAULT, on=_today()))
    journal = tmp_path / "gateway.jsonl"
    first = Replica(
        shared_url,
        tmp_path / "first.log",
        CONTINUITY_FAULTS=f"latency=1,journal={journal}",
        CONTINUITY_RULES_DIR=str(rules_dir),
    )
    try:
        # the catch-up chain reaches the child orders: their charges are at the gateway
        _wait_for(
            lambda: any(job == "create-child-orders" for job, *_ in asyncio.run(_runs(shared_url))),
            "the catch-up chain to create child orders",
        )
        time.sleep(0.3)
        assert first.stopped_cleanly(), first.log.read_text()
    finally:
        first.stop(signal.SIGKILL)
    runs = asyncio.run(_runs(shared_url))
    assert ("create-child-orders", JobRunStatus.INTERRUPTED, "scheduler:catch-up") in runs
    assert not any(job == "close-orders" for job, *_ in runs)
    assert not any(status is JobRunStatus.RUNNING for _job, status, _by in runs)

    second = Replica(
        shared_url,
        tmp_path / "second.log",
        CONTINUITY_FAULTS=f"journal={journal}",
        CONTINUITY_RULES_DIR=str(rules_dir),
    )
    try:
        _wait_for(
            lambda: any(
                (job, status) == ("close-orders", JobRunStatus.SUCCEEDED)
                for job, status, _by in asyncio.run(_runs(shared_url))
            ),
            "the next start to complete the chain",
        )
    finally:
        assert second.stopped_cleanly(), second.log.read_text()
    asyncio.run(exactly_once(shared_url, journal, through=_today()))
    assert journal_lines(journal)


@pytest.mark.skipif(not on_postgres(), reason="leader election is a PostgreSQL feature")
def test_one_replica_leads_and_another_takes_over_when_it_dies(
    shared_url: str, tmp_path: Path
) -> None:
    replicas = [
        Replica(shared_url, tmp_path / f"replica-{n}.log", CONTINUITY_LOG_FORMAT="json")
        for n in range(2)
    ]
    try:
        states = _wait_for(
            lambda: all(states := [r.ready() for r in replicas]) and states,
            "both replicas to be ready",
        )
        leaders = _wait_for(
            lambda: [r for r in replicas if (r.ready() or {}).get("scheduler", {}).get("leader")],
            "a leader",
        )
        assert len(leaders) == 1, states
        leader = leaders[0]
        follower = next(r for r in replicas if r is not leader)
        # for a few leadership checks, never two leaders
        for _ in range(20):
            flags = [(r.ready() or {})["scheduler"]["leader"] for r in replicas]
            assert flags.count(True) == 1, flags
            time.sleep(0.1)
        # the leader ran the missed chain, once
        _wait_for(
            lambda: (
                sum(
                    status is JobRunStatus.SUCCEEDED
                    for _j, status, _b in asyncio.run(_runs(shared_url))
                )
                == len(DAILY_CHAIN)
            ),
            "the catch-up chain",
        )
        status, body, headers = follower.get("/ready", **{"X-Request-Id": "probe-42"})
        assert (status, body["scheduler"]["leader"]) == (200, False)
        assert headers["x-request-id"] == "probe-42"

        leader.process.kill()  # SIGKILL: no goodbye, PostgreSQL drops its lock
        leader.process.wait(timeout=30)
        killed_at = time.monotonic()
        _wait_for(
            lambda: (follower.ready() or {}).get("scheduler", {}).get("leader"),
            "the follower to take over",
            timeout=60,
        )
        assert time.monotonic() - killed_at < 60
        time.sleep(1.5)  # a leadership check after taking over: the chain is not run again
        runs = asyncio.run(_runs(shared_url))
        assert len(runs) == len(DAILY_CHAIN), runs
        assert all(by == "scheduler:catch-up" for _j, _s, by in runs)
        assert follower.stopped_cleanly()
        # stderr is the JSON log, every line of it (stdout says where the service is)
        lines = [json.loads(line) for line in follower.log.read_text().splitlines()]
        assert "Continuity on http://" in follower.log.with_suffix(".out").read_text()
        assert any(line.get("request_id") == "probe-42" for line in lines)
        assert any("leads the scheduler" in line["message"] for line in lines)
    finally:
        for replica in replicas:
            replica.stop(signal.SIGKILL)
