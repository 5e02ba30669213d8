"""Fields that graphql-core resolves directly, without Strawberry's resolver machinery.

Strawberry runs every field that has a resolver through argument conversion, an ``Info``
object and its field-extension chain: about ten times a plain attribute's cost. A list page
pays it per row: each node's global ``id`` (Relay's ``Node.id`` is a resolver), a line's
``sku`` and ``price``, about 550 calls for 50 orders and their 150 lines, a fifth of the page's
time. The fields registered here take no arguments and their value is a function of the
object alone when the object already knows it (read with its page); otherwise the field's
Strawberry resolver runs as before, so every answer is the same either way
(``tests/api/test_read_ahead_api.py``).

A plain attribute field (no resolver, no arguments, no field extension) is one getattr, and
Strawberry already skips its ``Info`` for it; still each call goes through two functions and a
property on the way to the getattr, about 1,300 times for that page (~4 % of its CPU). Such a
field gets a resolver that reads the attribute itself (``_attribute``): the same value, as
Strawberry's default resolver (``getattr``) reads it.

The leaves among these fields (a scalar or an enum: ids, numbers, dates, statuses, SKUs) go
further: ``schema.execution`` answers them inside graphql-core's loop over an object's fields,
without a path, a resolve info or a resolver call each (``execution.register``).

An enum value leaves as its name: Strawberry's enum type finds it by comparing the member's
``value`` with each of the type's values in turn, an enum property read per comparison, for
400 values a page. ``_enum_names`` looks the member up in a table made once.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from operator import attrgetter
from typing import Any

import strawberry
from graphql import GraphQLEnumType, GraphQLObjectType, GraphQLResolveInfo
from strawberry import relay

from schema import execution
from schema.execution import UNKNOWN

__all__ = ["UNKNOWN", "direct", "install"]

#: (GraphQL type name, field name) → the value of the field from the object alone, or UNKNOWN.
_DIRECT: dict[tuple[str, str], Callable[[Any], Any]] = {}


def direct(
    type_name: str, field_name: str
) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register ``value(obj)`` as the direct way to ``type_name.field_name``."""

    def register(value: Callable[[Any], Any]) -> Callable[[Any], Any]:
        _DIRECT[(type_name, field_name)] = value
        return value

    return register


def _global_id(cls: type[relay.Node], type_name: str) -> Callable[[Any], Any]:
    """``Node.id`` as Strawberry shows it (``GlobalID(type name, str(NodeID))``, serialised
    as its base64 text) for the objects of the type's own class; anything else goes to
    Strawberry's resolver."""
    attribute = cls.resolve_id_attr()

    def value(obj: Any) -> Any:
        if type(obj) is not cls:
            return UNKNOWN
        return relay.to_base64(type_name, str(getattr(obj, attribute)))

    return value


def _resolver(value: Callable[[Any], Any], slow: Any) -> Any:
    def resolve(source: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        found = value(source)
        return slow(source, info, **kwargs) if found is UNKNOWN else found

    return resolve


def _attribute(python_name: str) -> Any:
    def resolve(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
        return getattr(source, python_name)

    resolve._is_default = True  # type: ignore[attr-defined]  # as Strawberry marks its own
    return resolve


def _plain_attributes(
    schema: strawberry.Schema, name: str, graphql_type: GraphQLObjectType
) -> None:
    """The attribute fields of one type resolved by ``_attribute``: those Strawberry resolves
    with its basic-field path (``_get_basic_result``: no resolver, no extension, no exception
    handler), when its default resolver is ``getattr``."""
    if schema.config.default_resolver is not getattr:
        return
    for field_name, field in graphql_type.fields.items():
        if field.args or getattr(field.resolve, "__name__", None) != "_get_basic_result":
            continue
        definition = schema.get_field_for_type(field_name, name)
        if definition is None or not definition.is_basic_field:
            continue
        field.resolve = _attribute(definition.python_name)
        execution.register(graphql_type, field_name, attrgetter(definition.python_name))


def _enum_names(graphql_type: GraphQLEnumType) -> None:
    """The type's members serialised by a table look-up (Strawberry's ``CustomGraphQLEnumType``
    scans its values); anything not a member of the enum class goes to Strawberry's own."""
    cls = getattr(graphql_type, "wrapped_cls", None)
    if not (isinstance(cls, type) and issubclass(cls, Enum)):
        return
    names = {
        member: name
        for name, value in graphql_type.values.items()
        for member in cls
        if member.value == value.value
    }
    slow = graphql_type.coerce_output_value

    def coerce_output_value(output_value: Any) -> Any:
        name = names.get(output_value) if type(output_value) is cls else None
        return name if name is not None else slow(output_value)

    # graphql-core 3.3 completes a value with ``coerce_output_value``; ``serialize`` is its
    # deprecated name, kept for whoever still calls it
    graphql_type.coerce_output_value = coerce_output_value  # type: ignore[method-assign]
    graphql_type.serialize = coerce_output_value  # type: ignore[method-assign]


def install(schema: strawberry.Schema, *, registered: bool = True) -> None:
    """Put the direct resolvers in the built schema: every plain attribute field, every Relay
    node's ``id``, and (``registered``: the product's schema) the fields registered with
    ``direct``; and enum names by look-up. The leaves among them are answered by
    ``schema.execution`` without graphql-core's per-field machinery."""
    graphql_schema = schema._schema
    values = dict(_DIRECT) if registered else {}
    for name, graphql_type in graphql_schema.type_map.items():
        if isinstance(graphql_type, GraphQLEnumType) and not name.startswith("__"):
            _enum_names(graphql_type)
        if not isinstance(graphql_type, GraphQLObjectType) or name.startswith("__"):
            continue
        _plain_attributes(schema, name, graphql_type)
        definition = schema.get_type_by_name(name)
        origin = getattr(definition, "origin", None)
        if (
            isinstance(origin, type)
            and issubclass(origin, relay.Node)
            and "id" in graphql_type.fields
        ):
            values.setdefault((name, "id"), _global_id(origin, name))
    for (type_name, field_name), value in values.items():
        graphql_type = graphql_schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType), type_name
        field = graphql_type.fields[field_name]
        assert not field.args, f"{type_name}.{field_name} takes arguments"
        field.resolve = _resolver(value, field.resolve)
        execution.register(graphql_type, field_name, value)
