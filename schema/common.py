"""Types shared by every part of the API: money, gaps, user errors."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from continuity.errors import ContinuityError
from continuity.money import from_minor
from schema.enums import ErrorCode, GapUnit


@strawberry.type(description="An exact amount in a currency (never a float).")
class Money:
    amount: Decimal = strawberry.field(description="Decimal string with the currency's scale.")
    currency: str

    @classmethod
    def of(cls, minor: int, currency: str) -> Money:
        return cls(amount=from_minor(minor, currency), currency=currency)


@strawberry.type(description="Time between two shipments: N days or N calendar months.")
class Gap:
    unit: GapUnit
    count: int


@strawberry.type(description="A problem with the input that the caller can fix.")
class UserError:
    field: list[str] | None = strawberry.field(description="Path to the input field, if any.")
    code: ErrorCode
    message: str

    @classmethod
    def from_error(cls, error: ContinuityError) -> UserError:
        return cls(
            field=list(error.field) if error.field is not None else None,
            code=error.code,
            message=error.message,
        )
