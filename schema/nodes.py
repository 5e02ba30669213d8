"""Global object identification (Relay): every entity is a ``Node`` with an opaque global id,
and ``node(id:)`` / ``nodes(ids:)`` load any of them.

An entity type registers the table it is read from and the path to its customer
(``@entity(models.X, owner=...)``). Every load of an entity, by ``node``, by a look-up or by a
link from another object, goes through the request's scoped loader
(``schema.loaders.Loaders.node``): the caller's role must be allowed to read the type
(``schema.access.NODE_POLICY``) and a ``customer`` token sees its own objects only. Anything
else loads as null, so a hidden object and a missing one look the same.

``node`` is declared here rather than with ``relay.node()``: it is nullable (one hidden id does
not null the whole answer), a malformed id is an ``INVALID_INPUT`` error on the argument, and
the root type can back more than one schema (``relay.node()`` cannot).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Self, TypeVar, cast

import strawberry
from graphql import GraphQLError
from strawberry import relay
from tortoise.models import Model

from continuity.errors import ErrorCode
from schema.context import Info
from schema.ids import MAX_PK, parse_global_id

#: At most this many ids in one ``nodes`` call.
MAX_NODES = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Source:
    model: type[Model]
    #: The filter path from the row to its customer's id (None: shared data).
    owner: str | None
    build: Callable[[Any], Any]


#: GraphQL type name → (entity class, where its rows come from).
ENTITIES: dict[str, tuple[type[Entity], Source]] = {}


class Entity(relay.Node):
    """Base of every entity type: loading by primary key, as the caller may see it."""

    @classmethod
    def type_name(cls) -> str:
        return str(cls.__strawberry_definition__.name)  # type: ignore[attr-defined]

    @classmethod
    def source(cls) -> Source:
        return ENTITIES[cls.type_name()][1]

    @classmethod
    async def load_many(cls, info: Info, pks: Sequence[int]) -> list[Self | None]:
        source = cls.source()
        loader = info.context.loaders.node(cls.type_name(), source.model, source.owner)
        rows = await loader.load_many(list(pks))
        return [cast(Self, source.build(row)) if row is not None else None for row in rows]

    @classmethod
    async def load(cls, info: Info, pk: int | None) -> Self | None:
        """The object, or None when there is none or the caller may not see it."""
        if pk is None:
            return None
        return (await cls.load_many(info, [pk]))[0]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Sequence[str], required: bool = False
    ) -> list[Self | None]:
        pks = [int(i) for i in node_ids if str(i).isdigit()]
        if len(pks) != len(node_ids):
            return [None] * len(node_ids)
        return await cls.load_many(info, pks)


def entity(model: type[Model], *, owner: str | None) -> Callable[[type[T]], type[T]]:
    """Register an entity type (apply it above ``@strawberry.type``)."""

    def register(cls: type[T]) -> type[T]:
        entity_cls = cast(type[Entity], cls)
        ENTITIES[entity_cls.type_name()] = (
            entity_cls,
            Source(model=model, owner=owner, build=cls.from_row),  # type: ignore[attr-defined]
        )
        return cls

    return register


def present(obj: T | None) -> T:
    """A link that is always there for whoever may read its source: the types of one
    customer's data are read by the same roles (``schema.access.NODE_POLICY``), shared data by
    all."""
    assert obj is not None, "a link hidden from a caller who sees its source"
    return obj


def _invalid(message: str, field: list[str]) -> GraphQLError:
    return GraphQLError(message, extensions={"code": ErrorCode.INVALID_INPUT.value, "field": field})


def _target(value: str, field: list[str]) -> tuple[type[Entity], int]:
    parsed = parse_global_id(value)
    if parsed is None or parsed[0] not in ENTITIES:
        raise _invalid("not a global id", field)
    type_name, pk = parsed
    return ENTITIES[type_name][0], pk


async def _load(info: Info, targets: list[tuple[type[Entity], int]]) -> list[relay.Node | None]:
    by_type: dict[type[Entity], list[int]] = defaultdict(list)
    for cls, pk in targets:
        if 0 < pk <= MAX_PK:
            by_type[cls].append(pk)
    found: dict[tuple[type[Entity], int], relay.Node | None] = {}
    for cls, pks in by_type.items():
        for pk, obj in zip(pks, await cls.load_many(info, pks), strict=True):
            found[(cls, pk)] = obj
    return [found.get(target) for target in targets]


@strawberry.type
class NodeQueries:
    @strawberry.field(
        description="Any object by its global id; null when there is none or the caller may "
        "not see it."
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> relay.Node | None:
        return (await _load(info, [_target(id, ["id"])]))[0]

    @strawberry.field(
        description="Objects by their global ids, in the same order; null for each one that "
        "does not exist or that the caller may not see."
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="Global ids (at most 100).")
        ],
    ) -> list[relay.Node | None]:
        if len(ids) > MAX_NODES:
            raise _invalid(f"at most {MAX_NODES} ids", ["ids"])
        return await _load(info, [_target(v, ["ids", str(i)]) for i, v in enumerate(ids)])
