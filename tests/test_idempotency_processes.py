"""Idempotency keys across real server processes (issue 11): a client that retries through a
load balancer reaches another replica. Two ``continuity serve`` on one database, ten identical
``placeSalesOrder`` requests with one key sent at once to both: one order, one charge, ten
identical answers. On SQLite too (two servers on one file: WAL and the busy timeout let them)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from strawberry import relay

from continuity.access import create_token
from continuity.db import open_database
from continuity.enums import Role
from continuity.models import Payment, SalesOrder
from tests.api.customers import PLACE
from tests.jobs.world import buyer
from tests.test_serve_processes import Replica, _wait_for

pytestmark = pytest.mark.db


async def _customer(url: str) -> tuple[str, dict[str, str]]:
    """An admin token and a customer's global ids, written straight into the database."""
    async with open_database(url):
        token = (await create_token(Role.ADMIN, name="retrying-app")).token
        who = await buyer("C-1", today=datetime.now(UTC).date())
    return token, {
        "customerId": relay.to_base64("Customer", who.customer_id),
        "shipToAddressId": relay.to_base64("Address", who.address_id),
        "paymentMethodId": relay.to_base64("PaymentMethod", who.card_id),
    }


async def _placed(url: str) -> tuple[int, int]:
    async with open_database(url):
        return await SalesOrder.all().count(), await Payment.all().count()


def test_concurrent_retries_through_two_replicas_place_one_order(
    shared_url: str, rules_dir: Path, tmp_path: Path
) -> None:
    token, ids = asyncio.run(_customer(shared_url))
    replicas = [
        Replica(
            shared_url,
            tmp_path / f"replica-{n}.log",
            CONTINUITY_RULES_DIR=str(rules_dir),
            CONTINUITY_SCHEDULER_ENABLED="false",
            CONTINUITY_FAULTS="latency=0.5",  # the first charge is slow: the others overlap it
        )
        for n in range(2)
    ]
    try:
        _wait_for(lambda: all(r.ready() for r in replicas), "both replicas to be ready")
        body = json.dumps(
            {
                "query": PLACE,
                "variables": {
                    "input": {**ids, "lines": [{"sku": "BOOKCLUB"}, {"sku": "BOOK-001"}]}
                },
            }
        ).encode()

        def send(n: int) -> tuple[int, str]:
            request = urllib.request.Request(
                f"http://127.0.0.1:{replicas[n % 2].port}/graphql",
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {token}",
                    "Idempotency-Key": "checkout-7f1c0d4e",
                },
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read().decode()

        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(send, range(10)))
    finally:
        for replica in replicas:
            assert replica.stopped_cleanly(), replica.log.read_text()

    assert {status for status, _ in answers} == {200}
    assert len({text for _, text in answers}) == 1, answers
    payload = json.loads(answers[0][1])["data"]["placeSalesOrder"]
    assert payload["userErrors"] == []
    assert asyncio.run(_placed(shared_url)) == (1, 1)  # one order, one charge for BOOK-001
