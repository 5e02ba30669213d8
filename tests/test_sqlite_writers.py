"""SQLite as the README uses it: two processes writing one file (issue 11).

Two ``continuity jobs run`` at once used to fail items with "database is locked"; now the
second writer waits (WAL, a busy timeout, transactions that take the write lock when they
begin), both succeed, and everything is done exactly once. A writer that cannot have the lock
within its timeout gets one line and exit code 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tortoise.connection import get_connection

from continuity import sqlite
from continuity.db import open_database, tortoise_config
from tests.dbutil import create_database, drop_database, on_postgres
from tests.jobs.processes import DAY0, exactly_once, jobs_run, populate

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(on_postgres(), reason="SQLite's locking; PostgreSQL has row locks"),
]

ROOT = Path(__file__).resolve().parent.parent


def test_every_sqlite_connection_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    connection = tortoise_config(f"sqlite://{tmp_path}/a.sqlite3")["connections"]["default"]
    assert connection["engine"] == "continuity.sqlite"
    assert connection["credentials"]["journal_mode"] == "WAL"
    assert connection["credentials"]["synchronous"] == "FULL"
    assert connection["credentials"]["busy_timeout"] == sqlite.BUSY_TIMEOUT_MS
    # the URL's own value wins
    given = tortoise_config(f"sqlite://{tmp_path}/a.sqlite3?busy_timeout=250")
    assert given["connections"]["default"]["credentials"]["busy_timeout"] == "250"
    # PostgreSQL through asyncpg: our pool (no reset query), with every part of the URL
    postgres = tortoise_config("postgres://u:p@h:5433/d?minsize=2")["connections"]["default"]
    assert postgres["engine"] == "continuity.postgres"
    assert postgres["credentials"] == {
        "host": "h",
        "port": 5433,
        "user": "u",
        "password": "p",
        "database": "d",
        "minsize": "2",
    }


async def test_an_open_database_is_in_wal_mode_with_the_timeout(tmp_path: Path) -> None:
    url = await create_database(tmp_path)
    try:
        async with open_database(url):
            conn = get_connection("default")
            _n, mode = await conn.execute_query("PRAGMA journal_mode")
            _n, timeout = await conn.execute_query("PRAGMA busy_timeout")
            _n, synchronous = await conn.execute_query("PRAGMA synchronous")
        assert next(iter(dict(mode[0]).values())) == "wal"
        assert next(iter(dict(synchronous[0]).values())) == 2  # FULL: every commit synced
        assert next(iter(dict(timeout[0]).values())) == sqlite.BUSY_TIMEOUT_MS
    finally:
        await drop_database(url)


async def test_a_transaction_that_cannot_begin_leaves_the_process_usable(tmp_path: Path) -> None:
    """A busy file refuses ``BEGIN IMMEDIATE`` after the timeout; the next transaction of the
    same process must not hang on the lock the failed one took."""
    url = await create_database(tmp_path)
    path = url.removeprefix("sqlite://")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        async with open_database(f"{url}?busy_timeout=100"):
            from tortoise.transactions import in_transaction

            holder.execute("BEGIN IMMEDIATE")
            with pytest.raises(Exception, match="database is locked") as refused:
                async with in_transaction():
                    pass
            assert sqlite.is_locked(refused.value)
            holder.execute("COMMIT")
            async with asyncio.timeout(5), in_transaction() as conn:
                await conn.execute_query("SELECT 1")
    finally:
        holder.close()
        await drop_database(url)


def test_two_jobs_runs_at_once_both_succeed_and_do_everything_once(
    shared_url: str, rules_dir: Path, tmp_path: Path
) -> None:
    asyncio.run(populate(shared_url, rules_dir, 8))
    journal = tmp_path / "gateway.jsonl"
    runs = [jobs_run(shared_url, DAY0, faults=f"journal={journal}") for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, out + err
        assert "locked" not in out + err
        assert "Traceback" not in err
    result = asyncio.run(exactly_once(shared_url, journal, through=DAY0))
    assert result["child_orders"] == result["charges"] == 24


def test_a_writer_locked_out_past_its_timeout_gets_one_line(shared_url: str) -> None:
    holder = sqlite3.connect(shared_url.removeprefix("sqlite://"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        done = subprocess.run(
            [sys.executable, "-m", "server.cli", "jobs", "run", "all", "--as-of", "2027-01-10"],
            cwd=ROOT,
            env={**os.environ, "CONTINUITY_DATABASE_URL": f"{shared_url}?busy_timeout=200"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        holder.close()
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    problem = [line for line in done.stderr.splitlines() if "locked" in line]
    assert len(problem) == 1
    assert "stayed locked by another process" in problem[0]
    assert "busy_timeout" in problem[0]
