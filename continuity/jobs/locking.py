"""Claiming rows so that replicas running the same job never do the same work twice.

On PostgreSQL a claimed row is locked ``FOR UPDATE SKIP LOCKED`` inside the transaction that
works on it: a second replica skips it and moves on, and once the first commits, the work is
visible (lines released, payments attempted), so the second finds nothing left to do. SQLite
serializes writers, so the re-check inside the transaction is enough there (the clause of a
hand-written statement comes from ``continuity.sql.for_update``; Tortoise leaves the ORM's out
on SQLite).
"""

from __future__ import annotations

from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.queryset import QuerySet

from continuity.models import ContinuityOrder
from continuity.sql import id_list

__all__ = ["claim_order", "id_list", "lock_skipping", "locking"]

M = TypeVar("M", bound=Model)


def locking(query: QuerySet[M], conn: BaseDBAsyncClient) -> QuerySet[M]:
    """``query`` in ``conn``, its rows locked for the transaction (PostgreSQL: rows another
    replica holds are skipped)."""
    return query.using_db(conn).select_for_update(skip_locked=True)


async def lock_skipping(conn: BaseDBAsyncClient, query: QuerySet[Any]) -> list[int]:
    """The ids ``query`` selects, locked for this transaction, in id order."""
    return await id_list(locking(query, conn).order_by("id"))


async def claim_order(order_id: int, conn: BaseDBAsyncClient) -> ContinuityOrder | None:
    """The order, locked for this transaction; ``None`` when another replica holds it."""
    return await locking(ContinuityOrder.filter(id=order_id), conn).first()
