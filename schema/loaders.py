"""The per-request DataLoaders: one query per level of a GraphQL answer, never one per row.

- ``node``: objects by primary key, as the caller may see them (``schema.access.NODE_POLICY``):
  what the caller's role may not read, or another customer's object for a ``customer`` token,
  loads as ``None``, exactly like an id that names nothing. Every link from one object to
  another and every ``node``/``nodes`` look-up goes through it.
- ``page`` / ``count``: one page (and the size) of a child list for every parent asked for in
  the same tick (``continuity.keyset.pages``): an order's lines for 50 orders is one statement.
- the rest: the pieces of an object that are not objects themselves (a program's events, a
  schedule's lines).

Loaders are created per request (never module-level): a loader caches what it loaded, and a
long-lived one would serve stale rows and bind to the wrong event loop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from continuity import keyset, models
from continuity.access import Caller
from continuity.orders import timeline
from continuity.rows import select
from continuity.sql import by_ids
from resolvers.scope import customer_scope
from schema.access import Grant, node_grant

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
M = TypeVar("M", bound=Model)


def _grouped(
    fetch: Callable[[list[K]], Awaitable[Iterable[V]]], key: Callable[[V], K]
) -> DataLoader[K, list[V]]:
    """A loader of the rows belonging to each key, in the order the query returned them."""

    async def load(keys: list[K]) -> Sequence[list[V]]:
        groups: dict[K, list[V]] = defaultdict(list)
        for row in await fetch(keys):
            groups[key(row)].append(row)
        return [groups.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


async def _latest_versions(ids: list[int]) -> list[models.ProgramVersion]:
    rows = await models.ProgramVersion.filter(program_id__in=ids).order_by("program_id", "number")
    latest: dict[int, models.ProgramVersion] = {}
    for row in rows:
        latest[row.program_id] = row
    return list(latest.values())


async def _allowed_schedule_ids(ids: list[int]) -> Sequence[list[int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for row in await models.ProgramVersionSchedule.filter(version_id__in=ids).order_by("id"):
        groups[row.version_id].append(row.schedule_id)
    return [groups.get(k, []) for k in ids]


#: An order's timeline as asked for: (order id, how many entries, older than, which kinds).
TimelineKey = tuple[int, int, datetime | None, frozenset[timeline.TimelineKind]]


async def _timelines(keys: list[TimelineKey]) -> list[list[timeline.TimelineItem]]:
    """Timelines asked for in the same tick, one ``timelines`` call per set of arguments."""
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for order_id, limit, before, kinds in keys:
        groups[(limit, before, kinds)].append(order_id)
    found: dict[TimelineKey, list[timeline.TimelineItem]] = {}
    for (limit, before, kinds), order_ids in groups.items():
        by_order = await timeline.timelines(order_ids, limit=limit, before=before, kinds=kinds)
        for order_id, items in by_order.items():
            found[(order_id, limit, before, kinds)] = items
    return [found[key] for key in keys]


class Loaders:
    def __init__(self, caller: Callable[[], Caller | None]) -> None:
        self._caller = caller
        self._nodes: dict[str, DataLoader[int, Any]] = {}
        self._pages: dict[keyset.Relation[Any], DataLoader[Any, keyset.Page[Any]]] = {}
        self._counts: dict[keyset.Relation[Any], DataLoader[int, int]] = {}
        #: Child-list pages a level read ahead for all its nodes (``schema.connections.prefetch``):
        #: (node, page) by (the field's paging, the node's ``id()``, page arguments).
        self.connections: dict[tuple[Any, int, Any], tuple[Any, Any]] = {}
        self.latest_version_by_program: DataLoader[int, models.ProgramVersion | None] = DataLoader(
            load_fn=self._latest
        )
        self.events_by_version = _grouped(
            lambda ids: models.ProgramEvent.filter(version_id__in=ids).order_by("number"),
            lambda r: r.version_id,
        )
        self.items_by_event = _grouped(
            lambda ids: models.ProgramEventItem.filter(event_id__in=ids).order_by("seq"),
            lambda r: r.event_id,
        )
        self.lines_by_schedule = _grouped(
            lambda ids: models.PaymentScheduleLine.filter(schedule_id__in=ids).order_by("seq"),
            lambda r: r.schedule_id,
        )
        self.allowed_schedule_ids_by_version: DataLoader[int, list[int]] = DataLoader(
            load_fn=_allowed_schedule_ids
        )
        self.sales_lines_by_order = _grouped(
            lambda ids: models.SalesOrderLine.filter(sales_order_id__in=ids).order_by(
                "line_number"
            ),
            lambda r: r.sales_order_id,
        )
        self.lines_by_child_order = _grouped(
            lambda ids: (
                models.ChildOrderLine.filter(child_order_id__in=ids)
                .select_related("product", "continuity_line")
                .order_by("id")
            ),
            lambda r: r.child_order_id,
        )
        self.payments_by_child_order = _grouped(
            lambda ids: models.Payment.filter(child_order_id__in=ids).order_by("id"),
            lambda r: r.child_order_id,
        )
        self._rows: dict[type[Model], DataLoader[int, Any]] = {}
        self.timelines: DataLoader[TimelineKey, list[timeline.TimelineItem]] = DataLoader(
            load_fn=_timelines
        )
        self.continuity_orders_by_sales_order = _grouped(
            lambda ids: models.ContinuityOrder.filter(sales_order_id__in=ids).order_by("id"),
            lambda r: r.sales_order_id,
        )

    def release(self) -> None:
        """Drop everything this request read, once its answer is sent.

        A request's objects hang off reference cycles (the context and its loaders, the
        loaders and their load functions, graphql-core's execution context) that only the
        garbage collector frees: a page of 50 orders kept ~1,300 objects alive after its
        answer, and collecting them cost the order list about a twentieth of its CPU.
        Emptied, the cycles hold a few small objects and the rows are freed at once. The
        loaders cannot be used afterwards."""
        vars(self).clear()

    @staticmethod
    async def _latest(ids: list[int]) -> Sequence[models.ProgramVersion | None]:
        latest = {row.program_id: row for row in await _latest_versions(ids)}
        return [latest.get(i) for i in ids]

    def node(self, name: str, model: type[M], owner: str | None) -> DataLoader[int, M | None]:
        """Objects of GraphQL type ``name`` by primary key, as the caller may see them.
        ``owner`` is the filter path from ``model`` to its customer's id (None: shared data,
        such as programs and products)."""
        loader = self._nodes.get(name)
        if loader is None:
            loader = self._nodes[name] = DataLoader(load_fn=self._node_loader(name, model, owner))
        return loader

    def _node_loader(
        self, name: str, model: type[M], owner: str | None
    ) -> Callable[[list[int]], Awaitable[Sequence[M | None]]]:
        async def load(ids: list[int]) -> Sequence[M | None]:
            caller = self._caller()
            rule = Grant.NO if caller is None else node_grant(name, caller.role)
            if rule is Grant.NO:
                return [None] * len(ids)
            scope = customer_scope(caller)
            if rule is Grant.OWN and scope is not None:
                if owner is None:
                    return [None] * len(ids)
                found = await select(model.filter(id__in=ids).filter(**{owner: scope}))
            else:
                found = await by_ids(model, ids)
            rows: dict[int, M] = {int(row.pk): row for row in found}
            return [rows.get(i) for i in ids]

        return load

    def row(self, model: type[M]) -> DataLoader[int, M | None]:
        """Rows by primary key, *not* scoped to the caller: only for the parts an object the
        caller may read carries itself (a child order's copied ship-to address, its
        customer's contact), never to hand out the row as an object."""
        loader = self._rows.get(model)
        if loader is None:

            async def load(ids: list[int]) -> Sequence[M | None]:
                rows = {int(row.pk): row for row in await by_ids(model, ids)}
                return [rows.get(i) for i in ids]

            loader = self._rows[model] = DataLoader(load_fn=load)
        return loader

    def page(self, relation: keyset.Relation[M]) -> DataLoader[tuple[int, keyset.Window], Any]:
        """One page of ``relation`` per (parent, window): one statement per distinct window."""
        loader = self._pages.get(relation)
        if loader is None:

            async def load(
                keys: list[tuple[int, keyset.Window]],
            ) -> Sequence[keyset.Page[Any]]:
                by_window: dict[keyset.Window, list[int]] = defaultdict(list)
                for parent, window in keys:
                    by_window[window].append(parent)
                found = {
                    window: await keyset.pages(relation, parents, window)
                    for window, parents in by_window.items()
                }
                return [found[window][parent] for parent, window in keys]

            loader = self._pages[relation] = DataLoader(load_fn=load)
        return loader

    def count(self, relation: keyset.Relation[Any]) -> DataLoader[int, int]:
        """The size of ``relation`` per parent, in one statement."""
        loader = self._counts.get(relation)
        if loader is None:

            async def load(parents: list[int]) -> Sequence[int]:
                found = await keyset.counts(relation, parents)
                return [found[p] for p in parents]

            loader = self._counts[relation] = DataLoader(load_fn=load)
        return loader
