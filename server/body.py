"""Reading a GraphQL request off HTTP: the JSON body of a POST, or the URL parameters of a GET.

Strawberry's own reading trusts its input: ``null`` or ``123`` as a body, variables nested
60,000 deep (``RecursionError``) or an integer of 5,000 digits (Python's int-from-string limit)
escaped as 500s. Here every such body is a 400 ``BAD_REQUEST`` that says what is wrong, before
any GraphQL work. The bounds are far beyond anything our schema can use: no input is nested
more than a few levels, and no GraphQL ``Int`` or ``Float`` needs more than 32 digits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from strawberry.http import GraphQLRequestData

#: The deepest nesting of objects and lists accepted in a request's JSON.
MAX_JSON_DEPTH = 32
#: The most digits a JSON number may have.
MAX_NUMBER_DIGITS = 32


class RequestRefused(Exception):
    """A request refused before GraphQL reads it: answered as one error with ``code``."""

    def __init__(self, message: str, code: str = "BAD_REQUEST", status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def _number(text: str) -> int | float:
    digits = sum(char.isdigit() for char in text)
    if digits > MAX_NUMBER_DIGITS:
        raise RequestRefused(f"a number in the request has more than {MAX_NUMBER_DIGITS} digits")
    return float(text) if any(char in text for char in ".eE") else int(text)


def _constant(name: str) -> Any:
    raise RequestRefused(f"{name} is not JSON")


def _depth(value: Any) -> int:
    """How deeply ``value`` nests, counted without recursion (it may be very deep)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def load_json(text: str | bytes, what: str) -> Any:
    """``text`` read as JSON within the bounds; ``RequestRefused`` naming ``what`` otherwise."""
    try:
        value = json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except RecursionError:
        raise RequestRefused(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError:  # also UnicodeDecodeError
        raise RequestRefused(f"{what} is not valid JSON") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise RequestRefused(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def _optional(data: Mapping[str, Any], key: str, kind: type, described: str) -> Any:
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise RequestRefused(f"`{key}` must be {described} or null")
    return value


def graphql_request(data: Any) -> GraphQLRequestData:
    """The request a decoded body (or the URL's parameters) holds; its shape checked."""
    if isinstance(data, list):
        raise RequestRefused("batched requests are not supported: send one operation per request")
    if not isinstance(data, dict):
        raise RequestRefused(
            "the body must be a JSON object: {query, variables, operationName, extensions}"
        )
    return GraphQLRequestData(
        query=_optional(data, "query", str, "a string"),
        variables=_optional(data, "variables", dict, "an object"),
        operation_name=_optional(data, "operationName", str, "a string"),
        extensions=_optional(data, "extensions", dict, "an object"),
    )


def from_query_params(params: Mapping[str, str | None]) -> GraphQLRequestData:
    """A GET request: ``query`` and ``operationName`` as text, ``variables`` and
    ``extensions`` as URL-encoded JSON."""
    data: dict[str, Any] = {
        "query": params.get("query") or None,
        "operationName": params.get("operationName") or None,
    }
    for key in ("variables", "extensions"):
        text = params.get(key)
        if text:
            data[key] = load_json(text, f"`{key}`")
    return graphql_request(data)
