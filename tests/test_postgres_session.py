"""The settings every pooled PostgreSQL connection carries (``continuity.postgres``)."""

from __future__ import annotations

import pytest
from tortoise.context import TortoiseContext
from tortoise.transactions import in_transaction

pytestmark = pytest.mark.db


async def test_pooled_connections_compile_no_statement_just_in_time(db: TortoiseContext) -> None:
    conn = db.db()
    if conn.capabilities.dialect != "postgres":
        pytest.skip("a PostgreSQL setting")
    # an autocommit read and a transaction may take different pooled connections: both say off
    [outside] = await conn.execute_query_dict("SHOW jit")
    async with in_transaction() as tx:
        [inside] = await tx.execute_query_dict("SHOW jit")
    assert outside["jit"] == "off"
    assert inside["jit"] == "off"
