"""An API read does not wait for a transaction of the same process (issue 15).

The scheduler's jobs run in the server's event loop. On SQLite a read outside a transaction
used to take the process's one connection after whatever transaction held it (a job's batch,
a placement); it now runs on a read-only connection of its own, on the last committed state,
as PostgreSQL's pooled connections already did. Everything inside a transaction still reads
what that transaction wrote.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import date
from typing import Any

import pytest
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from continuity.jobs.runs import recorded_run
from continuity.models import Customer
from tests.dbutil import sqlite_client

pytestmark = pytest.mark.db


async def test_a_read_does_not_wait_for_an_open_transaction(db: TortoiseContext) -> None:
    await Customer.create(account_number="C-1", name="Ada")
    inserted, finish = asyncio.Event(), asyncio.Event()

    async def batch() -> None:
        async with in_transaction() as conn:
            await Customer.create(account_number="C-2", name="Bo", using_db=conn)
            # the transaction sees its own row
            assert await Customer.all().using_db(conn).count() == 2
            inserted.set()
            await finish.wait()

    writer = asyncio.ensure_future(batch())
    await asyncio.wait_for(inserted.wait(), 10)
    try:
        # outside the transaction: served at once, from what is committed
        names = await asyncio.wait_for(Customer.all().order_by("id").values_list("name"), 5)
        rows = await asyncio.wait_for(
            get_connection("default").execute_query_dict("SELECT COUNT(*) AS n FROM customer"), 5
        )
    finally:
        finish.set()
        await writer
    assert [tuple(row) for row in names] == [("Ada",)]
    assert rows == [{"n": 1}]
    # committed: every read sees it
    committed = await Customer.all().order_by("id").values_list("name")
    assert [tuple(row) for row in committed] == [("Ada",), ("Bo",)]


async def test_writes_outside_transactions_are_read_back_at_once(db: TortoiseContext) -> None:
    customer = await Customer.create(account_number="C-1", name="Ada")
    await Customer.filter(id=customer.id).update(name="Ada L.")
    conn = get_connection("default")
    await conn.execute_query(
        "UPDATE customer SET email = 'ada@example.com' WHERE id = ?"
        if conn.capabilities.dialect == "sqlite"
        else "UPDATE customer SET email = 'ada@example.com' WHERE id = $1",
        [customer.id],
    )
    read = await Customer.get(id=customer.id)
    assert (read.name, read.email) == ("Ada L.", "ada@example.com")


async def test_the_read_connection_cannot_write(db: TortoiseContext) -> None:
    conn = sqlite_client("SQLite's read connection")
    reader = await conn._read_connection()
    assert reader is not None
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await reader.execute("DELETE FROM customer")
    # only plain SELECTs go to it: a write fronted by WITH stays on the writing connection
    await Customer.create(account_number="C-1", name="Ada")
    await conn.execute_query(
        "WITH gone AS (SELECT id FROM customer) DELETE FROM customer WHERE id IN gone"
    )
    assert await Customer.all().count() == 0


async def test_a_jobs_reads_stay_off_the_read_connection(db: TortoiseContext) -> None:
    """The read connection is the API's: a job's selection (up to a second on a million
    orders under load) queued every API read behind it. A job's plain SELECTs run on the
    writing connection, idle between its batches."""
    conn = sqlite_client("SQLite's read connection")
    await Customer.create(account_number="C-1", name="Ada")
    reader = await conn._read_connection()
    assert reader is not None
    busy, free = threading.Event(), threading.Event()

    def long_selection() -> None:  # what a job's slow statement did to the read connection
        busy.set()
        free.wait(10)

    held = asyncio.ensure_future(reader._execute(long_selection))
    await asyncio.get_running_loop().run_in_executor(None, busy.wait, 10)
    count = "SELECT COUNT(*) AS n FROM customer"
    try:
        async with recorded_run("test", date(2027, 1, 31), {}, "test"):
            # the job's read does not wait for the read connection
            assert await asyncio.wait_for(Customer.all().count(), 5) == 1
        # an API read short enough for the event loop's thread does not wait either
        assert await asyncio.wait_for(conn.execute_query_dict(count), 5) == [{"n": 1}]
        # one that overran there goes to the read connection's thread, and waits for it
        conn._loop_reader._sent[count] = 1
        api_read = asyncio.ensure_future(conn.execute_query_dict(count))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(api_read), 0.5)
    finally:
        free.set()
        await held
    assert await asyncio.wait_for(api_read, 5) == [{"n": 1}]  # once the connection is free


async def test_dict_rows_are_plain_dicts_by_column_name(db: TortoiseContext) -> None:
    """``execute_query_dict`` (Tortoise's ``values()``) on either SQLite connection gives the
    dicts ``dict(row)`` gave: by column name, and a name given twice keeps its first value."""
    await Customer.create(account_number="C-1", name="Ada", email="ada@example.com")
    conn = get_connection("default")
    plain = "SELECT account_number, name, email FROM customer"
    twice = "SELECT name AS x, email AS X FROM customer"
    want = [{"account_number": "C-1", "name": "Ada", "email": "ada@example.com"}]
    outside = await conn.execute_query_dict(plain)
    assert outside == want
    assert all(type(row) is dict for row in outside)
    async with in_transaction() as inside:
        assert await inside.execute_query_dict(plain) == want
        if conn.capabilities.dialect == "sqlite":  # a name twice ignoring case: SQLite's rows
            assert await inside.execute_query_dict(twice) == [{"x": "Ada", "X": "Ada"}]
    if conn.capabilities.dialect == "sqlite":
        assert await conn.execute_query_dict(twice) == [{"x": "Ada", "X": "Ada"}]
    values = await Customer.all().values("account_number", "name")
    assert values == [{"account_number": "C-1", "name": "Ada"}]


async def _read_connections(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, list[str]]:
    """SQLite's client, its loop reader, and the statements its read thread is sent."""
    conn = sqlite_client("SQLite's read connections")
    reader = await conn._read_connection()
    hops: list[str] = []
    real = reader.execute_fetchall

    def execute_fetchall(sql: str, *args: Any) -> Any:
        hops.append(sql)
        return real(sql, *args)

    monkeypatch.setattr(reader, "execute_fetchall", execute_fetchall)
    return conn, conn._loop_reader, hops


async def test_a_short_read_is_answered_on_the_event_loops_thread(
    db: TortoiseContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read sent to aiosqlite's thread waits 25–100 µs for the hop, four times what a look-up
    by key takes: a short read runs on the loop's thread, on the last committed state."""
    conn, loop_reader, hops = await _read_connections(monkeypatch)
    await Customer.create(account_number="C-1", name="Ada")
    threads: list[int] = []

    def thread_of() -> int:
        threads.append(threading.get_ident())
        return 1

    loop_reader._conn.create_function("thread_of", 0, thread_of)
    rows = await conn.execute_query_dict("SELECT name, thread_of() AS t FROM customer")
    assert rows == [{"name": "Ada", "t": 1}]
    assert threads == [threading.get_ident()]
    assert hops == []
    # what another connection commits is read at once
    await Customer.create(account_number="C-2", name="Bo")
    names = await Customer.all().order_by("id").values_list("name", flat=True)
    assert list(names) == ["Ada", "Bo"]  # type: ignore[comparison-overlap]  # stubs: tuples
    assert hops == []
    # inside a transaction, reads stay on the writing connection and see its writes
    async with in_transaction() as tx:
        await Customer.create(account_number="C-3", name="Cy", using_db=tx)
        assert await Customer.all().using_db(tx).count() == 3
    assert hops == []


async def test_a_read_is_the_same_on_every_path(
    db: TortoiseContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whichever connection answers a read, its text is run as Tortoise runs it (a NUL byte
    written out as ``CHAR(0)``), and the answer is the same: on the loop's thread, on the read
    thread (a text sent there after an overrun), and for a job on the writing connection."""
    from continuity import sqlite

    conn, loop_reader, hops = await _read_connections(monkeypatch)
    await Customer.create(account_number="C-1", name="Ada")
    text = "SELECT name, 'a\x00b' AS v FROM customer"
    expected = [{"name": "Ada", "v": "a\x00b"}]
    assert await conn.execute_query_dict(text) == expected  # the loop's thread
    assert hops == []
    written_out = text.replace("\x00", "'||CHAR(0)||'")
    loop_reader._sent[written_out] = 1  # as after an overrun: the next read goes to the thread
    assert await conn.execute_query_dict(text) == expected
    assert hops == [written_out]
    with sqlite.background():  # a job's read: on the writing connection
        assert await conn.execute_query_dict(text) == expected
    assert hops == [written_out]
    assert await conn.execute_query_dict(text) == expected  # the loop's thread again
    assert hops == [written_out]


async def test_a_long_read_goes_to_the_read_thread(
    db: TortoiseContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read still running after the budget is interrupted and answered on the read
    connection's thread, whole; the next reads of its text go there directly, then it is
    tried on the loop's thread again."""
    from continuity import sqlite

    conn, loop_reader, hops = await _read_connections(monkeypatch)
    for n in range(40):
        await Customer.create(account_number=f"C-{n}", name=f"N{n}")
    monkeypatch.setattr(sqlite, "SENT_AFTER_OVERRUN", 2)
    # 40⁴ = 2.56 M joined rows: far more than the budget (0.5 ms)
    long = "SELECT COUNT(*) AS n FROM customer a, customer b, customer c, customer d"
    started = asyncio.get_running_loop().time()
    assert await conn.execute_query_dict(long) == [{"n": 40**4}]
    assert len(hops) == 1  # interrupted on the loop's thread, answered on the read thread
    assert loop_reader._sent == {long: 2}
    for _ in range(2):
        assert await conn.execute_query_dict(long) == [{"n": 40**4}]
    assert len(hops) == 3
    assert loop_reader._sent == {}
    # a short read meanwhile never left the loop's thread
    assert await conn.execute_query_dict("SELECT COUNT(*) AS n FROM customer") == [{"n": 40}]
    assert len(hops) == 3
    assert asyncio.get_running_loop().time() - started < 30


async def test_a_read_stopped_after_its_first_rows_leaves_its_text_prepared_once(
    db: TortoiseContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CPython 3.11 leaves a statement stopped after its first row marked in use in the
    connection's statement cache, and every later read of its text was prepared anew (a
    projection's read 20 → 170 µs for the rest of the process). After such an interruption
    the loop's reader opens a new connection: the text is prepared once again, then reused.
    SQLite calls the authorizer only while it prepares a statement."""
    from continuity import sqlite

    conn, loop_reader, hops = await _read_connections(monkeypatch)
    for n in range(40):
        await Customer.create(account_number=f"C-{n}", name=f"N{n}")
    rows = "SELECT a.id, b.id FROM customer a, customer b"  # 1,600 rows, the first at once
    monkeypatch.setattr(sqlite, "LOOP_READ_BUDGET_S", -1.0)  # interrupted at the first check
    assert len(await conn.execute_query_dict(rows)) == 1600
    assert len(hops) == 1  # interrupted on the loop's thread after its first rows
    monkeypatch.setattr(sqlite, "LOOP_READ_BUDGET_S", 60.0)
    loop_reader._sent.clear()
    prepared: list[int] = []

    def authorizer(*_args: object) -> int:
        prepared.append(1)
        return sqlite3.SQLITE_OK

    loop_reader._conn.set_authorizer(authorizer)  # expires what was prepared: once more
    assert len(await conn.execute_query_dict(rows)) == 1600
    assert prepared
    prepared.clear()
    for _ in range(3):
        assert len(await conn.execute_query_dict(rows)) == 1600
    assert prepared == []  # the cached statement, not a new one each time
    assert len(hops) == 1


async def test_a_reader_that_cannot_reopen_keeps_answering(
    db: TortoiseContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When no new connection can be opened after such an interruption, the reader keeps the
    one it has: the read is answered on the read thread, and the next reads on the loop's."""
    from continuity import sqlite

    conn, loop_reader, hops = await _read_connections(monkeypatch)
    for n in range(40):
        await Customer.create(account_number=f"C-{n}", name=f"N{n}")
    kept = loop_reader._conn

    def cannot_open() -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(loop_reader, "_connect", cannot_open)
    monkeypatch.setattr(sqlite, "LOOP_READ_BUDGET_S", -1.0)
    rows = "SELECT a.id, b.id FROM customer a, customer b"
    assert len(await conn.execute_query_dict(rows)) == 1600
    assert len(hops) == 1
    assert loop_reader._conn is kept
    monkeypatch.setattr(sqlite, "LOOP_READ_BUDGET_S", 60.0)
    assert await conn.execute_query_dict("SELECT COUNT(*) AS n FROM customer") == [{"n": 40}]
    assert len(hops) == 1  # answered on the loop's thread, by the connection it kept


async def test_a_locked_file_sends_the_read_to_the_read_thread(
    db: TortoiseContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop's thread never waits for a lock (``busy_timeout=0``): a read that finds the
    file locked goes to the read connection's thread, which may wait for it. (A WAL reader
    meets a lock only in rare moments, such as another connection recovering the WAL: the
    lock is simulated.)"""
    conn, loop_reader, hops = await _read_connections(monkeypatch)
    await Customer.create(account_number="C-1", name="Ada")
    assert loop_reader._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 0
    tried: list[str] = []

    class Locked:
        def execute(self, sql: str, values: object) -> None:
            tried.append(sql)
            raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(loop_reader, "_conn", Locked())
    assert await Customer.all().count() == 1  # answered on the read thread
    assert len(tried) == 1
    assert len(hops) == 1
    assert loop_reader._sent == {}

    class Broken:
        def execute(self, sql: str, values: object) -> None:
            raise sqlite3.OperationalError("no such table: nothing")

    monkeypatch.setattr(loop_reader, "_conn", Broken())
    with pytest.raises(OperationalError, match="no such table"):  # other errors are errors
        await conn.execute_query("SELECT * FROM nothing")
