"""Placements in the server's worker process (``server/placement_worker.py``), over HTTP.

With ``service.placement_worker`` on (the shipped default) a placement's checks and write
run in a process the server starts and supervises: the answers are those of a placement in
the server's own process (the order and its rows, user errors with their code and field,
the charges on the server's gateway; the idempotency keys' tests run through the worker too,
``tests/api/test_idempotency_api.py``'s ``placing_client``); a worker that dies is replaced at the
next placement; one that dies with a placement in hand fails it without freeing its
idempotency key, so that a retry never places the order twice.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from strawberry import relay

import server.app
from config.settings import Settings
from continuity import idempotency, models
from continuity.enums import PaymentStatus
from continuity.orders import placement
from continuity.payments.gateway import TestGateway
from server import placement_worker
from server.app import create_app
from server.placement_worker import PlacementFailed, PlacementWorker, PlacementWorkerLost
from tests.api.customers import PLACE, make_customer
from tests.api.test_idempotency_api import count, key_rows, order_input, post
from tests.conftest import API_TODAY, admin_client, as_admin, make_settings

pytestmark = pytest.mark.db


@pytest.fixture
def worker_settings(sync_database_url: str, rules_dir: Path) -> Settings:
    return make_settings(sync_database_url, rules_dir, placement_worker=True)


@pytest.fixture
def worker_client(worker_settings: Settings, gateway: TestGateway) -> Iterator[TestClient]:
    yield from admin_client(worker_settings, gateway)


def _worker_pid(client: TestClient) -> int | None:
    worker: PlacementWorker = client.app.state.placement_worker  # type: ignore[attr-defined]
    return worker.pid


def test_an_order_placed_in_the_worker_is_answered_and_written_as_in_process(
    worker_client: TestClient, gateway: TestGateway
) -> None:
    pid = _worker_pid(worker_client)
    assert pid is not None
    assert pid != os.getpid()
    ids = make_customer(worker_client)
    payload = post(worker_client, PLACE, {"input": order_input(ids)})["data"]["placeSalesOrder"]
    assert payload["userErrors"] == []
    assert payload["salesOrder"]["total"] == {"amount": "29.98", "currencyCode": "USD"}
    assert [line["sku"] for line in payload["salesOrder"]["lines"]] == ["BOOKCLUB", "BOOK-001"]
    # the ordinary line's charge, on the server's gateway, after the worker's write
    assert [p["status"] for p in payload["salesOrder"]["payments"]["nodes"]] == ["SUCCEEDED"]
    assert gateway.moved_minor == 2998
    [order] = payload["continuityOrders"]
    assert order["billingMode"] == "PER_SHIPMENT"

    async def written() -> tuple[int, int, int]:
        continuity = await models.ContinuityOrder.get(number=order["number"])
        return (
            await models.SalesOrder.all().count(),
            await models.ContinuityLine.filter(continuity_order_id=continuity.id).count(),
            await models.Payment.filter(status=PaymentStatus.SUCCEEDED).count(),
        )

    sales_orders, lines, captured = worker_client.portal.call(written)  # type: ignore[union-attr]
    assert (sales_orders, captured) == (1, 1)
    assert lines == 12  # the book club's twelve events


def test_user_errors_come_back_from_the_worker_with_their_code_and_field(
    worker_client: TestClient,
) -> None:
    ids = make_customer(worker_client)
    payload = post(worker_client, PLACE, {"input": order_input(ids, sku="NO-SUCH-SKU")})["data"][
        "placeSalesOrder"
    ]
    assert payload["salesOrder"] is None
    [error] = payload["userErrors"]
    assert (error["code"], error["field"]) == ("UNKNOWN_SKU", ["input", "lines", "1", "sku"])
    assert "NO-SUCH-SKU" in error["message"]
    assert count(worker_client, models.SalesOrder) == 0


def test_a_dead_worker_is_replaced_at_the_next_placement(worker_client: TestClient) -> None:
    ids = make_customer(worker_client)
    first = _worker_pid(worker_client)
    assert first is not None
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _worker_pid(worker_client) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _worker_pid(worker_client) is None  # seen dead
    payload = post(worker_client, PLACE, {"input": order_input(ids)})["data"]["placeSalesOrder"]
    assert payload["userErrors"] == []
    second = _worker_pid(worker_client)
    assert second is not None
    assert second != first
    assert count(worker_client, models.SalesOrder) == 1


def _lost_writer(*_args: Any, **_kwargs: Any) -> Any:
    raise PlacementWorkerLost("the placement worker ended: the order may not be placed")


def test_a_placement_lost_with_its_worker_keeps_its_key_claimed(
    sync_database_url: str,
    rules_dir: Path,
    gateway: TestGateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whether the lost placement was written is unknown: a retry with its key must not place
    it again; it waits for the key, then is told the key is in progress."""
    short_wait = functools.partial(idempotency.claim, wait=timedelta(seconds=0.3))
    monkeypatch.setattr(idempotency, "claim", short_wait)  # a retry waits 0.3 s, not 30
    monkeypatch.setattr(server.app, "write_sales_order", _lost_writer)  # the app's writer
    settings = make_settings(sync_database_url, rules_dir)
    app = create_app(settings, gateway=gateway, clock=lambda: API_TODAY)
    with TestClient(app, raise_server_exceptions=False) as raw:
        client = as_admin(raw)
        ids = make_customer(client)
        first = client.post(
            "/graphql",
            json={"query": PLACE, "variables": {"input": order_input(ids, idempotencyKey="lost")}},
        ).json()
        assert first["data"] is None
        assert first["errors"][0]["extensions"]["code"] == "INTERNAL"
        [row] = key_rows(client)
        assert (row.key, row.completed_at) == ("lost", None)  # still claimed
        retry = post(client, PLACE, {"input": order_input(ids, idempotencyKey="lost")})
        [error] = retry["data"]["placeSalesOrder"]["userErrors"]
        assert error["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS"
        assert count(client, models.SalesOrder) == 0


async def _placed_by_worker(
    worker: PlacementWorker, order: placement.SalesOrderInput
) -> placement.PlacedOrder:
    rules = placement.BillingRules(repeat_threshold=3, retry_days=2, reauthorization_limit=3)
    return await worker.write(order, order_date=API_TODAY, actor="test", rules=rules)


def test_a_worker_killed_with_placements_in_hand_fails_them_as_lost(
    worker_settings: Settings, worker_client: TestClient
) -> None:
    """The worker's placement waits for SQLite's write lock (held here) when it is killed:
    its caller gets ``PlacementWorkerLost``, and nothing was written."""
    if not worker_settings.service.database_url.startswith("sqlite"):
        pytest.skip("holds SQLite's file lock")
    ids = make_customer(worker_client)
    path = worker_settings.service.database_url.removeprefix("sqlite://")
    order = placement.SalesOrderInput(
        customer_id=_db_id(ids["customerId"]),
        ship_to_address_id=_db_id(ids["shipToAddressId"]),
        payment_method_id=_db_id(ids["paymentMethodId"]),
        lines=(placement.OrderLineInput(sku="BOOK-001"),),
    )

    async def scenario() -> BaseException | None:
        worker = PlacementWorker(worker_settings)
        await worker.start()
        pid = worker.pid
        assert pid is not None
        lock = sqlite3.connect(path, timeout=5, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            pending = asyncio.ensure_future(_placed_by_worker(worker, order))
            await asyncio.sleep(0.5)  # the worker waits for the lock
            assert not pending.done()
            os.kill(pid, signal.SIGKILL)
            outcome = (await asyncio.gather(pending, return_exceptions=True))[0]
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        await worker.stop()
        return outcome if isinstance(outcome, BaseException) else None

    error = worker_client.portal.call(scenario)  # type: ignore[union-attr]
    assert isinstance(error, PlacementWorkerLost)
    assert isinstance(error, idempotency.OutcomeUnknown)
    assert count(worker_client, models.SalesOrder) == 0


def _db_id(global_id: str) -> int:
    return int(relay.from_base64(global_id)[1])


def _our_workers() -> list[int]:
    """The placement workers this process started and that still run."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except OSError:
            continue
        if parent == os.getpid() and b"server.placement_worker import main" in command:
            found.append(int(entry))
    return found


def test_a_server_stopped_while_its_worker_starts_leaves_no_worker(
    worker_settings: Settings, worker_client: TestClient
) -> None:
    async def scenario() -> tuple[list[int], int | None]:
        worker = PlacementWorker(worker_settings)
        starting = asyncio.ensure_future(worker.start())
        await asyncio.sleep(0.2)  # spawned, not ready yet (its imports take longer)
        assert not starting.done()  # what this test is about: a stop during the start
        await worker.stop()
        await asyncio.gather(starting, return_exceptions=True)
        return _our_workers(), worker.pid

    before = _our_workers()
    after, pid = worker_client.portal.call(scenario)  # type: ignore[union-attr]
    assert pid is None
    assert after == before  # only the app's own worker


def test_a_worker_that_does_not_start_stops_the_server_start_and_leaves_no_process(
    worker_settings: Settings, gateway: TestGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(placement_worker, "START_SECONDS", 0.01)  # never ready that soon
    before = _our_workers()
    app = create_app(worker_settings, gateway=gateway, clock=lambda: API_TODAY)
    with (
        pytest.raises(PlacementFailed, match="did not start: no answer in 0 s"),
        TestClient(app),
    ):
        pass
    assert _our_workers() == before
