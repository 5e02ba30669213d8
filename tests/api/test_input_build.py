"""``schema.input_build.quick_input``: the objects Strawberry's own conversion builds."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
import strawberry
from strawberry.types.arguments import convert_argument
from strawberry.types.maybe import Maybe

from schema.input_build import quick_input
from schema.placement import OrderLineInput, PlaceSalesOrderInput
from schema.root import schema

LINE = {"sku": "BOOKCLUB", "quantity": 2, "startDate": datetime.date(2027, 2, 1)}
VALUES: list[dict[str, Any]] = [
    {
        "customerId": "Q3VzdG9tZXI6MQ==",
        "shipToAddressId": "QWRkcmVzczox",
        "paymentMethodId": "UGF5bWVudE1ldGhvZDox",
        "lines": [{"sku": "BOOKCLUB", "quantity": 1}],
    },
    {
        "customerId": "Q3VzdG9tZXI6MQ==",
        "shipToAddressId": "QWRkcmVzczox",
        "paymentMethodId": "UGF5bWVudE1ldGhvZDox",
        "lines": [LINE, {"sku": "X", "paymentScheduleId": "UGF5bWVudFNjaGVkdWxlOjE="}],
        "orderDate": datetime.date(2027, 1, 31),
        "idempotencyKey": "k-1",
    },
    {
        "customerId": "1",
        "shipToAddressId": "2",
        "paymentMethodId": "3",
        "lines": [],
        "orderDate": None,
        "idempotencyKey": None,
    },
]


def _definition(cls: type) -> Any:
    return getattr(cls, "__strawberry_definition__")  # noqa: B009 (not typed)


def _convert(value: dict[str, Any]) -> Any:
    return convert_argument(
        value,
        PlaceSalesOrderInput,
        schema.schema_converter.scalar_registry,
        schema.config,
        None,
        path=("input",),
    )


@pytest.fixture
def strawberrys_own() -> Iterator[None]:
    """Strawberry's conversion, the quick hook taken off for the test."""
    definitions = [_definition(t) for t in (PlaceSalesOrderInput, OrderLineInput)]
    hooks = [d.from_input for d in definitions]
    for definition in definitions:
        definition.from_input = None
    yield
    for definition, hook in zip(definitions, hooks, strict=True):
        definition.from_input = hook


@pytest.mark.parametrize("value", VALUES)
def test_the_objects_are_those_strawberry_builds(
    value: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    assert _definition(PlaceSalesOrderInput).from_input is not None
    quick = _convert(value)
    request.getfixturevalue("strawberrys_own")
    assert _definition(PlaceSalesOrderInput).from_input is None
    own = _convert(value)
    assert quick == own
    assert [type(line) for line in quick.lines] == [OrderLineInput] * len(value["lines"])


def test_a_type_with_maybe_fields_is_refused() -> None:
    @strawberry.input
    class WithMaybe:
        note: Maybe[str]

    with pytest.raises(TypeError, match="Maybe"):
        quick_input(WithMaybe)
