"""The notification outbox over GraphQL, redelivery, and the live ``orderEvents`` stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from graphql import GraphQLError

from continuity import models
from continuity.enums import NotificationStatus
from continuity.errors import ContinuityError, NotFound
from continuity.notifications.delivery import redeliver
from continuity.orders.history import entries_after, latest_entry_id
from resolvers.access import check_order_visible
from resolvers.context import Info
from resolvers.errors import parse_id, query_error, user_errors
from resolvers.inputs import check_arguments
from schema.notifications import (
    Notification,
    NotificationConnection,
    NotificationEdge,
    RedeliverNotificationPayload,
)
from schema.pagination import PageInfo, decode_cursor, encode_cursor, page_size

#: How often the live stream looks for new history entries. Polling the table (rather than an
#: in-process publish) sees the changes made by every replica and by the jobs.
POLL_SECONDS = 0.5


async def resolve_notifications(
    info: Info,
    order: str | None,
    status: NotificationStatus | None,
    first: int | None,
    after: str | None,
) -> NotificationConnection:
    """Newest first."""
    size = page_size(first)
    try:
        check_arguments(order=order, after=after)
    except ContinuityError as error:
        raise query_error(error) from None
    query = models.Notification.all().order_by("-id")
    before_id = decode_cursor("Notification", after)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    if order is not None:
        try:
            query = query.filter(continuity_order_id=parse_id(order, ["order"]))
        except ContinuityError:
            query = query.filter(id__lt=0)  # an id that names nothing matches nothing
    if status is not None:
        query = query.filter(status=status)
    rows = await query.limit(size + 1)
    edges = [
        NotificationEdge(cursor=encode_cursor("Notification", r.id), node=Notification.from_row(r))
        for r in rows[:size]
    ]
    return NotificationConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
        ),
    )


async def resolve_redeliver_notification(
    info: Info, notification_id: str
) -> RedeliverNotificationPayload:
    try:
        row = await redeliver(parse_id(notification_id, ["id"]))
    except ContinuityError as error:
        return RedeliverNotificationPayload(notification=None, user_errors=user_errors(error))
    return RedeliverNotificationPayload(notification=Notification.from_row(row), user_errors=[])


async def order_event_stream(
    info: Info, order: str, after: str | None
) -> AsyncIterator[models.OrderHistoryEntry]:
    """The order's history entries from now on (or after the entry ``after``), forever: the
    client ends the subscription. An unknown order (or another customer's) is ``NOT_FOUND``."""
    try:
        order_id = parse_id(order, ["order"])
        await check_order_visible(info.context.caller, order_id, ["order"])
        if not await models.ContinuityOrder.filter(id=order_id).exists():
            raise NotFound(f"no continuity order {order}", field=["order"])
        last = parse_id(after, ["after"]) if after is not None else await latest_entry_id(order_id)
    except ContinuityError as error:
        raise GraphQLError(
            error.message, extensions={"code": error.code.value, "field": list(error.field or [])}
        ) from None
    while True:
        for entry in await entries_after(order_id, last):
            last = entry.id
            yield entry
        await asyncio.sleep(POLL_SECONDS)
