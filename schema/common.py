"""Types shared by every part of the API: money, gaps, user errors; the door's rules for amounts
inside JSON values, and for turning domain errors into ``userErrors`` (mutations) or GraphQL
errors with ``extensions.code`` (queries)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import strawberry
from graphql import GraphQLError

from continuity import models
from continuity.errors import ContinuityError
from continuity.money import from_minor
from schema.enums import CurrencyCode, ErrorCode, GapUnit

#: The suffix the domain gives amounts in minor units (``amount_minor``); the API never shows
#: one (``money_json`` turns it into a decimal string with its currency).
MINOR = "_minor"


@strawberry.type(description="An exact amount in a currency (never a float).")
class Money:
    amount: Decimal = strawberry.field(
        description="A decimal string with the currency's number of decimal places (`12.50`)."
    )
    currency_code: CurrencyCode = strawberry.field(description="The ISO 4217 currency code.")

    @classmethod
    def of(cls, minor: int, currency: str) -> Money:
        return _money(minor, currency)


@functools.lru_cache(maxsize=4096)
def _money(minor: int, currency: str) -> Money:
    """Amounts repeat (a program's prices): a list page shows the same few hundred times,
    and nothing changes a ``Money`` once made."""
    return Money(amount=from_minor(minor, currency), currency_code=CurrencyCode(currency))


def money_json(minor: int, currency: str) -> dict[str, str]:
    """An amount inside a JSON value: the shape of ``Money``, as strings."""
    return {"amount": str(from_minor(minor, currency)), "currencyCode": currency}


def present_amounts(value: Any, currency: str) -> Any:
    """A domain JSON value as the API shows it: every ``x_minor`` key (an integer or a list of
    them, in ``currency``) becomes ``x`` with ``Money``-shaped values."""
    if isinstance(value, Mapping):
        shown: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key.endswith(MINOR):
                name = key[: -len(MINOR)]
                if isinstance(item, list):
                    shown[name] = [money_json(int(i), currency) for i in item]
                elif isinstance(item, int):
                    shown[name] = money_json(item, currency)
                else:
                    shown[name] = item
            else:
                shown[key] = present_amounts(item, currency)
        return shown
    if isinstance(value, list):
        return [present_amounts(item, currency) for item in value]
    return value


@strawberry.type(description="Time between two shipments: N days or N calendar months.")
class Gap:
    unit: GapUnit = strawberry.field(description="Days or calendar months.")
    count: int = strawberry.field(description="How many units.")


@strawberry.type(description="A problem with the input that the caller can fix.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='The path to the input field at fault (`["input", "orderId"]`), if any.'
    )
    code: ErrorCode = strawberry.field(description="What is wrong, for programs.")
    message: str = strawberry.field(description="What is wrong, for people.")

    @classmethod
    def from_error(cls, error: ContinuityError) -> UserError:
        return cls(
            field=list(error.field) if error.field is not None else None,
            code=error.code,
            message=error.message,
        )


USER_ERRORS = "What was wrong with the input; when not empty, nothing was changed."
#: The description of every mutation's one argument.
INPUT = strawberry.argument(description="Everything the mutation needs, in one input object.")


def user_errors(error: ContinuityError) -> list[UserError]:
    return [UserError.from_error(error)]


def query_error(error: ContinuityError) -> GraphQLError:
    """Queries have no payload: their bad input is a GraphQL error with the same code."""
    return GraphQLError(
        error.message,
        extensions={"code": error.code.value, "field": list(error.field or [])},
    )


def at_input(error: ContinuityError, renames: Mapping[str, str] | None = None) -> ContinuityError:
    """A domain error's field named from the mutation's ``input`` argument: the domain names
    fields relative to its own input (``["accountNumber"]``) and sometimes by its own words
    (``paymentSchedule`` for the API's ``paymentScheduleId``)."""
    if error.field is not None:
        path = [renames.get(part, part) if renames else part for part in error.field]
        error.field = tuple(path if path[:1] == ["input"] else ["input", *path])
    return error


def at_argument(error: ContinuityError, renames: Mapping[str, str]) -> ContinuityError:
    """A domain error's field named by the query argument the API calls it."""
    if error.field is not None:
        error.field = tuple(renames.get(part, part) for part in error.field)
    return error


#: The postal fields an address and a child order's ship-to show alike.
POSTAL_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")


def postal_fields(row: models.Address) -> dict[str, Any]:
    """An address row's postal fields, by their GraphQL types' attribute names."""
    return {field: getattr(row, field) for field in POSTAL_FIELDS}
