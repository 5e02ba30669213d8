"""Domain enums exposed in GraphQL under the same names and values."""

from __future__ import annotations

import strawberry

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
    SalesLineKind,
    SalesOrderStatus,
    ScheduleKind,
)
from continuity.errors import ErrorCode

# strawberry.enum registers the GraphQL definition on the enum class itself, so the domain
# enums are used as they are in annotations.
__all__ = [
    "BillingMode",
    "CancelReason",
    "ChildOrderStatus",
    "ContinuityLineStatus",
    "ContinuityOrderStatus",
    "ErrorCode",
    "EventAction",
    "GapUnit",
    "JobRunStatus",
    "NotificationStatus",
    "OrderStart",
    "PaymentKind",
    "PaymentPurpose",
    "PaymentStatus",
    "ProductKind",
    "SalesLineKind",
    "SalesOrderStatus",
    "ScheduleKind",
]

for _name in __all__:
    strawberry.enum(globals()[_name])
