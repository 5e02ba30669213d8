"""The ``continuity`` command on the configured gateway, run as a user runs it (a subprocess),
with Stripe's API at the loopback stand-in (``CONTINUITY_STRIPE_API_BASE``)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbutil import create_database, drop_database
from tests.payments.conftest import API_KEY
from tests.payments.standin import StripeStandIn

ROOT = Path(__file__).resolve().parent.parent.parent
TODAY = "2027-01-31"


@pytest.fixture
def database_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    url = asyncio.run(create_database(tmp_path))
    try:
        yield {"CONTINUITY_DATABASE_URL": url}
    finally:
        asyncio.run(drop_database(url))


def continuity(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONTINUITY_")}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env={**clean, **env},
    )


def _stripe(standin: StripeStandIn, key: str = API_KEY) -> dict[str, str]:
    return {
        "CONTINUITY_PAYMENT_GATEWAY": "stripe",
        "CONTINUITY_STRIPE_API_KEY": key,
        "CONTINUITY_STRIPE_API_BASE": standin.url,
    }


@pytest.mark.db
def test_demo_and_jobs_move_money_through_the_configured_stripe(
    database_env: dict[str, str], standin: StripeStandIn
) -> None:
    env = {**database_env, **_stripe(standin)}
    demo = continuity("demo", "--today", TODAY, env=env)
    assert demo.returncode == 0, demo.stderr
    assert "(stripe gateway)" in demo.stdout
    assert "declined payments (retried by the payments job): 1" in demo.stdout
    # each demo customer got a Stripe customer and a copy of a Stripe test card ...
    assert len(standin.posts("/v1/customers")) == 3
    attached = [r.path.split("/")[3] for r in standin.requests if r.path.endswith("/attach")]
    assert attached == ["pm_card_visa", "pm_card_mastercard", "pm_card_chargeDeclined"]
    # ... described by Stripe, and the orders paid up front were charged there
    placed = standin.posts("/v1/payment_intents")
    assert {r.form["metadata[purpose]"] for r in placed} == {"up_front", "installment"}
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in placed)
    run = continuity("jobs", "run", "create-child-orders", "--as-of", TODAY, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    held = [r for r in standin.posts("/v1/payment_intents") if r not in placed]
    assert held
    assert {(r.form["capture_method"], r.form["off_session"]) for r in held} == {("manual", "true")}
    assert "warning" not in run.stderr
    # a second demo finds everything there: nothing more reaches Stripe
    before = len(standin.requests)
    again = continuity("demo", "--today", TODAY, env=env)
    assert again.returncode == 0, again.stderr
    assert len(standin.requests) == before


def test_stripe_without_a_key_stops_every_money_command(standin: StripeStandIn) -> None:
    env = {"CONTINUITY_PAYMENT_GATEWAY": "stripe"}
    for command in (("jobs", "run", "all"), ("demo",), ("serve", "--port", "1")):
        result = continuity(*command, env=env)
        assert result.returncode == 2, (command, result.stderr)
        assert "CONTINUITY_STRIPE_API_KEY is not set" in result.stderr
        assert "Traceback" not in result.stderr
    assert standin.requests == []


def test_the_demo_refuses_a_live_key(standin: StripeStandIn) -> None:
    result = continuity("demo", env=_stripe(standin, key="sk_live_123"))
    assert result.returncode == 2
    assert "test-mode key" in result.stderr
    assert standin.requests == []


@pytest.mark.db
def test_the_test_gateway_outside_development_is_a_warning(database_env: dict[str, str]) -> None:
    result = continuity("jobs", "run", "close-orders", "--as-of", TODAY, env=database_env)
    assert result.returncode == 0, result.stderr
    assert "TEST gateway: no money moves" in result.stderr
    quiet = continuity(
        "jobs",
        "run",
        "close-orders",
        "--as-of",
        TODAY,
        env={**database_env, "CONTINUITY_DEVELOPMENT": "true"},
    )
    assert "TEST gateway" not in quiet.stderr
