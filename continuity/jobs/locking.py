"""Claiming rows so that replicas running the same job never do the same work twice.

On PostgreSQL a claimed row is locked ``FOR UPDATE SKIP LOCKED`` inside the transaction that
works on it: a second replica skips it and moves on, and once the first commits, the work is
visible (lines released, payments attempted), so the second finds nothing left to do. SQLite
serializes writers, so the re-check inside the transaction is enough there. This is the one
place that knows which dialect locks rows.
"""

from __future__ import annotations

from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.queryset import QuerySet

from continuity.models import ContinuityOrder
from continuity.sql import dialect, id_list

__all__ = ["claim_order", "id_list", "lock_skipping", "locking", "skip_locked"]

M = TypeVar("M", bound=Model)


def locking(query: QuerySet[M], conn: BaseDBAsyncClient) -> QuerySet[M]:
    """``query`` in ``conn``, its rows locked for the transaction (PostgreSQL: rows another
    replica holds are skipped)."""
    query = query.using_db(conn)
    if dialect(conn) == "postgres":
        query = query.select_for_update(skip_locked=True)
    return query


def skip_locked(conn: BaseDBAsyncClient, of: str | None = None) -> str:
    """The clause that ends a hand-written ``SELECT`` locking its rows like ``locking``;
    ``of``: the alias of the one table whose rows are locked, in a join."""
    if dialect(conn) != "postgres":
        return ""
    return f"FOR UPDATE OF {of} SKIP LOCKED" if of else "FOR UPDATE SKIP LOCKED"


async def lock_skipping(conn: BaseDBAsyncClient, query: QuerySet[Any]) -> list[int]:
    """The ids ``query`` selects, locked for this transaction, in id order."""
    return await id_list(locking(query, conn).order_by("id"))


async def claim_order(order_id: int, conn: BaseDBAsyncClient) -> ContinuityOrder | None:
    """The order, locked for this transaction; ``None`` when another replica holds it."""
    return await locking(ContinuityOrder.filter(id=order_id), conn).first()
