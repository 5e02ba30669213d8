"""Hostile requests for the API tests: requests built from the schema itself, and the check
that a response is a clear refusal (never a 500, never an unmasked message, always a code)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
    get_named_type,
)

from schema import schema

#: Words that only an unmasked internal error would show.
LEAKS = ("Traceback", "/work/", 'File "', "Did you mean", "KeyError", "ValidationError")


def root_fields() -> list[tuple[str, str, GraphQLField]]:
    """(operation, field name, field) of every Query and Mutation field."""
    graphql = schema._schema
    found = []
    for kind, root in (("query", graphql.query_type), ("mutation", graphql.mutation_type)):
        assert root is not None
        found += [(kind, name, field) for name, field in root.fields.items()]
    return found


def minimal(kind: GraphQLInputType, ids: dict[str, str]) -> Any:
    """A plain value of ``kind``: required input fields filled, optional ones left out."""
    if isinstance(kind, GraphQLNonNull):
        return minimal(kind.of_type, ids)
    if isinstance(kind, GraphQLList):
        return [minimal(kind.of_type, ids)]
    if isinstance(kind, GraphQLInputObjectType):
        return {
            name: minimal(field.type, ids)
            for name, field in kind.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        }
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    assert isinstance(kind, GraphQLScalarType)
    return {
        "Int": 1,
        "Float": 1.0,
        "Boolean": False,
        "ID": ids["customerId"],
        "Date": "2027-02-01",
        "Decimal": "1.00",
    }.get(kind.name, "x")


def text_slots(kind: GraphQLInputType, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every String or ID inside an argument of type ``kind`` (``"0"``: a list's
    first item)."""
    named = kind
    while isinstance(named, GraphQLNonNull | GraphQLList):
        if isinstance(named, GraphQLList):
            path = (*path, "0")
        named = named.of_type
    if isinstance(named, GraphQLInputObjectType):
        for name, field in named.fields.items():
            yield from text_slots(field.type, (*path, name))
    elif isinstance(named, GraphQLScalarType) and named.name in ("String", "ID"):
        yield path


def put(value: Any, kind: GraphQLInputType, path: tuple[str, ...], text: str) -> Any:
    """``value`` with ``text`` at ``path`` (lists and objects made on the way)."""
    if not path:
        return text
    head, *rest = path
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    if isinstance(kind, GraphQLList):
        item = value[0] if isinstance(value, list) and value else None
        return [put(item, kind.of_type, tuple(rest), text)]
    assert isinstance(kind, GraphQLInputObjectType)
    current = dict(value or {})
    current[head] = put(current.get(head), kind.fields[head].type, tuple(rest), text)
    return current


def selection(field: GraphQLField) -> str:
    named = get_named_type(field.type)
    if "userErrors" in getattr(named, "fields", {}):
        return " { __typename userErrors { field code message } }"
    composite = isinstance(named, GraphQLObjectType | GraphQLInterfaceType)
    return " { __typename }" if composite else ""


def document(kind: str, name: str, field: GraphQLField, arguments: list[str]) -> str:
    declared = ", ".join(f"${a}: {field.args[a].type}" for a in arguments)
    passed = ", ".join(f"{a}: ${a}" for a in arguments)
    head = f"{kind} ({declared})" if declared else kind
    call = f"{name}({passed})" if passed else name
    return f"{head} {{ {call}{selection(field)} }}"


def long_text_requests(
    ids: dict[str, str], length: int
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(label, document, variables): one per text slot of every root field's arguments, that
    slot ``length`` characters long and every other required value plain."""
    for kind, name, field in root_fields():
        for argument, arg in field.args.items():
            for path in text_slots(arg.type):
                given = [a for a, f in field.args.items() if isinstance(f.type, GraphQLNonNull)]
                arguments = [*given, argument] if argument not in given else given
                variables = {a: minimal(field.args[a].type, ids) for a in arguments}
                variables[argument] = put(variables[argument], arg.type, path, "x" * length)
                label = ".".join((name, argument, *path))
                yield label, document(kind, name, field, arguments), variables


def problems(response: Any) -> list[dict[str, Any]]:
    """The errors and user errors of a response, after checking it is an honest refusal:
    no 500, nothing unmasked, a code on every error."""
    assert response.status_code != 500, response.text
    assert response.status_code in (200, 400, 401, 404, 405, 413), response.text
    for leak in LEAKS:
        assert leak not in response.text, response.text
    body = response.json()
    found: list[dict[str, Any]] = []
    for error in body.get("errors") or []:
        extensions = error.get("extensions") or {}
        assert extensions.get("code"), error
        assert extensions["code"] != "INTERNAL", error
        found.append({"code": extensions["code"], "field": extensions.get("field"), **error})
    for payload in (body.get("data") or {}).values():
        if isinstance(payload, dict):
            for user_error in payload.get("userErrors") or []:
                assert user_error["code"], user_error
                found.append(user_error)
    return found
