"""Tortoise models of the whole domain (one app, label ``models``)."""

from continuity.models.access import ApiToken
from continuity.models.catalog import PaymentSchedule, PaymentScheduleLine, Product
from continuity.models.customers import Address, Customer, PaymentMethod
from continuity.models.fulfilment import ChildOrder, ChildOrderLine
from continuity.models.idempotency import IdempotencyKey
from continuity.models.operations import JobRun, Notification
from continuity.models.orders import (
    ContinuityLine,
    ContinuityOrder,
    OrderHistoryEntry,
    OrderItemSubstitution,
    SalesOrder,
    SalesOrderLine,
)
from continuity.models.parameters import CallCenterParameters
from continuity.models.payments import GatewayEvent, Payment
from continuity.models.programs import (
    Program,
    ProgramEvent,
    ProgramEventItem,
    ProgramVersion,
    ProgramVersionSchedule,
)

__all__ = [
    "Address",
    "ApiToken",
    "CallCenterParameters",
    "ChildOrder",
    "ChildOrderLine",
    "ContinuityLine",
    "ContinuityOrder",
    "Customer",
    "GatewayEvent",
    "IdempotencyKey",
    "JobRun",
    "Notification",
    "OrderHistoryEntry",
    "OrderItemSubstitution",
    "Payment",
    "PaymentMethod",
    "PaymentSchedule",
    "PaymentScheduleLine",
    "Product",
    "Program",
    "ProgramEvent",
    "ProgramEventItem",
    "ProgramVersion",
    "ProgramVersionSchedule",
    "SalesOrder",
    "SalesOrderLine",
]
