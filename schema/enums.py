"""Every closed set of values in the API is a GraphQL enum, every enum value is described.

The domain's enums are exposed under their own names (``describe`` registers the GraphQL
definition on the domain class itself, so resolvers and types use them as they are). The API
adds enums for values the domain keeps as text: history actions, job names, notification
channels and event types, payment failure codes, currencies. A member added in the
domain without a description here is reported by ``tests/api/test_conventions.py`` (which fails
on any gap in the SDL).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, StrEnum
from typing import TypeVar

import strawberry
from strawberry.types.enum import StrawberryEnumDefinition

from continuity.enums import (
    BillingMode,
    CancelReason,
    ChildOrderStatus,
    ContinuityLineStatus,
    ContinuityOrderStatus,
    EventAction,
    GapUnit,
    JobRunStatus,
    NotificationStatus,
    OrderStart,
    PaymentKind,
    PaymentPurpose,
    PaymentStatus,
    ProductKind,
    Role,
    SalesLineKind,
    SalesOrderStatus,
    ScheduleKind,
)
from continuity.errors import ErrorCode
from continuity.money import CURRENCY_MINOR_UNITS
from continuity.notifications.events import EMAIL, WEBHOOK, EventType
from continuity.orders.timeline import TimelineKind

E = TypeVar("E", bound=type[Enum])


def describe(enum: E, description: str, values: Mapping[str, str], name: str | None = None) -> E:
    """Register ``enum`` as a GraphQL enum with a description on the type and on every value
    (keyed by member name). A description of no member is a typo: an error at import. A member
    without one (added in the domain since) stays undescribed, and
    ``tests/api/test_conventions.py`` names it."""
    unknown = sorted(set(values) - {member.name for member in enum})
    if unknown:
        raise TypeError(f"{enum.__name__} has no member {unknown}")
    strawberry.enum(enum, name=name, description=description)
    definition: StrawberryEnumDefinition = enum.__strawberry_definition__  # type: ignore[attr-defined]
    for value in definition.values:
        value.description = values.get(value.name)
    return enum


describe(
    ErrorCode,
    "Why a request was refused: stable codes that clients switch on (never on messages).",
    {
        "NOT_FOUND": "The object does not exist, or the caller may not see it (alike).",
        "INVALID_INPUT": "A value is malformed, out of range, or not allowed here.",
        "VALUE_TOO_LONG": "A text is longer than its field takes (64 characters for SKUs and "
        "codes, 32 for numbers, 500 for any other text).",
        "DUPLICATE": "An object with this unique value (an account number) already exists.",
        "RULES_INVALID": "The rule files have errors; nothing was changed.",
        "CARD_NUMBER_REFUSED": "Something looked like a card number: only gateway tokens are "
        "accepted.",
        "PAYMENT_METHOD_EXPIRED": "The card has expired.",
        "PAYMENT_METHOD_INACTIVE": "The card is no longer active.",
        "UNKNOWN_SKU": "No product has this SKU.",
        "PRODUCT_INACTIVE": "The product is not sold any more.",
        "PAYMENT_SCHEDULE_NOT_ALLOWED": "The program does not allow this payment schedule.",
        "START_DATE_NOT_ALLOWED": "The program does not take a start date, or not this one.",
        "CURRENCY_MISMATCH": "The items are not all in the order's currency.",
        "INVALID_STATE": "The object's state does not allow this change (a cancelled order).",
        "GATEWAY_UNAVAILABLE": "The payment gateway could not be reached; try again later.",
        "IDEMPOTENCY_KEY_REUSED": "The idempotency key was used before with other input (or "
        "another mutation): send a new key for a new request.",
        "IDEMPOTENCY_KEY_IN_PROGRESS": "The first request with this idempotency key is still "
        "running: retry later with the same key to get its answer.",
        "NOT_PAID": "The child order's payment has not gone through: it may not ship yet.",
        "CANCELLED": "The order or child order was cancelled.",
        "NOT_SHIPPED": "The child order has not shipped: it cannot be invoiced yet.",
        "ALREADY_SHIPPED": "The child order shipped already, with another carrier, tracking "
        "number or time.",
        "ALREADY_INVOICED": "The child order was invoiced already, under another number.",
        "ORDER_DATE_NOT_ALLOWED": "The order date is in the future, further back than "
        "`maxBackdateDays`, or given by a customer (only agents back-date).",
    },
)
describe(
    Role,
    "Who a caller is; docs/ACCESS.md lists what each role may do.",
    {
        "CUSTOMER": "A customer-facing app acting for one customer: its own data only.",
        "AGENT": "A call-center agent: every customer, changes on their behalf with a reason.",
        "MERCHANDISER": "Who writes the programs: programs, rule reloads, previews.",
        "OPERATOR": "Who runs the service: jobs, parameters, fulfilment callbacks.",
        "FULFILMENT": "The warehouse: reads child orders (with their ship-to, items and "
        "payment state), marks them shipped and invoiced; nothing else.",
        "ADMIN": "The service's owner: everything.",
    },
)
describe(
    ProductKind,
    "What a product is.",
    {
        "ITEM": "A catalog item that ships.",
        "PARENT": "A parent product: stands for a program on a sales order, never ships.",
    },
)
describe(
    OrderStart,
    "Where a new order starts in its program.",
    {
        "FIRST_EVENT": "At event 1.",
        "CURRENT_EVENT": "At the event the program's own calendar is in on the start date.",
    },
)
describe(
    GapUnit,
    "The unit of a time gap.",
    {
        "DAY": "Days.",
        "MONTH": "Calendar months (the day of month is kept, clamped to the month's end).",
    },
)
describe(
    EventAction,
    "What an event of a program does.",
    {
        "NORMAL": "Ships its items.",
        "SKIP": "Occupies its slot in time; ships and bills nothing.",
        "END": "Ships its items, then the order ends.",
    },
)
describe(
    ScheduleKind,
    "How a payment schedule splits a total.",
    {
        "EQUAL": "Equal installments every period.",
        "SPECIFIED": "Installments of given percentages at given offsets.",
    },
)
describe(
    BillingMode,
    "How a continuity order is billed.",
    {
        "PER_SHIPMENT": "Each shipment is charged when its child order is created.",
        "UP_FRONT": "The whole total is charged at placement.",
        "INSTALLMENTS": "The total is charged in installments of a payment schedule.",
    },
)
describe(
    SalesOrderStatus,
    "Where a sales order is in its life.",
    {
        "PLACED": "Placed; its continuity orders run.",
        "CANCELLED": "Cancelled.",
        "CLOSED": "Done.",
    },
)
describe(
    SalesLineKind,
    "What a sales order line is.",
    {
        "REGULAR": "An ordinary item, charged at placement.",
        "CONTINUITY_PARENT": "A parent product: it became a continuity order.",
    },
)
describe(
    ContinuityOrderStatus,
    "Where a continuity order is in its life.",
    {
        "ACTIVE": "Running: due shipments become child orders.",
        "PAUSED": "Paused by the customer or an agent, until resumed or a date.",
        "PAYMENT_HOLD": "A charge failed after its retries: nothing ships until it is paid.",
        "CANCELLED": "Cancelled: nothing more ships or is billed.",
        "CLOSED": "Every shipment went out and was invoiced.",
    },
)
describe(
    CancelReason,
    "Why a continuity order was cancelled.",
    {
        "CUSTOMER_REQUEST": "The customer asked.",
        "PAYMENT_FAILED": "Its payments failed.",
        "FRAUD": "Fraud was suspected.",
        "DUPLICATE": "It duplicated another order.",
        "OTHER": "Another reason, given in words.",
    },
)
describe(
    ContinuityLineStatus,
    "Where a continuity line is in its life.",
    {
        "PENDING": "Planned; no child order yet.",
        "RELEASED": "On a child order.",
        "SKIPPED": "A skip event, or skipped by the customer: never ships.",
        "CANCELLED": "Cancelled with its order.",
        "CLOSED": "Its child order was invoiced.",
    },
)
describe(
    ChildOrderStatus,
    "Where a child order is in its life.",
    {
        "CREATED": "Created from due lines; its payment is not settled yet.",
        "AUTHORIZED": "Paid (or authorized): the warehouse may ship it.",
        "SHIPPED": "Left the warehouse.",
        "INVOICED": "Invoiced: done.",
        "CANCELLED": "Cancelled.",
    },
)
describe(
    PaymentKind,
    "What a payment does with money.",
    {
        "CHARGE": "Takes money from the card.",
        "AUTHORIZATION": "Reserves money on the card, captured later.",
        "REFUND": "Gives money back to the card.",
    },
)
describe(
    PaymentPurpose,
    "What a payment is for.",
    {
        "ORDER_LINES": "The ordinary lines of a sales order, at placement.",
        "UP_FRONT": "A continuity order's whole total.",
        "INSTALLMENT": "One installment of a payment schedule.",
        "SHIPMENT": "One child order of a per-shipment order.",
        "REFUND": "Money given back.",
    },
)
describe(
    PaymentStatus,
    "Where a payment is in its life.",
    {
        "SCHEDULED": "Due later (an installment).",
        "PENDING": "Being attempted.",
        "SUCCEEDED": "Done: the money moved.",
        "DECLINED": "Declined; it will be retried.",
        "FAILED": "Gave up after its retries: the order is on payment hold.",
        "CANCELLED": "Will not be attempted (its order was cancelled).",
        "UNKNOWN": "The gateway gave no answer (timeout, 5xx): asked again with the same key at "
        "the next payments run; never a decline.",
        "EXPIRED": "An authorization whose hold lapsed before it was captured.",
    },
)
describe(
    JobRunStatus,
    "How a job run went.",
    {
        "RUNNING": "Still running.",
        "SUCCEEDED": "Finished with no failure.",
        "PARTIAL": "Finished; some items failed (see failures).",
        "FAILED": "Stopped by an error.",
        "INTERRUPTED": "Stopped on request (a shutdown) after the batch in hand; the next run "
        "completes it.",
        "ABANDONED": "Its process died (kill -9, a lost host); a later run found it dead and "
        "released its claims.",
    },
)
describe(
    NotificationStatus,
    "Where a notification is in its delivery.",
    {
        "PENDING": "Waiting for delivery.",
        "SENT": "Delivered.",
        "FAILED": "The last attempt failed; it will be retried.",
        "DEAD": "Gave up after its attempts (redeliverNotification sends it again).",
    },
)
describe(
    EventType,
    "What happened, as told to customers and webhook subscribers (docs/NOTIFICATIONS.md).",
    {
        "ORDER_PLACED": "A continuity order was placed.",
        "UPCOMING_SHIPMENT": "A shipment is coming soon.",
        "PLAN_RENEWAL": "A finite plan is about to end or renew.",
        "INSTALLMENT_BILL": "An installment bill was issued.",
        "CHILD_ORDER_CREATED": "A child order was created (a shipment is on its way).",
        "CHILD_ORDER_SHIPPED": "A child order left the warehouse (with its tracking number).",
        "PAYMENT_SUCCEEDED": "A charge succeeded.",
        "PAYMENT_FAILED": "A charge was declined or failed.",
        "PAYMENT_HOLD": "The order is on payment hold.",
        "PAYMENT_HOLD_RELEASED": "The payment hold was released.",
        "ORDER_PAUSED": "The order was paused.",
        "ORDER_RESUMED": "The order was resumed.",
        "ORDER_CANCELLED": "The order was cancelled.",
        "ORDER_CLOSED": "The order was closed.",
        "PROGRAM_CHANGED": "The order moved to a new version of its program.",
        "PAYMENT_ACTION_REQUIRED": "The bank asks the customer to confirm a charge: the order "
        "is on hold until they update or confirm the card.",
        "PAYMENT_DISPUTED": "The customer disputed a charge with their bank (operators only).",
    },
    name="NotificationEventType",
)


class NotificationChannel(StrEnum):
    """How a notification travels (the values stored in ``Notification.channel``)."""

    EMAIL = EMAIL
    WEBHOOK = WEBHOOK


describe(
    NotificationChannel,
    "How a notification travels.",
    {
        "EMAIL": "An e-mail to the customer.",
        "WEBHOOK": "A signed HTTP POST to a webhook subscriber.",
    },
)


describe(
    TimelineKind,
    "What a timeline entry is about.",
    {
        "HISTORY": "A change to the order (its history entry).",
        "CHILD_ORDER": "A child order (a shipment) was created.",
        "PAYMENT": "A payment (charge, authorization, refund) was created.",
        "NOTIFICATION": "A notification (e-mail, webhook) was written.",
    },
)


class ChildOrderPaymentState(StrEnum):
    """A child order's payments in one word (``schema.fulfilment.payment_state``)."""

    PREPAID = "prepaid"
    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"
    FAILED = "failed"
    VOID = "void"


describe(
    ChildOrderPaymentState,
    "Whether a child order is paid: what a warehouse checks before it ships.",
    {
        "PREPAID": "Nothing to pay per shipment: the order was paid up front or by "
        "installments (shipping waits until the installment that gates it is paid).",
        "PENDING": "Its charge or authorization is being taken (or retried after a decline).",
        "AUTHORIZED": "The money is held on the card; it is captured when the child order is "
        "invoiced.",
        "PAID": "Its charge went through.",
        "FAILED": "Its payment failed for good: the order is on payment hold.",
        "VOID": "Its payments were cancelled (the order was cancelled).",
    },
)


class HistoryAction(StrEnum):
    """What a history entry records (the values stored in ``OrderHistoryEntry.action``);
    ``tests/api/test_conventions.py`` checks that the domain writes no other."""

    PLACED = "placed"
    SKIPPED = "skipped"
    PAUSED = "paused"
    RESUMED = "resumed"
    SHIP_TO_CHANGED = "ship_to_changed"
    PAYMENT_METHOD_CHANGED = "payment_method_changed"
    ITEM_SWAPPED = "item_swapped"
    QUANTITY_CHANGED = "quantity_changed"
    CANCELLED = "cancelled"
    START_DATE_UPDATED = "start_date_updated"
    PROGRAM_UPDATED = "program_updated"
    LINES_EXTENDED = "lines_extended"
    CHILD_ORDER_CREATED = "child_order_created"
    CHILD_ORDER_SHIPPED = "child_order_shipped"
    CHILD_ORDER_INVOICED = "child_order_invoiced"
    PAYMENT_HOLD = "payment_hold"
    PAYMENT_HOLD_RELEASED = "payment_hold_released"
    CLOSED = "closed"
    PAYMENT_DISPUTED = "payment_disputed"
    REFUNDED_OUTSIDE = "refunded_outside"


describe(
    HistoryAction,
    "What a history entry records (docs/CHANGES.md lists each one's details).",
    {
        "PLACED": "The order was placed.",
        "SKIPPED": "One occurrence was skipped.",
        "PAUSED": "The order was paused.",
        "RESUMED": "The order was resumed.",
        "SHIP_TO_CHANGED": "The ship-to address changed.",
        "PAYMENT_METHOD_CHANGED": "The card changed.",
        "ITEM_SWAPPED": "An item was swapped for another on every future shipment.",
        "QUANTITY_CHANGED": "The order's quantity changed.",
        "CANCELLED": "The order was cancelled.",
        "START_DATE_UPDATED": "The start date moved (a bulk change).",
        "PROGRAM_UPDATED": "The order moved to a new version of its program.",
        "LINES_EXTENDED": "The extend job planned more occurrences of a repeating event.",
        "CHILD_ORDER_CREATED": "Due lines became a child order.",
        "CHILD_ORDER_SHIPPED": "A child order shipped.",
        "CHILD_ORDER_INVOICED": "A child order was invoiced.",
        "PAYMENT_HOLD": "A charge failed after its retries: payment hold.",
        "PAYMENT_HOLD_RELEASED": "The failed charge was paid: the hold ended.",
        "CLOSED": "Every shipment is done: the order closed.",
        "PAYMENT_DISPUTED": "The customer disputed a charge with their bank.",
        "REFUNDED_OUTSIDE": "A refund was made at the payment gateway (its dashboard), not here.",
    },
)


class PaymentFailureCode(StrEnum):
    """Why a charge did not go through, as the API reports it. Gateways have many more codes
    (the raw one is kept in ``Payment.gatewayFailureCode``); those not listed here read as
    ``OTHER``."""

    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CVC = "incorrect_cvc"
    AUTHENTICATION_REQUIRED = "authentication_required"
    PROCESSING_ERROR = "processing_error"
    GATEWAY_UNAVAILABLE = "gateway_unavailable"
    OTHER = "other"

    @classmethod
    def of(cls, code: str | None) -> PaymentFailureCode | None:
        if code is None:
            return None
        try:
            return cls(code.lower())
        except ValueError:
            return cls.OTHER


describe(
    PaymentFailureCode,
    "Why a charge did not go through.",
    {
        "CARD_DECLINED": "The bank declined the card.",
        "INSUFFICIENT_FUNDS": "Not enough money on the card.",
        "EXPIRED_CARD": "The card has expired.",
        "INCORRECT_CVC": "The card's security code was wrong.",
        "AUTHENTICATION_REQUIRED": "The customer must confirm the payment (3-D Secure).",
        "PROCESSING_ERROR": "The gateway failed to process the card.",
        "GATEWAY_UNAVAILABLE": "The gateway could not be reached; retried, not a decline.",
        "OTHER": "Another reason: see gatewayFailureCode.",
    },
)

#: ISO 4217 codes of the currencies the service accepts (``continuity.money``); adding one
#: there adds it here.
CurrencyCode = StrEnum(  # type: ignore[misc]
    "CurrencyCode", {code: code for code in CURRENCY_MINOR_UNITS}
)
describe(
    CurrencyCode,
    "An ISO 4217 currency code, among those the service accepts.",
    {
        code: f"{code}, {units} decimal place{'s' if units != 1 else ''}."
        for code, units in CURRENCY_MINOR_UNITS.items()
    },
)

__all__ = [
    "BillingMode",
    "CancelReason",
    "ChildOrderPaymentState",
    "ChildOrderStatus",
    "ContinuityLineStatus",
    "ContinuityOrderStatus",
    "CurrencyCode",
    "ErrorCode",
    "EventAction",
    "EventType",
    "GapUnit",
    "HistoryAction",
    "JobRunStatus",
    "NotificationChannel",
    "NotificationStatus",
    "OrderStart",
    "PaymentFailureCode",
    "PaymentKind",
    "PaymentPurpose",
    "PaymentStatus",
    "ProductKind",
    "Role",
    "SalesLineKind",
    "SalesOrderStatus",
    "ScheduleKind",
    "TimelineKind",
]
