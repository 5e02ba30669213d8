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
    #: Refunds: the charge refunded (its gateway reference is what the gateway refunds).
    refund_of: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "models.Payment",
        related_name="refunds",
        null=True,
        on_delete=fields.RESTRICT,
        db_index=True,
    )
    refund_of_id: int | None
    #: Refunds of one skipped occurrence: which (event, repeat).
    event_number = fields.IntField(null=True)
    repeat_index = fields.IntField(null=True)
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
    # The gateway's object this payment concerns (Stripe: its PaymentIntent pi_...): the
    # one it created, or, before the call, the one a capture or a refund acts on.
    gateway_reference = fields.CharField(max_length=128, null=True, db_index=True)
    # Authorizations: the hold lapses then (Stripe: 7 days for cards) and must be renewed
    # before it is captured. A charge that captures an authorization carries its expiry.
    authorization_expires_at = fields.DatetimeField(null=True)
    failure_code = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "payment"
        indexes = (("status", "due_date"),)


class GatewayEvent(Model):
    """A webhook event received from a payment gateway: recorded in the transaction that
    handles it, so a redelivered event (gateways retry until they see a 2xx) is handled once."""

    id = fields.IntField(primary_key=True)
    # <gateway>:<event id>, e.g. stripe:evt_1Q...
    key = fields.CharField(max_length=255, unique=True)
    type = fields.CharField(max_length=64)
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "models.Payment", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    payment_id: int | None
    # What handling it did: settled, already_recorded, disputed, ignored, ...
    outcome = fields.CharField(max_length=32)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "gateway_event"
