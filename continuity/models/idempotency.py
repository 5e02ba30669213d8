"""Idempotency keys: a retried mutation answers with its first response instead of running
again (``continuity/idempotency.py``)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class IdempotencyKey(Model):
    """One caller's key, claimed before its mutation runs (the unique ``(scope, key)`` lets
    exactly one of several concurrent requests claim it), the response is stored when the
    mutation ends, and the row is swept once older than the retention (24 h)."""

    id = fields.BigIntField(primary_key=True)
    #: Whose key: the caller it belongs to (``token:<key>``): keys of two callers never meet.
    scope = fields.CharField(max_length=64)
    key = fields.CharField(max_length=255)
    #: The mutation it was first used with (``placeSalesOrder``).
    operation = fields.CharField(max_length=64)
    #: SHA-256 of the mutation's name and canonical input: a reuse with other input is refused.
    request_hash = fields.CharField(max_length=64)
    #: The first response's payload as sent, in JSON text (null while the first request runs):
    #: text, not a JSON column, so that a replay is the same bytes (PostgreSQL's JSONB would
    #: reorder the keys).
    response = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "idempotency_key"
        unique_together = (("scope", "key"),)
        indexes = (("created_at",),)
