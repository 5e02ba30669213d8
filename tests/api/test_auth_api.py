"""Authentication, the request gate and error masking over HTTP (docs/ACCESS.md)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from continuity.access import revoke_token
from continuity.models import ApiToken
from continuity.payments.gateway import TestGateway
from server.app import create_app
from server.guard import MAX_BODY_BYTES
from tests.api.graphql import gql
from tests.api.snapshot import snapshot
from tests.conftest import API_TODAY, bearer, issue_token

pytestmark = pytest.mark.db

PROGRAMS = {"query": "{ programs { nodes { id } } }"}


def refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errors"}  # and nothing else
    [error] = body["errors"]
    assert error["extensions"]["code"] == code
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer ct_000000000000" + "A" * 43,
        "Bearer not-a-token",
        "Bearer " + "x" * 5000,
    ],
)
def test_no_valid_token_is_a_401_and_nothing_else(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    client.headers.pop("Authorization")
    response = client.post("/graphql", json=PROGRAMS, headers=headers)
    refused(response, 401, "UNAUTHENTICATED")


def test_revoked_and_expired_tokens_stop_working(client: TestClient) -> None:
    token = issue_token(client, "agent", name="alice", expires_days=30)
    assert client.post("/graphql", json=PROGRAMS, headers=bearer(token)).status_code == 200
    key = token[3:15]

    async def expire() -> None:
        await ApiToken.filter(key=key).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))

    client.portal.call(expire)  # type: ignore[union-attr]
    refused(client.post("/graphql", json=PROGRAMS, headers=bearer(token)), 401, "UNAUTHENTICATED")

    other = issue_token(client, "agent", name="bob")
    assert client.post("/graphql", json=PROGRAMS, headers=bearer(other)).status_code == 200
    client.portal.call(revoke_token, other[3:15])  # type: ignore[union-attr]
    refused(client.post("/graphql", json=PROGRAMS, headers=bearer(other)), 401, "UNAUTHENTICATED")


def test_only_a_hash_of_the_secret_is_stored(client: TestClient) -> None:
    token = issue_token(client, "operator", name="ops")

    async def rows() -> list[dict[str, Any]]:
        return await ApiToken.all().values()

    stored = repr(client.portal.call(rows))  # type: ignore[union-attr]
    assert token not in stored
    assert token[15:] not in stored
    assert token[3:15] in stored  # the public key


def test_the_viewer_and_the_history_name_the_token(client: TestClient) -> None:
    assert gql(client, "{ viewer { role name customer { id } } }") == {
        "viewer": {"role": "ADMIN", "name": "test", "customer": None}
    }


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    first = client.post("/graphql", json=PROGRAMS)
    second = client.post("/graphql", json=PROGRAMS)
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert len(first.headers["x-request-id"]) == 32


def test_a_body_over_the_limit_is_a_413(client: TestClient) -> None:
    big = {"query": "{ programs { id } }", "variables": {"pad": "x" * MAX_BODY_BYTES}}
    refused(client.post("/graphql", json=big), 413, "PAYLOAD_TOO_LARGE")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"query": "{ programs { id } }", "variables": {"pad": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"x" * 1024
        yield b'"}}'

    response = client.post(
        "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
    )
    refused(response, 413, "PAYLOAD_TOO_LARGE")


def test_introspection_is_off_outside_development(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": "{ __schema { types { name } } }"})
    body = response.json()
    assert body["data"] is None
    assert "introspection" in body["errors"][0]["message"].lower()
    # No "did you mean": suggestions would leak the schema.
    typo = client.post("/graphql", json={"query": "{ program { id } }"}).json()
    assert "Did you mean" not in typo["errors"][0]["message"]
    assert client.get("/graphql", headers={"Accept": "text/html"}).status_code == 404


@pytest.fixture
def dev_client(settings: Settings, gateway: TestGateway) -> Iterator[TestClient]:
    dev = settings.model_copy(
        update={"service": settings.service.model_copy(update={"development": True})}
    )
    with TestClient(create_app(dev, gateway=gateway, clock=lambda: API_TODAY)) as test_client:
        yield test_client


def test_development_mode_opens_graphiql_and_introspection_only(dev_client: TestClient) -> None:
    page = dev_client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    schema = dev_client.post("/graphql", json={"query": "{ __schema { queryType { name } } }"})
    assert schema.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    data = dev_client.post("/graphql", json=PROGRAMS)
    assert data.status_code == 401
    assert data.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert data.json()["data"] is None
    bad = dev_client.post("/graphql", json=PROGRAMS, headers={"Authorization": "Bearer nope"})
    refused(bad, 401, "UNAUTHENTICATED")


def test_an_unexpected_error_is_masked_and_logged_with_the_request_id(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = 'SELECT secret FROM "customer" WHERE x = 1 /work/main/continuity/x.py'

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(secret)

    monkeypatch.setattr("resolvers.catalog.load_call_center_parameters", broken)
    with caplog.at_level(logging.ERROR, logger="continuity.errors"):
        response = client.post("/graphql", json={"query": "{ callCenterParameters { retryDays } }"})
    assert response.status_code == 200
    text = response.text
    assert "SELECT" not in text
    assert "/work" not in text
    assert "secret" not in text
    assert "RuntimeError" not in text
    assert "Traceback" not in text
    [error] = response.json()["errors"]
    request_id = response.headers["x-request-id"]
    assert error["message"] == f"Internal error (request id {request_id})"
    assert error["extensions"] == {"code": "INTERNAL", "requestId": request_id}
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged
    assert secret in logged[0].getMessage()
    assert logged[0].exc_info is not None


def test_an_error_outside_graphql_is_masked_too(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("/work/main/server/app.py exploded")

    monkeypatch.setattr("server.app.ContinuityGraphQL.get_context", broken)
    with caplog.at_level(logging.ERROR, logger="continuity.server"):
        response = client.post("/graphql", json=PROGRAMS)
    refused(response, 500, "INTERNAL")
    assert "/work" not in response.text
    assert any(response.headers["x-request-id"] in r.getMessage() for r in caplog.records)


def test_unknown_enum_values_are_graphql_errors(client: TestClient) -> None:
    before = snapshot(client)
    body = client.post(
        "/graphql",
        json={
            "query": "mutation ($input: RunJobInput!) { runJob(input: $input) { runs { id } } }",
            "variables": {"input": {"job": "DROP_TABLES"}},
        },
    ).json()
    assert body["data"] is None
    assert "DROP_TABLES" in body["errors"][0]["message"]
    assert "Did you mean" not in body["errors"][0]["message"]
    assert snapshot(client) == before


def test_a_websocket_needs_a_token_too(client: TestClient) -> None:
    client.headers.pop("Authorization")
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        closed = ws.receive()
        assert (closed["type"], closed["code"]) == ("websocket.close", 4403)
    token = issue_token(client, "agent", name="ws")
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        assert ws.receive_json() == {"type": "connection_ack"}
