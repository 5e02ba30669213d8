"""The outbox over GraphQL (notifications, redeliverNotification) and the live orderEvents
subscription over a real websocket (graphql-transport-ws)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.notifications import NotificationSettings, WebhookSubscriberSettings
from config.settings import Settings
from continuity.enums import NotificationStatus
from continuity.models import Notification
from continuity.notifications.policy import current_policy
from continuity.payments.gateway import TestGateway
from server.app import create_app
from tests.api.customers import make_customer, place
from tests.api.graphql import global_id, gql, pk_of
from tests.conftest import API_TODAY, as_admin, bearer, issue_token

pytestmark = pytest.mark.db

SECRET = "whsec-0123456789abcdef"

NOTIFICATIONS = """
query ($order: ID, $status: NotificationStatus, $first: Int, $after: String) {
  notifications(orderId: $order, status: $status, first: $first, after: $after) {
    edges { cursor node { id continuityOrder { id } eventType channel recipient dedupeKey status
                          attempts payload lastError sentAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
REDELIVER = """
mutation ($id: ID!) {
  redeliverNotification(input: {notificationId: $id}) {
    notification { id status attempts }
    userErrors { field code message }
  }
}
"""
HISTORY = "query ($id: ID!) { continuityOrder(id: $id) { history { nodes { id action } } } }"
ORDER_EVENTS = """
subscription ($order: ID!, $after: ID) {
  orderEvents(orderId: $order, afterEntryId: $after) { id actor action reason details }
}
"""


@pytest.fixture
def notifying_client(settings: Settings, gateway: TestGateway) -> Iterator[TestClient]:
    """The app with one webhook subscriber (deliveries are not run: no scheduler)."""
    configured = settings.model_copy(
        update={
            "notifications": NotificationSettings(
                webhooks=[
                    WebhookSubscriberSettings.model_validate(
                        {"name": "erp", "url": "http://127.0.0.1:9/hooks", "secret": SECRET}
                    )
                ]
            )
        }
    )
    with TestClient(create_app(configured, gateway=gateway, clock=lambda: API_TODAY)) as client:
        assert [s.name for s in current_policy().subscribers] == ["erp"]
        yield as_admin(client)
    assert current_policy().subscribers == ()  # the app put the default back


def _order(client: TestClient) -> str:
    placed = place(client, make_customer(client), {"sku": "BOOKCLUB"})
    assert placed["userErrors"] == []
    order_id: str = placed["continuityOrders"][0]["id"]
    return order_id


def test_notifications_are_listed_newest_first_and_redelivered(
    notifying_client: TestClient,
) -> None:
    client = notifying_client
    first_order = _order(client)
    second = place(client, make_customer(client, "C-200"), {"sku": "VITREFILL"})
    second_order = second["continuityOrders"][0]["id"]
    listed = gql(client, NOTIFICATIONS)["notifications"]
    nodes = [edge["node"] for edge in listed["edges"]]
    # e-mail is off (no SMTP host): one webhook row per order
    assert [
        (n["continuityOrder"]["id"], n["eventType"], n["channel"], n["recipient"]) for n in nodes
    ] == [
        (second_order, "ORDER_PLACED", "WEBHOOK", "erp"),
        (first_order, "ORDER_PLACED", "WEBHOOK", "erp"),
    ]
    assert nodes[1]["status"] == "PENDING"
    assert nodes[1]["payload"]["program"] == "book-club"
    assert nodes[1]["dedupeKey"] == f"order_placed:{pk_of(first_order)}:placed:webhook:erp"

    page = gql(client, NOTIFICATIONS, first=1)["notifications"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = gql(client, NOTIFICATIONS, first=1, after=page["pageInfo"]["endCursor"])
    assert [e["node"]["continuityOrder"]["id"] for e in rest["notifications"]["edges"]] == [
        first_order
    ]
    mine = gql(client, NOTIFICATIONS, order=first_order)["notifications"]["edges"]
    assert [e["node"]["continuityOrder"]["id"] for e in mine] == [first_order]
    assert gql(client, NOTIFICATIONS, status="DEAD")["notifications"]["edges"] == []

    target = nodes[1]["id"]
    waiting = gql(client, REDELIVER, id=target)["redeliverNotification"]
    assert waiting["notification"] is None
    assert [(e["code"], e["field"]) for e in waiting["userErrors"]] == [
        ("INVALID_STATE", ["input", "notificationId"])
    ]

    async def kill() -> None:
        await Notification.filter(id=pk_of(target)).update(
            status=NotificationStatus.DEAD, attempts=8, last_error="HTTP 500 from erp"
        )

    client.portal.call(kill)  # type: ignore[union-attr]
    assert (
        gql(client, NOTIFICATIONS, status="DEAD")["notifications"]["edges"][0]["node"]["id"]
        == target
    )
    redelivered = gql(client, REDELIVER, id=target)["redeliverNotification"]
    assert redelivered == {
        "notification": {"id": target, "status": "PENDING", "attempts": 0},
        "userErrors": [],
    }
    missing = gql(client, REDELIVER, id=global_id("Notification", 999999))
    assert [e["code"] for e in missing["redeliverNotification"]["userErrors"]] == ["NOT_FOUND"]
    wrong = gql(client, REDELIVER, id=first_order)["redeliverNotification"]
    assert [(e["code"], e["field"]) for e in wrong["userErrors"]] == [
        ("INVALID_INPUT", ["input", "notificationId"])
    ]


def test_a_customer_cannot_read_the_outbox(notifying_client: TestClient) -> None:
    client = notifying_client
    _order(client)
    token = issue_token(client, "customer", customer="C-100")
    response = client.post(
        "/graphql", json={"query": NOTIFICATIONS, "variables": {}}, headers=bearer(token)
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def _receive(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = ws.receive_json()
    return message


def test_order_events_stream_history_entries_as_they_happen(client: TestClient) -> None:
    order_id = _order(client)
    history = gql(client, HISTORY, id=order_id)["continuityOrder"]["history"]["nodes"]
    assert [h["action"] for h in history] == ["PLACED"]
    token = client.headers["Authorization"].removeprefix("Bearer ")
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        assert _receive(ws)["type"] == "connection_ack"
        ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {
                    "query": ORDER_EVENTS,
                    "variables": {"order": order_id, "after": history[-1]["id"]},
                },
            }
        )
        paused = gql(
            client,
            "mutation ($input: PauseOrderInput!) { pauseOrder(input: $input) "
            "{ userErrors { code } } }",
            input={"orderId": order_id, "reason": "on holiday"},
        )
        assert paused["pauseOrder"]["userErrors"] == []
        message = _receive(ws)
        assert message["type"] == "next", message
        assert message["id"] == "1"
        event = message["payload"]["data"]["orderEvents"]
        assert event["action"] == "PAUSED"
        assert event["reason"] == "on holiday"
        assert event["actor"] == "admin:test"
        assert event["details"]["after"]["status"] == "paused"
        assert pk_of(event["id"]) > pk_of(history[-1]["id"])
        resumed = gql(
            client,
            "mutation ($input: ResumeOrderInput!) { resumeOrder(input: $input) "
            "{ userErrors { code } } }",
            input={"orderId": order_id},
        )
        assert resumed["resumeOrder"]["userErrors"] == []
        assert _receive(ws)["payload"]["data"]["orderEvents"]["action"] == "RESUMED"
        ws.send_json({"id": "1", "type": "complete"})


def test_order_events_of_an_unknown_order_is_an_error(client: TestClient) -> None:
    token = client.headers["Authorization"].removeprefix("Bearer ")
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        assert _receive(ws)["type"] == "connection_ack"
        ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {
                    "query": ORDER_EVENTS,
                    "variables": {"order": global_id("ContinuityOrder", 424242)},
                },
            }
        )
        message = _receive(ws)
        assert message["type"] in {"error", "next"}, message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"
