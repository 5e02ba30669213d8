"""The notification outbox, redelivery, and the live stream of an order's history."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from tortoise.queryset import QuerySet

from continuity import models
from continuity.enums import NotificationStatus
from continuity.errors import NotFound
from continuity.notifications.delivery import redeliver
from continuity.orders.history import entries_after, latest_entry_id
from resolvers.scope import require_order
from resolvers.session import Session

#: How often the live stream looks for new history entries. Polling the table (rather than an
#: in-process publish) sees the changes made by every replica and by the jobs.
POLL_SECONDS = 0.5


def notifications(
    order_id: int | None, status: NotificationStatus | None
) -> QuerySet[models.Notification]:
    query = models.Notification.all()
    if order_id is not None:
        query = query.filter(continuity_order_id=order_id)
    if status is not None:
        query = query.filter(status=status)
    return query


async def redeliver_notification(session: Session, notification_id: int) -> models.Notification:
    if not await models.Notification.exists(id=notification_id):
        raise NotFound("no such notification", field=["input", "notificationId"])
    return await redeliver(notification_id)


async def order_events(
    session: Session, order_id: int, after_entry_id: int | None
) -> AsyncIterator[models.OrderHistoryEntry]:
    """The order's history entries from now on (or after the entry ``after_entry_id``),
    forever: the client ends the subscription. An unknown order (or another customer's) is
    ``NotFound``, raised before the first entry."""
    await require_order(session.caller, order_id, ["orderId"])
    last = after_entry_id if after_entry_id is not None else await latest_entry_id(order_id)
    while True:
        for entry in await entries_after(order_id, last):
            last = entry.id
            yield entry
        await asyncio.sleep(POLL_SECONDS)
