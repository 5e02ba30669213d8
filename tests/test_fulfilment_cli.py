"""The warehouse's files through the ``continuity`` command (a subprocess): the pick list of a
day out (CSV and JSON, one row per item), shipments in, all or nothing with per-row errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from continuity.models import ChildOrder, Notification
from tests.api.customers import make_customer, place
from tests.api.graphql import gql
from tests.api.snapshot import snapshot
from tests.test_cli import continuity

pytestmark = pytest.mark.db

DAY = "2027-01-31"


def world(client: TestClient, settings: Settings) -> dict[str, str]:
    """Two paid book-club child orders and one unpaid, planned for DAY."""
    for account, card in (("C-100", "tok_visa"), ("C-200", "tok_visa"), ("C-300", "tok_decline")):
        placed = place(client, make_customer(client, account, token=card), {"sku": "BOOKCLUB"})
        assert placed["userErrors"] == []
    gql(client, "mutation { runJob(input: {job: ALL}) { runs { status } } }")
    return {"CONTINUITY_DATABASE_URL": settings.service.database_url}


def children(client: TestClient) -> list[ChildOrder]:
    async def rows() -> list[ChildOrder]:
        return await ChildOrder.all().order_by("id")

    found: list[ChildOrder] = client.portal.call(rows)  # type: ignore[union-attr]
    return found


def test_export_writes_the_days_pick_list(client: TestClient, settings: Settings) -> None:
    env = world(client, settings)
    result = continuity("fulfilment", "export", "--date", DAY, env=env)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    paid = [c for c in children(client) if c.status.value == "authorized"]
    assert len(paid) == 2
    assert [r["child_order"] for r in rows] == [c.number for c in paid]  # the unpaid one waits
    first = rows[0]
    assert (first["sku"], first["quantity"], first["unit_price"], first["currency"]) == (
        "BOOK-001",
        "1",
        "9.99",
        "USD",
    )
    assert (first["line1"], first["city"], first["country"]) == ("1 Navy Way", "Arlington", "US")
    assert first["planned_ship_date"] == DAY
    assert first["account_number"] == "C-100"
    as_json = continuity("fulfilment", "export", "--date", DAY, "--format", "json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    assert [
        {k: "" if v is None else str(v) for k, v in r.items()} for r in json.loads(as_json.stdout)
    ] == rows
    other_day = continuity("fulfilment", "export", "--date", "2027-02-01", env=env)
    assert other_day.stdout.splitlines()[1:] == []  # the header only


def _write(tmp_path: Path, rows: list[list[str]]) -> Path:
    path = tmp_path / "shipped.csv"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [["child_order", "carrier", "tracking_number"], *rows]
    )
    path.write_text(out.getvalue())
    return path


def test_import_is_all_or_nothing_with_per_row_errors(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    env = world(client, settings)
    first, second, unpaid = children(client)
    exported = continuity("fulfilment", "export", "--date", DAY, "--format", "json", env=env)
    global_id = json.loads(exported.stdout)[1]["child_order_id"]  # the second, by global id
    bad = _write(
        tmp_path,
        [
            [first.number, "UPS", "1Z-1"],
            [unpaid.number, "UPS", "1Z-2"],
            ["CH-NOPE", "UPS", "1Z-3"],
            [global_id, "UPS", ""],
        ],
    )
    before = snapshot(client)
    result = continuity("fulfilment", "import", str(bad), env=env)
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert errors[0] == f"{bad}:3: {unpaid.number}: NOT_PAID: " + (
        f"child order {unpaid.number} is not paid yet: it cannot be shipped"
    )
    assert errors[1] == f"{bad}:4: CH-NOPE: NOT_FOUND: no child order 'CH-NOPE'"
    assert "nothing imported: 2 of 4 row(s) failed" in errors[2]
    assert snapshot(client) == before  # the good rows were not kept either

    good = _write(tmp_path, [[first.number, "UPS", "1Z-1"], [global_id, "DHL", "JD01"]])
    result = continuity("fulfilment", "import", str(good), "--name", "acme-wh", env=env)
    assert result.returncode == 0, result.stderr
    assert "2 child order(s) marked shipped" in result.stdout
    shipped = {c.number: c for c in children(client)}
    assert (shipped[first.number].status.value, shipped[first.number].tracking_number) == (
        "shipped",
        "1Z-1",
    )
    assert (shipped[second.number].carrier, shipped[second.number].tracking_number) == (
        "DHL",
        "JD01",
    )

    async def notices() -> list[Any]:
        return await Notification.filter(event_type="child_order_shipped").values_list(
            "payload", flat=True
        )

    sent = client.portal.call(notices)  # type: ignore[union-attr]
    assert sorted(p["tracking_number"] for p in sent) == ["1Z-1", "JD01"]

    before = snapshot(client)
    again = continuity("fulfilment", "import", str(good), "--json", env=env)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["shipped"], sorted(report["unchanged"])) == (
        [],
        sorted([first.number, second.number]),
    )
    assert snapshot(client) == before  # the same file twice ships nothing twice


def test_a_fulfilment_token_is_created_from_the_command_line(
    client: TestClient, settings: Settings
) -> None:
    env = {"CONTINUITY_DATABASE_URL": settings.service.database_url}
    created = continuity("token", "create", "--role", "fulfilment", "--name", "acme-wh", env=env)
    assert created.returncode == 0, created.stderr
    assert "(fulfilment 'acme-wh')" in created.stdout
    token = created.stdout.strip().splitlines()[-1]
    response = client.post(
        "/graphql",
        headers={"Authorization": f"Bearer {token}"},
        json={"query": "{ viewer { role name } }"},
    )
    assert response.json() == {"data": {"viewer": {"role": "FULFILMENT", "name": "acme-wh"}}}


def test_import_refuses_a_file_without_the_columns(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("order,tracking\nCH-1,1Z\n")
    env = {"CONTINUITY_DATABASE_URL": settings.service.database_url}
    result = continuity("fulfilment", "import", str(path), env=env)
    assert result.returncode == 2
    assert "missing: child_order, carrier, tracking_number" in result.stderr
