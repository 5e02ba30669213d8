"""Human-readable order numbers, unique without a round trip (the unique index backs them)."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from continuity.sql import insert_unless_taken

M = TypeVar("M", bound=Model)

#: Numbers drawn for one row before giving up. 32 random bits a day: a draw takes a number
#: already given that day with probability n / 2**32 (1 in ~43,000 with 100,000 orders that
#: day; a day of a million orders meets ~100 such draws), so a second draw is rare and the
#: eighth is never needed.
NUMBER_DRAWS = 8


def new_number(prefix: str, on: date) -> str:
    """``SO-20261130-7F3A2C9B``: the prefix, the business date and 32 random bits."""
    return f"{prefix}-{on:%Y%m%d}-{secrets.token_hex(4).upper()}"


async def insert_numbered(
    model: type[M], conn: BaseDBAsyncClient, prefix: str, on: date, **values: Any
) -> M:
    """Insert a row of ``model`` under a new number, drawing again (in the same transaction)
    while the number drawn is taken, which would otherwise fail the whole placement."""
    for _ in range(NUMBER_DRAWS):
        row = await insert_unless_taken(
            model, conn, "number", number=new_number(prefix, on), **values
        )
        if row is not None:
            return row
    raise RuntimeError(f"no free {prefix} number on {on} in {NUMBER_DRAWS} draws")
