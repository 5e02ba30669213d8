"""``continuity.group_writes``: on PostgreSQL, placements' writes that arrive while two are in
flight are written by the next statement, all of them in one; a joint statement that fails
leaves each to write alone, so only the one at fault fails."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, NamedTuple

import pytest
from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from continuity import group_writes
from continuity.models import Customer
from continuity.sql import dialect
from continuity.writes import (
    ModelRows,
    RowSet,
    all_or_nothing,
    allocate_ids,
    violates_unique,
    write_row_sets,
)
from tests.statements import Statements, capturing

pytestmark = pytest.mark.db


def _postgres() -> BaseDBAsyncClient:
    conn = Tortoise.get_connection("default")
    if dialect(conn) != "postgres":
        pytest.skip("SQLite joins placements in one commit instead (continuity.group_commit)")
    return conn


async def _customer_sets(*accounts: str) -> list[list[RowSet]]:
    """One placement's row sets per account: a customer each, ids allocated."""
    async with all_or_nothing() as conn:
        ids = (await allocate_ids(conn, {"customer": len(accounts)}))["customer"]
    sets = []
    for customer_id, account in zip(ids, accounts, strict=True):
        rows = ModelRows(Customer)
        rows.add(id=customer_id, account_number=account, name=f"Customer {account}")
        sets.append(rows.sets())
    return sets


class _Gate:
    """``write_row_sets`` whose first ``held`` statements each wait for their event
    (``release``): the writes in flight stay in flight while the test queues others."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, held: int) -> None:
        self.events = [asyncio.Event() for _ in range(held)]
        self.statements: list[int] = []  # the rows of each statement, in order
        real = write_row_sets

        async def write(conn: BaseDBAsyncClient, sets: Sequence[RowSet]) -> None:
            index = len(self.statements)
            self.statements.append(sum(len(s.rows) for s in sets))
            if index < len(self.events):
                await self.events[index].wait()
            await real(conn, sets)

        monkeypatch.setattr(group_writes, "write_row_sets", write)

    def release(self, *indexes: int) -> None:
        for index in indexes or range(len(self.events)):
            self.events[index].set()


async def _settled() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


Writes = list[asyncio.Future[None]]


class _Started(NamedTuple):
    conn: BaseDBAsyncClient
    gate: _Gate
    first: Writes  # in flight, held by the gate
    waiting: Writes  # queued behind them
    later: list[list[RowSet]]  # placements not started


async def _started(
    monkeypatch: pytest.MonkeyPatch, accounts: str, *, queued: int, held: int = 0
) -> _Started:
    """A customer a placement for each letter of ``accounts``: the first ones' writes in
    flight (as many as may be, held by the gate with ``held`` more statements after them),
    then ``queued`` more, which wait behind them."""
    conn = _postgres()
    placements = await _customer_sets(*accounts.split())
    gate = _Gate(monkeypatch, held=group_writes.MAX_IN_FLIGHT + held)

    def start(sets: list[list[RowSet]]) -> Writes:
        return [asyncio.ensure_future(group_writes.write_together(conn, s)) for s in sets]

    flying = group_writes.MAX_IN_FLIGHT
    first = start(placements[:flying])
    await _settled()
    waiting = start(placements[flying : flying + queued])
    await _settled()
    return _Started(conn, gate, first, waiting, placements[flying + queued :])


async def test_placements_waiting_are_written_in_one_statement(
    db: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn, gate, first, waiting, _ = await _started(monkeypatch, "A B C D E", queued=3)
    assert gate.statements == [1, 1]  # two in flight, three waiting
    assert await Customer.all().count() == 0
    with capturing(Statements(lambda sql: sql.startswith("WITH") or "INSERT" in sql)) as seen:
        gate.release()
        await asyncio.gather(*first, *waiting)
    # the first statement to end handed the three waiting to one statement of their own
    assert gate.statements == [1, 1, 3]
    joint = [sql for sql in seen.sql if sql.count("(") > 6]
    assert len(joint) == 1
    assert joint[0].count('INSERT INTO "customer"') == 1
    stored = await Customer.all().order_by("account_number").values_list("account_number")
    assert [row[0] for row in stored] == ["A", "B", "C", "D", "E"]
    assert group_writes._queue(conn).writing == 0
    assert group_writes._queue(conn).waiting == []


async def test_a_failed_joint_statement_fails_only_the_placement_at_fault(
    db: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "TAKEN" twice: the joint statement of the three waiting fails on the second
    conn, gate, first, waiting, _ = await _started(monkeypatch, "A B TAKEN C TAKEN", queued=3)
    gate.release()
    results: list[Any] = await asyncio.gather(*first, *waiting, return_exceptions=True)
    assert results[:4] == [None, None, None, None]
    assert isinstance(results[4], IntegrityError)
    assert violates_unique(results[4], "customer", "account_number")
    # the joint statement (3 rows) wrote nothing; then each of its placements alone
    assert gate.statements[:3] == [1, 1, 3]
    assert sorted(gate.statements[3:]) == [1, 1, 1]
    stored = await Customer.all().order_by("id").values_list("account_number")
    assert [row[0] for row in stored] == ["A", "B", "TAKEN", "C"]
    assert group_writes._queue(conn).writing == 0


async def test_a_placement_cancelled_while_waiting_is_not_written(
    db: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn, gate, first, (gone, kept), _ = await _started(monkeypatch, "A B GONE C", queued=2)
    gone.cancel()
    await _settled()
    assert len(group_writes._queue(conn).waiting) == 1
    gate.release()
    await asyncio.gather(*first, kept)
    assert gone.cancelled()
    stored = await Customer.all().order_by("id").values_list("account_number")
    assert [row[0] for row in stored] == ["A", "B", "C"]
    assert gate.statements == [1, 1, 1]
    assert group_writes._queue(conn).writing == 0


async def test_a_leader_cancelled_mid_statement_still_settles_the_others(
    db: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The joint statement runs to its end whatever happens to its leader: the placements in
    it learn what became of their rows, and the place in flight goes to the next."""
    conn, gate, first, (leader, follower), [last] = await _started(
        monkeypatch, "A B C D E", queued=2, held=1
    )
    gate.release(0, 1)
    await asyncio.gather(*first)
    await _settled()
    # the third statement (the two waiting) is held: its leader is cancelled meanwhile
    assert gate.statements == [1, 1, 2]
    leader.cancel()
    await _settled()
    assert not leader.done()  # waiting for the statement its rows and another's are in
    gate.release(2)
    with pytest.raises(asyncio.CancelledError):
        await leader
    await follower
    await group_writes.write_together(conn, last)
    stored = await Customer.all().order_by("id").values_list("account_number")
    assert [row[0] for row in stored] == ["A", "B", "C", "D", "E"]
    assert group_writes._queue(conn).writing == 0


async def test_sqlite_writes_at_once(db: object) -> None:
    conn = Tortoise.get_connection("default")
    if dialect(conn) != "sqlite":
        pytest.skip("the SQLite path")
    async with all_or_nothing() as writer:
        ids = (await allocate_ids(writer, {"customer": 1}))["customer"]
        rows = ModelRows(Customer)
        rows.add(id=ids[0], account_number="S", name="Customer S")
        await group_writes.write_together(writer, rows.sets())
    assert await Customer.all().values_list("account_number") == [("S",)]
    assert conn not in group_writes._queues  # nothing queued: written at once
