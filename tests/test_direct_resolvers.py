"""The resolvers ``schema/direct.py`` puts in the built schema answer as Strawberry's would."""

from __future__ import annotations

from enum import Enum
from types import SimpleNamespace
from typing import Any, cast

from graphql import GraphQLEnumType, GraphQLObjectType
from strawberry.schema.schema_converter import CustomGraphQLEnumType

from continuity.enums import ContinuityLineStatus
from schema import schema


def _object_types() -> list[tuple[str, GraphQLObjectType]]:
    return [
        (name, graphql_type)
        for name, graphql_type in schema._schema.type_map.items()
        if isinstance(graphql_type, GraphQLObjectType) and not name.startswith("__")
    ]


def test_plain_attribute_fields_read_their_python_attribute() -> None:
    direct = 0
    for name, graphql_type in _object_types():
        for field_name, field in graphql_type.fields.items():
            if getattr(field.resolve, "__qualname__", "") != "_attribute.<locals>.resolve":
                continue
            definition = schema.get_field_for_type(field_name, name)
            assert definition is not None, (name, field_name)
            assert definition.is_basic_field, (name, field_name)
            assert not field.args
            marker = object()
            source = SimpleNamespace(**{definition.python_name: marker})
            assert field.resolve(source, None) is marker, (name, field_name)
            direct += 1
    assert direct > 100  # every plain field of the schema, not a few
    line = schema._schema.type_map["ContinuityLine"]
    assert isinstance(line, GraphQLObjectType)
    # camelCase GraphQL name, snake_case attribute
    assert line.fields["plannedShipDate"].resolve(SimpleNamespace(planned_ship_date=7), None) == 7
    # a field with a resolver of its own keeps Strawberry's
    product = line.fields["product"].resolve
    assert getattr(product, "__qualname__", "") != "_attribute.<locals>.resolve"


def test_enum_values_serialise_to_the_names_strawberry_gives() -> None:
    enums = [
        graphql_type
        for name, graphql_type in schema._schema.type_map.items()
        if isinstance(graphql_type, CustomGraphQLEnumType) and not name.startswith("__")
    ]
    assert len(enums) > 10
    for graphql_type in enums:
        cls = cast(type[Enum], graphql_type.wrapped_cls)
        for member in cls:
            expected = CustomGraphQLEnumType.coerce_output_value(graphql_type, member)
            # graphql-core 3.3 completes with coerce_output_value; serialize is its old name
            assert graphql_type.coerce_output_value(member) == expected, (graphql_type, member)
            assert graphql_type.serialize(member) == expected, (graphql_type.name, member)
            # not a member: Strawberry's own rules (its value maps to the name too)
            assert graphql_type.coerce_output_value(member.value) == GraphQLEnumType.serialize(
                graphql_type, member.value
            )


class _Scanned(dict[str, Any]):
    """An enum type's values that count the scans of them."""

    scans = 0

    def items(self) -> Any:
        _Scanned.scans += 1
        return super().items()


def test_an_enum_member_is_named_without_scanning_its_types_values() -> None:
    """Strawberry's enum type compares the member with each of its values in turn (400
    values on a page of orders)."""
    graphql_type = schema._schema.type_map["ContinuityLineStatus"]
    assert isinstance(graphql_type, CustomGraphQLEnumType)
    values = graphql_type.values
    graphql_type.values = _Scanned(values)
    try:
        named = [graphql_type.coerce_output_value(member) for member in ContinuityLineStatus]
    finally:
        graphql_type.values = values
    assert named == [member.name for member in ContinuityLineStatus]
    assert _Scanned.scans == 0
