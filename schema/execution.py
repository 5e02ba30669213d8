"""How graphql-core executes the product's operations: the leaves whose value the object
already holds are answered without graphql-core's per-field machinery.

graphql-core resolves every field alike: a ``Path``, a ``GraphQLResolveInfo`` (a tuple of 14
values), the resolver's call, an awaitable check, and four type tests before a scalar is
coerced. For a leaf that reads an attribute that is most of its cost, and the agent's order
list (50 orders and their 150 lines) has ~1,600 such leaves a page: a third of its CPU went
to that machinery. A leaf registered by ``schema.direct`` (a plain attribute, a node's global
id: a value of the object alone, with no arguments) is answered here inside
``execute_fields``: its value read and coerced by its type. Anything else goes through
graphql-core's own ``execute_field``, as does a leaf whose value is not a plain answer (null
on a non-null field, a value the object does not know, an exception, a value its type refuses):
graphql-core resolves it again and answers or reports it, with its path, as before. Reading
again is safe: these values are attribute reads or functions of the object alone. The answers
are the same either way (``tests/test_execution.py``, and over HTTP
``tests/api/test_read_ahead_api.py``).

A schema extension that wraps resolvers (a graphql-core middleware) sees every field: with one
in place nothing is answered here.

Awaitable checks: graphql-core asks of every resolver's result whether it is awaitable; for an
object (a node, a date, an enum member) Strawberry's check ends in ``hasattr(value,
"__await__")``, a failed attribute look-up. ``is_awaitable`` remembers the classes that are
not awaitable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import CoroutineType, GeneratorType
from typing import Any, NamedTuple, TypeGuard

from graphql import GraphQLLeafType, GraphQLNonNull, GraphQLObjectType, is_leaf_type
from graphql.pyutils import AwaitableOrValue, Path, Undefined, gather_with_cancel
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

#: A value function's answer when the object does not know the value: graphql-core resolves it.
UNKNOWN: Any = object()


class Leaf(NamedTuple):
    """A leaf field answered in ``execute_fields``."""

    #: The value of the field for its object, or ``UNKNOWN``.
    value: Callable[[Any], Any]
    type: GraphQLLeafType
    non_null: bool


#: The attribute of an object type holding its leaves answered directly, by field name
#: (``register``): kept by the type, so it goes with its schema.
_LEAVES = "continuity_leaves"


def register(graphql_type: GraphQLObjectType, field_name: str, value: Callable[[Any], Any]) -> None:
    """Answer ``graphql_type.field_name`` with ``value(obj)`` when its type is a leaf type (a
    field of an object type keeps graphql-core's path)."""
    field = graphql_type.fields[field_name]
    assert not field.args, f"{graphql_type.name}.{field_name} takes arguments"
    field_type = field.type
    non_null = isinstance(field_type, GraphQLNonNull)
    leaf_type = field_type.of_type if non_null else field_type
    if is_leaf_type(leaf_type):
        leaves = vars(graphql_type).setdefault(_LEAVES, {})
        leaves[field_name] = Leaf(value, leaf_type, non_null)


#: Classes whose instances are never awaitable (``is_awaitable``), found as values come.
_NOT_AWAITABLE: set[type] = set()
#: Enough for every class a schema's values can be: beyond it nothing more is remembered.
_MAX_CLASSES = 1_000


def is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    """Strawberry's ``optimized_is_awaitable``, with the classes found not awaitable
    remembered: an instance is awaitable through its class (``await`` looks ``__await__`` up
    on the type), so the class tells. A class with ``__getattr__`` may answer ``hasattr``
    per instance and is asked every time."""
    cls = type(value)
    if cls in _NOT_AWAITABLE:
        return False
    if optimized_is_awaitable(value):
        return True
    if (
        len(_NOT_AWAITABLE) < _MAX_CLASSES
        and not issubclass(cls, CoroutineType | GeneratorType)
        and not hasattr(cls, "__await__")
        and not hasattr(cls, "__getattr__")
    ):
        _NOT_AWAITABLE.add(cls)
    return False


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with the direct leaves and the remembered classes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_awaitable = is_awaitable
        manager = self.middleware_manager
        self._direct = not (manager is not None and manager.middlewares)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """graphql-core's ``execute_fields`` (3.3), with the direct leaves answered in its
        loop; the rest of it is graphql-core's, line for line."""
        leaves = vars(parent_type).get(_LEAVES) if self._direct else None
        if leaves is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        append_awaitable = awaitable_fields.append
        try:
            for response_name, field_details_list in grouped_field_set.items():
                node = field_details_list[0].node
                leaf = leaves.get(node.name.value)
                if leaf is not None and not node.arguments:
                    answered = _answer(leaf, source_value)
                    if answered is not UNKNOWN:
                        results[response_name] = answered
                        continue
                field_path = Path(path, response_name, parent_type.name)
                result = self.execute_field(
                    parent_type, source_value, field_details_list, field_path, position_context
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        append_awaitable(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._awaited(results, awaitable_fields)

    async def _awaited(self, results: dict[str, Any], awaitable_fields: list[str]) -> Any:
        """The fields' results with their awaitables awaited (graphql-core's
        ``get_results``)."""
        if len(awaitable_fields) == 1:
            field = awaitable_fields[0]
            results[field] = await results[field]
        else:
            awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
            results.update(zip(awaitable_fields, awaited, strict=True))
        return results


def _answer(leaf: Leaf, source: Any) -> Any:
    """The leaf's completed value, or ``UNKNOWN`` when graphql-core must resolve it."""
    try:
        value = leaf.value(source)
        if value is None or value is Undefined:
            return UNKNOWN if leaf.non_null else None
        if value is UNKNOWN:
            return UNKNOWN
        coerced = leaf.type.coerce_output_value(value)
    except Exception:
        return UNKNOWN
    return UNKNOWN if coerced is None or coerced is Undefined else coerced
