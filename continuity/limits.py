"""Bounds every value from outside must respect, whatever field it arrives in.

Field-specific rules (a name's 200 characters, a quantity's 1..1000) live with their domain
function; these are the outer walls that hold for every input, so that an absurd value is a
clear ``INVALID_INPUT`` and never reaches the database (PostgreSQL refuses NUL bytes and
unpaired surrogates with an exception, and SQLite would store a megabyte "name").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from continuity.errors import ErrorCode, InvalidInput

#: The longest string any input field accepts (names, addresses, reasons, skus, searches, ids).
MAX_TEXT = 500
#: Input fields (by their GraphQL name) that name a row by a key column narrower than
#: ``MAX_TEXT``: longer values can name nothing, and the ORM refuses to compare them.
KEY_LENGTHS: dict[str, int] = {
    "sku": 64,
    "fromSku": 64,
    "toSku": 64,
    "code": 64,
    "number": 32,
    "orderNumber": 32,
    "accountNumber": 32,
}
#: The longest list any input accepts (domain rules are stricter: 50 order lines, ...).
MAX_ITEMS = 1000
#: Business dates outside these are typing mistakes, not plans.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2200, 12, 31)
#: Unicode's control characters (category ``Cc``: U+0000–U+001F and U+007F–U+009F) but tab,
#: line feed and carriage return; one search in C, not a category look-up per character.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_text(value: str, field: Sequence[str]) -> None:
    """Any text input: ``VALUE_TOO_LONG`` past its key column's width (``KEY_LENGTHS``, by the
    field's name) or ``MAX_TEXT``; ``INVALID_INPUT`` for what no column can store."""
    longest = KEY_LENGTHS.get(field[-1], MAX_TEXT) if field else MAX_TEXT
    if len(value) > longest:
        raise InvalidInput(
            f"must be at most {longest} characters", field=field, code=ErrorCode.VALUE_TOO_LONG
        )
    if not value.isascii():  # ASCII text is valid UTF-8
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput("is not valid Unicode text", field=field) from None
    if _CONTROL.search(value) is not None:
        raise InvalidInput("must not contain control characters", field=field)


def check_date(value: date, field: Sequence[str]) -> None:
    if not MIN_DATE <= value <= MAX_DATE:
        raise InvalidInput(f"must be between {MIN_DATE} and {MAX_DATE}", field=field)


def check_items(count: int, field: Sequence[str]) -> None:
    if count > MAX_ITEMS:
        raise InvalidInput(f"at most {MAX_ITEMS} items", field=field)
