"""Enumerations of the domain.

They live in their own module because generated migrations import them by path:
do not move or rename a member that an applied migration refers to.
"""

from __future__ import annotations

from enum import StrEnum


class ProductKind(StrEnum):
    ITEM = "item"  # ships: a catalog item
    PARENT = "parent"  # stands for a program; never ships itself


class OrderStart(StrEnum):
    FIRST_EVENT = "first_event"
    CURRENT_EVENT = "current_event"


class GapUnit(StrEnum):
    DAY = "day"
    MONTH = "month"


class EventAction(StrEnum):
    NORMAL = "normal"
    SKIP = "skip"
    END = "end"


class ScheduleKind(StrEnum):
    EQUAL = "equal"
    SPECIFIED = "specified"


class BillingMode(StrEnum):
    PER_SHIPMENT = "per_shipment"
    UP_FRONT = "up_front"
    INSTALLMENTS = "installments"


class SalesOrderStatus(StrEnum):
    PLACED = "placed"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class SalesLineKind(StrEnum):
    REGULAR = "regular"
    CONTINUITY_PARENT = "continuity_parent"


class ContinuityOrderStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    PAYMENT_HOLD = "payment_hold"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class CancelReason(StrEnum):
    """Why a continuity order was cancelled (``ContinuityOrder.cancel_reason``)."""

    CUSTOMER_REQUEST = "customer_request"
    PAYMENT_FAILED = "payment_failed"
    FRAUD = "fraud"
    DUPLICATE = "duplicate"
    OTHER = "other"  # the free-text reason is then required


class ContinuityLineStatus(StrEnum):
    PENDING = "pending"  # planned, no child order yet
    RELEASED = "released"  # on a child order
    SKIPPED = "skipped"  # a skip event, or skipped by the customer
    CANCELLED = "cancelled"
    CLOSED = "closed"  # its child order is invoiced


class ChildOrderStatus(StrEnum):
    CREATED = "created"
    AUTHORIZED = "authorized"
    SHIPPED = "shipped"
    INVOICED = "invoiced"
    CANCELLED = "cancelled"


class PaymentKind(StrEnum):
    CHARGE = "charge"
    AUTHORIZATION = "authorization"
    REFUND = "refund"


class PaymentPurpose(StrEnum):
    ORDER_LINES = "order_lines"  # ordinary lines of a sales order, charged at placement
    UP_FRONT = "up_front"  # a continuity order's whole total
    INSTALLMENT = "installment"  # one installment of a payment schedule
    SHIPMENT = "shipment"  # a child order, billed per shipment
    REFUND = "refund"


class PaymentStatus(StrEnum):
    SCHEDULED = "scheduled"  # due later (installments)
    PENDING = "pending"  # being attempted
    SUCCEEDED = "succeeded"
    DECLINED = "declined"  # will be retried
    FAILED = "failed"  # gave up: the order is on payment hold
    CANCELLED = "cancelled"
    #: The gateway gave no answer (timeout, 5xx): retried with the same key at the next
    #: payments run, never counted as a decline.
    UNKNOWN = "unknown"
    #: An authorization whose hold lapsed before it was captured (a newer one replaces it).
    EXPIRED = "expired"


class JobRunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # finished with per-item failures
    FAILED = "failed"
    #: Stopped on request (SIGTERM) between batches; the next run completes it.
    INTERRUPTED = "interrupted"
    #: Its process died (kill -9, a lost host) while running; a later run found it, took over
    #: its claims and completes its work.
    ABANDONED = "abandoned"


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"


class Role(StrEnum):
    """Who an API caller is (SPEC §7); docs/ACCESS.md lists what each may do."""

    CUSTOMER = "customer"  # bound to one customer account: its own data only
    AGENT = "agent"  # call-center agent: all customers, on their behalf, with a reason
    MERCHANDISER = "merchandiser"  # programs, rule reloads, update previews
    OPERATOR = "operator"  # jobs, parameters, fulfilment callbacks
    FULFILMENT = "fulfilment"  # the warehouse: reads child orders, ships and invoices them
    ADMIN = "admin"  # everything
