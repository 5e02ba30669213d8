"""Events out over GraphQL: the notification outbox, redelivery, and the live order events."""

from __future__ import annotations

import datetime
from collections.abc import AsyncGenerator
from typing import cast

import strawberry
from strawberry.scalars import JSON

from continuity import models
from resolvers.context import Info
from schema.common import UserError
from schema.enums import NotificationStatus
from schema.orders import HistoryEntry
from schema.pagination import PageInfo


@strawberry.type(
    description="One message to one recipient (the customer's e-mail, or a webhook "
    "subscriber by name), written with the change that caused it."
)
class Notification:
    id: strawberry.ID
    order_id: strawberry.ID | None
    event_type: str
    channel: str = strawberry.field(description="`email` or `webhook`.")
    recipient: str = strawberry.field(
        description="An e-mail address, or a webhook subscriber's name."
    )
    payload: JSON
    dedupe_key: str = strawberry.field(
        description="Stable per cause and recipient; webhooks send it as the event id."
    )
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime.datetime | None
    last_error: str | None
    created_at: datetime.datetime
    sent_at: datetime.datetime | None

    @classmethod
    def from_row(cls, row: models.Notification) -> Notification:
        return cls(
            id=strawberry.ID(str(row.id)),
            order_id=(
                strawberry.ID(str(row.continuity_order_id))
                if row.continuity_order_id is not None
                else None
            ),
            event_type=row.event_type,
            channel=row.channel,
            recipient=row.recipient,
            payload=cast(JSON, row.payload),
            dedupe_key=row.dedupe_key,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )


@strawberry.type
class NotificationEdge:
    cursor: str
    node: Notification


@strawberry.type
class NotificationConnection:
    edges: list[NotificationEdge]
    page_info: PageInfo


@strawberry.type
class RedeliverNotificationPayload:
    notification: Notification | None
    user_errors: list[UserError]


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="An order's history entries as they are written (graphql-transport-ws). "
        "Starts after the newest entry, or after the entry `after` to resume."
    )
    async def order_events(
        self, info: Info, order: strawberry.ID, after: strawberry.ID | None = None
    ) -> AsyncGenerator[HistoryEntry, None]:
        from resolvers.notifications import order_event_stream

        async for row in order_event_stream(
            info, str(order), str(after) if after is not None else None
        ):
            yield HistoryEntry.from_row(row)
