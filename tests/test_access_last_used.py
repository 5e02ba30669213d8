"""A token's ``last_used_at`` is written once a minute, not once per request in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.context import TortoiseContext

from continuity.access import authenticate, create_token
from continuity.enums import Role
from continuity.models import ApiToken
from tests.statements import Statements, capturing

pytestmark = pytest.mark.db


def _token_update(statement: str) -> bool:
    return statement.startswith("UPDATE") and "API_TOKEN" in statement


@pytest.fixture
def token_updates() -> Iterator[Statements]:
    with capturing(Statements(_token_update)) as handler:
        yield handler


async def test_requests_in_flight_write_a_stale_last_use_once(
    db: TortoiseContext, token_updates: Statements
) -> None:
    issued = await create_token(Role.AGENT, name="desk")
    now = datetime.now(UTC)
    await ApiToken.filter(id=issued.row.id).update(last_used_at=now - timedelta(minutes=2))
    token_updates.sql.clear()

    callers = await asyncio.gather(*(authenticate(issued.token, now=now) for _ in range(8)))

    assert [caller.name if caller else None for caller in callers] == ["desk"] * 8
    assert len(token_updates.sql) == 1
    assert (await ApiToken.get(id=issued.row.id)).last_used_at == now
    # within the minute: nothing written; after it: written again
    await authenticate(issued.token, now=now + timedelta(seconds=30))
    assert len(token_updates.sql) == 1
    later = now + timedelta(seconds=61)
    assert await authenticate(issued.token, now=later) is not None
    assert len(token_updates.sql) == 2
    assert (await ApiToken.get(id=issued.row.id)).last_used_at == later
