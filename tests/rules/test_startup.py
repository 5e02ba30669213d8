"""`continuity serve` with rules that cannot load starts anyway, serves the previous good
version, and logs why: invalid files, or a database that refuses the sync."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from continuity.db import open_database
from server.app import create_app
from tests.api.graphql import gql
from tests.conftest import as_admin
from tests.dbutil import on_postgres

pytestmark = pytest.mark.db

PROGRAM = '{ program(code: "gift-box") { name version { number } } }'

#: A trigger that refuses any new program version, on either backend: a real database error.
_REFUSE_SQLITE = (
    "CREATE TRIGGER refuse_versions BEFORE INSERT ON program_version "
    "BEGIN SELECT RAISE(ABORT, 'no new versions today'); END"
)
_REFUSE_POSTGRES = [
    "CREATE FUNCTION refuse_versions() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'no new versions today'; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER refuse_versions BEFORE INSERT ON program_version "
    "FOR EACH ROW EXECUTE FUNCTION refuse_versions()",
]


def _live(settings: Settings) -> dict[str, object]:
    with TestClient(create_app(settings)) as client:
        program: dict[str, object] = gql(as_admin(client), PROGRAM)["program"]
        return program


def _rename(rules_dir: Path) -> None:
    path = rules_dir / "programs" / "gift-box.yaml"
    path.write_text(path.read_text().replace("\nname: ", "\nname: Deluxe ", 1))


def _refuse_new_versions(url: str) -> None:
    async def run() -> None:
        async with open_database(url) as ctx:
            for statement in _REFUSE_POSTGRES if on_postgres() else [_REFUSE_SQLITE]:
                await ctx.db().execute_script(statement)

    asyncio.run(run())


def test_invalid_rules_at_start_keep_the_previous_version(
    settings: Settings, rules_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = _live(settings)
    _rename(rules_dir)
    coffee = rules_dir / "programs" / "coffee.yaml"
    coffee.write_text(coffee.read_text() + "colour: red\n")
    with caplog.at_level(logging.ERROR, logger="continuity.server"):
        assert _live(settings) == first
    messages = [record.getMessage() for record in caplog.records]
    assert any("colour: unknown key" in message for message in messages)
    assert any(
        message == f"1 error(s) in {rules_dir}: the previous programs stay live"
        for message in messages
    )


def test_a_database_error_while_syncing_keeps_the_previous_version(
    settings: Settings, rules_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = _live(settings)
    assert first["version"] == {"number": 1}
    _refuse_new_versions(settings.database_url)
    _rename(rules_dir)  # valid, and it needs a new version the database now refuses
    with caplog.at_level(logging.ERROR):
        assert _live(settings) == first
    messages = [record.getMessage() for record in caplog.records]
    stay = [message for message in messages if "the previous programs stay live" in message]
    assert len(stay) == 1
    assert "no new versions today" in stay[0]
    assert stay[0].endswith(f"in {rules_dir}: the previous programs stay live")


def test_the_reload_mutation_reports_a_database_refusal_without_internals(
    settings: Settings, rules_dir: Path
) -> None:
    _live(settings)
    _refuse_new_versions(settings.database_url)
    _rename(rules_dir)
    with TestClient(create_app(settings)) as client:
        payload = gql(
            as_admin(client),
            "mutation { reloadRules(input: {}) { applied errors { path } "
            "userErrors { code message } } }",
        )["reloadRules"]
    assert payload == {
        "applied": False,
        "errors": [],
        "userErrors": [
            {
                "code": "RULES_INVALID",
                "message": "the database could not store the rules (the server log says why): "
                "nothing was changed",
            }
        ],
    }
