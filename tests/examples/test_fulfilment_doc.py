"""docs/FULFILMENT.md's examples, run against the real service (the guide cannot rot).

The world: customer ``C-100`` with a book-club order (its number fixed below) and its first
child order, created by one run of the daily jobs on 2027-01-31. Each ```graphql block runs in
order as a ``fulfilment`` token; the ```json block right after it is the answer it must give,
exactly. The webhook payload (``<!-- example: child_order_created -->``) must be the outbox
row's, and the CSV examples run through the ``continuity`` command: the pick list must be what
``fulfilment export`` prints, and the import file must import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from config.notifications import NotificationSettings, WebhookSubscriberSettings
from config.settings import Settings
from continuity.enums import Role
from continuity.models import ChildOrder, ContinuityOrder, Notification
from continuity.payments.gateway import TestGateway
from server.app import create_app
from tests.api.customers import make_customer, place
from tests.api.graphql import gql
from tests.conftest import API_TODAY, as_admin, bearer, issue_token
from tests.examples.test_api_doc import examples
from tests.test_cli import continuity

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "FULFILMENT.md"
ORDER_NUMBER = "CO-20270131-0000B001"


def marked(name: str, kind: str) -> str:
    """The ``kind`` block right after ``<!-- example: NAME -->``."""
    match = re.search(
        rf"<!-- example: {re.escape(name)} -->\n```{kind}\n(.*?)```", DOC.read_text(), re.DOTALL
    )
    assert match is not None, f"docs/FULFILMENT.md has no {kind} example {name!r}"
    return match.group(1)


@pytest.fixture
def shop(settings: Settings, gateway: TestGateway) -> Iterator[TestClient]:
    configured = settings.model_copy(
        update={
            "notifications": NotificationSettings(
                delivery_enabled=False,
                smtp_host="127.0.0.1",
                webhooks=[
                    WebhookSubscriberSettings.model_validate(
                        {
                            "name": "acme-wh",
                            "url": "http://127.0.0.1:9/hooks",
                            "secret": "whsec-0123456789abcdef",
                            "events": ["child_order_created"],
                        }
                    )
                ],
            )
        }
    )
    with TestClient(create_app(configured, gateway=gateway, clock=lambda: API_TODAY)) as client:
        yield as_admin(client)


def make_world(client: TestClient) -> None:
    placed = place(client, make_customer(client), {"sku": "BOOKCLUB"})
    assert placed["userErrors"] == []

    async def number() -> None:
        await ContinuityOrder.filter(number=placed["continuityOrders"][0]["number"]).update(
            number=ORDER_NUMBER
        )

    client.portal.call(number)  # type: ignore[union-attr]
    gql(client, "mutation { runJob(input: {job: ALL}) { runs { id } } }")


def test_the_guides_examples_run(shop: TestClient, settings: Settings, tmp_path: Path) -> None:
    make_world(shop)

    async def hook() -> Notification:
        return await Notification.get(event_type="child_order_created", channel="webhook")

    webhook = shop.portal.call(hook)  # type: ignore[union-attr]
    assert webhook.recipient == "acme-wh"
    assert webhook.payload == json.loads(marked("child_order_created", "json"))

    env = {"CONTINUITY_DATABASE_URL": settings.service.database_url}
    exported = continuity("fulfilment", "export", "--date", "2027-01-31", env=env)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == marked("pick list", "csv")

    warehouse = issue_token(shop, Role.FULFILMENT, name="acme-wh")
    found = examples(DOC)
    assert len(found) >= 5
    assert all(e.answer is not None for e in found)  # every example shows its answer
    for example in found:
        response = shop.post("/graphql", headers=bearer(warehouse), json={"query": example.query})
        assert response.status_code == 200, response.text
        assert example.answer is not None
        assert response.json() == json.loads(example.answer), example.query


def test_the_import_example_imports(shop: TestClient, settings: Settings, tmp_path: Path) -> None:
    make_world(shop)
    path = tmp_path / "shipped.csv"
    path.write_text(marked("import", "csv"))
    env = {"CONTINUITY_DATABASE_URL": settings.service.database_url}
    result = continuity("fulfilment", "import", str(path), "--name", "acme-wh", env=env)
    assert result.returncode == 0, result.stderr

    async def shipped() -> list[tuple[str, str | None]]:
        return [(c.status.value, c.tracking_number) for c in await ChildOrder.all()]

    assert shop.portal.call(shipped) == [("shipped", "1Z999AA10123456784")]  # type: ignore[union-attr]
