"""Child orders: the ordinary orders that ship and are invoiced, made from due continuity lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from continuity.enums import ChildOrderStatus

if TYPE_CHECKING:
    from continuity.models.catalog import Product
    from continuity.models.customers import Address, Customer, PaymentMethod
    from continuity.models.operations import JobRun
    from continuity.models.orders import ContinuityLine, ContinuityOrder


class ChildOrder(Model):
    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=32, unique=True)
    continuity_order: fields.ForeignKeyRelation[ContinuityOrder] = fields.ForeignKeyField(
        "models.ContinuityOrder",
        related_name="child_orders",
        on_delete=fields.RESTRICT,
        db_index=True,
    )
    continuity_order_id: int
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="child_orders", on_delete=fields.RESTRICT
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
    status = fields.CharEnumField(ChildOrderStatus, max_length=16, default=ChildOrderStatus.CREATED)
    #: Several missed lines shipped together (``consolidate_past_orders``).
    consolidated = fields.BooleanField(default=False)
    currency = fields.CharField(max_length=3)
    total_minor = fields.BigIntField()
    #: The run date the child order was created for, and the run that created it.
    created_for = fields.DateField()
    job_run: fields.ForeignKeyNullableRelation[JobRun] = fields.ForeignKeyField(
        "models.JobRun", related_name=False, null=True, on_delete=fields.SET_NULL, db_index=True
    )
    job_run_id: int | None
    #: When the warehouse should ship it: its first line's planned date, or the run date for
    #: overdue lines (they ship at once). Null only on rows older than migration 0009 that
    #: had no lines.
    planned_ship_date = fields.DateField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    shipped_at = fields.DatetimeField(null=True)
    invoiced_at = fields.DatetimeField(null=True)
    #: What the warehouse reported when it shipped (``markChildOrderShipped``).
    carrier = fields.CharField(max_length=64, null=True)
    tracking_number = fields.CharField(max_length=100, null=True)
    #: The invoice the fulfilment system issued (``invoiceChildOrder``).
    invoice_number = fields.CharField(max_length=64, null=True)

    lines: fields.ReverseRelation[ChildOrderLine]
    continuity_lines: fields.ReverseRelation[ContinuityLine]

    class Meta:
        table = "child_order"
        indexes = (("status", "created_for"),)


class ChildOrderLine(Model):
    id = fields.IntField(primary_key=True)
    child_order: fields.ForeignKeyRelation[ChildOrder] = fields.ForeignKeyField(
        "models.ChildOrder", related_name="lines", on_delete=fields.CASCADE, db_index=True
    )
    child_order_id: int
    #: Unique: a continuity line ships on exactly one child order.
    continuity_line: fields.OneToOneRelation[ContinuityLine] = fields.OneToOneField(
        "models.ContinuityLine", related_name="child_order_line", on_delete=fields.RESTRICT
    )
    continuity_line_id: int
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name=False, on_delete=fields.RESTRICT
    )
    product_id: int
    quantity = fields.IntField()
    price_minor = fields.BigIntField()

    class Meta:
        table = "child_order_line"
