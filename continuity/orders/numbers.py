"""Human-readable order numbers, unique without a round trip: the unique index backs them, and
a write whose number was taken fails whole and is written again under new numbers
(``continuity.orders.placement``)."""

from __future__ import annotations

import secrets
from datetime import date

#: Writes of one order under new numbers before giving up. 32 random bits a day: a draw
#: takes a number already given that day with probability n / 2**32 (1 in ~43,000 with
#: 100,000 orders that day; a day of a million orders meets ~100 such draws), so a second
#: write is rare and the eighth is never needed.
NUMBER_DRAWS = 8


def new_number(prefix: str, on: date) -> str:
    """``SO-20261130-7F3A2C9B``: the prefix, the business date and 32 random bits."""
    return f"{prefix}-{on:%Y%m%d}-{secrets.token_hex(4).upper()}"
