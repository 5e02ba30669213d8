"""The reloadRules mutation: errors with positions, dry runs, applied changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.api.graphql import gql

pytestmark = pytest.mark.db

RELOAD = """
mutation ($dryRun: Boolean!) {
  reloadRules(input: {dryRun: $dryRun}) {
    dryRun applied productsWritten schedulesWritten
    changedPrograms { programCode kind fromVersion toVersion }
    errors { path line column message }
    userErrors { field code message }
  }
}
"""

DIFF = """
mutation ($dryRun: Boolean!) {
  reloadRules(input: {dryRun: $dryRun}) {
    applied
    changedPrograms {
      programCode kind fromVersion toVersion
      settings { field old new }
      events { number change fields { field old new } }
    }
    catalog { sku change fields { field old new } }
    schedules { scheduleCode change fields { field old new } }
  }
}
"""


def _rename(rules_dir: Path, program: str, prefix: str) -> None:
    path = rules_dir / "programs" / f"{program}.yaml"
    path.write_text(path.read_text().replace("\nname: ", f"\nname: {prefix}", 1))


def test_unchanged_reload_applies_nothing(client: TestClient) -> None:
    payload = gql(client, RELOAD, dryRun=False)["reloadRules"]
    assert payload == {
        "dryRun": False,
        "applied": False,
        "productsWritten": 0,
        "schedulesWritten": 0,
        "changedPrograms": [],
        "errors": [],
        "userErrors": [],
    }


def test_dry_run_reports_the_change_and_keeps_the_live_version(
    client: TestClient, rules_dir: Path
) -> None:
    _rename(rules_dir, "gift-box", "Deluxe ")
    payload = gql(client, RELOAD, dryRun=True)["reloadRules"]
    assert payload["applied"] is False
    assert payload["changedPrograms"] == [
        {"programCode": "gift-box", "kind": "UPDATED", "fromVersion": 1, "toVersion": 2}
    ]
    live = gql(client, '{ program(code: "gift-box") { name version { number } } }')["program"]
    assert live["version"]["number"] == 1
    assert not live["name"].startswith("Deluxe ")


def test_reload_applies_a_new_version(client: TestClient, rules_dir: Path) -> None:
    _rename(rules_dir, "gift-box", "Deluxe ")
    payload = gql(client, RELOAD, dryRun=False)["reloadRules"]
    assert payload["applied"] is True
    assert payload["changedPrograms"] == [
        {"programCode": "gift-box", "kind": "UPDATED", "fromVersion": 1, "toVersion": 2}
    ]
    live = gql(
        client,
        '{ program(code: "gift-box") { name version { number } versions { nodes { number } } } }',
    )["program"]
    assert live["name"].startswith("Deluxe ")
    assert live["version"] == {"number": 2}
    assert live["versions"] == {"nodes": [{"number": 1}, {"number": 2}]}


def test_invalid_rules_return_every_error_and_change_nothing(
    client: TestClient, rules_dir: Path
) -> None:
    _rename(rules_dir, "gift-box", "Deluxe ")  # a valid change that must not be applied
    coffee = rules_dir / "programs" / "coffee.yaml"
    coffee.write_text(coffee.read_text().replace("COF-STARTER", "COF-NOPE"))
    catalog = rules_dir / "catalog.yaml"
    catalog.write_text(catalog.read_text() + "colour: red\n")
    payload = gql(client, RELOAD, dryRun=False)["reloadRules"]
    assert payload["applied"] is False
    assert payload["changedPrograms"] == []
    assert payload["userErrors"] == [
        {
            "field": None,
            "code": "RULES_INVALID",
            "message": "2 error(s) in the rule files: nothing was changed",
        }
    ]
    errors = payload["errors"]
    # paths are relative to the rules directory: no server path reaches a client
    assert [(e["path"], e["line"], e["column"]) for e in errors] == [
        ("catalog.yaml", catalog.read_text().count("\n"), 1),
        ("programs/coffee.yaml", 16, 15),  # the value of `sku:` on line 16
    ]
    assert "unknown SKU 'COF-NOPE'" in errors[1]["message"]
    assert "colour" in errors[0]["message"]
    live = gql(client, '{ program(code: "gift-box") { name version { number } } }')["program"]
    assert live["version"]["number"] == 1


def test_a_new_program_has_no_object_until_it_is_applied(
    client: TestClient, rules_dir: Path
) -> None:
    source = (rules_dir / "programs" / "gift-box.yaml").read_text()
    (rules_dir / "programs" / "gift-box-2.yaml").write_text(
        source.replace("id: gift-box", "id: gift-box-2", 1).replace("GIFTBOX6", "GIFTBOX6B")
    )
    query = """mutation ($dryRun: Boolean!) { reloadRules(input: {dryRun: $dryRun}) {
      changedPrograms { programCode kind program { code version { number } } }
      userErrors { code } } }"""
    dry = gql(client, query, dryRun=True)["reloadRules"]
    assert dry == {
        "changedPrograms": [{"programCode": "gift-box-2", "kind": "CREATED", "program": None}],
        "userErrors": [],
    }
    applied = gql(client, query, dryRun=False)["reloadRules"]["changedPrograms"]
    assert applied == [
        {
            "programCode": "gift-box-2",
            "kind": "CREATED",
            "program": {"code": "gift-box-2", "version": {"number": 1}},
        }
    ]


def test_dry_run_returns_the_field_level_diff(client: TestClient, rules_dir: Path) -> None:
    book = rules_dir / "programs" / "book-club.yaml"
    text = book.read_text()
    text = text.replace("days_after_order: 0", "days_after_order: 2")
    text = text.replace("[{sku: BOOK-002, quantity: 1}]", "[{sku: BOOK-002, quantity: 3}]")
    book.write_text(text)
    catalog = rules_dir / "catalog.yaml"
    catalog.write_text(catalog.read_text().replace('"24.50"', '"25.00"'))
    schedules = rules_dir / "payment-schedules.yaml"
    schedules.write_text(schedules.read_text().replace("installments: 3", "installments: 4"))
    payload = gql(client, DIFF, dryRun=True)["reloadRules"]
    assert payload["applied"] is False
    programs = {p["programCode"]: p for p in payload["changedPrograms"]}
    assert sorted(programs) == ["book-club", "vitamins-refill"]
    book_change = programs["book-club"]
    assert (book_change["kind"], book_change["fromVersion"], book_change["toVersion"]) == (
        "UPDATED",
        1,
        2,
    )
    assert book_change["settings"] == [{"field": "days_after_order", "old": "0", "new": "2"}]
    assert book_change["events"] == [
        {
            "number": 2,
            "change": "CHANGED",
            "fields": [{"field": "items.0.quantity", "old": "1", "new": "3"}],
        }
    ]
    vitamins = programs["vitamins-refill"]["events"]
    assert {"field": "items.0.price", "old": "24.50 (catalog)", "new": "25.00 (catalog)"} in [
        field for event in vitamins for field in event["fields"]
    ]
    assert payload["catalog"] == [
        {
            "sku": "VIT-DAILY-30",
            "change": "CHANGED",
            "fields": [{"field": "price", "old": "24.50", "new": "25.00"}],
        }
    ]
    assert payload["schedules"] == [
        {
            "scheduleCode": "three-monthly",
            "change": "CHANGED",
            "fields": [{"field": "installments", "old": "3", "new": "4"}],
        }
    ]
    # the real reload applies exactly what the dry run showed
    assert gql(client, DIFF, dryRun=False)["reloadRules"] == {**payload, "applied": True}


def test_versions_show_their_file_relative_to_the_rules_directory(client: TestClient) -> None:
    program = gql(client, '{ program(code: "coffee") { version { sourcePath } } }')["program"]
    assert program["version"]["sourcePath"] == "programs/coffee.yaml"
