"""Payments: every charge, authorization and refund, with its idempotency key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from continuity.enums import PaymentKind, PaymentPurpose, PaymentStatus

if TYPE_CHECKING:
    from continuity.models.customers import PaymentMethod
    from continuity.models.fulfilment import ChildOrder
    from continuity.models.operations import JobRun
    from continuity.models.orders import ContinuityOrder, SalesOrder


class Payment(Model):
    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(PaymentKind, max_length=16)
    purpose = fields.CharEnumField(PaymentPurpose, max_length=16)
    status = fields.CharEnumField(PaymentStatus, max_length=16)
    sales_order: fields.ForeignKeyNullableRelation[SalesOrder] = fields.ForeignKeyField(
        "models.SalesOrder", related_name="payments", null=True, on_delete=fields.RESTRICT
    )
    sales_order_id: int | None
    continuity_order: fields.ForeignKeyNullableRelation[ContinuityOrder] = fields.ForeignKeyField(
        "models.ContinuityOrder",
        related_name="payments",
        null=True,
        on_delete=fields.RESTRICT,
        db_index=True,
    )
    continuity_order_id: int | None
    child_order: fields.ForeignKeyNullableRelation[ChildOrder] = fields.ForeignKeyField(
        "models.ChildOrder",
        related_name="payments",
        null=True,
        on_delete=fields.RESTRICT,
        db_index=True,
    )
    child_order_id: int | None
    payment_method: fields.ForeignKeyRelation[PaymentMethod] = fields.ForeignKeyField(
        "models.PaymentMethod", related_name="payments", on_delete=fields.RESTRICT
    )
    payment_method_id: int
    #: Installments: 1-based number within the order's payment schedule.
    installment_number = fields.IntField(null=True)
    amount_minor = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    due_date = fields.DateField()
    #: The same key never charges twice: the gateway and this unique index both enforce it.
    idempotency_key = fields.CharField(max_length=128, unique=True)
    attempts = fields.IntField(default=0)
    #: Attempts made with earlier payment methods: a new card gets a fresh retry budget while
    #: attempt numbers (and so gateway keys) keep increasing.
    attempt_base = fields.IntField(default=0)
    last_attempt_at = fields.DatetimeField(null=True)
    #: The job run that claimed it for a gateway call (``status`` PENDING while in flight).
    #: When that run ends or dies, the claim is released and the payment is due at once.
    claimed_by_run: fields.ForeignKeyNullableRelation[JobRun] = fields.ForeignKeyField(
        "models.JobRun",
        related_name=False,
        null=True,
        on_delete=fields.SET_NULL,
        db_index=True,
    )
    claimed_by_run_id: int | None
    next_retry_on = fields.DateField(null=True)
    gateway_reference = fields.CharField(max_length=128, null=True)
    failure_code = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "payment"
        indexes = (("status", "due_date"),)
