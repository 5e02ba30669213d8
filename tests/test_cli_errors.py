"""The CLI never answers with a traceback: one line saying what is wrong and what to do, exit
code 2 for a wrong command line or configuration, 1 for a failure (``--debug`` shows the
traceback); long runs show progress and end with a summary (money with its currency), or JSON."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from server.progress import LiveStatus
from tests.dbutil import on_postgres
from tests.test_cli import continuity


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error line (warnings, such as the test gateway's, may come before it)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line and "warning:" not in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["jobs", "run", "all", "--as-of", "2026-02-30"],
            "continuity jobs run: argument --as-of: '2026-02-30' is not a date (day is out of "
            "range for month): use YYYY-MM-DD, e.g. 2027-01-31 (see `continuity jobs run --help`)",
        ),
        (
            ["demo", "--today", "2026-13-01"],
            "continuity demo: argument --today: '2026-13-01' is not a date (month must be in "
            "1..12): use YYYY-MM-DD, e.g. 2027-01-31 (see `continuity demo --help`)",
        ),
        (["simulate", "--from", "2027-01-01", "--days", "0"], "'0' must be at least 1"),
        (["jobs", "run", "everything"], "argument job: invalid choice: 'everything'"),
        (["jobs"], "the following arguments are required: jobs_command"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args: list[str], expected: str) -> None:
    result = continuity(*args)
    assert result.returncode == 2
    assert expected in _one_line_error(result)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "mysql://root@localhost/continuity",
            "continuity db migrate: configuration error: environment variable "
            "CONTINUITY_DATABASE_URL: service.database_url: unsupported database URL scheme "
            "'mysql': use sqlite:// or postgres://",
        ),
        (
            "sqlite:///no/such/directory/continuity.sqlite3",
            "the directory of the SQLite file, /no/such/directory, does not exist",
        ),
    ],
)
def test_a_database_url_that_cannot_work_is_a_usage_error(url: str, expected: str) -> None:
    result = continuity("db", "migrate", env={"CONTINUITY_DATABASE_URL": url})
    assert result.returncode == 2
    assert expected in _one_line_error(result)


def test_an_unreachable_database_is_one_line_exit_1_without_its_password() -> None:
    url = "postgres://continuity:s3cret@127.0.0.1:1/continuity"
    result = continuity("jobs", "run", "all", env={"CONTINUITY_DATABASE_URL": url})
    assert result.returncode == 1
    line = _one_line_error(result)
    assert line.startswith("continuity jobs run: cannot connect to postgres://continuity:***@")
    assert "is the database server running?" in line
    assert "s3cret" not in result.stderr


def test_debug_shows_the_traceback() -> None:
    url = "postgres://continuity@127.0.0.1:1/continuity"
    result = continuity("--debug", "db", "migrate", env={"CONTINUITY_DATABASE_URL": url})
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "ConnectionRefusedError" in result.stderr
    after = continuity("db", "migrate", "--debug", env={"CONTINUITY_DATABASE_URL": url})
    assert "Traceback" in after.stderr  # anywhere on the line


@pytest.mark.db
@pytest.mark.skipif(not on_postgres(), reason="a missing database is a PostgreSQL situation")
def test_a_missing_postgres_database_says_how_to_create_it() -> None:
    from tests.dbutil import _pg_url

    result = continuity(
        "demo", env={"CONTINUITY_DATABASE_URL": _pg_url("continuity_no_such_database")}
    )
    assert result.returncode == 1
    line = _one_line_error(result)
    assert "database 'continuity_no_such_database' does not exist" in line
    assert "createdb continuity_no_such_database" in line


def test_a_misspelled_variable_is_reported_with_the_closest_name(tmp_path: Path) -> None:
    result = continuity(
        "rules", "check", env={"CONTINUITY_DATABSE_URL": f"sqlite://{tmp_path}/x.sqlite3"}
    )
    assert result.returncode == 0
    assert result.stderr.splitlines()[0] == (
        "continuity: warning: unknown environment variable CONTINUITY_DATABSE_URL ignored: "
        "did you mean CONTINUITY_DATABASE_URL?"
    )


@pytest.mark.db
def test_a_run_ends_with_a_summary_and_money_in_its_currency(database_url: str) -> None:
    env = {"CONTINUITY_DATABASE_URL": database_url}
    assert continuity("demo", "--today", "2027-01-10", env=env).returncode == 0
    result = continuity("jobs", "run", "all", "--as-of", "2027-01-12", env=env)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if "2027-01-12" in line}
    assert list(rows) == [
        "update-event-period",
        "extend-lines",
        "continuity-update",
        "process-payments",
        "create-child-orders",
        "close-orders",
    ]
    # the gift box's up-front charge was declined: it waits (nothing ships before it is paid)
    assert "child_orders=4" in rows["create-child-orders"]
    assert "awaiting_payment=1" in rows["create-child-orders"]
    assert "authorized_amount=101.47 USD" in rows["create-child-orders"]
    assert "succeeded" in rows["create-child-orders"]
    assert (
        "money: authorized 101.47 USD (3 payments); declined 129.00 USD (1 payment)"
        in result.stdout
    )


@pytest.mark.db
def test_json_prints_machine_readable_runs(database_url: str) -> None:
    env = {"CONTINUITY_DATABASE_URL": database_url}
    continuity("demo", "--today", "2027-01-10", "--json", env=env)
    result = continuity("jobs", "run", "all", "--as-of", "2027-01-12", "--json", env=env)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert (body["as_of"], body["ok"], body["interrupted"]) == ("2027-01-12", True, False)
    assert [run["status"] for run in body["runs"]] == ["succeeded"] * 6
    counts = body["runs"][4]["counts"]
    assert (counts["child_orders"], counts["awaiting_payment"]) == (4, 1)
    assert counts["authorized_amount"] == [{"amount": "101.47", "currency": "USD"}]
    assert {
        "kind": "authorization",
        "status": "succeeded",
        "currency": "USD",
        "count": 3,
        "amount": "101.47",
    } in body["money"]


def test_simulate_prints_json() -> None:
    result = continuity(
        "simulate", "--from", "2027-01-31", "--days", "15", "--program", "coffee", "--json"
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["orders"] == {"coffee": 1}
    assert [day["date"] for day in body["activity"]] == ["2027-01-31", "2027-02-11"]
    assert body["activity"][0]["charged"] == [{"amount": "19.00", "currency": "USD"}]


async def test_without_a_terminal_progress_is_a_line_every_few_seconds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    done: list[int] = []
    status = LiveStatus(
        10,
        lambda: f"day {len(done)}",
        lambda: len(done),
        console=Console(file=io.StringIO()),  # not a terminal
        every=0.05,
    )
    async with status.shown():
        for day in range(4):
            done.append(day)
            await asyncio.sleep(0.06)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 3
    assert all(re.fullmatch(r"\[\s*\d+ s\] (\d+)/10 done; day \1", line) for line in lines), lines


async def test_on_a_terminal_progress_is_a_bar() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    done: list[int] = []
    async with LiveStatus(3, lambda: "simulating", lambda: len(done), console=console).shown():
        done.extend([1, 2])
        await asyncio.sleep(0.3)
    assert "simulating" in screen.getvalue()
    assert "2/3" in screen.getvalue()


def test_every_command_is_in_the_readme_table() -> None:
    import argparse

    from server.cli import build_parser

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = [line for line in readme.splitlines() if line.startswith("| `continuity ")]
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in commands.choices:
        assert any(line.startswith(f"| `continuity {name}") for line in table), name
