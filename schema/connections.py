"""Relay connections over keyset pages: every list that can grow is one.

A connection field takes ``first``/``after`` (forwards) or ``last``/``before`` (backwards) and
answers ``edges { cursor node }``, ``nodes``, ``pageInfo`` and ``totalCount``. Its resolver
returns a *pager* (what to list and in which order); ``Paging`` reads the arguments and asks
the pager for the page:

- ``QueryPager``: a root list (a Tortoise query): ``continuity.keyset.page``.
- ``RelationPager``: a child list (an order's lines): batched for every parent of the same
  level through ``Loaders.page`` (``continuity.keyset.pages``), one statement per level.

Cursors are opaque: base64 of ``<list>:<the row's sort key as JSON>``. ``totalCount`` runs its
``COUNT`` only when selected.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, cast

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.annotation import StrawberryAnnotation
from strawberry.extensions.field_extension import AsyncExtensionResolver, FieldExtension
from strawberry.relay.types import NodeType
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.field import StrawberryField
from tortoise.models import Model
from tortoise.queryset import QuerySet

from continuity import keyset
from continuity.errors import ErrorCode
from schema.context import Info

DEFAULT_PAGE = 20
MAX_PAGE = 100

M = TypeVar("M", bound=Model)
N = TypeVar("N")


@strawberry.type(
    name="Connection",
    description="One page of a list (a Relay connection): its items with their cursors, "
    "where the page is, and how long the whole list is.",
)
class Connection(relay.Connection[NodeType]):
    _total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items the whole list holds, ignoring paging.")
    async def total_count(self) -> int:
        return await self._total()

    @strawberry.field(description="The page's items: `edges { node }` without the cursors.")
    def nodes(self) -> list[NodeType]:
        return [edge.node for edge in self.edges]


@dataclass(frozen=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None


def _invalid(message: str, argument: str) -> GraphQLError:
    return GraphQLError(
        message, extensions={"code": ErrorCode.INVALID_INPUT.value, "field": [argument]}
    )


def encode_cursor(kind: str, key: keyset.Key) -> str:
    return relay.to_base64(kind, json.dumps([keyset.encode_value(v) for v in key]))


def decode_cursor(
    kind: str, model: type[Model], ordering: keyset.Ordering, cursor: str, argument: str
) -> keyset.Key:
    try:
        prefix, payload = relay.from_base64(cursor)
        if prefix != kind:
            raise ValueError(prefix)
        values = json.loads(payload)
        if not isinstance(values, list):
            raise ValueError(payload)
        return ordering.coerce(model, values)
    except (ValueError, TypeError):
        raise _invalid(f"not a cursor of this list: {argument}", argument) from None


def window(
    kind: str, model: type[Model], ordering: keyset.Ordering, args: PageArgs
) -> keyset.Window:
    """The page the arguments ask for, checked: ``first`` or ``last`` (not both), 0 to
    ``MAX_PAGE``; cursors of this list."""
    if args.first is not None and args.last is not None:
        raise _invalid("give first or last, not both", "last")
    for name, size in (("first", args.first), ("last", args.last)):
        if size is not None and not 0 <= size <= MAX_PAGE:
            raise _invalid(f"{name} must be 0 to {MAX_PAGE}", name)
    after = decode_cursor(kind, model, ordering, args.after, "after") if args.after else None
    before = decode_cursor(kind, model, ordering, args.before, "before") if args.before else None
    if args.last is not None:
        return keyset.Window(size=args.last, from_end=True, after=after, before=before)
    size = args.first if args.first is not None else DEFAULT_PAGE
    return keyset.Window(size=size, after=after, before=before)


def build(
    kind: str,
    ordering: keyset.Ordering,
    page: keyset.Page[M],
    node: Callable[[M], Any],
    total: Callable[[], Awaitable[int]],
) -> Connection[Any]:
    edges = [
        relay.Edge(cursor=encode_cursor(kind, ordering.key(row)), node=node(row))
        for row in page.rows
    ]
    return Connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _total=total,
    )


class Pager(Protocol):
    async def connection(self, info: Info, args: PageArgs) -> Connection[Any]: ...


@dataclass
class QueryPager(Generic[M, N]):
    """A root list: the rows of ``query`` in ``ordering``, each shown as ``node(row)``."""

    query: QuerySet[M]
    ordering: keyset.Ordering
    node: Callable[[M], N]

    async def connection(self, info: Info, args: PageArgs) -> Connection[Any]:
        model = self.query.model
        kind = model.__name__
        page = await keyset.page(
            self.query, self.ordering, window(kind, model, self.ordering, args)
        )
        return build(kind, self.ordering, page, self.node, self.query.count)


@dataclass
class RelationPager(Generic[M, N]):
    """A child list: the rows of ``relation`` belonging to ``parent``."""

    relation: keyset.Relation[M]
    parent: int
    node: Callable[[M], N]
    #: Reads what the page's nodes show of other tables (one batched load for every parent
    #: of the level, through the request's loaders) and returns the node builder that uses
    #: it: the nodes' fields then resolve without an await each.
    prepare: Callable[[Info, list[M]], Awaitable[Callable[[M], N]]] | None = None

    async def connection(self, info: Info, args: PageArgs) -> Connection[Any]:
        model = self.relation.model
        kind = model.__name__
        ordering = self.relation.ordering
        loaders = info.context.loaders
        page = await loaders.page(self.relation).load(
            (self.parent, window(kind, model, ordering, args))
        )
        node = self.node if self.prepare is None else await self.prepare(info, page.rows)

        async def total() -> int:
            return await loaders.count(self.relation).load(self.parent)

        return build(kind, ordering, page, node, total)


_ARGUMENTS = (
    (
        "first",
        int,
        "The first n items (after the cursor `after`, if given): 0 to 100; 20 when "
        "neither first nor last is given.",
    ),
    ("after", str, "A cursor (`edges.cursor`, `pageInfo.endCursor`): the page starts after it."),
    ("last", int, "The last n items (before the cursor `before`, if given): 0 to 100."),
    ("before", str, "A cursor (`edges.cursor`, `pageInfo.startCursor`): the page ends before it."),
)


class Paging(FieldExtension):
    """Adds ``first``/``after``/``last``/``before`` to a connection field and pages what its
    resolver returns (a ``Pager``)."""

    def apply(self, field: StrawberryField) -> None:
        field.arguments = [
            *field.arguments,
            *(
                StrawberryArgument(
                    python_name=name,
                    graphql_name=None,
                    type_annotation=StrawberryAnnotation(kind | None),
                    description=description,
                    default=None,
                )
                for name, kind, description in _ARGUMENTS
            ),
        ]

    async def resolve_async(
        self,
        next_: AsyncExtensionResolver,
        source: Any,
        info: strawberry.Info,
        *,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        **kwargs: Any,
    ) -> Any:
        pager = next_(source, info, **kwargs)
        if inspect.isawaitable(pager):
            pager = await pager
        return await cast(Pager, pager).connection(
            cast(Info, info), PageArgs(first=first, after=after, last=last, before=before)
        )


def connection(graphql_type: Any, *, description: str) -> Callable[[Any], Any]:
    """Declare a connection field: ``graphql_type`` is ``Connection[Node]``; the decorated
    resolver returns a ``Pager``."""

    def declare(resolver: Any) -> Any:
        field = StrawberryField(
            python_name=None,
            graphql_name=None,
            description=description,
            type_annotation=StrawberryAnnotation.from_annotation(graphql_type),
            extensions=[Paging()],
        )
        return field(resolver)

    return declare
