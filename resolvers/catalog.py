"""Queries over products, payment schedules and the call-center parameters."""

from __future__ import annotations

from continuity import models
from continuity.enums import ProductKind
from continuity.parameters import load_call_center_parameters
from schema.catalog import CallCenterParameters, PaymentSchedule, Product


async def resolve_products(
    kind: ProductKind | None = None, active: bool | None = None
) -> list[Product]:
    query = models.Product.all().order_by("sku")
    if kind is not None:
        query = query.filter(kind=kind)
    if active is not None:
        query = query.filter(active=active)
    return [Product.from_row(row) for row in await query]


async def resolve_payment_schedules() -> list[PaymentSchedule]:
    rows = await models.PaymentSchedule.all().order_by("code")
    return [PaymentSchedule.from_row(row) for row in rows]


async def resolve_call_center_parameters() -> CallCenterParameters:
    row = await load_call_center_parameters()
    return CallCenterParameters.from_row(row)
