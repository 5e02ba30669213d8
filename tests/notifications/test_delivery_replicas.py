"""Two processes delivering the same outbox at the same time (PostgreSQL): each notification is
claimed ``FOR UPDATE SKIP LOCKED`` and leased by one of them, so it is sent once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from continuity.db import open_database
from continuity.enums import NotificationStatus
from continuity.models import Notification
from continuity.notifications.policy import NotificationPolicy, Subscriber, set_policy
from continuity.payments.gateway import TestGateway
from tests.dbutil import on_postgres
from tests.jobs.world import buyer, open_business, order
from tests.notifications.receivers import webhook_receiver

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(not on_postgres(), reason="row locking is a PostgreSQL feature"),
]

ROOT = Path(__file__).resolve().parents[2]
DAY0 = date(2027, 1, 10)
ORDERS = 60
SECRET = "whsec-0123456789abcdef"


async def _populate(url: str, rules_dir: Path, hook_url: str) -> None:
    previous = set_policy(
        NotificationPolicy(email_enabled=False, subscribers=(Subscriber("erp", hook_url, SECRET),))
    )
    try:
        async with open_database(url):
            rules = await open_business(rules_dir)
            gateway = TestGateway()
            for n in range(ORDERS):
                who = await buyer(f"R-{n}", today=DAY0)
                await order(who, "BOOKCLUB", DAY0, rules, gateway)
    finally:
        set_policy(previous)


async def _rows(url: str) -> list[tuple[str, NotificationStatus, int]]:
    async with open_database(url):
        return [
            (n.dedupe_key, n.status, n.attempts) for n in await Notification.all().order_by("id")
        ]


def test_two_processes_send_each_notification_once(shared_url: str, rules_dir: Path) -> None:
    with webhook_receiver(delay=0.05) as receiver:  # a pass lasts a while: they overlap
        asyncio.run(_populate(shared_url, rules_dir, receiver.url))
        env = {
            **os.environ,
            "CONTINUITY_DATABASE_URL": shared_url,
            "CONTINUITY_EMAIL_ENABLED": "false",
            "CONTINUITY_DELIVERY_BATCH_SIZE": "5",
            "CONTINUITY_WEBHOOKS": json.dumps(
                [{"name": "erp", "url": receiver.url, "secret": SECRET}]
            ),
        }
        command = [sys.executable, "-m", "server.cli", "notifications", "deliver"]
        processes = [
            subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=300)[0] for p in processes]
        assert [p.returncode for p in processes] == [0, 0], outputs
    rows = asyncio.run(_rows(shared_url))
    assert len(rows) == ORDERS  # one order_placed per order, to the one subscriber
    assert {(status, attempts) for _key, status, attempts in rows} == {(NotificationStatus.SENT, 1)}
    sent = Counter(r.headers["continuity-event-id"] for r in receiver.requests)
    assert sorted(sent) == sorted(key for key, _s, _a in rows)
    assert set(sent.values()) == {1}, outputs  # nobody twice
