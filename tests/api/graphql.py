"""Posting GraphQL over HTTP in tests."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient
from strawberry import relay


def gql(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    """POST a document; fail the test on any top-level GraphQL error."""
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def global_id(type_name: str, pk: int | str) -> str:
    """The global id of a row (tests that need an id of something that does not exist)."""
    return relay.to_base64(type_name, pk)


def pk_of(global_id: str) -> int:
    """The primary key inside a global id (tests that check database rows)."""
    return int(relay.from_base64(global_id)[1])


def program_id(client: TestClient, code: str) -> str:
    """A program's global id, from its code in the rule files."""
    found = gql(client, "query ($code: String!) { program(code: $code) { id } }", code=code)
    value: str = found["program"]["id"]
    return value


def schedule_id(client: TestClient, code: str) -> str:
    """A payment schedule's global id, from its code in the rule files."""
    found = gql(client, "query ($code: String!) { paymentSchedule(code: $code) { id } }", code=code)
    value: str = found["paymentSchedule"]["id"]
    return value


def flat(value: Any) -> Any:
    """``{"nodes": [...]}`` (a connection asked for its nodes only) as the plain list, at any
    depth: tests written against lists read connections the same way."""
    if isinstance(value, dict):
        if set(value) == {"nodes"}:
            return [flat(item) for item in value["nodes"]]
        return {key: flat(item) for key, item in value.items()}
    if isinstance(value, list):
        return [flat(item) for item in value]
    return value
