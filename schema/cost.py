"""What a query may cost, computed from its document before anything runs.

The cost is the most objects the query can return: each object-typed field counts 1 for every
time it can be resolved, and a list multiplies what is under it by how long it can be:

- a connection (``…Connection``): its ``edges`` and ``nodes`` by the page asked for, ``last``
  or ``first`` (default ``DEFAULT_PAGE``, 20); ``pageInfo`` and ``totalCount`` once;
- a projection with ``count`` (``upcomingShipments``, ``programPreview``): by ``count``;
- ``nodes(ids:)``: by the number of ids;
- other lists (a sales order's lines, a schedule's installments) are short and count once.

Scalars and ``__typename`` are free. Over ``service.max_query_cost`` the operation is refused
with ``QUERY_TOO_COSTLY`` and ``extensions.cost`` / ``extensions.maxCost``, before any
resolver runs (docs/API.md, "Query cost"). Aliases count as the fields they repeat: 30 aliases
of 100 orders with their lines cost 30 × 2,201.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    VariableNode,
    get_named_type,
    get_nullable_type,
)
from strawberry.extensions import SchemaExtension

from schema.connections import DEFAULT_PAGE
from schema.documents import operation_to_run

#: The limit when the context carries no settings (the service's: ``max_query_cost``).
DEFAULT_MAX_COST = 25_000
PAGED = frozenset({"edges", "nodes"})

Composite = GraphQLObjectType | GraphQLInterfaceType


def _fields(
    selection_set: SelectionSetNode,
    parent: GraphQLNamedType,
    schema: GraphQLSchema,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> Iterator[tuple[FieldNode, GraphQLNamedType]]:
    """(field, the type it is selected on), through fragments."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection, parent
            continue
        if isinstance(selection, InlineFragmentNode):
            fragment_set, condition = selection.selection_set, selection.type_condition
        elif isinstance(selection, FragmentSpreadNode):
            definition = fragments.get(selection.name.value)
            if definition is None:
                continue
            fragment_set, condition = definition.selection_set, definition.type_condition
        else:  # pragma: no cover
            continue
        on = schema.get_type(condition.name.value) if condition else parent
        yield from _fields(fragment_set, on or parent, schema, fragments)


def _argument(node: FieldNode, name: str, variables: Mapping[str, Any]) -> Any:
    for argument in node.arguments or ():
        if argument.name.value == name:
            value = argument.value
            if isinstance(value, VariableNode):
                return variables.get(value.name.value, Undefined)
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, ListValueNode):
                return value.values
            return Undefined
    return Undefined


def _count(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return max(value, 0)


class Costing:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def selection(self, selection_set: SelectionSetNode, parent: GraphQLNamedType) -> int:
        total = 0
        is_connection = parent.name.endswith("Connection")
        for node, on in _fields(selection_set, parent, self.schema, self.fragments):
            total += self.field(node, on, self.page if is_connection else None)
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType, page: int | None) -> int:
        if not isinstance(parent, Composite) or node.name.value not in parent.fields:
            return 0  # __typename, or a field validation has already refused
        definition = parent.fields[node.name.value]
        named = get_named_type(definition.type)
        if not isinstance(named, Composite) and not hasattr(named, "types"):
            return 0  # a scalar or an enum
        times = 1
        if page is not None and node.name.value in PAGED:
            times = page
        elif isinstance(get_nullable_type(definition.type), GraphQLList):
            if "count" in definition.args:
                default = definition.args["count"].default_value
                times = _count(_argument(node, "count", self.variables), _count(default, 1))
            elif "ids" in definition.args:
                ids = _argument(node, "ids", self.variables)
                times = len(ids) if isinstance(ids, list | tuple) else 1
        below = 0
        if node.selection_set is not None:
            saved = self.page
            if named.name.endswith("Connection"):
                last = _argument(node, "last", self.variables)
                first = _argument(node, "first", self.variables)
                self.page = _count(last, _count(first, DEFAULT_PAGE))
            below = self.selection(node.selection_set, named)
            self.page = saved
        return times * (1 + below)

    page: int = DEFAULT_PAGE


class _Recorded(Mapping[str, Any]):
    """The variables, recording which ones the costing reads (``operation_cost``)."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self.variables = variables
        self.names: dict[str, None] = {}

    def __getitem__(self, name: str) -> Any:
        self.names[name] = None
        return self.variables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.variables)

    def __len__(self) -> int:
        return len(self.variables)


def _variable_key(value: Any) -> Any:
    """What of a variable's value the cost depends on: a list's length, an integer."""
    if isinstance(value, list | tuple):
        return ("length", len(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


#: Costs of the operations a process has seen (``operation_cost``), by operation.
COST_CACHE_SIZE = 256
#: The variables' values kept per operation (a page size, a number of ids).
COSTS_PER_OPERATION = 64
_Entry = tuple[OperationDefinitionNode, GraphQLSchema, tuple[str, ...], dict[tuple[Any, ...], int]]
_costs: OrderedDict[int, _Entry] = OrderedDict()


def operation_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    """The operation's cost, computed once per operation and values of the variables it
    depends on: a parsed document is the same object for every request of the same text
    (``ParserCache``), and the walk over it, nine fields for a placement, was most of what this
    check cost. Which variables the walk reads depends on the document alone."""
    entry = _costs.get(id(operation))
    if entry is not None and entry[0] is operation and entry[1] is schema:
        key = tuple(_variable_key(variables.get(name, Undefined)) for name in entry[2])
        found = entry[3].get(key)
        if found is not None:
            _costs.move_to_end(id(operation))
            return found
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    if root is None:
        return 0
    recorded = _Recorded(variables)
    cost = Costing(schema, fragments, recorded).selection(operation.selection_set, root)
    names = tuple(recorded.names)
    if entry is None or entry[0] is not operation or entry[1] is not schema:
        # the entry holds the operation: its id stays its own while it is cached
        entry = (operation, schema, names, {})
        _costs[id(operation)] = entry
        while len(_costs) > COST_CACHE_SIZE:
            _costs.popitem(last=False)
    if len(entry[3]) < COSTS_PER_OPERATION:
        entry[3][tuple(_variable_key(variables.get(name, Undefined)) for name in names)] = cost
    return cost


def too_costly(cost: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"this query would cost {cost}, over the limit of {limit}: ask for smaller pages "
        "or fewer nested lists (docs/API.md, Query cost)",
        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "maxCost": limit},
    )


class QueryCost(SchemaExtension):
    """Refuses, before execution, an operation over the cost limit."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        found = operation_to_run(ctx)
        if found is not None:
            operation, fragments = found
            settings = getattr(ctx.context, "settings", None)
            limit = settings.service.max_query_cost if settings else DEFAULT_MAX_COST
            cost = operation_cost(ctx.schema._schema, operation, fragments, ctx.variables or {})
            if cost > limit:
                error = too_costly(cost, limit)
                if operation.operation is OperationType.SUBSCRIPTION:
                    raise error  # as in schema.access: a subscription is refused by raising
                ctx.result = ExecutionResult(data=None, errors=[error])
        yield
