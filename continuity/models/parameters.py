"""The call-center parameters (SPEC §2), one row, synced from ``config/`` at start-up."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class CallCenterParameters(Model):
    id = fields.IntField(primary_key=True)
    repeat_threshold = fields.IntField()
    days_before_delivery = fields.IntField()
    on_account_bill_days = fields.IntField()
    max_child_orders_per_run = fields.IntField()
    authorize_child_orders = fields.BooleanField()
    reauthorization_limit = fields.IntField()
    retry_days = fields.IntField()
    timezone = fields.CharField(max_length=64)
    #: How many days in the past an agent may date a sales order (mail and phone orders).
    max_backdate_days = fields.IntField(default=60)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "call_center_parameters"
