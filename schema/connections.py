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
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar, cast

import strawberry
from graphql import GraphQLError, GraphQLObjectType, GraphQLResolveInfo
from strawberry import relay
from strawberry.annotation import StrawberryAnnotation
from strawberry.extensions.field_extension import (
    AsyncExtensionResolver,
    FieldExtension,
    SyncExtensionResolver,
)
from strawberry.relay.types import NodeType
from strawberry.schema.name_converter import NameConverter
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.field import StrawberryField
from strawberry.types.nodes import SelectedField, Selection
from tortoise.models import Model
from tortoise.queryset import QuerySet

from continuity import keyset
from continuity.errors import ErrorCode
from schema.context import Info
from schema.loaders import Loaders

DEFAULT_PAGE = 20
MAX_PAGE = 100

M = TypeVar("M", bound=Model)
N = TypeVar("N")


@strawberry.type(
    name="Connection",
    description="One page of a list (a Relay connection): its items with their cursors, "
    "where the page is, and how long the whole list is.",
)
class Connection(Generic[NodeType]):
    """A Relay connection whose ``nodes`` are a plain list and whose cursors are made only when
    ``edges`` or ``pageInfo`` is selected: a resolver per field and a cursor per row were most
    of what a list page cost beyond GraphQL execution itself."""

    _rows: strawberry.Private[list[Any]]
    _ordering: strawberry.Private[keyset.Ordering]
    _kind: strawberry.Private[str]
    _has_next: strawberry.Private[bool]
    _has_previous: strawberry.Private[bool]
    _total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Pagination data for this connection")
    def page_info(self) -> relay.PageInfo:
        rows = self._rows
        return relay.PageInfo(
            has_next_page=self._has_next,
            has_previous_page=self._has_previous,
            start_cursor=self._cursor(rows[0]) if rows else None,
            end_cursor=self._cursor(rows[-1]) if rows else None,
        )

    @strawberry.field(description="Contains the nodes in this connection")
    def edges(self) -> list[relay.Edge[NodeType]]:
        return [
            relay.Edge(cursor=self._cursor(row), node=node)
            for row, node in zip(self._rows, self.nodes, strict=True)
        ]

    def _cursor(self, row: Any) -> str:
        return encode_cursor(self._kind, self._ordering.key(row))

    @strawberry.field(description="How many items the whole list holds, ignoring paging.")
    async def total_count(self) -> int:
        return await self._total()

    nodes: list[NodeType] = strawberry.field(
        description="The page's items: `edges { node }` without the cursors."
    )


class PageArgs(NamedTuple):
    """A connection field's page arguments: a tuple, because a read-ahead page is found by
    them once per node (a frozen dataclass cost ~2 µs to make and hash)."""

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
    nodes: list[Any],
    total: Callable[[], Awaitable[int]],
) -> Connection[Any]:
    return Connection(
        nodes=nodes,
        _rows=page.rows,
        _ordering=ordering,
        _kind=kind,
        _has_next=page.has_next,
        _has_previous=page.has_previous,
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
        nodes = [self.node(row) for row in page.rows]
        return build(kind, self.ordering, page, nodes, self.query.count)


@dataclass
class RelationPager(Generic[M, N]):
    """A child list: the rows of ``relation`` belonging to ``parent``."""

    relation: keyset.Relation[M]
    parent: int
    #: Builds a node from its row, and the values of the relation's ``joined`` columns read
    #: with it, if it has any (``node(row, *values)``): the nodes' fields that show other
    #: tables then resolve without an await each.
    node: Callable[..., N]

    def _total(self, info: Info) -> Callable[[], Awaitable[int]]:
        loaders = info.context.loaders

        async def total() -> int:
            return await loaders.count(self.relation).load(self.parent)

        return total

    def _build(self, info: Info, page: keyset.Page[M]) -> Connection[Any]:
        relation, node = self.relation, self.node
        if relation.joined is None:
            nodes = [node(row) for row in page.rows]
        else:
            nodes = [node(row, *values) for row, values in zip(page.rows, page.joined, strict=True)]
        return build(relation.model.__name__, relation.ordering, page, nodes, self._total(info))

    async def connection(self, info: Info, args: PageArgs) -> Connection[Any]:
        model = self.relation.model
        page = await info.context.loaders.page(self.relation).load(
            (self.parent, window(model.__name__, model, self.relation.ordering, args))
        )
        return self._build(info, page)


def prefetched(
    loaders: Loaders, paging: Paging, source: Any, args: PageArgs
) -> Connection[Any] | None:
    """The page of ``source``'s list that its level read ahead (``prefetch``), else None.
    Kept by the node itself, so its field answers without calling its resolver again; the
    entry holds the node, so no other object can take its ``id`` during the request."""
    kept = loaders.connections.get((paging, id(source), args))
    return kept[1] if kept is not None and kept[0] is source else None


async def _prefetch_relation(
    info: Info,
    paging: Paging,
    nodes: list[Any],
    pagers: list[RelationPager[Any, Any]],
    args: PageArgs,
) -> list[Connection[Any]]:
    """The pages of one child list for every parent of a level, in one statement; each page
    is kept for its field's resolver."""
    first = pagers[0]
    model = first.relation.model
    try:
        frame = window(model.__name__, model, first.relation.ordering, args)
    except GraphQLError:
        return []  # the field's own resolver reports it, at its place in the answer
    found = await keyset.pages(first.relation, [pager.parent for pager in pagers], frame)
    kept = info.context.loaders.connections
    built = []
    for node, pager in zip(nodes, pagers, strict=True):
        connection = pager._build(info, found[pager.parent])
        kept[(paging, id(node), args)] = (node, connection)
        built.append(connection)
    return built


def _included(selection: Selection) -> bool:
    directives = selection.directives or {}
    if "skip" in directives and directives["skip"].get("if"):
        return False
    return not ("include" in directives and not directives["include"].get("if"))


def _fields(selections: list[Selection]) -> Iterator[SelectedField]:
    """The fields selected, fragments flattened: on a list of one concrete type (what
    ``prefetch`` reads ahead for), every fragment that passed validation applies; at worst a
    field of the same name on another type is read ahead for nothing."""
    for selection in selections:
        if not _included(selection):
            continue
        if isinstance(selection, SelectedField):
            yield selection
        else:
            yield from _fields(selection.selections)


def _node_selections(connection: list[Selection]) -> list[Selection]:
    """What a connection's selection asks of its nodes (``nodes`` and ``edges { node }``)."""
    found: list[Selection] = []
    for selected in _fields(connection):
        if selected.name == "nodes":
            found.extend(selected.selections)
        elif selected.name == "edges":
            for edge_field in _fields(selected.selections):
                if edge_field.name == "node":
                    found.extend(edge_field.selections)
    return found


#: Per node class: its child lists that a level can read for all its nodes at once (connection
#: fields whose resolver takes nothing but the object), by GraphQL name.
_CHILD_LISTS: dict[type, dict[str, tuple[StrawberryField, Paging]]] = {}


def _child_lists(converter: NameConverter, cls: type) -> dict[str, tuple[StrawberryField, Paging]]:
    found = _CHILD_LISTS.get(cls)
    if found is None:
        found = {}
        definition = getattr(cls, "__strawberry_definition__", None)
        for field in definition.fields if definition is not None else []:
            resolver = field.base_resolver
            paging = next((e for e in field.extensions if isinstance(e, Paging)), None)
            if (
                paging is not None
                and resolver is not None
                and not resolver.is_async
                and not resolver.arguments
                and resolver.info_parameter is None
            ):
                found[converter.from_field(field)] = (field, paging)
        _CHILD_LISTS[cls] = found
    return found


def _page_args(arguments: dict[str, Any]) -> PageArgs:
    """The page arguments of a selected field: a literal comes as its text (validation has
    checked its type), a variable's value as coerced."""
    sizes = {
        name: int(arguments[name]) if arguments.get(name) is not None else None
        for name in ("first", "last")
    }
    return PageArgs(after=arguments.get("after"), before=arguments.get("before"), **sizes)


async def prefetch(info: Info, nodes: list[Any], selections: list[Selection]) -> None:
    """Read the child lists selected on a page's nodes for all of them at once, then theirs.

    Without it each node's list is an awaited resolver of its own: batched by the loaders
    into one statement, but an await, a task and a DataLoader round per node, most of a list
    page's cost. The pages read here are kept (``Loaders.connections``) and the child fields'
    resolvers return them without an await; a field this cannot read ahead (its resolver
    needs arguments, or its arguments are wrong) resolves on its own as before.
    """
    if not nodes or len({type(node) for node in nodes}) != 1:
        return
    cls = type(nodes[0])
    lists = _child_lists(info.schema.config.name_converter, cls)
    if not lists:
        return
    for selected in _fields(selections):
        found = lists.get(selected.name)
        if found is None or not set(selected.arguments) <= _PAGE_ARGUMENTS:
            continue
        field, paging = found
        args = _page_args(selected.arguments)
        resolve = cast(Callable[[Any], Any], field.base_resolver.wrapped_func)  # type: ignore[union-attr]
        pagers = [resolve(node) for node in nodes]
        if not all(
            isinstance(pager, RelationPager) and pager.relation == pagers[0].relation
            for pager in pagers
        ):
            continue
        connections = await _prefetch_relation(info, paging, nodes, pagers, args)
        children = [child for connection in connections for child in connection.nodes]
        await prefetch(info, children, _node_selections(selected.selections))


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
_PAGE_ARGUMENTS = frozenset(name for name, _, _ in _ARGUMENTS)


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

    def resolve(
        self,
        next_: SyncExtensionResolver,
        source: Any,
        info: strawberry.Info,
        *,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        **kwargs: Any,
    ) -> Any:
        args = PageArgs(first=first, after=after, last=last, before=before)
        ready = prefetched(info.context.loaders, self, source, args)
        return (
            ready
            if ready is not None
            else self._page(next_(source, info, **kwargs), cast(Info, info), args)
        )

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
        args = PageArgs(first=first, after=after, last=last, before=before)
        return await self._page(next_(source, info, **kwargs), cast(Info, info), args)

    async def _page(self, pager: Any, info: Info, args: PageArgs) -> Connection[Any]:
        if inspect.isawaitable(pager):
            pager = await pager
        connection = await cast(Pager, pager).connection(info, args)
        nodes = connection.nodes
        # the selection is converted only for nodes that have child lists to read ahead
        if nodes and _child_lists(info.schema.config.name_converter, type(nodes[0])):
            asked = [selection for field in info.selected_fields for selection in field.selections]
            await prefetch(info, nodes, _node_selections(asked))
        return connection


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


def install(schema: strawberry.Schema) -> None:
    """Child lists that ``prefetch`` can read ahead answer the page it read directly from
    graphql-core: Strawberry converts a field's arguments on every call (about 70 µs for the
    four page arguments), 50 times for a page of orders with their lines. Anything not read
    ahead goes to the field's Strawberry resolver as before."""
    converter = schema.config.name_converter
    for name, graphql_type in schema._schema.type_map.items():
        origin = getattr(schema.get_type_by_name(name), "origin", None)
        if not isinstance(graphql_type, GraphQLObjectType) or not isinstance(origin, type):
            continue
        for field_name, (_field, paging) in _child_lists(converter, origin).items():
            graphql_field = graphql_type.fields[field_name]
            graphql_field.resolve = _read_ahead(paging, graphql_field.resolve)


def _read_ahead(paging: Paging, slow: Any) -> Any:
    def resolve(source: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        if kwargs.keys() <= _PAGE_ARGUMENTS:
            ready = prefetched(info.context.loaders, paging, source, PageArgs(**kwargs))
            if ready is not None:
                return ready
        return slow(source, info, **kwargs)

    return resolve
