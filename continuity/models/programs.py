"""Continuity programs and their immutable versions.

A program row is the stable identity (its code, which event the program calendar is in today).
Everything a merchandiser writes lives on a ``ProgramVersion``: a changed rule file creates a new
version, and orders keep the version they were placed under until a continuity update moves them.
The live version is the one with the highest number (no pointer back from the program: that
would make the two tables depend on each other).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from continuity.enums import EventAction, GapUnit, OrderStart

if TYPE_CHECKING:
    from continuity.models.catalog import PaymentSchedule, Product


class Program(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    active = fields.BooleanField(default=True)
    currency = fields.CharField(max_length=3)
    #: ``current_event`` programs: the event the program calendar is in, set by the
    #: "update current event period" job for ``current_event_as_of``.
    current_event = fields.IntField(null=True)
    current_event_as_of = fields.DateField(null=True)
    #: The rule file was removed: the program takes no new orders - existing ones carry on.
    retired = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    versions: fields.ReverseRelation[ProgramVersion]
    parent_products: fields.ReverseRelation[Product]

    class Meta:
        table = "program"


class ProgramVersion(Model):
    id = fields.IntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="versions", on_delete=fields.RESTRICT
    )
    program_id: int
    number = fields.IntField()
    content_hash = fields.CharField(max_length=64)
    source_path = fields.CharField(max_length=500)
    name = fields.CharField(max_length=200)
    active = fields.BooleanField()
    currency = fields.CharField(max_length=3)
    parent_sku = fields.CharField(max_length=64)
    parent_name = fields.CharField(max_length=200)
    parent_price_minor = fields.BigIntField()
    #: How many events the parent product covers - 0 = all.
    parent_event_count = fields.IntField(default=0)
    order_start = fields.CharEnumField(OrderStart, max_length=16)
    current_event_anchor = fields.DateField(null=True)
    days_after_order = fields.IntField(default=0)
    prompt_for_start_date = fields.BooleanField(default=False)
    consolidate_past_orders = fields.BooleanField(default=False)
    bill_up_front = fields.BooleanField(default=False)
    default_payment_schedule: fields.ForeignKeyNullableRelation[PaymentSchedule] = (
        fields.ForeignKeyField(
            "models.PaymentSchedule", related_name=False, null=True, on_delete=fields.RESTRICT
        )
    )
    default_payment_schedule_id: int | None
    prompt_for_payment_schedule = fields.BooleanField(default=False)
    cadence_unit = fields.CharEnumField(GapUnit, max_length=8)
    cadence_count = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    events: fields.ReverseRelation[ProgramEvent]
    allowed_schedules: fields.ReverseRelation[ProgramVersionSchedule]

    class Meta:
        table = "program_version"
        unique_together = (("program", "number"),)


class ProgramVersionSchedule(Model):
    """A payment schedule a customer may choose for orders of this version."""

    id = fields.IntField(primary_key=True)
    version: fields.ForeignKeyRelation[ProgramVersion] = fields.ForeignKeyField(
        "models.ProgramVersion", related_name="allowed_schedules", on_delete=fields.CASCADE
    )
    version_id: int
    schedule: fields.ForeignKeyRelation[PaymentSchedule] = fields.ForeignKeyField(
        "models.PaymentSchedule", related_name=False, on_delete=fields.RESTRICT
    )
    schedule_id: int

    class Meta:
        table = "program_version_schedule"
        unique_together = (("version", "schedule"),)


class ProgramEvent(Model):
    """One step of a program - ``number`` sets the shipping order."""

    id = fields.IntField(primary_key=True)
    version: fields.ForeignKeyRelation[ProgramVersion] = fields.ForeignKeyField(
        "models.ProgramVersion", related_name="events", on_delete=fields.CASCADE
    )
    version_id: int
    number = fields.IntField()
    #: Gap from the previous shipment - the version's cadence when the rule file gives none.
    gap_unit = fields.CharEnumField(GapUnit, max_length=8)
    gap_count = fields.IntField()
    not_before = fields.DateField(null=True)
    #: ``repeat: N`` ships N+1 times - ``repeat_forever`` until the order ends.
    repeat = fields.IntField(default=0)
    repeat_forever = fields.BooleanField(default=False)
    action = fields.CharEnumField(EventAction, max_length=8, default=EventAction.NORMAL)

    items: fields.ReverseRelation[ProgramEventItem]

    class Meta:
        table = "program_event"
        unique_together = (("version", "number"),)


class ProgramEventItem(Model):
    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[ProgramEvent] = fields.ForeignKeyField(
        "models.ProgramEvent", related_name="items", on_delete=fields.CASCADE
    )
    event_id: int
    seq = fields.IntField()
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name=False, on_delete=fields.RESTRICT
    )
    product_id: int
    quantity = fields.IntField()
    price_minor = fields.BigIntField()
    #: The rule file set the price - otherwise it is the catalog price at sync time.
    price_overridden = fields.BooleanField(default=False)

    class Meta:
        table = "program_event_item"
        unique_together = (("event", "seq"),)
