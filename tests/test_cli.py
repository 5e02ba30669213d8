"""The ``continuity`` command, run as a user runs it (a subprocess)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbutil import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    url = asyncio.run(create_database(tmp_path, migrated=False))
    try:
        yield url
    finally:
        asyncio.run(drop_database(url))


def continuity(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_rules_check_accepts_the_bundled_rules() -> None:
    result = continuity("rules", "check")
    assert result.returncode == 0, result.stderr
    assert "all rule files are valid" in result.stdout


def test_rules_check_prints_every_error_and_fails(rules_dir: Path) -> None:
    (rules_dir / "programs" / "coffee.yaml").write_text(
        (rules_dir / "programs" / "coffee.yaml")
        .read_text()
        .replace("quantity: 1,", "quantity: 0,", 1)
    )
    (rules_dir / "payment-schedules.yaml").write_text("schedules: [\n")
    result = continuity("rules", "check", str(rules_dir))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    assert lines[0].startswith(f"{rules_dir / 'payment-schedules.yaml'}:2:1: ")
    assert lines[1].startswith(f"{rules_dir / 'programs' / 'coffee.yaml'}:16:38: ")
    assert "quantity" in lines[1]
    assert "2 error(s)" in result.stderr


def test_the_installed_console_script_works_from_any_directory(tmp_path: Path) -> None:
    """`pip install` put a `continuity` script beside the interpreter; it must import the
    project's packages wherever it runs (not only from the checkout)."""
    script = Path(sys.executable).parent / "continuity"
    result = subprocess.run(
        [str(script), "rules", "check"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "all rule files are valid" in result.stdout


def test_rules_check_touches_no_database(tmp_path: Path) -> None:
    database = tmp_path / "never.sqlite3"
    result = continuity("rules", "check", env={"CONTINUITY_DATABASE_URL": f"sqlite://{database}"})
    assert result.returncode == 0
    assert not database.exists()


@pytest.mark.db
def test_db_migrate_then_up_to_date(empty_database_url: str) -> None:
    url = empty_database_url
    first = continuity("db", "migrate", env={"CONTINUITY_DATABASE_URL": url})
    assert first.returncode == 0, first.stderr
    assert "applied models.0001_initial" in first.stdout
    second = continuity("db", "migrate", env={"CONTINUITY_DATABASE_URL": url})
    assert second.stdout.strip() == "database is up to date"


def test_models_and_migrations_agree() -> None:
    """The CI check: a model change without its migration fails here."""
    result = continuity("db", "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "models and migrations agree"


@pytest.mark.db
def test_jobs_run_prints_what_the_run_did(empty_database_url: str) -> None:
    url = empty_database_url
    env = {"CONTINUITY_DATABASE_URL": url}
    result = continuity("jobs", "run", "all", "--as-of", "2026-03-15", env=env)
    assert result.returncode == 0, result.stderr
    # no rules loaded yet in this database: no program to update
    first = next(line for line in result.stdout.splitlines() if "update-event-period" in line)
    assert first.split()[:5] == ["update-event-period", "│", "2026-03-15", "│", "succeeded"]
    assert "money: no money moved" in result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.db
def test_serve_starts_and_answers_graphql(empty_database_url: str, tmp_path: Path) -> None:
    """What the README's first command does: migrate, load the rules, serve GraphQL."""
    url = empty_database_url
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--dev"],
            cwd=ROOT,
            env={**os.environ, "CONTINUITY_DATABASE_URL": url},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as response:
                    assert json.load(response) == {"status": "ok"}
                    break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the service did not start in 60 s"
                time.sleep(0.2)
        document = json.dumps({"query": "{ programs { nodes { id } } }"}).encode()
        anonymous = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=document,
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(anonymous)
        assert refused.value.code == 401
        assert json.load(refused.value)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        # The README's "first token" step.
        created = subprocess.run(
            [sys.executable, "-m", "server.cli", "token", "create", "--role", "admin"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**os.environ, "CONTINUITY_DATABASE_URL": url},
        )
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=document,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request) as response:
            body = json.load(response)
        assert len(body["data"]["programs"]["nodes"]) == 5
        graphiql = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql", headers={"Accept": "text/html"}
        )
        with urllib.request.urlopen(graphiql) as response:
            assert "graphiql" in response.read().decode().lower()
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.db
def test_token_create_list_revoke(empty_database_url: str) -> None:
    env = {"CONTINUITY_DATABASE_URL": empty_database_url}
    created = continuity("token", "create", "--role", "operator", "--name", "fulfilment", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("ct_")
    assert len(token) == 58
    key = token[3:15]
    listed = continuity("token", "list", env=env)
    assert key in listed.stdout
    assert "fulfilment" in listed.stdout
    assert token[15:] not in listed.stdout  # never the secret
    refused = continuity("token", "create", "--role", "customer", env=env)
    assert refused.returncode == 2
    assert "names its customer account" in refused.stderr
    revoked = continuity("token", "revoke", key, env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in continuity("token", "list", env=env).stdout
    assert continuity("token", "revoke", "nosuchkey", env=env).returncode == 1
