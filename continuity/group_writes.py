"""Placements' writes on PostgreSQL joined into one statement while others are in flight.

On PostgreSQL a placement's rows are one statement (``continuity.writes``): one transaction,
its foreign keys checked at its end. Half of what that statement costs the database does not
depend on its rows (the round trip, the executor's start and end, the commit: ~150 µs of
~275 µs for a book club's twelve lines, measured), and the driver's share likewise (~85 of
~110 µs). Under a load of placements the machine's two cores are both busy, and that fixed
part, paid once a placement, was the largest piece of a placement left to save
(docs/PERFORMANCE.md, the seventeenth session).

So ``write_together`` writes a placement's row sets at once while fewer than
``MAX_IN_FLIGHT`` such statements are in flight on its database, and otherwise queues them:
when a statement ends, the first placement queued writes the placements queued (up to
``MAX_MEMBERS``) as one statement, each table's rows of all of them in one ``INSERT``, on a
connection of the pool. What that keeps:

- **all or nothing**, each placement's rows in the statement that holds them all; nothing is
  acknowledged before that statement has committed;
- **each its own error**: when a joint statement fails (an order number drawn twice, a row
  another transaction changed), none of it is written, and each of its placements writes
  its rows again alone: the one at fault gets its error (the caller redraws a number as
  before), the others are written;
- **order**: the first queued leads the next statement; a placement waits for one statement
  to end before its own (more only when over ``MAX_MEMBERS`` wait).

SQLite needs none of it: its placements share one commit already (``continuity.group_commit``).
"""

from __future__ import annotations

import asyncio
import enum
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.sql import dialect
from continuity.writes import MAX_PARAMETERS, RowSet, write_row_sets

#: Placements one statement may hold (a book club's is ~200 parameters: 32 stay far below
#: ``MAX_PARAMETERS``, which also bounds it).
MAX_MEMBERS = 32
#: Joint statements in flight at once on one database: one runs on one PostgreSQL backend
#: (one core); two let the database use the machine's second core while the other commits.
MAX_IN_FLIGHT = 2


class _Turn(enum.Enum):
    WRITTEN = "written"  # in a joint statement that committed
    ALONE = "alone"  # in a joint statement that failed: write alone
    LEAD = "lead"  # first in the queue when a statement ended: write the queue


@dataclass(eq=False)
class _Member:
    sets: Sequence[RowSet]
    parameters: int
    turn: asyncio.Future[_Turn]


@dataclass
class _Queue:
    """One database's placements: the statements in flight and the placements waiting."""

    writing: int = 0  # statements in flight (at most ``MAX_IN_FLIGHT``)
    waiting: list[_Member] = field(default_factory=list)


#: Each database client's queue (a client is one database's pool, on one event loop).
_queues: weakref.WeakKeyDictionary[BaseDBAsyncClient, _Queue] = weakref.WeakKeyDictionary()


def _queue(conn: BaseDBAsyncClient) -> _Queue:
    """The queue of the client ``conn`` belongs to (``conn`` may be a connection taken from
    its pool, ``writes.one_connection``): only placements on one database join."""
    client = conn
    while (parent := getattr(client, "_parent", None)) is not None:
        client = parent
    queue = _queues.get(client)
    if queue is None:
        queue = _queues[client] = _Queue()
    return queue


async def write_together(conn: BaseDBAsyncClient, sets: Sequence[RowSet]) -> None:
    """``write_row_sets(conn, sets)``, joined with the other placements waiting on PostgreSQL
    (the module docstring); at once on SQLite."""
    sets = [s for s in sets if s.rows]
    if not sets or dialect(conn) != "postgres":
        await write_row_sets(conn, sets)
        return
    queue = _queue(conn)
    me = _Member(
        sets,
        sum(len(s.columns) * len(s.rows) for s in sets),
        asyncio.get_running_loop().create_future(),
    )
    if queue.writing < MAX_IN_FLIGHT:
        queue.writing += 1
    else:
        queue.waiting.append(me)
        turn = await _wait(queue, me)
        if turn is _Turn.WRITTEN:
            return
        if turn is _Turn.ALONE:
            await write_row_sets(conn, sets)
            return
        # LEAD: the statement that ended handed us its place in flight
    await _lead(queue, me, conn)


async def _wait(queue: _Queue, me: _Member) -> _Turn:
    """Our turn. Cancelled while queued, we leave the queue; while our rows are in a
    statement in flight, we wait for its end first (they are written or not, whatever we
    do); just handed the lead, we hand it on."""
    try:
        return await asyncio.shield(me.turn)
    except asyncio.CancelledError:
        if me in queue.waiting:
            queue.waiting.remove(me)
        elif not me.turn.done():
            await asyncio.wait([me.turn])
        if me.turn.done() and me.turn.result() is _Turn.LEAD:
            _hand_over(queue)
        raise


async def _lead(queue: _Queue, me: _Member, conn: BaseDBAsyncClient) -> None:
    """Write ``me`` and the placements waiting (as many as fit) in one statement on
    ``conn``, then hand our place in flight to the next one waiting."""
    taken = [me, *_take(queue, me.parameters)]
    if len(taken) == 1:  # nobody else's rows in it: an ordinary write
        try:
            await write_row_sets(conn, me.sets)
        finally:
            _hand_over(queue)
        return
    statement = asyncio.ensure_future(write_row_sets(conn, _joined(taken)))
    try:
        await asyncio.wait([statement])  # not interrupted: the others' rows are in it
    finally:
        if not statement.done():  # we were cancelled: the statement still ends first
            await asyncio.wait([statement])
        _hand_over(queue)
        failed = statement.exception()
        for member in taken[1:]:
            member.turn.set_result(_Turn.ALONE if failed else _Turn.WRITTEN)
    if failed is not None:
        await write_row_sets(conn, me.sets)  # alone, to see whether the fault is ours


def _take(queue: _Queue, parameters: int) -> list[_Member]:
    """The first placements waiting that fit one statement with a leader's ``parameters``."""
    taken: list[_Member] = []
    for member in queue.waiting:
        if len(taken) + 1 >= MAX_MEMBERS or parameters + member.parameters > MAX_PARAMETERS:
            break
        taken.append(member)
        parameters += member.parameters
    del queue.waiting[: len(taken)]
    return taken


def _hand_over(queue: _Queue) -> None:
    """A statement ended (or its leader left): the first placement waiting takes its place
    in flight and leads the next statement; with nobody waiting, the place is free."""
    if queue.waiting:
        queue.waiting.pop(0).turn.set_result(_Turn.LEAD)
    else:
        queue.writing -= 1


def _joined(members: Sequence[_Member]) -> list[RowSet]:
    """The members' row sets as one write: each table's rows (same columns, same conflict
    rule) in one set, tables in the order they first appear (a statement's foreign keys
    are checked at its end, so the order is only the text's)."""
    joined: dict[tuple[str, tuple[str, ...], str | None], RowSet] = {}
    for member in members:
        for row_set in member.sets:
            key = (row_set.table, row_set.columns, row_set.skip_conflict)
            found = joined.get(key)
            if found is None:
                joined[key] = RowSet(
                    row_set.table, row_set.columns, list(row_set.rows), row_set.skip_conflict
                )
            else:
                found.rows.extend(row_set.rows)
    return list(joined.values())
