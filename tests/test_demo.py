"""``continuity demo``: the demo data, idempotent, in-process and as the command a user runs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tortoise.context import TortoiseContext

from continuity.enums import (
    BillingMode,
    ContinuityLineStatus,
    PaymentPurpose,
    PaymentStatus,
)
from continuity.models import (
    Address,
    ContinuityLine,
    ContinuityOrder,
    Customer,
    OrderHistoryEntry,
    Payment,
    PaymentMethod,
    Program,
    SalesOrder,
)
from continuity.payments.gateway import TestGateway
from rules.loader import load_rules
from rules.sync import sync_rules
from server.app import create_app
from server.demo import DEMO_CUSTOMERS, SAMPLE_QUERY, seed_demo
from tests.api.graphql import gql
from tests.conftest import as_admin, make_settings
from tests.dbutil import create_database, drop_database

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2027, 1, 31)
ACCOUNTS = ["DEMO-001", "DEMO-002", "DEMO-003"]
PROGRAMS = {"book-club", "coffee", "gift-box", "seasonal-wine", "vitamins-refill"}


async def _counts() -> dict[str, int]:
    return {
        "customers": await Customer.all().count(),
        "addresses": await Address.all().count(),
        "cards": await PaymentMethod.all().count(),
        "sales orders": await SalesOrder.all().count(),
        "continuity orders": await ContinuityOrder.all().count(),
        "lines": await ContinuityLine.all().count(),
        "payments": await Payment.all().count(),
    }


async def test_seed_twice_creates_everything_once(db: TortoiseContext, rules_dir: Path) -> None:
    await sync_rules(load_rules(rules_dir))
    gateway = TestGateway()

    first = await seed_demo(TODAY, gateway=gateway)
    assert first.customers_created == tuple(ACCOUNTS)
    assert first.customers_found == ()
    assert len(first.orders_created) == 5
    assert first.not_placed == ()
    after_first = await _counts()
    assert after_first == {
        "customers": 3,
        "addresses": 3,
        "cards": 3,
        "sales orders": 5,
        "continuity orders": 5,
        # book club 12 + vitamins 3 (threshold) + wine 15 (the calendar is back at event 1 in
        # January 2027: events 1-12, three of them with 2 items) + coffee 3 + 3x2 items
        # (threshold) + gift box 12
        "lines": 12 + 3 + 15 + 9 + 12,
        # wine: 3 installments; gift box: 1 (declined)
        "payments": 4,
    }
    orders = await ContinuityOrder.all().prefetch_related("program", "customer")
    assert {order.program.code for order in orders} == PROGRAMS
    assert [c.account_number for c in await Customer.all().order_by("account_number")] == ACCOUNTS

    second = await seed_demo(TODAY, gateway=gateway)
    assert second.customers_created == ()
    assert second.customers_found == tuple(ACCOUNTS)
    assert second.orders_created == ()
    assert {o.continuity_order for o in second.orders} == {o.continuity_order for o in first.orders}
    assert await _counts() == after_first
    assert gateway.calls == 2  # wine installment 1 and the declined gift box, once each


async def test_the_demo_shows_missed_declined_quantity_and_installments(
    db: TortoiseContext, rules_dir: Path
) -> None:
    await sync_rules(load_rules(rules_dir))
    summary = await seed_demo(TODAY)
    by_program = {
        order.program.code: order
        for order in await ContinuityOrder.all().prefetch_related("program")
    }

    book_club = by_program["book-club"]
    assert book_club.start_date == date(2026, 11, 30)  # two months before the order date
    missed = await ContinuityLine.filter(
        continuity_order_id=book_club.id,
        status=ContinuityLineStatus.PENDING,
        planned_ship_date__lt=TODAY,
    ).order_by("event_number")
    assert [line.planned_ship_date for line in missed] == [
        date(2026, 11, 30),
        date(2026, 12, 30),
        date(2027, 1, 30),
    ]
    placed = await OrderHistoryEntry.get(continuity_order_id=book_club.id, action="placed")
    assert placed.details["missed_occurrences"] == 3
    assert summary.missed_lines == 3

    declined = await Payment.get(status=PaymentStatus.DECLINED)
    assert declined.continuity_order_id == by_program["gift-box"].id
    assert (declined.purpose, declined.failure_code, declined.next_retry_on) == (
        PaymentPurpose.UP_FRONT,
        "card_declined",
        date(2027, 2, 2),
    )
    assert summary.declined_payments == 1

    coffee = by_program["coffee"]
    assert coffee.quantity == 2
    assert {
        line.quantity for line in await ContinuityLine.filter(continuity_order_id=coffee.id)
    } == {2}

    wine = by_program["seasonal-wine"]
    assert wine.billing_mode is BillingMode.INSTALLMENTS
    installments = await Payment.filter(continuity_order_id=wine.id).order_by("installment_number")
    assert [(p.installment_number, p.status) for p in installments] == [
        (1, PaymentStatus.SUCCEEDED),
        (2, PaymentStatus.SCHEDULED),
        (3, PaymentStatus.SCHEDULED),
    ]
    assert sum(p.amount_minor for p in installments) == wine.total_minor > 0

    assert by_program["vitamins-refill"].billing_mode is BillingMode.PER_SHIPMENT
    assert by_program["gift-box"].billing_mode is BillingMode.UP_FRONT


async def test_a_program_missing_from_the_rules_is_reported_not_fatal(
    db: TortoiseContext, rules_dir: Path
) -> None:
    (rules_dir / "programs" / "coffee.yaml").unlink()
    await sync_rules(load_rules(rules_dir))
    summary = await seed_demo(TODAY)
    assert summary.not_placed == ("DEMO-002 coffee: program not loaded",)
    assert len(summary.orders_created) == 4
    assert not await Program.exists(code="coffee")


def test_every_demo_customer_has_a_unique_account() -> None:
    accounts = [customer.account for customer in DEMO_CUSTOMERS]
    assert accounts == ACCOUNTS
    assert sum(1 for c in DEMO_CUSTOMERS if c.token == "tok_decline") == 1


# -- the command ------------------------------------------------------------------------------


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    url = asyncio.run(create_database(tmp_path, migrated=False))
    try:
        yield url
    finally:
        asyncio.run(drop_database(url))


def _demo(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "demo", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "CONTINUITY_DATABASE_URL": url},
    )


def test_demo_command_on_a_fresh_database(empty_database_url: str, rules_dir: Path) -> None:
    url = empty_database_url
    first = _demo(url, "--today", "2027-01-31")
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert f"Demo data as of 2027-01-31 in {url}" in out
    assert "customers created: DEMO-001, DEMO-002, DEMO-003" in out
    assert "orders placed: 5 of 5" in out
    for program in PROGRAMS:
        assert f" {program}: CO-20270131-" in out
    assert "missed occurrence lines (sent at the next child-order run): 3" in out
    assert "declined payments (retried by the payments job): 1" in out
    assert "continuity serve --dev" in out
    assert SAMPLE_QUERY in out

    second = _demo(url, "--today", "2027-01-31")
    assert second.returncode == 0, second.stderr
    assert "customers created: none" in second.stdout
    assert "orders placed: 0 of 5" in second.stdout

    # The sample query the command prints answers with the demo orders.
    with TestClient(create_app(make_settings(url, rules_dir))) as client:
        data = gql(as_admin(client), SAMPLE_QUERY)
    nodes = data["continuityOrders"]["nodes"]
    assert data["continuityOrders"]["totalCount"] == len(PROGRAMS)
    assert sorted(node["program"]["code"] for node in nodes) == sorted(PROGRAMS)
    assert {node["customer"]["accountNumber"] for node in nodes} == set(ACCOUNTS)


def test_demo_command_refuses_invalid_rules(empty_database_url: str, rules_dir: Path) -> None:
    (rules_dir / "payment-schedules.yaml").write_text("schedules: [\n")
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={
            **os.environ,
            "CONTINUITY_DATABASE_URL": empty_database_url,
            "CONTINUITY_RULES_DIR": str(rules_dir),
        },
    )
    assert result.returncode == 1
    assert f"{rules_dir / 'payment-schedules.yaml'}:2:1: " in result.stdout
    assert "error(s) in" in result.stderr
    assert "customers created" not in result.stdout
