"""Human-readable order numbers, unique without a round trip (the unique index backs them)."""

from __future__ import annotations

import secrets
from datetime import date


def new_number(prefix: str, on: date) -> str:
    """``SO-20261130-7F3A2C9B``: the prefix, the business date and 32 random bits."""
    return f"{prefix}-{on:%Y%m%d}-{secrets.token_hex(4).upper()}"
