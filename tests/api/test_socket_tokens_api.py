"""Revoking or expiring a token cuts off the websockets opened with it (docs/ACCESS.md): their
streams end with an UNAUTHENTICATED error within ``token_check_seconds``, the socket closes
with 4403, and no new subscription runs on it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from continuity.access import revoke_token
from continuity.models import ApiToken
from continuity.payments.gateway import TestGateway
from server.app import create_app
from tests.api.customers import make_customer, place
from tests.api.graphql import gql
from tests.conftest import API_TODAY, as_admin, issue_token

pytestmark = pytest.mark.db

ORDER_EVENTS = (
    "subscription ($order: ID!, $after: ID) "
    "{ orderEvents(orderId: $order, afterEntryId: $after) { action } }"
)
HISTORY = "query ($id: ID!) { continuityOrder(id: $id) { history { nodes { id } } } }"
PAUSE = "mutation ($input: PauseOrderInput!) { pauseOrder(input: $input) { userErrors { code } } }"
CHECK_SECONDS = 0.3


def checking_every(settings: Settings, gateway: TestGateway, seconds: float) -> TestClient:
    service = settings.service.model_copy(update={"token_check_seconds": seconds})
    app = create_app(
        settings.model_copy(update={"service": service}), gateway=gateway, clock=lambda: API_TODAY
    )
    return TestClient(app)


@pytest.fixture
def quick_client(settings: Settings, gateway: TestGateway) -> Iterator[TestClient]:
    """The app with websockets re-checking their token every 0.3 s."""
    with checking_every(settings, gateway, CHECK_SECONDS) as test_client:
        yield as_admin(test_client)


@pytest.fixture
def slow_client(settings: Settings, gateway: TestGateway) -> Iterator[TestClient]:
    """The app with websockets re-checking their token only every minute."""
    with checking_every(settings, gateway, 60) as test_client:
        yield as_admin(test_client)


def receive(ws: Any, timeout: float = 20) -> dict[str, Any]:
    """The next message from the server; fails (rather than hangs) after ``timeout``."""
    got: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: got.append(ws.receive()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not got:
        pytest.fail(f"nothing from the server within {timeout} s")
    return got[0]


@contextmanager
def socket(client: TestClient, token: str, *, in_handshake: bool) -> Iterator[Any]:
    """A websocket authenticated by ``token``, in the handshake's header or (as browsers do)
    only in ``connection_init``; the client's own admin header stays out of it."""
    admin = client.headers.pop("Authorization")
    try:
        headers = {"Authorization": f"Bearer {token}"} if in_handshake else {}
        connecting = client.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"], headers=headers
        )
        ws = connecting.__enter__()
    finally:
        client.headers["Authorization"] = admin
    try:
        yield ws
    finally:
        connecting.__exit__(None, None, None)


def text(message: dict[str, Any]) -> dict[str, Any]:
    assert message["type"] == "websocket.send", message
    decoded: dict[str, Any] = json.loads(message["text"])
    return decoded


def open_stream(client: TestClient, ws: Any, token: str, order_id: str) -> None:
    ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    assert text(receive(ws)) == {"type": "connection_ack"}
    # From the newest entry on, named: the stream may start after the pause below is written.
    history = gql(client, HISTORY, id=order_id)["continuityOrder"]["history"]["nodes"]
    variables = {"order": order_id, "after": history[-1]["id"]}
    ws.send_json(
        {"id": "1", "type": "subscribe", "payload": {"query": ORDER_EVENTS, "variables": variables}}
    )
    # The stream works: an event arrives.
    paused = client.post(
        "/graphql", json={"query": PAUSE, "variables": {"input": {"orderId": order_id}}}
    )
    assert paused.json()["data"]["pauseOrder"]["userErrors"] == []
    event = text(receive(ws))
    assert (event["type"], event["payload"]["data"]["orderEvents"]["action"]) == ("next", "PAUSED")


def assert_cut_off(ws: Any, ids: list[str]) -> None:
    for operation_id in ids:
        error = text(receive(ws))
        assert (error["type"], error["id"]) == ("error", operation_id), error
        [payload] = error["payload"]
        assert payload["extensions"] == {"code": "UNAUTHENTICATED"}
        assert payload["message"] == "token revoked or expired"
    closed = receive(ws)
    assert (closed["type"], closed["code"]) == ("websocket.close", 4403), closed


def an_order(client: TestClient) -> str:
    placed = place(client, make_customer(client), {"sku": "VITREFILL"})
    assert placed["userErrors"] == []
    order_id: str = placed["continuityOrders"][0]["id"]
    return order_id


def test_revoking_a_token_ends_its_open_streams_within_seconds(quick_client: TestClient) -> None:
    client = quick_client
    order_id = an_order(client)
    token = issue_token(client, "agent", name="screen")
    with socket(client, token, in_handshake=True) as ws:
        open_stream(client, ws, token, order_id)
        client.portal.call(revoke_token, token[3:15])  # type: ignore[union-attr]
        started = time.monotonic()
        assert_cut_off(ws, ["1"])
        assert time.monotonic() - started < 10  # a few periods of 0.3 s, on a loaded machine
    # Reconnecting with it is refused at connection_init.
    with socket(client, token, in_handshake=False) as ws:
        ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        closed = receive(ws)
        assert (closed["type"], closed["code"]) == ("websocket.close", 4403)


def test_an_expired_token_ends_its_open_streams(quick_client: TestClient) -> None:
    client = quick_client
    order_id = an_order(client)
    token = issue_token(client, "agent", name="screen", expires_days=1)
    with socket(client, token, in_handshake=False) as ws:
        open_stream(client, ws, token, order_id)

        async def expire() -> None:
            past = datetime.now(UTC) - timedelta(seconds=1)
            await ApiToken.filter(key=token[3:15]).update(expires_at=past)

        client.portal.call(expire)  # type: ignore[union-attr]
        assert_cut_off(ws, ["1"])


def test_no_new_subscription_runs_on_a_socket_whose_token_was_revoked(
    slow_client: TestClient,
) -> None:
    """Refused at once: the periodic check (every minute here) cannot be what answers."""
    client = slow_client
    order_id = an_order(client)
    token = issue_token(client, "agent", name="screen")
    with socket(client, token, in_handshake=False) as ws:
        open_stream(client, ws, token, order_id)
        client.portal.call(revoke_token, token[3:15])  # type: ignore[union-attr]
        ws.send_json(
            {
                "id": "2",
                "type": "subscribe",
                "payload": {"query": ORDER_EVENTS, "variables": {"order": order_id}},
            }
        )
        assert_cut_off(ws, ["1", "2"])


def test_the_legacy_graphql_ws_protocol_is_not_spoken(client: TestClient) -> None:
    with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        closed = receive(ws)
        assert (closed["type"], closed["code"]) == ("websocket.close", 4406)


def test_errors_over_the_websocket_have_codes_and_no_suggestions(client: TestClient) -> None:
    token = issue_token(client, "agent", name="screen")
    cases = [
        ("subscription { orderEvents(orderId: 1) { actio } }", {}, "GRAPHQL_VALIDATION_FAILED"),
        (ORDER_EVENTS, {"order": ["a", "b"]}, "BAD_USER_INPUT"),
        (
            "query ($s: NotificationStatus) { notifications(status: $s) { totalCount } }",
            {"s": "SENTT"},
            "BAD_USER_INPUT",
        ),
    ]
    with socket(client, token, in_handshake=False) as ws:
        ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        assert text(receive(ws)) == {"type": "connection_ack"}
        for index, (query, variables, code) in enumerate(cases):
            ws.send_json(
                {
                    "id": str(index),
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables},
                }
            )
            message = text(receive(ws))
            # a subscription's refusal is an "error"; a query's a "next" with errors
            errors = message["payload"] if message["type"] == "error" else None
            errors = errors or message["payload"]["errors"]
            codes = [e["extensions"]["code"] for e in errors]
            assert set(codes) == {code}, message
            assert "Did you mean" not in json.dumps(message)
