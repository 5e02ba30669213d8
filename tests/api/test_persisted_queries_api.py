"""Automatic persisted queries over HTTP, as Apollo Client and urql send them, and cacheable
persisted reads over GET (docs/API.md, "Persisted queries")."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from continuity.enums import Role
from server.persisted import PersistedQueries
from tests.api.snapshot import snapshot
from tests.conftest import bearer, issue_token

pytestmark = pytest.mark.db

QUERY = "query ($code: String!) { program(code: $code) { code name } }"
MUTATION = "mutation { reloadRules(input: {dryRun: true}) { userErrors { code } } }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


def code_of(response: Any) -> str:
    [error] = response.json()["errors"]
    code: str = error["extensions"]["code"]
    return code


def get(client: TestClient, text: str, **variables: Any) -> Any:
    params = {"extensions": json.dumps(persisted(text)), "variables": json.dumps(variables)}
    return client.get("/graphql", params=params)


def test_the_apollo_round_trip(client: TestClient) -> None:
    # 1. the hash alone: not known yet
    miss = client.post(
        "/graphql", json={"extensions": persisted(QUERY), "variables": {"code": "book-club"}}
    )
    assert miss.status_code == 200
    assert miss.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert code_of(miss) == "PERSISTED_QUERY_NOT_FOUND"
    # 2. the query with its hash: registered, and run
    registered = client.post(
        "/graphql",
        json={"query": QUERY, "extensions": persisted(QUERY), "variables": {"code": "book-club"}},
    )
    expected = {"data": {"program": {"code": "book-club", "name": "Book of the Month Club"}}}
    assert registered.json() == expected
    # 3. from now on the hash alone runs it, over POST ...
    again = client.post(
        "/graphql", json={"extensions": persisted(QUERY), "variables": {"code": "book-club"}}
    )
    assert again.json() == expected
    # ... and over GET, cacheable by the caller's own cache only
    read = get(client, QUERY, code="book-club")
    assert read.status_code == 200
    assert read.json() == expected
    assert read.headers["cache-control"] == "private, max-age=60"
    assert read.headers["vary"] == "Authorization"


def test_a_hash_that_does_not_match_its_query_runs_nothing(client: TestClient) -> None:
    before = snapshot(client)
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": sha("{ viewer { name } }")}}
    response = client.post("/graphql", json={"query": MUTATION, "extensions": wrong})
    assert response.status_code == 400
    assert code_of(response) == "PERSISTED_QUERY_HASH_MISMATCH"
    assert snapshot(client) == before
    # and the hash did not get registered
    miss = client.post("/graphql", json={"extensions": wrong})
    assert code_of(miss) == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    "extension",
    [
        {"version": 2, "sha256Hash": "0" * 64},
        {"version": 1, "sha256Hash": "xyz"},
        {"version": 1},
        "abc",
    ],
)
def test_a_malformed_persisted_query_extension_is_a_400(client: TestClient, extension: Any) -> None:
    response = client.post("/graphql", json={"extensions": {"persistedQuery": extension}})
    assert response.status_code == 400
    assert code_of(response) == "BAD_REQUEST"


def test_mutations_never_run_over_get(client: TestClient) -> None:
    registered = client.post(
        "/graphql", json={"query": MUTATION, "extensions": persisted(MUTATION)}
    )
    assert registered.json() == {"data": {"reloadRules": {"userErrors": []}}}
    before = snapshot(client)
    response = get(client, MUTATION)
    assert response.status_code == 400
    assert code_of(response) == "BAD_REQUEST"
    assert "mutations are not allowed when using GET" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert snapshot(client) == before


def test_get_serves_persisted_queries_only(client: TestClient) -> None:
    response = client.get("/graphql", params={"query": "{ viewer { name } }"})
    assert response.status_code == 400
    assert "persisted" in response.json()["errors"][0]["message"]
    deep = client.get(
        "/graphql",
        params={"extensions": json.dumps(persisted(QUERY)), "variables": "[" * 5000 + "]" * 5000},
    )
    assert deep.status_code == 400
    assert code_of(deep) == "BAD_REQUEST"


def test_an_answer_with_errors_is_not_cached(client: TestClient) -> None:
    query = "query ($n: Int) { programs(first: $n) { totalCount } }"
    client.post("/graphql", json={"query": query, "extensions": persisted(query), "variables": {}})
    refused = get(client, query, n=1000)
    assert code_of(refused) == "INVALID_INPUT"
    assert refused.headers["cache-control"] == "no-store"


def test_a_persisted_query_is_checked_for_the_caller_like_any_other(client: TestClient) -> None:
    query = "{ jobRuns(first: 1) { totalCount } }"
    ran = client.post("/graphql", json={"query": query, "extensions": persisted(query)})
    assert ran.json() == {"data": {"jobRuns": {"totalCount": 0}}}
    agent = bearer(issue_token(client, Role.AGENT, name="alice"))
    refused = client.post("/graphql", json={"extensions": persisted(query)}, headers=agent)
    assert code_of(refused) == "FORBIDDEN"
    over_get = client.get(
        "/graphql", params={"extensions": json.dumps(persisted(query))}, headers=agent
    )
    assert code_of(over_get) == "FORBIDDEN"
    assert over_get.headers["cache-control"] == "no-store"


def test_the_registry_is_bounded_least_recently_used_first_out() -> None:
    registry = PersistedQueries(max_queries=2, max_bytes=1000)
    registry.put("a", "{ a }")
    registry.put("b", "{ b }")
    assert registry.get("a") == "{ a }"  # a is now the most recently used
    registry.put("c", "{ c }")
    assert (registry.get("a"), registry.get("b"), registry.get("c")) == ("{ a }", None, "{ c }")
    big = PersistedQueries(max_queries=100, max_bytes=10)
    big.put("x", "123456")
    big.put("y", "123456")  # 12 bytes > 10: x goes
    assert (big.get("x"), big.get("y"), big.size_bytes) == (None, "123456", 6)
    big.put("z", "x" * 11)  # larger than the whole budget: never kept
    assert (len(big), big.get("z")) == (1, None)


def test_the_documented_example_holds(client: TestClient) -> None:
    """docs/API.md, "Persisted queries": its hash is the SHA-256 of ``{__typename}``, and the
    round trip answers as described."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "API.md").read_text()
    [shown] = re.findall(r'"sha256Hash": "([0-9a-f]{64})"', docs)
    assert shown == sha("{__typename}")
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": shown}}
    miss = client.post("/graphql", json={"extensions": extensions})
    assert (miss.status_code, code_of(miss)) == (200, "PERSISTED_QUERY_NOT_FOUND")
    ran = client.post("/graphql", json={"query": "{__typename}", "extensions": extensions})
    assert ran.json() == {"data": {"__typename": "Query"}}
    read = client.get("/graphql", params={"extensions": json.dumps(extensions)})
    assert read.json() == {"data": {"__typename": "Query"}}
