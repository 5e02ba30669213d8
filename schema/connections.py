"""Keyset pagination: opaque cursors over a stable key, so rows inserted while a client pages
never shift or repeat a page (offset cursors would)."""

from __future__ import annotations

import base64
import binascii

import strawberry
from graphql import GraphQLError

from continuity.errors import ErrorCode

DEFAULT_PAGE = 20
MAX_PAGE = 100


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def encode_cursor(kind: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    """The key after which the page starts; a malformed cursor is the caller's error."""
    if cursor is None:
        return None
    try:
        prefix, _, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if prefix == kind and 0 <= int(key) < 2**31:  # keys are 32-bit ids
            return int(key)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise GraphQLError(
        "not a cursor of this list",
        extensions={"code": ErrorCode.INVALID_INPUT.value, "field": ["after"]},
    )


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 1 <= first <= MAX_PAGE:
        raise GraphQLError(
            f"first must be 1 to {MAX_PAGE}",
            extensions={"code": ErrorCode.INVALID_INPUT.value, "field": ["first"]},
        )
    return first
