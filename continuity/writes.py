"""New rows written all or nothing, in as few round trips as the database allows.

A placement writes a dozen rows into five or six tables. Written a statement at a time in a
transaction, that is eight round trips on PostgreSQL (``BEGIN``, one per table, ``COMMIT``),
and there each round trip costs the server's event loop ~0.2 ms of CPU (the driver, the
socket, the pool) and PostgreSQL as much again: most of what a placement cost (measured in
docs/PERFORMANCE.md). So the rows are built first, with ids allocated beforehand
(``allocate_ids``), and ``write_row_sets`` writes them:

- on PostgreSQL in **one statement**, each table's rows in a data-modifying ``WITH`` of
  its own: one statement is one transaction (the foreign keys are checked at its end), so a
  failure writes none of them and no ``BEGIN``/``COMMIT`` is needed;
- on SQLite one multi-row ``INSERT`` per table (more if its rows bind more than
  ``SQLITE_PARAMETERS`` values), in the order given (parents before the rows that refer to
  them), in the caller's transaction (``all_or_nothing``): its statements cost no round trip.
  One statement, not an ``executemany`` of one-row statements: each execution of an
  ``INSERT`` reads and writes ``AUTOINCREMENT``'s ``sqlite_sequence`` row and restarts its
  program, 2.5–4 µs for each of a placement's twelve lines.

A conflict fails the whole write on both (``ON CONFLICT … DO NOTHING`` only where a row
says so): the caller redraws what collided (an order number) and writes again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypeVar, cast

from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.asyncpg.client import TransactionWrapper as AsyncpgTransactionWrapper
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from continuity.connection import connection, connections
from continuity.sql import bound_flat, bound_rows, dialect, new_row
from continuity.sqlite import execute_in

M = TypeVar("M", bound=Model)

#: PostgreSQL binds at most 32,767 parameters a statement; a write with more (an order of
#: 50 lines of a long program) is written a table at a time in a transaction instead.
MAX_PARAMETERS = 30_000
#: The parameters of one SQLite statement: 999 is the least any build allows (3.32 raised the
#: default to 32,766); a table's rows past it go in a statement more.
SQLITE_PARAMETERS = 999


@dataclass
class RowSet:
    """New rows of one table: values as the fields store them (``to_db_value``), in the
    order of ``columns``; ``skip_conflict``: a row whose value of that unique column is
    taken is left out (any other conflict still fails the write)."""

    table: str
    columns: tuple[str, ...]
    rows: list[Sequence[Any]] = field(default_factory=list)
    skip_conflict: str | None = None


class ModelRows(Generic[M]):
    """New rows of one model, each prepared as ``sql.insert`` prepares its row, for
    ``write_row_sets``; ``add`` returns the object the row will be once written (its id
    given: allocated with ``allocate_ids``)."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self.row_set: RowSet | None = None

    def add(self, **values: Any) -> M:
        columns, python, stored = new_row(self.model, values)
        self._keep(columns, stored)
        return self.model._init_from_db(**python)

    def append(self, **values: Any) -> None:
        """``add`` for a row whose object nobody reads (a placement's sales-order lines and
        history entry): the model object is a third of what ``add`` costs."""
        columns, _python, stored = new_row(self.model, values)
        self._keep(columns, stored)

    def _keep(self, columns: tuple[str, ...], stored: list[Any]) -> None:
        if self.row_set is None:
            self.row_set = RowSet(self.model._meta.db_table, columns)
        elif columns != self.row_set.columns:
            raise ValueError(f"{self.model.__name__} rows must all give or all omit the id")
        self.row_set.rows.append(stored)

    def sets(self) -> list[RowSet]:
        return [self.row_set] if self.row_set is not None else []


@asynccontextmanager
async def one_connection() -> AsyncIterator[BaseDBAsyncClient]:
    """The default database, each of the block's statements on one connection: on
    PostgreSQL one taken from the pool for the whole block, no transaction (each statement
    is its own, as on the pool); on SQLite the client itself (its reads and writes have
    connections of their own, ``continuity.sqlite``).

    Each statement on the pool takes a connection and gives it back: ~35 µs of the event
    loop's CPU for the two together (a task for the release, a timeout, a queue), as much as
    the statement's own round trip costs the driver. A placement's checks share one (its
    write goes to the pool: ``continuity.group_writes``). Inside the block the context's
    default connection is that one (what
    ``connection()`` and the ORM use), so the code in it needs no argument. The
    block must not wait on anything else (a payment gateway): the connection is held, and the
    pool is small."""
    conn = connection()
    if dialect(conn) != "postgres":
        yield conn
        return
    async with conn.acquire_connection() as raw:
        pinned = _Pinned(conn, raw)
        # the block's ORM statements too (a program's spec read on a cache miss): one that
        # waited for a second connection while holding this one could wait for ever, every
        # connection held by a block doing the same
        token = connections().set(conn.connection_name, pinned)
        try:
            yield pinned
        finally:
            connections().reset(token)


class _Pinned(AsyncpgTransactionWrapper):
    """Tortoise's asyncpg transaction wrapper, on a connection already taken, without a
    transaction: its statements run one at a time there (its lock), each on its own."""

    def __init__(self, client: BaseDBAsyncClient, connection: Any) -> None:
        super().__init__(cast(AsyncpgDBClient, client))
        self._connection = connection


@asynccontextmanager
async def all_or_nothing() -> AsyncIterator[BaseDBAsyncClient]:
    """The connection to allocate ids and write row sets on, all or nothing: a transaction
    on SQLite; on PostgreSQL the pool (or ``one_connection``'s connection inside its block),
    whose one statement (``write_row_sets``) is a transaction of its own."""
    conn = connection()
    if dialect(conn) == "postgres":
        yield conn
    else:
        async with in_transaction() as transaction:
            yield transaction


async def allocate_ids(conn: BaseDBAsyncClient, counts: Mapping[str, int]) -> dict[str, list[int]]:
    """``counts[table]`` new ids of each table, in one statement. PostgreSQL: from the
    table's sequence (never given twice, committed or not). SQLite: the next ones after the
    table's highest id ever given (``AUTOINCREMENT``'s ``sqlite_sequence``), which stay this
    transaction's while it holds the write lock; ``conn`` must be that transaction."""
    wanted = [(table, count) for table, count in counts.items() if count > 0]
    if not wanted:
        return {table: [] for table in counts}
    if dialect(conn) == "postgres":
        read = {table: str(count) for table, count in wanted}
        [row] = await conn.execute_query_dict(f"SELECT {ids_read_with(read)}")
        return {**{table: [] for table in counts}, **ids_of(row, read)}
    if not isinstance(conn, TransactionalDBClient):
        raise RuntimeError("SQLite ids are allocated in the transaction that writes them")
    last = ", ".join(
        f"MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0), "
        f'COALESCE((SELECT MAX(id) FROM "{table}"), 0))'
        for table, _count in wanted
    )
    [tops] = await execute_in(conn, f"SELECT {last}", ())
    highest = list(tops)
    allocated: dict[str, list[int]] = {table: [] for table in counts}
    for (table, count), top in zip(wanted, highest, strict=True):
        allocated[table] = list(range(int(top) + 1, int(top) + 1 + count))
    return allocated


def ids_read_with(counts: Mapping[str, str]) -> str:
    """PostgreSQL: columns that allocate ids in a read the caller makes anyway, one round trip
    fewer than ``allocate_ids``: for each table an array of ``counts[table]`` new ids (SQL: a
    number or a ``:parameter``), read back with ``ids_of``. Each is a subquery that does not
    depend on the read's rows, so it runs once however many rows the read returns."""
    return ", ".join(
        f"(SELECT array_agg(nextval(pg_get_serial_sequence('\"{table}\"', 'id'))) "
        f"FROM generate_series(1, {count})) AS ids__{table}"
        for table, count in counts.items()
    )


def ids_of(row: Mapping[str, Any], counts: Mapping[str, str]) -> dict[str, list[int]]:
    """The ids ``ids_read_with(counts)`` allocated, read from one of its rows."""
    return {table: [int(i) for i in row[f"ids__{table}"] or ()] for table in counts}


async def write_row_sets(conn: BaseDBAsyncClient, sets: Sequence[RowSet]) -> None:
    """Write ``sets`` all or nothing (the module docstring): on PostgreSQL one statement,
    on SQLite a multi-row ``INSERT`` each in ``conn``'s transaction."""
    sets = [s for s in sets if s.rows]
    if not sets:
        return
    if dialect(conn) != "postgres":
        for row_set in sets:
            width = len(row_set.columns)
            per = max(1, SQLITE_PARAMETERS // width)
            for start in range(0, len(row_set.rows), per):
                rows = row_set.rows[start : start + per]
                text = _rows_insert(
                    row_set.table, row_set.columns, len(rows), row_set.skip_conflict, 0, False
                )
                await execute_in(conn, text, bound_flat(rows, False))
        return
    if sum(len(s.columns) * len(s.rows) for s in sets) > MAX_PARAMETERS:
        async with in_transaction(conn.connection_name) as transaction:
            for row_set in sets:
                await execute_row_set(transaction, row_set)
        return
    shape = tuple((s.table, s.columns, len(s.rows), s.skip_conflict) for s in sets)
    values = [value for row_set in sets for row in row_set.rows for value in row]
    await conn.execute_query(_one_statement(shape), values)


@lru_cache(maxsize=256)
def _one_statement(shape: tuple[tuple[str, tuple[str, ...], int, str | None], ...]) -> str:
    """PostgreSQL's text of row sets of ``shape`` (table, columns, rows, conflict column):
    every table's ``INSERT`` but the last in a ``WITH`` of its own."""
    statements = []
    offset = 0
    for table, columns, count, skip_conflict in shape:
        statements.append(_rows_insert(table, columns, count, skip_conflict, offset, True))
        offset += len(columns) * count
    *ctes, last = statements
    if not ctes:
        return last
    return "WITH " + ", ".join(f"w{i} AS ({text})" for i, text in enumerate(ctes)) + " " + last


async def execute_row_set(conn: BaseDBAsyncClient, row_set: RowSet) -> None:
    """Insert ``row_set``'s rows with one ``executemany`` (batch jobs' many rows, in their
    transaction; a PostgreSQL write too big for one statement, ``write_row_sets``)."""
    if not row_set.rows:
        return
    postgres = dialect(conn) == "postgres"
    text = _insert_text(row_set.table, row_set.columns, row_set.skip_conflict, postgres)
    await conn.execute_many(text, bound_rows(row_set.rows, postgres))


@lru_cache(maxsize=256)
def _insert_text(
    table: str, columns: tuple[str, ...], skip_conflict: str | None, postgres: bool
) -> str:
    """One row's ``INSERT`` (a placement writes five tables' with each order: made once)."""
    marks = ", ".join(f"${i + 1}" if postgres else "?" for i in range(len(columns)))
    return _insert_head(table, columns) + f" VALUES ({marks})" + _conflict(skip_conflict)


@lru_cache(maxsize=256)
def _rows_insert(
    table: str,
    columns: tuple[str, ...],
    count: int,
    skip_conflict: str | None,
    offset: int,
    postgres: bool,
) -> str:
    """``INSERT … VALUES (…), (…)`` of ``count`` rows: PostgreSQL's ``$n`` placeholders
    numbered from ``offset + 1`` (values straight in the ``INSERT`` take their columns'
    types), SQLite's ``?``."""
    width = len(columns)
    if postgres:
        tuples = ", ".join(
            "(" + ", ".join(f"${offset + r * width + c + 1}" for c in range(width)) + ")"
            for r in range(count)
        )
    else:
        tuples = ", ".join(["(" + ", ".join(["?"] * width) + ")"] * count)
    return _insert_head(table, columns) + f" VALUES {tuples}" + _conflict(skip_conflict)


def _insert_head(table: str, columns: tuple[str, ...]) -> str:
    listed = ", ".join(f'"{column}"' for column in columns)
    return f'INSERT INTO "{table}" ({listed})'


def _conflict(skip_conflict: str | None) -> str:
    return f' ON CONFLICT ("{skip_conflict}") DO NOTHING' if skip_conflict else ""


def violates_unique(exc: IntegrityError, table: str, column: str) -> bool:
    """Whether ``exc`` is a row of ``table`` whose ``column`` (a ``UNIQUE`` field) is taken:
    SQLite names ``table.column``, PostgreSQL the constraint (``<table>_<column>_key``)."""
    text = str(exc)
    return f"{table}.{column}" in text or f'"{table}_{column}_key"' in text
