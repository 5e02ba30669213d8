"""A short unit of work's transaction runs on the event loop's thread (SQLite, issue 15).

A placement's transaction sent each of its statements to aiosqlite's thread and back, and
held the process's write lock for those round trips. Work that enters ``short_writes`` runs
its transaction on the writing connection's synchronous twin instead: the same statements,
commits, rollbacks, savepoints and errors, without a hop. A file another process holds sends
the transaction to aiosqlite's thread, which may wait for it; so do jobs (``background``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import pytest
from tortoise.context import TortoiseContext
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from continuity.models import Customer
from continuity.sqlite import _LoopWriter, background, short_writes
from continuity.writes import (
    ModelRows,
    all_or_nothing,
    allocate_ids,
    violates_unique,
    write_row_sets,
)
from tests.dbutil import sqlite_client

pytestmark = pytest.mark.db


def _names(path: str) -> list[str]:
    """The committed customers, as another connection reads them."""
    with sqlite3.connect(path) as other:
        return [row[0] for row in other.execute("SELECT name FROM customer ORDER BY id")]


async def test_a_short_transaction_runs_on_the_loops_thread(db: TortoiseContext) -> None:
    client = sqlite_client("SQLite's writing connections")
    threads: list[int] = []

    def thread_of() -> int:
        threads.append(threading.get_ident())
        return 1

    with short_writes():
        async with in_transaction() as tx:
            assert isinstance(tx._connection, _LoopWriter)
            tx._connection._conn.create_function("thread_of", 0, thread_of)
            await Customer.create(account_number="C-1", name="Ada", using_db=tx)
            # the transaction reads what it wrote; nobody else sees it yet
            assert await Customer.all().using_db(tx).count() == 1
            assert _names(client.filename) == []
            rows = await tx.execute_query_dict("SELECT thread_of() AS t")
            assert rows == [{"t": 1}]
            assert threads == [threading.get_ident()]
    assert _names(client.filename) == ["Ada"]
    twin = client._writer_twin
    assert twin._thread == threading.get_ident()
    # set up as Tortoise's writing connection is, but never waiting for a lock
    for pragma in [
        "foreign_keys",
        "journal_mode",
        "synchronous",
        "cache_size",
        "journal_size_limit",
    ]:
        ours = twin._conn.execute(f"PRAGMA {pragma}").fetchone()[0]
        tortoises = await (await client._connection.execute(f"PRAGMA {pragma}")).fetchone()
        assert ours == tortoises[0], pragma
    assert twin._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 0
    # its savepoints' journals in memory: no temporary file a member on the loop's thread
    assert twin._conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    # committed rows are read back at once, through the API's read connection too
    assert await Customer.filter(name="Ada").count() == 1


async def _duplicate(tx: Any) -> None:
    """Two customers, the second one's account number taken: the transaction fails."""
    await Customer.create(account_number="C-2", name="Bo", using_db=tx)
    await Customer.create(account_number="C-1", name="Twin", using_db=tx)


async def test_a_failed_short_transaction_leaves_nothing(db: TortoiseContext) -> None:
    client = sqlite_client("SQLite's writing connections")
    await Customer.create(account_number="C-1", name="Ada")

    async def failing() -> None:
        with short_writes():
            async with in_transaction() as tx:
                assert isinstance(tx._connection, _LoopWriter)
                await _duplicate(tx)

    with pytest.raises(IntegrityError):
        await failing()
    assert _names(client.filename) == ["Ada"]
    assert not client._writer_twin.in_transaction

    # a nested transaction is a savepoint: its failure undoes only its own rows
    async def nested(tx: Any) -> None:
        async with in_transaction() as inner:
            assert inner._connection is tx._connection
            await _duplicate(inner)

    with short_writes():
        async with in_transaction() as tx:
            await Customer.create(account_number="C-3", name="Cy", using_db=tx)
            with pytest.raises(IntegrityError):
                await nested(tx)
            await Customer.create(account_number="C-5", name="Ed", using_db=tx)
    assert _names(client.filename) == ["Ada", "Cy", "Ed"]


async def test_a_members_row_sets_are_written_on_the_twin_all_or_nothing(
    db: TortoiseContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A placement's write (``write_row_sets`` in ``short_writes``) goes straight to the twin,
    not through Tortoise's wrapper, a multi-row ``INSERT`` a table: its rows read back in its
    transaction, committed at its end; a conflict raises Tortoise's error, which names the
    column, and leaves nothing."""
    client = sqlite_client("SQLite's writing connections")
    await Customer.create(account_number="C-1", name="Ada")

    async def not_through_tortoise(*_args: Any) -> Any:
        raise AssertionError("a member's statement went through Tortoise's wrapper")

    async def write(*accounts: str) -> None:
        with short_writes():
            async with all_or_nothing() as tx:
                assert isinstance(tx._connection, _LoopWriter)
                with monkeypatch.context() as patched:  # the ids' read and the inserts
                    patched.setattr(tx, "execute_query", not_through_tortoise)
                    ids = (await allocate_ids(tx, {"customer": len(accounts)}))["customer"]
                    rows = ModelRows(Customer)
                    for customer_id, account in zip(ids, accounts, strict=True):
                        rows.append(id=customer_id, account_number=account, name=account.lower())
                    await write_row_sets(tx, rows.sets())
                mine = Customer.filter(account_number__in=accounts).using_db(tx)
                assert await mine.count() == len(accounts)
                written = {account.lower() for account in accounts}
                assert not written & set(_names(client.filename))  # not committed yet

    await write("C-2", "C-3")
    assert _names(client.filename) == ["Ada", "c-2", "c-3"]
    with pytest.raises(IntegrityError) as raised:
        await write("C-4", "C-1")
    assert violates_unique(raised.value, "customer", "account_number")
    assert _names(client.filename) == ["Ada", "c-2", "c-3"]
    await write("C-4")
    assert _names(client.filename) == ["Ada", "c-2", "c-3", "c-4"]


async def test_jobs_and_other_work_stay_on_aiosqlites_thread(db: TortoiseContext) -> None:
    sqlite_client("SQLite's writing connections")
    async with in_transaction() as tx:
        assert not isinstance(tx._connection, _LoopWriter)  # not marked short
        await Customer.create(account_number="C-1", name="Ada", using_db=tx)
    with background(), short_writes():
        async with in_transaction() as tx:
            assert not isinstance(tx._connection, _LoopWriter)  # a job's: never on the loop
            await Customer.create(account_number="C-2", name="Bo", using_db=tx)
    assert await Customer.all().count() == 2


async def test_a_locked_file_sends_the_transaction_to_aiosqlites_thread(
    db: TortoiseContext,
) -> None:
    """The loop's thread never waits for the write lock: when another process holds it, the
    transaction begins on aiosqlite's thread, which waits for it, while the loop serves."""
    client = sqlite_client("SQLite's writing connections")
    other = sqlite3.connect(client.filename, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute(
        "INSERT INTO customer (account_number, name, created_at, updated_at) "
        "VALUES ('C-0', 'Zed', '2027-01-01 00:00:00+00:00', '2027-01-01 00:00:00+00:00')"
    )
    connections: list[Any] = []

    async def place() -> None:
        with short_writes():
            async with in_transaction() as tx:
                connections.append(tx._connection)
                await Customer.create(account_number="C-1", name="Ada", using_db=tx)

    placing = asyncio.ensure_future(place())
    await asyncio.sleep(0.2)
    assert not placing.done()  # waiting for the lock, on aiosqlite's thread
    assert await asyncio.wait_for(Customer.all().count(), 5) == 0  # the loop still serves
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(placing, 30)
    assert not isinstance(connections[0], _LoopWriter)
    assert _names(client.filename) == ["Zed", "Ada"]
    # the next one, the file free, runs on the loop's thread again
    with short_writes():
        async with in_transaction() as tx:
            assert isinstance(tx._connection, _LoopWriter)


class _HeldCommit:
    """The twin's connection, with a commit that waits to be let go and notes its thread: a
    commit that waits for the disk as long as a test needs."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.started = threading.Event()
        self.release = threading.Event()
        self.threads: list[int] = []

    #: Set: the commit fails as a disk error does (SQLite rolls the transaction back).
    fails = False

    def commit(self) -> None:
        self.threads.append(threading.get_ident())
        self.started.set()
        self.release.wait(10)
        if self.fails:
            self._conn.rollback()
            raise sqlite3.OperationalError("disk I/O error")
        self._conn.commit()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


async def _held_twin(client: Any, kind: type[_HeldCommit] = _HeldCommit) -> _HeldCommit:
    """The writing twin, opened by a first short transaction, its commits held (``kind``)."""
    with short_writes():
        async with in_transaction() as tx:
            await Customer.create(account_number="C-0", name="Zed", using_db=tx)
    twin = client._writer_twin
    held = kind(twin._conn)
    twin._conn = held
    return held


async def _until(event: threading.Event) -> None:
    for _ in range(500):
        if event.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the commit never started")


async def _add(name: str, number: str) -> None:
    with short_writes():
        async with in_transaction() as tx:
            assert isinstance(tx._connection, _LoopWriter)
            await Customer.create(account_number=number, name=name, using_db=tx)


async def test_a_short_transactions_commit_leaves_the_loop_free(db: TortoiseContext) -> None:
    """The commit waits for the disk (``synchronous=FULL``) on a thread of its own: the loop
    serves meanwhile, and the next transaction waits for the commit to end."""
    client = sqlite_client("SQLite's writing connections")
    held = await _held_twin(client)
    first = asyncio.ensure_future(_add("Ada", "C-1"))
    await _until(held.started)
    assert len(held.threads) == 1
    assert held.threads[0] != threading.get_ident()  # not the loop's thread
    # the loop serves reads meanwhile, of what was committed before
    assert await asyncio.wait_for(Customer.all().count(), 5) == 1
    second = asyncio.ensure_future(_add("Bo", "C-2"))
    await asyncio.sleep(0.1)
    assert not first.done()
    assert not second.done()  # the next transaction waits its turn
    assert len(held.threads) == 1  # and has not reached its commit
    held.release.set()
    await asyncio.wait_for(asyncio.gather(first, second), 10)
    assert _names(client.filename) == ["Zed", "Ada", "Bo"]


async def test_a_cancelled_commit_ends_before_the_next_transaction(db: TortoiseContext) -> None:
    """A request cancelled while its commit runs (a client gone) leaves the commit to end, its
    rows committed, before the lock passes on: the next transaction must not begin on a
    connection still committing."""
    client = sqlite_client("SQLite's writing connections")
    held = await _held_twin(client)
    first = asyncio.ensure_future(_add("Ada", "C-1"))
    await _until(held.started)
    first.cancel()
    second = asyncio.ensure_future(_add("Bo", "C-2"))
    await asyncio.sleep(0.1)
    assert not first.done()  # its commit still runs
    assert not second.done()  # and the next transaction waits for it
    held.release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(first, 10)
    await asyncio.wait_for(second, 10)
    assert _names(client.filename) == ["Zed", "Ada", "Bo"]
    assert not client._writer_twin.in_transaction


async def test_a_cancelled_callers_failed_commit_is_logged(
    db: TortoiseContext, caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody awaits a cancelled caller's commit any more: its failure is logged, not lost,
    and the next transaction runs."""
    client = sqlite_client("SQLite's writing connections")
    held = await _held_twin(client)
    held.fails = True
    first = asyncio.ensure_future(_add("Ada", "C-1"))
    await _until(held.started)
    first.cancel()
    held.release.set()
    with (
        caplog.at_level("ERROR", logger="continuity.sqlite"),
        pytest.raises(asyncio.CancelledError),
    ):
        await asyncio.wait_for(first, 10)
    assert [r.getMessage() for r in caplog.records] == ["a cancelled transaction's commit failed"]
    assert "disk I/O error" in caplog.text
    held.fails = False
    await _add("Bo", "C-2")
    assert _names(client.filename) == ["Zed", "Bo"]


# Group commit (``continuity.group_commit``): short transactions that wait while one commits
# run as one batch, each in a savepoint, made durable by one commit.


class _GatedCommit(_HeldCommit):
    """The twin's connection, each commit let through by one ``allow()``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self._gate = threading.Semaphore(0)

    def allow(self) -> None:
        self._gate.release()

    def commit(self) -> None:
        self.threads.append(threading.get_ident())
        self.started.set()
        if not self._gate.acquire(timeout=10):
            raise AssertionError("a commit was never let through")
        if self.fails:
            self._conn.rollback()
            raise sqlite3.OperationalError("disk I/O error")
        self._conn.commit()


async def _gated_twin(client: Any) -> _GatedCommit:
    gated = await _held_twin(client, _GatedCommit)
    assert isinstance(gated, _GatedCommit)
    return gated


async def _commits(gated: _GatedCommit, count: int) -> None:
    for _ in range(500):
        if len(gated.threads) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(gated.threads)} commits, not {count}")


async def test_transactions_waiting_for_a_commit_commit_together_once_durable(
    db: TortoiseContext,
) -> None:
    """Three placements that wait while one commits run as one batch with one commit. None
    of them ends, and nobody else reads their rows, before that commit has synced; a write
    outside the batch waits for it."""
    client = sqlite_client("SQLite's writing connections")
    gated = await _gated_twin(client)
    first = asyncio.ensure_future(_add("Ada", "C-1"))
    await _commits(gated, 1)
    batch = [
        asyncio.ensure_future(_add(name, f"C-{number}"))
        for number, name in [(2, "Bo"), (3, "Cy"), (4, "Di")]
    ]
    await asyncio.sleep(0.05)
    gated.allow()
    await asyncio.wait_for(first, 10)
    await _commits(gated, 2)  # the batch's commit, holding all three, waits for the disk
    outside = asyncio.ensure_future(Customer.create(account_number="C-5", name="Ed"))
    await asyncio.sleep(0.1)
    assert not any(task.done() for task in [*batch, outside])
    assert _names(client.filename) == ["Zed", "Ada"]
    gated.allow()
    await asyncio.wait_for(asyncio.gather(*batch, outside), 10)
    assert len(gated.threads) == 2  # Ada's commit, then one for Bo, Cy and Di
    assert _names(client.filename) == ["Zed", "Ada", "Bo", "Cy", "Di", "Ed"]
    assert not client._writer_twin.in_transaction


async def test_a_failed_member_undoes_only_its_own_rows(db: TortoiseContext) -> None:
    client = sqlite_client("SQLite's writing connections")
    gated = await _gated_twin(client)
    first = asyncio.ensure_future(_add("Ada", "C-1"))
    await _commits(gated, 1)

    async def failing() -> None:
        with short_writes():
            async with in_transaction() as tx:
                await Customer.create(account_number="C-9", name="Fay", using_db=tx)
                await Customer.create(account_number="C-1", name="Twin", using_db=tx)

    bo = asyncio.ensure_future(_add("Bo", "C-2"))
    fails = asyncio.ensure_future(failing())
    di = asyncio.ensure_future(_add("Di", "C-4"))
    await asyncio.sleep(0.05)
    gated.allow()
    gated.allow()
    await asyncio.wait_for(asyncio.gather(first, bo, di), 10)
    with pytest.raises(IntegrityError):
        await fails
    assert len(gated.threads) == 2
    assert _names(client.filename) == ["Zed", "Ada", "Bo", "Di"]


async def test_a_failed_commit_fails_every_member_and_keeps_nothing(
    db: TortoiseContext,
) -> None:
    client = sqlite_client("SQLite's writing connections")
    gated = await _gated_twin(client)
    first = asyncio.ensure_future(_add("Ada", "C-1"))
    await _commits(gated, 1)
    batch = [asyncio.ensure_future(_add(name, f"C-{n}")) for n, name in [(2, "Bo"), (3, "Cy")]]
    await asyncio.sleep(0.05)
    gated.allow()
    await asyncio.wait_for(first, 10)
    await _commits(gated, 2)
    gated.fails = True
    gated.allow()
    results = await asyncio.wait_for(asyncio.gather(*batch, return_exceptions=True), 10)
    assert [type(result) for result in results] == [OperationalError, OperationalError]
    assert all("disk I/O error" in str(result) for result in results)
    assert _names(client.filename) == ["Zed", "Ada"]
    gated.fails = False
    gated.allow()
    await asyncio.wait_for(_add("Ed", "C-5"), 10)  # the next one begins afresh
    assert _names(client.filename) == ["Zed", "Ada", "Ed"]


async def test_a_member_cancelled_before_its_turn_leaves_the_others_committed(
    db: TortoiseContext,
) -> None:
    """The last member, cancelled as its turn came (a client gone), never runs; the members
    before it are committed all the same (nobody else was left to commit them)."""
    client = sqlite_client("SQLite's writing connections")
    go = asyncio.Event()

    async def ada() -> None:
        with short_writes():
            async with in_transaction() as tx:
                await Customer.create(account_number="C-1", name="Ada", using_db=tx)
                await go.wait()

    first = asyncio.ensure_future(ada())
    await asyncio.sleep(0.05)  # Ada's batch is open, her block waits
    second = asyncio.ensure_future(_add("Bo", "C-2"))
    await asyncio.sleep(0.05)  # Bo joined it and waits for his turn
    go.set()
    await asyncio.sleep(0)  # Ada's block ends and passes the turn to Bo...
    second.cancel()  # ...who is cancelled before he runs
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(second, 10)
    await asyncio.wait_for(first, 10)
    assert _names(client.filename) == ["Ada"]
    await _add("Cy", "C-3")
    assert _names(client.filename) == ["Ada", "Cy"]
