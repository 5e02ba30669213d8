"""Keyset paging: pages of a sorted list read with ``LIMIT`` in SQL, positioned by the sort key
of a row rather than by an offset.

Why a key and not an offset: rows added while a client pages (a job writes history, a customer
orders) never shift a page or repeat a row, and page 500 costs what page 1 costs (an index range
scan, never "read everything, then slice").

Two shapes, one rule for "after" and "before":

- ``page``: one list (a Tortoise query): one ``SELECT … ORDER BY key LIMIT n+1`` (the extra row
  says whether more follow), plus an ``EXISTS`` only when a cursor bounds the page on the side
  the client came from.
- ``pages``: the same page of a child list for many parents at once (an order's lines for 50
  orders): one ``ROW_NUMBER() OVER (PARTITION BY parent ORDER BY key)`` statement, so a nested
  list costs one query per level, never one per parent.

Paging backwards (``last`` rows before a cursor, or the end of the list) reads the sort order
reversed with the same ``LIMIT`` and flips the rows. The key of a list must be unique (end it
with ``id`` when its leading columns are not).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import Any, Generic, TypeVar

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from continuity.connection import connection
from continuity.rows import models_from, select
from continuity.sql import dialect, fetch, fetch_rows

M = TypeVar("M", bound=Model)
Key = tuple[Any, ...]


@dataclass(frozen=True)
class Ordering:
    """A list's sort key: column names (the model's field names, which are also its column
    names), all ascending or all descending."""

    columns: tuple[str, ...]
    descending: bool = False

    def key(self, row: Model) -> Key:
        return tuple(getattr(row, column) for column in self.columns)

    def order_by(self, *, reverse: bool = False) -> list[str]:
        prefix = "-" if self.descending != reverse else ""
        return [prefix + column for column in self.columns]

    def coerce(self, model: type[Model], values: Sequence[Any]) -> Key:
        """A key read back from a client (a decoded cursor) with each value of its column's
        type; ``ValueError`` when it cannot be one of this list's keys."""
        if len(values) != len(self.columns):
            raise ValueError("wrong key length")
        return tuple(
            _coerce(model._meta.fields_map[column], value)
            for column, value in zip(self.columns, values, strict=True)
        )


def _coerce(field: fields.Field[Any], value: Any) -> Any:
    if isinstance(field, fields.DateField):
        if not isinstance(value, str):
            raise ValueError("not a date")
        return date.fromisoformat(value)
    if isinstance(field, fields.IntField | fields.BigIntField | fields.SmallIntField):
        if not isinstance(value, int) or isinstance(value, bool) or not -(2**63) < value < 2**63:
            raise ValueError("not an integer")
        return value
    if isinstance(field, fields.CharField):
        if not isinstance(value, str):
            raise ValueError("not a string")
        return value
    raise ValueError(f"{type(field).__name__} cannot be a keyset column")


def encode_value(value: Any) -> Any:
    """A key value as JSON (dates as ISO strings): what a cursor carries."""
    return value.isoformat() if isinstance(value, date) else value


@dataclass(frozen=True)
class Window:
    """One page request: ``size`` rows after ``after`` and before ``before`` (keys), counted
    from the end of that range when ``from_end`` (the client asked for ``last``)."""

    size: int
    from_end: bool = False
    after: Key | None = None
    before: Key | None = None


@dataclass
class Page(Generic[M]):
    rows: list[M]
    has_previous: bool
    has_next: bool
    #: Per row, the values of its relation's ``joined`` columns (a child list with none: empty).
    joined: Sequence[tuple[Any, ...]] = ()


def _beyond(ordering: Ordering, key: Key, *, forward: bool) -> Q:
    """Rows strictly after ``key`` in the list's order (``forward``), or strictly before it:
    the lexicographic comparison written as an OR of ANDs, which every backend can index."""
    ascending = forward != ordering.descending
    operator = "gt" if ascending else "lt"
    terms = []
    for index, column in enumerate(ordering.columns):
        equal = dict(zip(ordering.columns[:index], key[:index], strict=True))
        terms.append(Q(**equal, **{f"{column}__{operator}": key[index]}))
    return Q(*terms, join_type="OR")


async def page(query: QuerySet[M], ordering: Ordering, window: Window) -> Page[M]:
    """One page of ``query`` (its filters; this function orders and limits it)."""
    bounded = query
    if window.after is not None:
        bounded = bounded.filter(_beyond(ordering, window.after, forward=True))
    if window.before is not None:
        bounded = bounded.filter(_beyond(ordering, window.before, forward=False))
    rows = await select(
        bounded.order_by(*ordering.order_by(reverse=window.from_end)).limit(window.size + 1)
    )
    overflow = len(rows) > window.size
    rows = rows[: window.size]
    if window.from_end:
        rows.reverse()
    has_previous = window.from_end and overflow
    if not has_previous and window.after is not None:
        has_previous = await query.filter(~_beyond(ordering, window.after, forward=True)).exists()
    has_next = not window.from_end and overflow
    if not has_next and window.before is not None:
        has_next = await query.filter(~_beyond(ordering, window.before, forward=False)).exists()
    return Page(rows=rows, has_previous=has_previous, has_next=has_next)


@dataclass(frozen=True)
class Relation(Generic[M]):
    """A child list: the rows of ``model`` whose ``parent`` column names the parent, in
    ``ordering``."""

    model: type[M]
    parent: str
    ordering: Ordering
    #: Values of other tables read with each row, in the same statement (``Joined``).
    joined: Joined | None = None

    @property
    def table(self) -> str:
        return str(self.model._meta.db_table)


@dataclass(frozen=True)
class Joined:
    """Columns of other tables that a child list's nodes show (a line's SKU), read with its
    rows: a second statement and a batched load per page cost the order list a few per cent
    of its time. ``join`` joins them to the list's table, named ``t``; ``columns`` are SQL
    expressions over both, whose values each ``Page.joined`` entry holds in this order."""

    join: str
    columns: tuple[str, ...]

    def select(self) -> str:
        return "".join(f", {column} AS keyset_joined_{i}" for i, column in enumerate(self.columns))


def _sql_beyond(
    ordering: Ordering, key: Key, *, forward: bool, prefix: str
) -> tuple[str, dict[str, Any]]:
    """``_beyond`` as SQL text with ``:prefixN`` parameters."""
    ascending = forward != ordering.descending
    operator = ">" if ascending else "<"
    params = {f"{prefix}{i}": value for i, value in enumerate(key)}
    terms = []
    for index, column in enumerate(ordering.columns):
        parts = [f"t.{c} = :{prefix}{i}" for i, c in enumerate(ordering.columns[:index])]
        parts.append(f"t.{column} {operator} :{prefix}{index}")
        terms.append("(" + " AND ".join(parts) + ")")
    return "(" + " OR ".join(terms) + ")", params


async def pages(
    relation: Relation[M], parents: Iterable[int], window: Window
) -> dict[int, Page[M]]:
    """The same page of the child list of every parent, in one statement (plus one per cursor
    bound, for the side the client came from)."""
    wanted = sorted(set(parents))
    result: dict[int, Page[M]] = {
        p: Page(rows=[], has_previous=False, has_next=False) for p in wanted
    }
    if not wanted:
        return result
    conn = connection()
    where = [f"t.{relation.parent} IN (:parents)"]
    params: dict[str, Any] = {"parents": wanted, "size": window.size + 1}
    bounds: list[tuple[str, str]] = []  # (SQL of the rows outside the page's range, flag)
    ordering = relation.ordering
    if window.after is not None:
        text, values = _sql_beyond(ordering, window.after, forward=True, prefix="a")
        where.append(text)
        params.update(values)
        bounds.append((f"NOT {text}", "has_previous"))
    if window.before is not None:
        text, values = _sql_beyond(ordering, window.before, forward=False, prefix="b")
        where.append(text)
        params.update(values)
        bounds.append((f"NOT {text}", "has_next"))
    direction = "DESC" if ordering.descending != window.from_end else "ASC"
    order = ", ".join(f"t.{column} {direction}" for column in ordering.columns)
    window_sql = (
        f"ROW_NUMBER() OVER (PARTITION BY t.{relation.parent} ORDER BY {order}) AS keyset_rank "
        f"FROM {relation.table} t WHERE {' AND '.join(where)}"
    )
    joined = relation.joined
    also, join = (joined.select(), joined.join) if joined is not None else ("", "")
    if dialect(conn) == "sqlite":
        # SQLite carries every column of the rows it ranks through its sorts (a third of the
        # statement for 50 orders' lines): it ranks ids, and reads the page's rows by id.
        # PostgreSQL's plan for that join costs more than the sort it saves.
        sql = (
            f"SELECT t.*, ranked.keyset_rank{also} FROM (SELECT t.id, {window_sql}) ranked "
            f"JOIN {relation.table} t ON t.id = ranked.id {join} "
            "WHERE ranked.keyset_rank <= :size"
        )
    else:
        sql = (
            f"SELECT t.*{also} FROM (SELECT t.*, {window_sql}) t {join} "
            "WHERE t.keyset_rank <= :size"
        )
    rows = list(await fetch_rows(conn, sql, **params))
    grouped: dict[int, list[tuple[M, tuple[Any, ...]]]] = defaultdict(list)
    if rows:
        columns = tuple(rows[0].keys())
        rank, parent = columns.index("keyset_rank"), columns.index(relation.parent)
        extra = (
            []
            if joined is None
            else [columns.index(f"keyset_joined_{i}") for i in range(len(joined.columns))]
        )
        rows.sort(key=itemgetter(rank))  # each page in rank order
        for row, child in zip(rows, models_from(relation.model, rows), strict=True):
            grouped[int(row[parent])].append((child, tuple(row[i] for i in extra)))
    for parent, children in grouped.items():
        overflow = len(children) > window.size
        children = children[: window.size]
        if window.from_end:
            children.reverse()
        result[parent] = Page(
            rows=[child for child, _ in children],
            has_previous=window.from_end and overflow,
            has_next=not window.from_end and overflow,
            joined=[values for _, values in children] if joined is not None else (),
        )
    for outside, flag in bounds:
        beyond = await fetch(
            conn,
            f"SELECT DISTINCT t.{relation.parent} AS parent FROM {relation.table} t "
            f"WHERE t.{relation.parent} IN (:parents) AND {outside}",
            **params,
        )
        for row in beyond:
            setattr(result[int(row["parent"])], flag, True)
    return result


async def counts(relation: Relation[Any], parents: Iterable[int]) -> dict[int, int]:
    """How many children each parent has (0 for none), in one statement."""
    wanted = sorted(set(parents))
    found: dict[int, int] = dict.fromkeys(wanted, 0)
    if wanted:
        rows = await fetch(
            connection(),
            f"SELECT t.{relation.parent} AS parent, COUNT(*) AS n FROM {relation.table} t "
            f"WHERE t.{relation.parent} IN (:parents) GROUP BY t.{relation.parent}",
            parents=wanted,
        )
        for row in rows:
            found[int(row["parent"])] = int(row["n"])
    return found
