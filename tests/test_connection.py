"""``continuity.connection``: the current context's connection, as Tortoise's
``get_connection`` answers it, inside and outside transactions."""

from __future__ import annotations

import pytest
from tortoise.connection import get_connection, get_connections
from tortoise.transactions import in_transaction

from continuity.connection import connection, connections
from continuity.models import Customer
from continuity.writes import one_connection

pytestmark = pytest.mark.db


async def test_the_connection_is_the_contexts(db: object) -> None:
    client = get_connection("default")
    assert connections() is get_connections()
    assert connection() is client
    assert connection("default") is client
    async with in_transaction() as tx:
        assert connection() is tx is get_connection("default")
        await Customer.create(account_number="C-1", name="Ada", using_db=connection())
        # the transaction's own row, read on the connection given
        assert await Customer.filter(account_number="C-1").using_db(connection()).count() == 1
    assert connection() is client
    async with one_connection() as pinned:
        assert connection() is pinned is get_connection("default")
    assert connection() is client
    assert await Customer.filter(account_number="C-1").count() == 1
