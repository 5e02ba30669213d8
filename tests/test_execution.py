"""``schema.execution``: leaves answered inside ``execute_fields`` must give what graphql-core's
own path gives, errors and their paths included, and step aside for a resolver middleware."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import strawberry
from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from continuity.enums import ContinuityLineStatus
from schema import direct
from schema.execution import ExecutionContext, is_awaitable


@strawberry.type
class Item:
    name: str
    note: str | None
    status: ContinuityLineStatus
    size: int

    @property
    def broken(self) -> str:
        raise RuntimeError("no such thing")

    @strawberry.field
    def fails(self) -> str:
        return self.broken


@strawberry.type
class Box:
    label: str
    items: list[Item]


BOXES = [
    Box(
        label="one",
        items=[
            Item(name="a", note=None, status=ContinuityLineStatus.PENDING, size=1),
            Item(name="b", note="x", status=ContinuityLineStatus.RELEASED, size=2),
        ],
    ),
    # a null in a non-null field, and an Int out of range
    Box(
        label="two",
        items=[
            Item(name=None, note="y", status=ContinuityLineStatus.CANCELLED, size=3),  # type: ignore[arg-type]
            Item(name="d", note=None, status=ContinuityLineStatus.PENDING, size=2**40),
        ],
    ),
    # an attribute that cannot be read
    Box(
        label="three", items=[Item(name="e", note="z", status=ContinuityLineStatus.PENDING, size=5)]
    ),
]
del BOXES[2].items[0].note


@strawberry.type
class Query:
    @strawberry.field
    def boxes(self) -> list[Box]:
        return BOXES


def _schema(context: type[StrawberryGraphQLCoreExecutionContext], **kwargs: Any) -> Any:
    built = strawberry.Schema(query=Query, execution_context_class=context, **kwargs)
    direct.install(built, registered=False)
    return built


def _run(built: Any, query: str) -> dict[str, Any]:
    result = asyncio.run(built.execute(query))
    return {
        "data": result.data,
        "errors": sorted(
            ((error.message, tuple(error.path or ())) for error in result.errors or ()), key=str
        ),
    }


QUERIES = [
    "{ boxes { label items { name note status size } } }",
    # aliases, the same field twice, __typename, fragments and directives
    """query { boxes { l: label label items { ...F n: name note @skip(if: true)
                 status @include(if: false) __typename } } }
       fragment F on Item { size name }""",
    "{ boxes { items { fails name } } }",
    "{ boxes { label items { note } } }",
]


@pytest.mark.parametrize("query", QUERIES)
def test_an_answer_is_graphql_cores_own(query: str) -> None:
    ours = _run(_schema(ExecutionContext), query)
    theirs = _run(_schema(StrawberryGraphQLCoreExecutionContext), query)
    assert ours == theirs
    assert ours["data"] is not None or ours["errors"]


@pytest.mark.parametrize(
    ("leaf", "path", "message"),
    [
        ("name", ("boxes", 1, "items", 0, "name"), "Cannot return null for non-nullable field"),
        ("size", ("boxes", 1, "items", 1, "size"), "Int cannot represent non 32-bit signed"),
    ],
)
def test_a_leaf_that_cannot_answer_is_reported_at_its_path(
    leaf: str, path: tuple[Any, ...], message: str
) -> None:
    found = _run(_schema(ExecutionContext), f"{{ boxes {{ items {{ {leaf} }} }} }}")
    assert [error_path for _message, error_path in found["errors"]] == [path]
    assert found["errors"][0][0].startswith(message)
    assert found["data"] is None  # the error propagates up to the non-null list


def test_a_resolver_middleware_sees_every_leaf() -> None:
    seen: list[str] = []

    class Watch(SchemaExtension):
        def resolve(
            self,
            _next: Callable[..., Any],
            root: Any,
            info: GraphQLResolveInfo[Any],
            *args: str,
            **kwargs: Any,
        ) -> Awaitable[object] | object:
            seen.append(info.field_name)
            answer: object = _next(root, info, *args, **kwargs)
            return answer

    built = _schema(ExecutionContext, extensions=[Watch])
    found = _run(built, "{ boxes { label items { note } } }")
    assert len(found["errors"]) == 1  # the note that cannot be read
    assert seen.count("label") == 3
    assert seen.count("note") == 5


def test_the_leaves_skip_graphql_cores_resolve_info() -> None:
    built: list[str] = []

    class Counting(ExecutionContext):
        def build_resolve_info(self, *args: Any, **kwargs: Any) -> Any:
            info = super().build_resolve_info(*args, **kwargs)
            built.append(info.field_name)
            return info

    found = _run(_schema(Counting), "{ boxes { label items { note status } } }")
    # the one note that cannot be read went through graphql-core's own path
    assert found["errors"] == [
        ("'Item' object has no attribute 'note'", ("boxes", 2, "items", 0, "note"))
    ]
    assert built == ["boxes", "items", "items", "items", "note"]


class Lazy:
    def __getattr__(self, name: str) -> Any:
        return name


class Plain:
    pass


def test_is_awaitable_remembers_plain_classes_only() -> None:
    async def coroutine() -> None:
        return None

    pending = coroutine()
    awaitable = is_awaitable(pending)
    pending.close()
    assert awaitable
    assert not is_awaitable(Plain())
    assert not is_awaitable(Plain())
    # ``hasattr`` answers per instance for a class with ``__getattr__``: asked every time
    assert is_awaitable(Lazy())
    assert is_awaitable(Lazy())

    class Later:
        def __await__(self) -> Any:
            return iter(())

    assert is_awaitable(Later())


async def _items() -> AsyncIterator[int]:
    yield 1


def test_an_async_generator_is_not_awaitable() -> None:
    assert not is_awaitable(_items())
