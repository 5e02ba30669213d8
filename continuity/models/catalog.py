"""Sellable products and named payment schedules, as synced from the rule files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from continuity.enums import GapUnit, ProductKind, ScheduleKind

if TYPE_CHECKING:
    from continuity.models.programs import Program


class Product(Model):
    """A SKU. Items ship - a parent product stands for a program and never ships itself."""

    id = fields.IntField(primary_key=True)
    sku = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    kind = fields.CharEnumField(ProductKind, max_length=16, default=ProductKind.ITEM)
    price_minor = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    active = fields.BooleanField(default=True)
    #: Parent products only: the program it stands for and how many events it covers (0 = all).
    program: fields.ForeignKeyNullableRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="parent_products", null=True, on_delete=fields.RESTRICT
    )
    program_id: int | None
    event_count = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "product"


class PaymentSchedule(Model):
    """A named split of an up-front total into installments (equal, or specified lines)."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    kind = fields.CharEnumField(ScheduleKind, max_length=16)
    #: Equal schedules: how many installments, and the period between two of them.
    installment_count = fields.IntField()
    period_unit = fields.CharEnumField(GapUnit, max_length=8, null=True)
    period_count = fields.IntField(null=True)
    #: Shipping may start once this installment (1-based) is paid - null = no constraint.
    ship_after_installment = fields.IntField(null=True)
    content_hash = fields.CharField(max_length=64)
    retired = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    lines: fields.ReverseRelation[PaymentScheduleLine]

    class Meta:
        table = "payment_schedule"


class PaymentScheduleLine(Model):
    """One specified installment: a percentage of the total due ``offset_days`` after placement."""

    id = fields.IntField(primary_key=True)
    schedule: fields.ForeignKeyRelation[PaymentSchedule] = fields.ForeignKeyField(
        "models.PaymentSchedule", related_name="lines", on_delete=fields.CASCADE
    )
    schedule_id: int
    seq = fields.IntField()
    #: Hundredths of a percent (``"33.33"`` → 3333), exact on every backend.
    percent_hundredths = fields.IntField()
    offset_days = fields.IntField()

    class Meta:
        table = "payment_schedule_line"
        unique_together = (("schedule", "seq"),)
