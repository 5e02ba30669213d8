"""Events out over GraphQL: the notification outbox, redelivery, and the live order events."""

from __future__ import annotations

import datetime
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from continuity import keyset, models
from continuity.errors import ContinuityError
from resolvers import notifications
from schema.common import INPUT, USER_ERRORS, UserError, at_input, query_error, user_errors
from schema.connections import Connection, QueryPager, connection
from schema.context import Info
from schema.enums import EventType, NotificationChannel, NotificationStatus
from schema.ids import decode_id, decode_optional
from schema.inputs import check_input
from schema.nodes import Entity, entity
from schema.orders import HistoryEntry

if TYPE_CHECKING:
    from schema.orders import ContinuityOrder

NEWEST_FIRST = keyset.Ordering(("id",), descending=True)


@entity(models.Notification, owner=None)
@strawberry.type(
    description="One message to one recipient (the customer's e-mail, or a webhook "
    "subscriber by name), written with the change that caused it."
)
class Notification(Entity):
    id: relay.NodeID[int]
    event_type: EventType = strawberry.field(description="What happened.")
    channel: NotificationChannel = strawberry.field(description="E-mail or webhook.")
    recipient: str = strawberry.field(
        description="An e-mail address, or a webhook subscriber's name."
    )
    payload: JSON = strawberry.field(
        description="What was (or will be) sent, as docs/NOTIFICATIONS.md describes it."
    )
    dedupe_key: str = strawberry.field(
        description="Stable per cause and recipient; webhooks send it as the event id."
    )
    status: NotificationStatus = strawberry.field(description="Where its delivery is.")
    attempts: int = strawberry.field(description="Delivery attempts so far.")
    next_attempt_at: datetime.datetime | None = strawberry.field(
        description="When the next attempt is due."
    )
    last_error: str | None = strawberry.field(description="Why the last attempt failed.")
    created_at: datetime.datetime = strawberry.field(description="When it was written.")
    sent_at: datetime.datetime | None = strawberry.field(description="When it was delivered.")
    _order_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: models.Notification) -> Notification:
        return cls(
            id=row.id,
            event_type=EventType(row.event_type),
            channel=NotificationChannel(row.channel),
            recipient=row.recipient,
            payload=cast(JSON, row.payload),
            dedupe_key=row.dedupe_key,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            created_at=row.created_at,
            sent_at=row.sent_at,
            _order_id=row.continuity_order_id,
        )

    @strawberry.field(
        description="The continuity order it is about; null when the caller may not read "
        "continuity orders (operators)."
    )
    async def continuity_order(
        self, info: Info
    ) -> Annotated[ContinuityOrder, strawberry.lazy("schema.orders")] | None:
        from schema.orders import ContinuityOrder

        return await ContinuityOrder.load(info, self._order_id)


@strawberry.input(description="A notification to send again.")
class RedeliverNotificationInput:
    notification_id: strawberry.ID = strawberry.field(description="Its global id.")


@strawberry.type(description="The result of redeliverNotification.")
class RedeliverNotificationPayload:
    notification: Notification | None = strawberry.field(
        description="The notification, PENDING again."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


async def redeliver_notification(
    info: Info, input: Annotated[RedeliverNotificationInput, INPUT]
) -> RedeliverNotificationPayload:
    field = ["input", "notificationId"]
    try:
        check_input(input, ["input"])
        row = await notifications.redeliver_notification(
            info.context, decode_id(input.notification_id, "Notification", field)
        )
    except ContinuityError as error:
        return RedeliverNotificationPayload(
            notification=None, user_errors=user_errors(at_input(error, {"id": "notificationId"}))
        )
    return RedeliverNotificationPayload(notification=Notification.from_row(row), user_errors=[])


@strawberry.type
class NotificationQueries:
    @connection(
        Connection[Notification],
        description="The notification outbox, newest first: what was (or will be) sent to "
        "whom, and how delivery went.",
    )
    def notifications(
        self,
        order_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only about this continuity order."),
        ] = None,
        status: Annotated[
            NotificationStatus | None, strawberry.argument(description="Only in this status.")
        ] = None,
    ) -> QueryPager[models.Notification, Notification]:
        try:
            order = decode_optional(order_id, "ContinuityOrder", ["orderId"])
        except ContinuityError as error:
            raise query_error(error) from None
        return QueryPager(
            notifications.notifications(order, status), NEWEST_FIRST, Notification.from_row
        )


@strawberry.type
class NotificationMutations:
    redeliver_notification: RedeliverNotificationPayload = strawberry.mutation(
        resolver=redeliver_notification,
        description="Send a notification again (sent, failed or dead): it becomes PENDING, due "
        "now, with a fresh attempt budget. Webhooks keep the same event id.",
    )


@strawberry.type(description="Live events, over graphql-transport-ws on /graphql.")
class Subscription:
    @strawberry.subscription(
        description="An order's history entries as they are written. Starts after the newest "
        "entry, or after the entry `afterEntryId` to resume."
    )
    async def order_events(
        self,
        info: Info,
        order_id: Annotated[
            strawberry.ID, strawberry.argument(description="The continuity order's global id.")
        ],
        after_entry_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The last history entry seen (its global id)."),
        ] = None,
    ) -> AsyncGenerator[HistoryEntry, None]:
        try:
            order = decode_id(order_id, "ContinuityOrder", ["orderId"])
            after = decode_optional(after_entry_id, "HistoryEntry", ["afterEntryId"])
            stream = notifications.order_events(info.context, order, after)
            first = await anext(stream)
        except ContinuityError as error:
            raise query_error(error) from None
        except StopAsyncIteration:
            return
        yield HistoryEntry.from_row(first)
        async for row in stream:
            yield HistoryEntry.from_row(row)
