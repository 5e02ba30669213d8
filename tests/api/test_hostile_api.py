"""Hostile requests over HTTP (issue 11): bodies that are not objects, variables nested deep,
numbers of thousands of digits, over-long strings in every argument, unknown fragments,
subscriptions over POST, typos fishing for suggestions. Each is a 400 or an error with a code;
never a 500, never an unmasked internal message, never a "Did you mean"."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from config.settings import Settings
from continuity.limits import KEY_LENGTHS, MAX_TEXT
from continuity.payments.gateway import TestGateway
from server.app import create_app
from server.body import MAX_JSON_DEPTH
from tests.api.customers import make_customer
from tests.api.hostile import long_text_requests, problems
from tests.conftest import API_TODAY, as_admin

pytestmark = pytest.mark.db

JSON = {"Content-Type": "application/json"}
#: Ids for requests that need one (hypothesis draws before any customer exists).
FAKE_IDS = {"customerId": "Q3VzdG9tZXI6MQ=="}


def post(client: TestClient, body: str | bytes) -> Any:
    return client.post("/graphql", content=body, headers=JSON)


def refused(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code, error
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    message: str = error["message"]
    return message


@pytest.mark.parametrize("body", ["null", "123", '"s"', "[]", "[{}]", "true", "{", "", "\xff"])
def test_a_body_that_is_not_one_json_object_is_a_400(client: TestClient, body: str) -> None:
    message = refused(post(client, body.encode("latin-1")), 400, "BAD_REQUEST")
    assert "object" in message or "JSON" in message or "batched" in message


@pytest.mark.parametrize(
    "fields",
    [
        {"query": 1},
        {"query": "{ viewer { name } }", "variables": [1]},
        {"query": "{ viewer { name } }", "variables": "x"},
        {"query": "{ viewer { name } }", "operationName": 5},
        {"query": "{ viewer { name } }", "extensions": []},
    ],
)
def test_a_request_of_the_wrong_shape_is_a_400(client: TestClient, fields: dict[str, Any]) -> None:
    refused(post(client, json.dumps(fields)), 400, "BAD_REQUEST")


def test_variables_nested_deep_are_a_400(client: TestClient) -> None:
    query = json.dumps("query ($v: String) { viewer { name } }")
    for depth in (MAX_JSON_DEPTH + 1, 1000, 60_000):
        nested = "[" * depth + "]" * depth
        body = f'{{"query": {query}, "variables": {{"v": {nested}}}}}'
        message = refused(post(client, body), 400, "BAD_REQUEST")
        assert f"more than {MAX_JSON_DEPTH} levels" in message
    # What a real input needs passes.
    ok = post(client, json.dumps({"query": "{ viewer { name } }", "variables": {"a": [[[1]]]}}))
    assert ok.status_code == 200
    assert ok.json() == {"data": {"viewer": {"name": "test"}}}


@pytest.mark.parametrize("digits", [33, 4301, 5000])
def test_numbers_of_thousands_of_digits_are_refused(client: TestClient, digits: int) -> None:
    number = "9" * digits
    in_variables = '{"query": "query ($n: Int) { viewer { name } }", "variables": {"n": %s}}'
    refused(post(client, in_variables % number), 400, "BAD_REQUEST")
    refused(post(client, in_variables % f"0.{number}"), 400, "BAD_REQUEST")
    for query in (
        f"{{ programs(first: {number}) {{ totalCount }} }}",
        f'{{ upcomingShipments(orderId: "x", count: {number}) {{ date }} }}',
        f"{{ viewer {{ name }} }} query Q {{ programs(first: 1.{number}) {{ totalCount }} }}",
    ):
        response = post(client, json.dumps({"query": query}))
        [error] = problems(response)
        assert error["code"] == "GRAPHQL_VALIDATION_FAILED", error
        assert "digits" in error["message"]


def test_an_unknown_fragment_is_a_validation_error(client: TestClient) -> None:
    response = post(client, json.dumps({"query": "{ viewer { ...Nope } }"}))
    [error] = problems(response)
    assert error["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["message"] == "Unknown fragment 'Nope'."


def test_a_subscription_over_post_is_a_400(client: TestClient) -> None:
    query = 'subscription { orderEvents(orderId: "T3JkZXI6MQ==") { id } }'
    message = refused(post(client, json.dumps({"query": query})), 400, "BAD_REQUEST")
    assert "subscriptions" in message


def test_every_graphql_error_has_a_code(client: TestClient) -> None:
    cases = {
        "{ viewer { name }": "GRAPHQL_PARSE_FAILED",
        "{ viewer { nme } }": "GRAPHQL_VALIDATION_FAILED",
        "{ jobRuns(job: NOPE) { totalCount } }": "GRAPHQL_VALIDATION_FAILED",
        "query ($n: Int!) { programs(first: $n) { totalCount } }": "BAD_USER_INPUT",
        "{ programs(first: 1000) { totalCount } }": "INVALID_INPUT",
        "{ viewer { " + "name " * 5001 + "} }": "GRAPHQL_PARSE_FAILED",  # MaxTokensLimiter
        "{ viewer { ...F } } fragment F on Viewer { ...F }": "GRAPHQL_VALIDATION_FAILED",
    }
    for query, code in cases.items():
        errors = problems(post(client, json.dumps({"query": query})))
        assert [e["code"] for e in errors] == [code], (query, errors)


SUGGESTION_BAIT = [
    # enum values, argument names, type names, input fields, fields: each one letter off
    ("{ jobRuns(job: PROCESS_PAYMNTS) { totalCount } }", {}),
    ("query ($j: JobName) { jobRuns(job: $j) { totalCount } }", {"j": "PROCESS_PAYMNTS"}),
    ("{ continuityOrders(progamId: null) { totalCount } }", {}),
    ("query ($x: Strin) { viewer { name } }", {}),
    ("{ viewer { nam } }", {}),
    ("{ viewer { ... on Viewr { name } } }", {}),
    (
        "mutation ($i: RunJobInput!) { runJob(input: $i) { __typename } }",
        {"i": {"jb": "PROCESS_PAYMENTS"}},
    ),
    ("mutation { runJob(input: {jb: PROCESS_PAYMENTS}) { __typename } }", {}),
]


@pytest.mark.parametrize(("query", "variables"), SUGGESTION_BAIT)
def test_no_suggestions_outside_development(
    client: TestClient, query: str, variables: dict[str, Any]
) -> None:
    response = post(client, json.dumps({"query": query, "variables": variables}))
    errors = problems(response)  # asserts no "Did you mean"
    assert errors
    assert all(not any(w in e["message"] for w in ("mean", "suggest")) for e in errors)


@pytest.fixture
def dev_client(settings: Settings, gateway: TestGateway) -> Iterator[TestClient]:
    service = settings.service.model_copy(update={"development": True})
    app = create_app(
        settings.model_copy(update={"service": service}), gateway=gateway, clock=lambda: API_TODAY
    )
    with TestClient(app) as test_client:
        yield as_admin(test_client)


def test_development_mode_keeps_its_suggestions(dev_client: TestClient) -> None:
    """The switch is development mode, not a blanket removal: GraphiQL users keep the help."""
    for query, variables in SUGGESTION_BAIT:
        body = post(dev_client, json.dumps({"query": query, "variables": variables})).json()
        assert any("Did you mean" in e["message"] for e in body["errors"]), (query, body)


def test_over_long_strings_in_every_argument_are_refused_with_a_code(client: TestClient) -> None:
    """Every String and ID of every argument and input field of every query and mutation,
    at a key column's width + 1 and at ``MAX_TEXT`` + 1: a ``VALUE_TOO_LONG`` (or another
    coded refusal that comes first), never an INTERNAL."""
    ids = make_customer(client)
    checked = 0
    for length in (65, MAX_TEXT + 1):
        for label, document, variables in long_text_requests(ids, length):
            response = post(client, json.dumps({"query": document, "variables": variables}))
            found = problems(response)
            checked += 1
            name = label.rsplit(".", 1)[-1]
            if length > KEY_LENGTHS.get(name, MAX_TEXT):
                assert found, (label, response.text)
            if name in KEY_LENGTHS:
                codes = [e["code"] for e in found]
                assert "VALUE_TOO_LONG" in codes, (label, [e["message"][:200] for e in found])
                [too_long] = [e for e in found if e["code"] == "VALUE_TOO_LONG"]
                assert too_long["field"][-1] == name, (label, too_long)
    assert checked > 100, checked


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),  # more for a deep run
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(data=st.data())
def test_hostile_request_shapes_fuzzed(client: TestClient, data: st.DataObject) -> None:
    """Hypothesis mixes the shapes: any JSON value as the body, deep nesting anywhere, huge
    numbers, long strings, in the body, the variables and the document."""
    scalar = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**40), max_value=10**40),
        st.text(max_size=600),
        st.sampled_from(["9" * 4400, "x" * 65, "x" * 501]),
    )
    values = st.recursive(
        scalar,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=10,
    )
    depth = data.draw(st.sampled_from([0, 5, MAX_JSON_DEPTH + 1, 3000]))
    kinds = ["body", "variables", "document", "number", "argument", "get"]
    kind = data.draw(st.sampled_from(kinds))
    query = "query ($v: String, $n: Int) { viewer { name } program(code: $v) { id } }"
    if kind == "body":
        body = json.dumps(data.draw(values))
    elif kind == "variables":
        nested = "[" * depth + json.dumps(data.draw(values)) + "]" * depth
        body = f'{{"query": {json.dumps(query)}, "variables": {{"v": {nested}}}}}'
    elif kind == "number":
        digits = data.draw(st.integers(min_value=1, max_value=6000))
        body = f'{{"query": {json.dumps(query)}, "variables": {{"n": {"7" * digits}}}}}'
    elif kind == "get":  # the URL parameters of a (persisted) GET
        params = {
            key: data.draw(st.one_of(st.text(max_size=50), values.map(json.dumps)))
            for key in data.draw(
                st.sets(st.sampled_from(["query", "variables", "extensions", "operationName"]))
            )
        }
        problems(client.get("/graphql", params=params))
        return
    elif kind == "argument":  # any text slot of any root field, of any length to 600
        length = data.draw(st.integers(min_value=60, max_value=600))
        slots = list(long_text_requests(FAKE_IDS, length))
        _label, document, variables = data.draw(st.sampled_from(slots))
        body = json.dumps({"query": document, "variables": variables})
    else:
        literal = data.draw(st.sampled_from(["9" * 5000, '"' + "x" * 600 + '"', "...Nope"]))
        body = json.dumps({"query": f"{{ programs(first: {literal}) {{ totalCount }} }}"})
    problems(post(client, body))


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_a_coded_405(client: TestClient, method: str) -> None:
    response = client.request(method, "/graphql", json={"query": "{ viewer { name } }"})
    refused(response, 405, "METHOD_NOT_ALLOWED")
