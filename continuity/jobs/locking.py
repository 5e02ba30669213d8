"""Claiming rows so that replicas running the same job never do the same work twice.

On PostgreSQL a claimed order row is locked ``FOR UPDATE SKIP LOCKED`` inside the transaction
that works on it: a second replica skips it and moves on, and once the first commits, the work
is visible (lines released, payments attempted), so the second finds nothing left to do.
SQLite serializes writers, so the re-check inside the transaction is enough there.
"""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.models import ContinuityOrder
from continuity.sql import id_list

__all__ = ["claim_order", "id_list"]


async def claim_order(order_id: int, conn: BaseDBAsyncClient) -> ContinuityOrder | None:
    """The order, locked for this transaction; ``None`` when another replica holds it."""
    query = ContinuityOrder.filter(id=order_id).using_db(conn)
    if conn.capabilities.dialect == "postgres":
        query = query.select_for_update(skip_locked=True)
    return await query.first()
