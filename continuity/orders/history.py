"""The order history: who changed what, when and why. Every change writes one entry; the live
``orderEvents`` subscription reads it back as it grows (``entries_after``)."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.models import OrderHistoryEntry
from continuity.sql import insert


async def record(
    order_id: int,
    action: str,
    *,
    actor: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> OrderHistoryEntry:
    return await insert(
        OrderHistoryEntry,
        using_db,
        **entry(order_id, action, actor=actor, reason=reason, details=details),
    )


def entry(
    order_id: int,
    action: str,
    *,
    actor: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The fields of a history entry (``record`` writes one; placement writes its entry with
    the order's other rows, ``continuity.writes``)."""
    return {
        "continuity_order_id": order_id,
        "action": action,
        "actor": actor,
        "reason": reason,
        "details": details or {},
    }


async def latest_entry_id(order_id: int) -> int:
    """The id of the order's newest entry (0 when it has none): where a live stream starts."""
    newest = await OrderHistoryEntry.filter(continuity_order_id=order_id).order_by("-id").first()
    return newest.id if newest is not None else 0


async def entries_after(order_id: int, after_id: int, limit: int = 100) -> list[OrderHistoryEntry]:
    """The order's entries written after ``after_id``, oldest first.

    Ids only grow, and an entry is visible once its transaction committed, so polling this
    from the last id seen streams every committed entry once, on any replica (the live
    ``orderEvents`` subscription polls it). The changes of one order lock its row, so its
    entries commit in id order; should two writers of one order ever commit out of id order,
    the lower entry could be passed over, which is why a client that must see everything reads
    ``continuityOrder.history`` when it (re)connects and resumes with ``after``.
    """
    return (
        await OrderHistoryEntry.filter(continuity_order_id=order_id, id__gt=after_id)
        .order_by("id")
        .limit(limit)
    )
