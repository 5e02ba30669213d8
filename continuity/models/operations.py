"""What the service did by itself: maintenance job runs and outgoing notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from continuity.enums import JobRunStatus, NotificationStatus

if TYPE_CHECKING:
    from continuity.models.orders import ContinuityOrder


class JobRun(Model):
    """One run of one maintenance job for one ``as_of`` date, with its counts and failures."""

    id = fields.IntField(primary_key=True)
    job = fields.CharField(max_length=64)
    as_of = fields.DateField()
    filters: dict[str, Any] = fields.JSONField(default=dict)
    status = fields.CharEnumField(JobRunStatus, max_length=16, default=JobRunStatus.RUNNING)
    triggered_by = fields.CharField(max_length=100)
    started_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)
    counts: dict[str, Any] = fields.JSONField(default=dict)
    failures: list[Any] = fields.JSONField(default=list)
    #: The process running it (``continuity.jobs.liveness``): how a later run tells a live
    #: run from a dead one.
    owner = fields.CharField(max_length=200, null=True)
    #: Written every few seconds while it runs (with its counts so far).
    heartbeat_at = fields.DatetimeField(null=True)

    class Meta:
        table = "job_run"
        indexes = (("job", "as_of"),)


class Notification(Model):
    """A message to a customer or an integrator, written in the transaction that caused it."""

    id = fields.IntField(primary_key=True)
    continuity_order: fields.ForeignKeyNullableRelation[ContinuityOrder] = fields.ForeignKeyField(
        "models.ContinuityOrder",
        related_name="notifications",
        null=True,
        on_delete=fields.RESTRICT,
        db_index=True,
    )
    continuity_order_id: int | None
    event_type = fields.CharField(max_length=64)
    channel = fields.CharField(max_length=16)
    recipient = fields.CharField(max_length=500)
    payload: dict[str, Any] = fields.JSONField(default=dict)
    #: Unique per event and recipient, so that a replayed cause never notifies twice.
    dedupe_key = fields.CharField(max_length=200, unique=True)
    status = fields.CharEnumField(
        NotificationStatus, max_length=16, default=NotificationStatus.PENDING
    )
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"
        indexes = (("status", "next_attempt_at"),)
