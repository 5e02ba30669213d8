"""Sales orders, continuity orders (the parent) and continuity lines, and the order history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from continuity.enums import (
    BillingMode,
    ContinuityLineStatus,
    ContinuityOrderStatus,
    EventAction,
    SalesLineKind,
    SalesOrderStatus,
)

if TYPE_CHECKING:
    from continuity.models.catalog import PaymentSchedule, Product
    from continuity.models.customers import Address, Customer, PaymentMethod
    from continuity.models.fulfilment import ChildOrder
    from continuity.models.programs import Program, ProgramVersion


class SalesOrder(Model):
    """What the agent or the customer placed: ordinary lines and parent-product lines."""

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=32, unique=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="sales_orders", on_delete=fields.RESTRICT
    )
    customer_id: int
    ship_to: fields.ForeignKeyRelation[Address] = fields.ForeignKeyField(
        "models.Address", related_name=False, on_delete=fields.RESTRICT
    )
    ship_to_id: int
    payment_method: fields.ForeignKeyRelation[PaymentMethod] = fields.ForeignKeyField(
        "models.PaymentMethod", related_name=False, on_delete=fields.RESTRICT
    )
    payment_method_id: int
    status = fields.CharEnumField(SalesOrderStatus, max_length=16, default=SalesOrderStatus.PLACED)
    currency = fields.CharField(max_length=3)
    #: Ordinary lines only: continuity lines are billed by their own order.
    total_minor = fields.BigIntField(default=0)
    order_date = fields.DateField()
    placed_by = fields.CharField(max_length=100)
    placed_at = fields.DatetimeField(auto_now_add=True)

    lines: fields.ReverseRelation[SalesOrderLine]

    class Meta:
        table = "sales_order"


class SalesOrderLine(Model):
    id = fields.IntField(primary_key=True)
    sales_order: fields.ForeignKeyRelation[SalesOrder] = fields.ForeignKeyField(
        "models.SalesOrder", related_name="lines", on_delete=fields.CASCADE
    )
    sales_order_id: int
    line_number = fields.IntField()
    kind = fields.CharEnumField(SalesLineKind, max_length=24)
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name=False, on_delete=fields.RESTRICT
    )
    product_id: int
    quantity = fields.IntField()
    unit_price_minor = fields.BigIntField()
    amount_minor = fields.BigIntField()

    class Meta:
        table = "sales_order_line"
        unique_together = (("sales_order", "line_number"),)


class ContinuityOrder(Model):
    """One customer's enrolment in a program: the parent of its continuity lines."""

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=32, unique=True)
    sales_order: fields.ForeignKeyRelation[SalesOrder] = fields.ForeignKeyField(
        "models.SalesOrder", related_name="continuity_orders", on_delete=fields.RESTRICT
    )
    sales_order_id: int
    sales_line: fields.OneToOneRelation[SalesOrderLine] = fields.OneToOneField(
        "models.SalesOrderLine", related_name="continuity_order", on_delete=fields.RESTRICT
    )
    sales_line_id: int
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer",
        related_name="continuity_orders",
        on_delete=fields.RESTRICT,
        db_index=True,
    )
    customer_id: int
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="orders", on_delete=fields.RESTRICT
    )
    program_id: int
    program_version: fields.ForeignKeyRelation[ProgramVersion] = fields.ForeignKeyField(
        "models.ProgramVersion", related_name="orders", on_delete=fields.RESTRICT
    )
    program_version_id: int
    status = fields.CharEnumField(
        ContinuityOrderStatus, max_length=16, default=ContinuityOrderStatus.ACTIVE
    )
    start_date = fields.DateField()
    #: The business date the order was placed: lines planned before it were missed.
    order_date = fields.DateField()
    #: Every occurrence of the (finite) schedule is held as a line: nothing left to extend.
    schedule_complete = fields.BooleanField(default=False)
    #: The event the customer started at (``current_event`` programs start past event 1).
    first_event_number = fields.IntField(default=1)
    #: Where the schedule's dates are computed from: occurrence (event, repeat) ships on the
    #: anchor date. Placement anchors at the start date - a resume re-anchors.
    anchor_date = fields.DateField()
    anchor_event_number = fields.IntField()
    anchor_repeat_index = fields.IntField(default=0)
    #: The anchor date continues a run of month gaps begun on this date (null: it starts one),
    #: so that a re-plan keeping a date on the 28th of February still comes back to the 31st.
    anchor_run_start = fields.DateField(null=True)
    quantity = fields.IntField(default=1)
    currency = fields.CharField(max_length=3)
    billing_mode = fields.CharEnumField(BillingMode, max_length=16)
    payment_schedule: fields.ForeignKeyNullableRelation[PaymentSchedule] = fields.ForeignKeyField(
        "models.PaymentSchedule", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    payment_schedule_id: int | None
    #: Up-front orders: the whole amount billed for the order.
    total_minor = fields.BigIntField(default=0)
    ship_to: fields.ForeignKeyRelation[Address] = fields.ForeignKeyField(
        "models.Address", related_name=False, on_delete=fields.RESTRICT
    )
    ship_to_id: int
    payment_method: fields.ForeignKeyRelation[PaymentMethod] = fields.ForeignKeyField(
        "models.PaymentMethod", related_name=False, on_delete=fields.RESTRICT
    )
    payment_method_id: int
    paused_until = fields.DateField(null=True)
    cancel_reason = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    closed_at = fields.DatetimeField(null=True)

    lines: fields.ReverseRelation[ContinuityLine]
    history: fields.ReverseRelation[OrderHistoryEntry]
    substitutions: fields.ReverseRelation[OrderItemSubstitution]

    class Meta:
        table = "continuity_order"
        indexes = (("status", "program_id"),)


class ContinuityLine(Model):
    """One planned occurrence of one event item for one customer."""

    id = fields.IntField(primary_key=True)
    continuity_order: fields.ForeignKeyRelation[ContinuityOrder] = fields.ForeignKeyField(
        "models.ContinuityOrder", related_name="lines", on_delete=fields.CASCADE
    )
    continuity_order_id: int
    event_number = fields.IntField()
    #: 0 for the first shipment of an event, 1.. for its repeats.
    repeat_index = fields.IntField(default=0)
    item_seq = fields.IntField(default=0)
    action = fields.CharEnumField(EventAction, max_length=8, default=EventAction.NORMAL)
    product: fields.ForeignKeyNullableRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    product_id: int | None
    quantity = fields.IntField(default=0)
    price_minor = fields.BigIntField(default=0)
    planned_ship_date = fields.DateField()
    status = fields.CharEnumField(
        ContinuityLineStatus, max_length=16, default=ContinuityLineStatus.PENDING
    )
    child_order: fields.ForeignKeyNullableRelation[ChildOrder] = fields.ForeignKeyField(
        "models.ChildOrder", related_name="continuity_lines", null=True, on_delete=fields.RESTRICT
    )
    child_order_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "continuity_line"
        unique_together = (("continuity_order", "event_number", "repeat_index", "item_seq"),)
        indexes = (("status", "planned_ship_date", "continuity_order_id"),)


class OrderItemSubstitution(Model):
    """A swap that belongs to the order: ``to_product`` ships instead of ``from_product`` on
    every occurrence not yet released, held as a line or planned later (applied in id order
    by the planner, ``continuity.engine.plan.substitute``)."""

    id = fields.IntField(primary_key=True)
    continuity_order: fields.ForeignKeyRelation[ContinuityOrder] = fields.ForeignKeyField(
        "models.ContinuityOrder",
        related_name="substitutions",
        on_delete=fields.CASCADE,
        db_index=True,
    )
    continuity_order_id: int
    from_product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name=False, on_delete=fields.RESTRICT
    )
    from_product_id: int
    to_product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name=False, on_delete=fields.RESTRICT
    )
    to_product_id: int
    #: What the new item costs on the order, or null to keep the price of the item it
    #: replaces (prepaid orders keep what they paid).
    price_minor = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "order_item_substitution"


class OrderHistoryEntry(Model):
    """Who changed what on an order, when and why: every change writes one."""

    id = fields.IntField(primary_key=True)
    continuity_order: fields.ForeignKeyRelation[ContinuityOrder] = fields.ForeignKeyField(
        "models.ContinuityOrder", related_name="history", on_delete=fields.CASCADE, db_index=True
    )
    continuity_order_id: int
    at = fields.DatetimeField(auto_now_add=True)
    actor = fields.CharField(max_length=100)
    action = fields.CharField(max_length=64)
    reason = fields.CharField(max_length=500, null=True)
    details: dict[str, Any] = fields.JSONField(default=dict)

    class Meta:
        table = "order_history_entry"
