"""API tokens: who may call the API, as which role.

Only a SHA-256 hash of a token's secret is stored: a database dump reveals no usable token.
The public ``key`` (shown by ``continuity token list``) names a token for revocation and is
looked up first, so that the secret's hash is compared in constant time, never by the
database's index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from continuity.enums import Role

if TYPE_CHECKING:
    from continuity.models.customers import Customer


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=16, unique=True)
    name = fields.CharField(max_length=100)
    role = fields.CharEnumField(Role, max_length=16)
    #: The one customer a ``customer`` token may see, null for every other role.
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="api_tokens", null=True, on_delete=fields.RESTRICT
    )
    customer_id: int | None
    secret_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"
