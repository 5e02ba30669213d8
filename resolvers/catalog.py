"""Queries over products, payment schedules and the call-center parameters (shared data: every
role reads it)."""

from __future__ import annotations

from tortoise.queryset import QuerySet

from continuity import models
from continuity.enums import ProductKind
from continuity.parameters import load_call_center_parameters


def products(kind: ProductKind | None, active: bool | None) -> QuerySet[models.Product]:
    query = models.Product.all()
    if kind is not None:
        query = query.filter(kind=kind)
    if active is not None:
        query = query.filter(active=active)
    return query


async def product_by_sku(sku: str) -> models.Product | None:
    return await models.Product.get_or_none(sku=sku.strip())


def payment_schedules() -> QuerySet[models.PaymentSchedule]:
    return models.PaymentSchedule.all()


async def payment_schedule_by_code(code: str) -> models.PaymentSchedule | None:
    return await models.PaymentSchedule.get_or_none(code=code.strip())


async def call_center_parameters() -> models.CallCenterParameters:
    return await load_call_center_parameters()
