"""The answers' JSON (``ContinuityGraphQL.encode_json``): compact UTF-8 text, over HTTP and in
the websocket's text frames."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from tests.api.customers import ADDRESS, CREATE
from tests.api.graphql import gql

pytestmark = pytest.mark.db

NAME = "Zoë Ångström 山田"


def test_an_answer_is_compact_utf8_json(client: TestClient) -> None:
    gql(
        client,
        CREATE,
        input={"accountNumber": "C-900", "name": NAME, "addresses": [dict(ADDRESS, name=NAME)]},
    )
    response = client.post(
        "/graphql",
        json={"query": "{ customers(first: 5) { nodes { accountNumber name } } }"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.content
    assert NAME.encode() in body  # UTF-8, not \\u escapes
    assert b'": ' not in body  # compact
    assert b'", ' not in body
    assert json.loads(body) == {
        "data": {"customers": {"nodes": [{"accountNumber": "C-900", "name": NAME}]}}
    }
