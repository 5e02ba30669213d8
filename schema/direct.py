"""Fields that graphql-core resolves directly, without Strawberry's resolver machinery.

Strawberry runs every field that has a resolver through argument conversion, an ``Info``
object and its field-extension chain: about ten times a plain attribute's cost. A list page
pays it per row: each node's global ``id`` (Relay's ``Node.id`` is a resolver), a line's
``sku`` and ``price``, about 550 calls for 50 orders and their 150 lines, a fifth of the page's
time. The fields registered here take no arguments and their value is a function of the
object alone when the object already knows it (read with its page); otherwise the field's
Strawberry resolver runs as before, so every answer is the same either way
(``tests/api/test_read_ahead_api.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo
from strawberry import relay

#: A value function's answer when the object does not know the value: Strawberry resolves it.
UNKNOWN: Any = object()

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


def install(schema: strawberry.Schema) -> None:
    """Put the direct resolvers in the built schema: every Relay node's ``id``, and the
    fields registered with ``direct``."""
    graphql_schema = schema._schema
    values = dict(_DIRECT)
    for name, graphql_type in graphql_schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
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
