"""Money as integer minor units.

Amounts are stored and summed as integers (cents) so that SQLite and PostgreSQL agree to the
unit; ``Decimal`` appears only at the edges (YAML rules, GraphQL).
"""

from __future__ import annotations

from decimal import Decimal

#: ISO 4217 minor units of the currencies the service accepts.
CURRENCY_MINOR_UNITS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "NZD": 2,
    "MXN": 2,
    "BRL": 2,
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "BHD": 3,
    "KWD": 3,
    "TND": 3,
}


class UnknownCurrency(ValueError):
    """The currency code is not one the service knows the minor units of."""


def minor_units(currency: str) -> int:
    try:
        return CURRENCY_MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(currency) from None


def decimal_places(amount: Decimal) -> int:
    """How many decimal places an amount is written with (``Decimal("1.50")`` has 2)."""
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int):  # NaN, Infinity
        raise ValueError(f"not a finite amount: {amount}")
    return max(0, -exponent)


def fits_currency(amount: Decimal, currency: str) -> bool:
    """True when ``amount`` has no more significant decimals than the currency allows.

    Trailing zeros do not count: ``"12.500"`` is a valid USD amount, ``"12.505"`` is not.
    """
    return decimal_places(amount.normalize()) <= minor_units(currency) if amount else True


def to_minor(amount: Decimal, currency: str) -> int:
    """Convert a decimal amount to integer minor units; refuses sub-unit amounts."""
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {amount}")
    if not fits_currency(amount, currency):
        raise ValueError(f"{amount} has more decimals than {currency} allows")
    return int(amount.scaleb(minor_units(currency)))


def from_minor(value: int, currency: str) -> Decimal:
    """Integer minor units back to a ``Decimal`` with the currency's exact scale."""
    units = minor_units(currency)
    return Decimal(value).scaleb(-units).quantize(Decimal(1).scaleb(-units))


def split_evenly(total: int, parts: int) -> list[int]:
    """Split ``total`` minor units into ``parts`` installments that sum exactly to it.

    Every installment but the last is ``total // parts``; the remainder goes to the last one
    (SPEC §4).
    """
    if parts < 1:
        raise ValueError("parts must be at least 1")
    base = total // parts
    return [base] * (parts - 1) + [total - base * (parts - 1)]


def split_by_percent(total: int, percents: list[Decimal]) -> list[int]:
    """Split ``total`` by percentages (summing to 100); the remainder goes to the last part."""
    if sum(percents, Decimal(0)) != Decimal(100):
        raise ValueError("percentages must sum to 100")
    shares = [
        int((Decimal(total) * p / Decimal(100)).to_integral_value(rounding="ROUND_FLOOR"))
        for p in percents[:-1]
    ]
    return [*shares, total - sum(shares)]
