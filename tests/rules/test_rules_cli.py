"""`continuity rules check --format`, `rules schema`, `rules diff`, and the pre-commit hook,
run as a user (or a CI step, or pre-commit) runs them."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from rules.jsonschema import render
from server.cli import build_parser, cmd_rules_check
from tests.dbutil import create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]


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
        check=False,
    )


def _break(rules_dir: Path) -> None:
    coffee = rules_dir / "programs" / "coffee.yaml"
    coffee.write_text(coffee.read_text().replace("quantity: 1,", "quantity: 0,", 1))
    (rules_dir / "payment-schedules.yaml").write_text("schedules: [\n")


def test_check_as_json(rules_dir: Path) -> None:
    _break(rules_dir)
    result = continuity("rules", "check", str(rules_dir), "--format", "json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["valid"] is False
    assert [(Path(e["path"]).name, e["line"], e["column"]) for e in document["errors"]] == [
        ("payment-schedules.yaml", 2, 1),
        ("coffee.yaml", 16, 38),
    ]
    assert document["errors"][1]["message"] == "events.0.items.0.quantity: must be greater than 0"
    valid = json.loads(continuity("rules", "check", "--format", "json").stdout)
    assert (valid["valid"], valid["errors"]) == (True, [])


def test_check_as_github_annotations(rules_dir: Path) -> None:
    _break(rules_dir)
    result = continuity("rules", "check", str(rules_dir), "--format", "github")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    coffee = str(rules_dir / "programs" / "coffee.yaml").replace(":", "%3A").replace(",", "%2C")
    assert lines[1] == (
        f"::error file={coffee},line=16,col=38,title=rules check::"
        "events.0.items.0.quantity: must be greater than 0"
    )
    assert lines[0].startswith("::error file=")
    assert ",line=2,col=1," in lines[0]
    assert "2 error(s)" in result.stderr


def test_github_annotations_escape_newlines_and_percent() -> None:
    from rules.errors import RuleError
    from rules.report import github_annotation

    error = RuleError("a,b:c.yaml", 1, 2, "50% off\nline two")
    assert github_annotation(error) == (
        "::error file=a%2Cb%3Ac.yaml,line=1,col=2,title=rules check::50%25 off%0Aline two"
    )


def test_schema_prints_each_kind_and_writes_them(tmp_path: Path) -> None:
    result = continuity("rules", "schema", "program")
    assert result.returncode == 0
    assert result.stdout == render("program")
    every = json.loads(continuity("rules", "schema").stdout)
    assert sorted(every) == ["catalog", "payment-schedules", "program"]
    written = continuity("rules", "schema", "--write", str(tmp_path / "schema"))
    assert written.returncode == 0, written.stderr
    assert sorted(p.name for p in (tmp_path / "schema").iterdir()) == [
        "catalog.schema.json",
        "payment-schedules.schema.json",
        "program.schema.json",
    ]


@pytest.mark.db
def test_diff_against_the_live_database(empty_database_url: str, rules_dir: Path) -> None:
    env = {"CONTINUITY_DATABASE_URL": empty_database_url}
    first = continuity("rules", "diff", str(rules_dir), env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("programs:\n  book-club: created (version 1)\n")
    assert "    name: Book of the Month Club\n" in first.stdout
    loaded = continuity("demo", env={**env, "CONTINUITY_RULES_DIR": str(rules_dir)})
    assert loaded.returncode == 0, loaded.stderr
    assert continuity("rules", "diff", str(rules_dir), env=env).stdout == (
        "no changes: the database already holds these rules\n"
    )
    book = rules_dir / "programs" / "book-club.yaml"
    book.write_text(
        book.read_text().replace("[{sku: BOOK-002, quantity: 1}]", "[{sku: BOOK-002, quantity: 2}]")
    )
    (rules_dir / "programs" / "coffee.yaml").unlink()
    text = continuity("rules", "diff", str(rules_dir), env=env).stdout
    assert text == (
        "programs:\n"
        "  book-club: changed (version 1 → 2)\n"
        "    event 2: changed\n"
        "      items.0.quantity: 1 → 2\n"
        "  coffee: removed (retired: no new orders; version 1 stays on its orders)\n"
    )
    as_json = json.loads(
        continuity("rules", "diff", str(rules_dir), "--format", "json", env=env).stdout
    )
    assert as_json["changed"] is True
    assert as_json["programs"][0]["events"] == [
        {
            "number": 2,
            "change": "changed",
            "fields": [{"field": "items.0.quantity", "old": "1", "new": "2"}],
        }
    ]


@pytest.mark.db
def test_diff_of_invalid_rules_prints_the_errors(empty_database_url: str, rules_dir: Path) -> None:
    _break(rules_dir)
    result = continuity(
        "rules", "diff", str(rules_dir), env={"CONTINUITY_DATABASE_URL": empty_database_url}
    )
    assert result.returncode == 1
    assert result.stdout.splitlines()[1].endswith("must be greater than 0")


def test_pre_commit_hook_names_a_real_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    [hook] = hooks
    assert hook["id"] == "continuity-rules-check"
    assert hook["language"] == "python"  # pre-commit installs this package
    assert hook["pass_filenames"] is False  # the check reads the whole directory
    program, *args = shlex.split(hook["entry"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[program] == "server.cli:main"
    parsed = build_parser().parse_args([*args, str(ROOT / "rules")])
    assert parsed.func is cmd_rules_check
    assert parsed.func(parsed) == 0
    assert "all rule files are valid" in capsys.readouterr().out
