"""The order history: who changed what, when and why. Every change writes one entry."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.models import OrderHistoryEntry


async def record(
    order_id: int,
    action: str,
    *,
    actor: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> OrderHistoryEntry:
    return await OrderHistoryEntry.create(
        continuity_order_id=order_id,
        action=action,
        actor=actor,
        reason=reason,
        details=details or {},
        using_db=using_db,
    )
