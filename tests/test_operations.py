"""The operator's surface of one server, over HTTP: probes, metrics, request ids, JSON logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from tortoise.connection import get_connection

from config.settings import Settings
from continuity.enums import NotificationStatus, PaymentKind, PaymentPurpose, PaymentStatus
from continuity.models import Notification, Payment
from continuity.payments.charges import CallContext, call_gateway
from continuity.payments.gateway import GatewayOutcome, TestGateway
from server import metrics
from server.app import create_app
from server.graphql_metrics import operation_label
from server.logs import configure_logging
from server.metrics import GATEWAY_CALLS
from server.request_id import request_id_from
from tests.api.customers import make_customer, place
from tests.api.graphql import gql
from tests.conftest import API_TODAY, as_admin

pytestmark = pytest.mark.db

RUN = """mutation ($input: RunJobInput!) { runJob(input: $input) {
  runs { job status } userErrors { field code } } }"""

#: Every metric family /metrics promises (docs/OPERATIONS.md lists them with their alerts).
METRICS = {
    "continuity_http_responses": "counter",
    "continuity_graphql_operations": "counter",
    "continuity_graphql_operation_duration_seconds": "histogram",
    "continuity_graphql_errors": "counter",
    "continuity_job_runs": "counter",
    "continuity_job_run_duration_seconds": "histogram",
    "continuity_job_items": "counter",
    "continuity_job_item_failures": "counter",
    "continuity_child_orders_created": "counter",
    "continuity_gateway_calls": "counter",
    "continuity_notifications_delivered": "counter",
    "continuity_notification_delivery_failures": "counter",
    "continuity_notifications": "gauge",
    "continuity_orders_payment_hold": "gauge",
    "continuity_job_runs_running": "gauge",
    "continuity_job_last_success_timestamp_seconds": "gauge",
    "continuity_scheduler_leader": "gauge",
    "continuity_database_up": "gauge",
}


def _samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _value(text: str, name: str, **labels: str) -> float:
    return _samples(text).get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_health_answers_while_the_process_serves(client: TestClient) -> None:
    response = client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


class _NamedGateway(TestGateway):
    name = "test"


def test_ready_lists_each_check_the_gateway_and_the_scheduler(settings: Settings) -> None:
    with TestClient(create_app(settings, gateway=_NamedGateway())) as client:
        response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "checks": {
            "database": {"ok": True},
            "migrations": {"ok": True, "pending": []},
            "rules": {"ok": True, "programs": 5},
        },
        "gateway": "test",
        "scheduler": {"enabled": False, "leader": False},
    }


def test_not_ready_while_a_migration_is_pending(client: TestClient) -> None:
    async def forget_the_last_migration() -> None:
        await get_connection("default").execute_query(
            "DELETE FROM tortoise_migrations WHERE name = '0007_run_leases'"
        )

    client.portal.call(forget_the_last_migration)  # type: ignore[union-attr]
    response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["checks"]["migrations"] == {"ok": False, "pending": ["0007_run_leases"]}


def test_not_ready_when_no_rules_could_be_loaded(settings: Settings, rules_dir: Path) -> None:
    (rules_dir / "catalog.yaml").write_text("products: [\n")
    with TestClient(create_app(settings)) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    rules = response.json()["checks"]["rules"]
    assert rules["ok"] is False
    assert rules["programs"] == 0
    assert "no programs loaded" in rules["error"]


def test_a_valid_request_id_is_used_and_echoed(client: TestClient) -> None:
    response = client.post(
        "/graphql",
        json={"query": "{ nope }"},
        headers={"X-Request-Id": "lb-7f3a:42"},
    )
    assert response.headers["x-request-id"] == "lb-7f3a:42"
    assert client.get("/health", headers={"X-Request-Id": "abc"}).headers["x-request-id"] == "abc"


@pytest.mark.parametrize("given", ["x" * 129, "has space", "semi;colon", "", "-leading-dash"])
def test_an_odd_request_id_is_replaced(client: TestClient, given: str) -> None:
    response = client.post(
        "/graphql",
        json={"query": "{ programs { id } }"},
        headers={"X-Request-Id": given, "Authorization": "Bearer nope"},
    )
    echoed = response.headers.get_list("x-request-id")
    assert len(echoed) == 1
    assert echoed[0] != given
    assert len(echoed[0]) == 32
    # the guard's refusal quotes the same id
    assert response.json()["errors"][0]["extensions"]["requestId"] == echoed[0]


def test_request_id_validation() -> None:
    assert request_id_from("abc-DEF_1.2:3/4+5=") == "abc-DEF_1.2:3/4+5="
    assert request_id_from(None) != request_id_from(None)


def test_metrics_expose_every_promised_family(client: TestClient) -> None:
    ids = make_customer(client)
    assert place(client, ids, {"sku": "VITREFILL"})["userErrors"] == []
    gql(client, "{ programs(first: 5) { nodes { id } } }")
    gql(client, RUN, input={"job": "ALL"})
    late = gql(client, RUN, input={"job": "ALL", "asOf": "2047-01-01"})["runJob"]
    assert late["userErrors"][0]["code"] == "INVALID_INPUT"
    client.post("/graphql", json={"query": "{ noSuchField }"})

    async def outbox() -> None:
        for n, status in enumerate(["pending", "pending", "dead", "sent"]):
            await Notification.create(
                event_type="order_placed",
                channel="webhook",
                recipient="erp",
                dedupe_key=f"metrics-{n}",
                status=NotificationStatus(status),
            )

    client.portal.call(outbox)  # type: ignore[union-attr]
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert {name: families.get(name) for name in METRICS} == METRICS
    assert _value(text, "continuity_graphql_operations_total", operation="programs", type="query")
    assert _value(text, "continuity_graphql_operation_duration_seconds_count", operation="programs")
    assert _value(text, "continuity_graphql_errors_total", operation="runJob", code="INVALID_INPUT")
    # an invalid document's field names never become labels
    assert _value(
        text,
        "continuity_graphql_errors_total",
        operation="unknown",
        code="GRAPHQL_VALIDATION_FAILED",
    )
    assert _value(text, "continuity_job_runs_total", job="close-orders", status="succeeded")
    assert _value(text, "continuity_job_items_total", job="create-child-orders", count="lines")
    assert _value(text, "continuity_child_orders_created_total") >= 1
    assert _value(text, "continuity_gateway_calls_total", operation="authorize", outcome="approved")
    assert _value(text, "continuity_job_last_success_timestamp_seconds", job="close-orders") > 0
    assert _value(text, "continuity_notifications", status="pending") == 2
    assert _value(text, "continuity_notifications", status="dead") == 1
    assert _value(text, "continuity_orders_payment_hold") == 0
    assert _value(text, "continuity_database_up") == 1
    assert _value(text, "continuity_http_responses_total", route="/graphql", status="200")


def test_operation_labels_are_bounded_by_the_schema(client: TestClient) -> None:
    from graphql import parse

    from schema import build_schema

    schema = build_schema()._schema
    assert operation_label(parse("{ programs { id } viewer { role } }"), None, schema) == (
        "programs+viewer"
    )
    assert operation_label(parse("{ a1: programs { id } }"), None, schema) == "programs"
    assert operation_label(parse("{ evil1234 }"), None, schema) == "unknown"
    assert operation_label(None, None, schema) == "invalid"
    assert operation_label(parse("query A { programs { id } }"), "B", schema) == "invalid"


async def test_gateway_calls_are_counted_by_operation_and_outcome() -> None:
    """Every money call goes through ``call_gateway``; the metrics hear of each."""
    stop = metrics.observe()
    try:
        before = GATEWAY_CALLS.labels("charge", "declined")._value.get()
        payment = Payment(
            kind=PaymentKind.CHARGE,
            purpose=PaymentPurpose.ORDER_LINES,
            status=PaymentStatus.PENDING,
            amount_minor=100,
            currency="USD",
            idempotency_key="SO-1:lines",
            attempts=0,
        )
        context = CallContext("tok_decline", None, {})
        result = await call_gateway(payment, TestGateway(), context, off_session=False)
    finally:
        stop()
    assert result.outcome is GatewayOutcome.DECLINED
    assert GATEWAY_CALLS.labels("charge", "declined")._value.get() == before + 1


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_json_logs_carry_the_request_and_run_ids(settings: Settings, json_log: io.StringIO) -> None:
    with TestClient(create_app(settings, clock=lambda: API_TODAY)) as client:
        as_admin(client)
        response = client.post(
            "/graphql",
            json={"query": RUN, "variables": {"input": {"job": "CLOSE_ORDERS"}}},
            headers={"X-Request-Id": "req-123"},
        )
        assert response.status_code == 200
    lines: list[dict[str, Any]] = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    run_lines = [line for line in lines if line.get("job") == "close-orders"]
    assert len(run_lines) >= 2  # started, succeeded
    assert all(line["request_id"] == "req-123" for line in run_lines)
    assert len({line["run_id"] for line in run_lines}) == 1


def test_text_logs_name_the_run(settings: Settings) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("INFO", "text", stream)
    try:
        with TestClient(create_app(settings, clock=lambda: API_TODAY)) as client:
            as_admin(client)
            gql(client, RUN, input={"job": "CLOSE_ORDERS"})
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert any(
        "[request " in line and " close-orders]" in line for line in stream.getvalue().splitlines()
    )


def test_the_scrape_survives_a_database_that_does_not_answer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable() -> None:
        raise ConnectionRefusedError("the database is down")

    monkeypatch.setattr(metrics, "_count_rows", unreachable)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert _value(response.text, "continuity_database_up") == 0
