"""The scalar types of the rule files: money, dates, gaps, identifiers.

Each parser accepts what a merchandiser writes in YAML and what a programmer passes in Python
(``Decimal``, ``date``), and refuses the YAML 1.1 traps with a message that says how to write
the value instead. They raise ``PydanticCustomError`` so that pydantic reports them with their
location; the loader's cross-checks call them too and read the same values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from continuity.money import CURRENCY_MINOR_UNITS, decimal_places
from rules.limits import (
    FIRST_DATE,
    LAST_DATE,
    MAX_AMOUNT,
    MAX_DAYS,
    MAX_MONTHS,
    MAX_NAME_CHARS,
    MAX_REPEAT,
    PERCENT_DECIMALS,
)

RULE_ID_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,62}$"
SKU_PATTERN: Final = r"^[A-Z0-9][A-Z0-9._-]{0,63}$"

_AMOUNT: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EVERY: Final = re.compile(r"([0-9]+)\s+(day|days|week|weeks|month|months)", re.IGNORECASE)
_YAML11_BOOLEANS: Final = frozenset({"yes", "no", "on", "off", "y", "n"})

MONEY_FLOAT_MESSAGE: Final = 'write money as a quoted string, e.g. "12.99"'


def parse_money(value: Any) -> Decimal:
    """Money is a quoted decimal string or an integer, never a float (19.90 would become 19.9)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise PydanticCustomError("money", "must be a finite amount")
        return value
    if isinstance(value, bool):
        raise PydanticCustomError("money", 'must be an amount such as "12.99", not true/false')
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        raise PydanticCustomError("money_float", MONEY_FLOAT_MESSAGE)
    if isinstance(value, str) and _AMOUNT.fullmatch(value):
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern only lets valid numbers through
            pass
    raise PydanticCustomError(
        "money", '{value} is not an amount: write it like "12.99"', {"value": repr(value)}
    )


def parse_date(value: Any) -> date:
    """Dates are ``YYYY-MM-DD``, written plain or quoted; impossible dates are refused."""
    if isinstance(value, datetime):
        raise PydanticCustomError("malformed_date", "must be a date without a time of day")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError(
        "malformed_date",
        "malformed date {value}: write a real date as YYYY-MM-DD",
        {"value": repr(value)},
    )


def check_date_range(value: date) -> date:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise PydanticCustomError(
            "date_range",
            "must be between {first} and {last}",
            {"first": FIRST_DATE.isoformat(), "last": LAST_DATE.isoformat()},
        )
    return value


def check_percent_decimals(value: Decimal) -> Decimal:
    """Percents are stored in hundredths: ``33.333`` would silently become ``33.33``."""
    if decimal_places(value.normalize()) > PERCENT_DECIMALS:
        raise PydanticCustomError(
            "percent_decimals",
            '{value} has more than {places} decimals: write a percent like "33.33"',
            {"value": str(value), "places": PERCENT_DECIMALS},
        )
    return value


def check_currency(value: str) -> str:
    if value not in CURRENCY_MINOR_UNITS:
        known = ", ".join(sorted(CURRENCY_MINOR_UNITS))
        raise PydanticCustomError(
            "currency",
            "unknown currency {value} (known: {known})",
            {"value": repr(value), "known": known},
        )
    return value


def parse_every(value: Any) -> tuple[Literal["day", "month"], int]:
    """``every: 1 month`` / ``every: 14 days`` / ``every: 2 weeks`` as (unit, count).

    Raises ``ValueError`` with the message to show; weeks are stored as days.
    """
    match = _EVERY.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"malformed gap {value!r}: write a number and a unit, e.g. '1 month' or '14 days'"
        )
    count, unit = int(match.group(1)), match.group(2).lower()
    if unit.startswith("month"):
        if count < 1:
            raise ValueError("must be at least 1 month (use days_from_last: 0 for the same day)")
        if count > MAX_MONTHS:
            raise ValueError(f"must be at most {MAX_MONTHS} months")
        return "month", count
    days = count * 7 if unit.startswith("week") else count
    if days > MAX_DAYS:
        raise ValueError(f"must be at most {MAX_DAYS} days")
    return "day", days


def check_repeat(value: Any) -> int | Literal["forever"]:
    if value == "forever" and isinstance(value, str):
        return "forever"
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_REPEAT:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_REPEAT:
        raise PydanticCustomError(
            "repeat",
            "must be at most {max} repeats (an order ships at most {shipments} times) or 'forever'",
            {"max": MAX_REPEAT, "shipments": MAX_REPEAT + 1},
        )
    raise PydanticCustomError(
        "repeat",
        "must be a whole number of repeats (0 or more) or 'forever', not {value}",
        {"value": repr(value)},
    )


def schedule_extent(steps: Sequence[tuple[int, str, int]]) -> tuple[int, int]:
    """Shipments of one order of a finite program and the days they span at most.

    ``steps`` are the events in shipping order as (occurrences, gap unit, gap count); a month
    counts as 31 days. The first shipment goes out on the start date, each later one a gap
    after the previous.
    """
    shipments = sum(occurrences for occurrences, _unit, _count in steps)
    span = sum(
        occurrences * (count * 31 if unit == "month" else count)
        for occurrences, unit, count in steps
    )
    if steps:
        _occurrences, unit, count = steps[0]
        span -= count * 31 if unit == "month" else count
    return shipments, max(span, 0)


def is_yaml11_boolean(value: object) -> bool:
    """Words that YAML 1.1 reads as booleans; the loader keeps them as text and explains."""
    return isinstance(value, str) and value.lower() in _YAML11_BOOLEANS


RuleId = Annotated[str, Field(pattern=RULE_ID_PATTERN)]
Sku = Annotated[str, Field(pattern=SKU_PATTERN)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
Currency = Annotated[str, AfterValidator(check_currency)]
Money = Annotated[Decimal, BeforeValidator(parse_money), Field(ge=0, le=MAX_AMOUNT)]
Percent = Annotated[
    Decimal,
    BeforeValidator(parse_money),
    Field(gt=0, le=100),
    AfterValidator(check_percent_decimals),
]
RuleDate = Annotated[date, BeforeValidator(parse_date), AfterValidator(check_date_range)]
Repeat = Annotated[int | Literal["forever"], BeforeValidator(check_repeat)]
