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
    assert [(Path(e["path"]).name, e["line"], e["column"]) for e in errors] == [
        ("catalog.yaml", catalog.read_text().count("\n"), 1),
        ("coffee.yaml", 15, 15),  # the value of `sku:` on line 15
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
