"""``continuity.writes``: rows built with ids allocated beforehand, written all or nothing
(one statement on PostgreSQL, one transaction on SQLite)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import pytest
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError

from continuity.enums import JobRunStatus
from continuity.models import Customer, JobRun
from continuity.sql import bound_rows, bound_values, dialect
from continuity.writes import (
    ModelRows,
    RowSet,
    all_or_nothing,
    allocate_ids,
    one_connection,
    violates_unique,
    write_row_sets,
)
from tests.statements import Statements, capturing

pytestmark = pytest.mark.db


def _customers(*numbers: tuple[int, str]) -> ModelRows[Customer]:
    rows = ModelRows(Customer)
    for customer_id, account in numbers:
        rows.add(id=customer_id, account_number=account, name=f"Customer {account}")
    return rows


async def test_ids_are_new_and_never_given_twice(db: object) -> None:
    async with all_or_nothing() as conn:
        first = await allocate_ids(conn, {"customer": 3, "job_run": 1, "payment": 0})
        await write_row_sets(conn, _customers(*zip(first["customer"], "ABC", strict=True)).sets())
    async with all_or_nothing() as conn:
        second = await allocate_ids(conn, {"customer": 2})
    assert len(set(first["customer"])) == 3
    assert len(first["job_run"]) == 1
    assert first["payment"] == []
    assert min(second["customer"]) > max(first["customer"])
    stored = await Customer.all().order_by("id").values_list("id", "account_number")
    assert stored == list(zip(first["customer"], "ABC", strict=True))


async def test_sqlite_allocates_only_in_the_writing_transaction(db: object) -> None:
    conn = Tortoise.get_connection("default")
    if dialect(conn) != "sqlite":
        pytest.skip("PostgreSQL's sequences allocate anywhere")
    with pytest.raises(RuntimeError, match="transaction"):
        await allocate_ids(conn, {"customer": 1})


async def test_a_conflict_writes_nothing_of_any_table(db: object) -> None:
    async with all_or_nothing() as conn:
        ids = await allocate_ids(conn, {"customer": 1})
        await write_row_sets(conn, _customers((ids["customer"][0], "TAKEN")).sets())
    runs = ModelRows(JobRun)
    async with all_or_nothing() as conn:
        ids = await allocate_ids(conn, {"customer": 2, "job_run": 1})
        runs.add(id=ids["job_run"][0], job="extend", as_of=date(2027, 1, 31), triggered_by="t")
        customers = _customers((ids["customer"][0], "NEW"), (ids["customer"][1], "TAKEN"))
    with pytest.raises(IntegrityError) as raised:
        async with all_or_nothing() as conn:
            await write_row_sets(conn, [*runs.sets(), *customers.sets()])
    assert violates_unique(raised.value, "customer", "account_number")
    assert not violates_unique(raised.value, "customer", "name")
    stored = await Customer.all().values_list("account_number")
    assert [row[0] for row in stored] == ["TAKEN"]
    assert await JobRun.all().count() == 0


async def test_a_row_whose_key_is_taken_is_skipped_where_the_set_says_so(db: object) -> None:
    columns = ("account_number", "name", "created_at", "updated_at")
    now = datetime(2027, 1, 31, 9, 30, tzinfo=UTC)
    sets = [
        RowSet(
            "customer",
            columns,
            [("A-1", "Ann", now, now), ("A-1", "Ann again", now, now), ("A-2", "Bo", now, now)],
            skip_conflict="account_number",
        )
    ]
    async with all_or_nothing() as conn:
        await write_row_sets(conn, sets)
    stored = await Customer.all().order_by("account_number").values_list("account_number", "name")
    assert stored == [("A-1", "Ann"), ("A-2", "Bo")]


async def test_the_objects_are_those_the_rows_become(db: object) -> None:
    runs = ModelRows(JobRun)
    async with all_or_nothing() as conn:
        run_id = (await allocate_ids(conn, {"job_run": 1}))["job_run"][0]
        built = runs.add(id=run_id, job="extend", as_of=date(2027, 1, 31), triggered_by="cli")
        await write_row_sets(conn, runs.sets())
    read = await JobRun.get(id=run_id)
    assert built.status is read.status is JobRunStatus.RUNNING
    assert (built.job, built.as_of, built.filters) == (read.job, read.as_of, read.filters)
    built.status = JobRunStatus.SUCCEEDED
    await built.save()  # a saved object: its save updates the row
    assert (await JobRun.get(id=run_id)).status is JobRunStatus.SUCCEEDED


async def test_postgres_writes_every_table_in_one_statement(db: object) -> None:
    """The point of the module: on PostgreSQL no ``BEGIN``/``COMMIT`` and no round trip per
    table; on SQLite one multi-row ``INSERT`` per table in the caller's transaction."""
    conn = Tortoise.get_connection("default")
    runs = ModelRows(JobRun)
    async with all_or_nothing() as writer:
        ids = await allocate_ids(writer, {"customer": 2, "job_run": 1})
        runs.add(id=ids["job_run"][0], job="extend", as_of=date(2027, 1, 31), triggered_by="t")
        customers = _customers((ids["customer"][0], "C-1"), (ids["customer"][1], "C-2"))
        with capturing(Statements(lambda sql: sql.startswith(("INSERT", "WITH")))) as seen:
            await write_row_sets(writer, [*customers.sets(), *runs.sets()])
    expected = 1 if dialect(conn) == "postgres" else 2
    assert len(seen.sql) == expected
    assert await Customer.all().count() == 2
    assert await JobRun.all().count() == 1


async def test_a_write_too_big_for_one_statement_is_still_whole(
    db: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the parameters one statement binds: PostgreSQL writes a table at a time in a
    transaction, SQLite a table's rows in several ``INSERT``s; either way all or nothing."""
    monkeypatch.setattr("continuity.writes.MAX_PARAMETERS", 10)
    monkeypatch.setattr("continuity.writes.SQLITE_PARAMETERS", 25)
    async with all_or_nothing() as conn:
        ids = await allocate_ids(conn, {"customer": 5})
        rows = _customers(*zip(ids["customer"], ["D-1", "D-2", "D-3", "D-4", "D-1"], strict=True))
    with pytest.raises(IntegrityError):
        async with all_or_nothing() as conn:
            await write_row_sets(conn, rows.sets())
    assert await Customer.all().count() == 0
    async with all_or_nothing() as conn:
        ids = await allocate_ids(conn, {"customer": 4})
        rows = _customers(*zip(ids["customer"], ["D-1", "D-2", "D-3", "D-4"], strict=True))
        with capturing(Statements(lambda sql: sql.startswith("INSERT"))) as seen:
            await write_row_sets(conn, rows.sets())
    stored = await Customer.all().order_by("id").values_list("id", "account_number")
    assert stored == list(zip(ids["customer"], ["D-1", "D-2", "D-3", "D-4"], strict=True))
    if dialect(conn) != "postgres":  # as many rows a statement as bind 25 values at most
        per = 25 // len(rows.sets()[0].columns)
        assert 1 <= per < 4
        assert [sql.count("(?") for sql in seen.sql] == [
            len(ids["customer"][i : i + per]) for i in range(0, 4, per)
        ]


async def test_a_model_rows_set_keeps_one_shape(db: object) -> None:
    rows = ModelRows(Customer)
    rows.add(id=1, account_number="E-1", name="Ed")
    with pytest.raises(ValueError, match="all give or all omit the id"):
        rows.add(account_number="E-2", name="Flo")
    with pytest.raises(TypeError, match="nickname"):
        rows.add(id=2, account_number="E-3", name="Gus", nickname="G")


async def test_appended_rows_are_written_as_added_ones(db: object) -> None:
    """``append`` is ``add`` without the object: the same row, in the same set."""
    rows = ModelRows(Customer)
    async with all_or_nothing() as conn:
        ids = (await allocate_ids(conn, {"customer": 2}))["customer"]
        added = rows.add(id=ids[0], account_number="F-1", name="Flo")
        rows.append(id=ids[1], account_number="F-2", name="Gil")
        await write_row_sets(conn, rows.sets())
    stored = await Customer.all().order_by("id").values_list("id", "account_number", "name")
    assert stored == [(ids[0], "F-1", "Flo"), (ids[1], "F-2", "Gil")]
    assert added.id == ids[0]
    with pytest.raises(ValueError, match="all give or all omit the id"):
        rows.append(account_number="F-3", name="Hal")


def test_many_rows_are_bound_as_each_would_be_and_shared_values_converted_once() -> None:
    now = datetime(2027, 1, 31, 9, 30, tzinfo=UTC)
    rows = [
        (1, now, date(2027, 2, 1), True, None, "x"),
        (2, now, date(2027, 3, 1), False, 2.5, b""),
    ]
    for postgres in (False, True):
        assert bound_rows(rows, postgres) == [bound_values(row, postgres) for row in rows]
    sqlite = bound_rows(rows, False)
    assert sqlite[0][1] == "2027-01-31 09:30:00+00:00"
    assert sqlite[0][1] is sqlite[1][1]  # one conversion for both rows
    assert [row[3] for row in sqlite] == [1, 0]


async def test_one_connection_runs_a_block_on_one_pooled_connection(db: object) -> None:
    """PostgreSQL: every statement of the block on the same backend, taken from the pool once
    and given back after; no transaction (a failed statement loses only itself)."""
    conn = Tortoise.get_connection("default")
    if dialect(conn) != "postgres":
        async with one_connection() as same:
            assert same is conn  # SQLite: the client, its connections its own
        return
    await conn.execute_query("SELECT 1")  # the pool opens at its first statement
    pool = conn._pool

    def taken() -> int:
        return int(pool.get_size() - pool.get_idle_size())

    assert taken() == 0
    async with one_connection() as pinned:
        assert dialect(pinned) == "postgres"
        assert taken() == 1
        _, first = await pinned.execute_query("SELECT pg_backend_pid() AS pid")
        assert Tortoise.get_connection("default") is pinned  # the block's default
        async with all_or_nothing() as writer:
            assert writer is pinned
            ids = await allocate_ids(writer, {"customer": 2})
            await write_row_sets(writer, _customers((ids["customer"][0], "P-1")).sets())
        with pytest.raises(IntegrityError):
            await write_row_sets(pinned, _customers((ids["customer"][1], "P-1")).sets())
        _, last = await pinned.execute_query("SELECT pg_backend_pid() AS pid")
        assert first[0]["pid"] == last[0]["pid"]
        assert taken() == 1
    assert taken() == 0
    assert Tortoise.get_connection("default") is conn
    assert await Customer.all().values_list("account_number") == [("P-1",)]


async def test_one_connection_is_given_back_when_its_block_fails(db: object) -> None:
    conn = Tortoise.get_connection("default")
    if dialect(conn) != "postgres":
        pytest.skip("SQLite's client keeps its own connections")
    await conn.execute_query("SELECT 1")  # the pool opens at its first statement
    pool = conn._pool

    async def fail() -> None:
        async with one_connection() as pinned:
            await pinned.execute_query("SELECT 1")
            raise ZeroDivisionError

    async def fail_then_read() -> Any:
        for _ in range(pool.get_max_size() + 1):  # a connection kept would exhaust the pool
            with pytest.raises(ZeroDivisionError):
                await fail()
        async with one_connection() as pinned:
            return (await pinned.execute_query("SELECT 2 AS two"))[1]

    rows = await asyncio.wait_for(fail_then_read(), timeout=30)  # not waiting for ever
    assert rows[0]["two"] == 2
    assert pool.get_size() == pool.get_idle_size()


async def test_one_connection_blocks_never_wait_for_a_second_connection(db: object) -> None:
    """More blocks at once than the pool has connections, each reading through the ORM:
    its reads go to its own connection, or every block would wait for ever for a second."""
    conn = Tortoise.get_connection("default")
    if dialect(conn) != "postgres":
        pytest.skip("SQLite's client keeps its own connections")
    await conn.execute_query("SELECT 1")  # the pool opens at its first statement
    blocks = conn._pool.get_max_size() * 2
    started = asyncio.Event()
    entered = 0

    async def block() -> int:
        nonlocal entered
        async with one_connection():
            entered += 1
            if entered == conn._pool.get_max_size():
                started.set()
            await started.wait()  # every connection is held before anyone reads
            return await Customer.all().count()

    counts = await asyncio.wait_for(asyncio.gather(*(block() for _ in range(blocks))), 30)
    assert counts == [0] * blocks
