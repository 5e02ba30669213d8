"""Short SQLite transactions committed together: one sync of the WAL for several placements.

SQLite has one writer at a time, and a transaction holds the process's write lock until its
commit has synced the WAL (``synchronous=FULL``). Under load that commit took 1.3–1.7 ms
(the sync, then the wait for the GIL) of a placement's ~3 ms inside the lock, and the lock,
not the CPU, bounded placements a second: the loop's thread was a third idle
(docs/PERFORMANCE.md, the eighth session).

So ``short_writes`` transactions that wait while one runs join it as a **batch**: one SQLite
transaction, each member inside a savepoint of its own, run one after the other, and a single
commit when the last member has ended. A member's failure rolls back its savepoint only.
Nothing is acknowledged or visible before it is durable: every member's block ends only when
the commit that holds its rows has synced, and other connections see the rows at that commit,
after the sync, as before. What the batch changes: a member reads the rows of the members
before it (as it would, run after them), and if the commit itself fails (a disk error), every
member of the batch gets the error; none of its rows is kept.

A batch holds the write lock (``lock``, Tortoise's lock of the client) from its begin to its
commit, so every other transaction and every statement outside one waits for the whole batch,
as it waited for each placement in turn before. ``MAX_MEMBERS`` bounds how long that is, and
how long a batch's first member waits for its last.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from tortoise.exceptions import OperationalError

log = logging.getLogger("continuity.sqlite")

#: How many transactions one commit may hold: ~1.2 ms each under load, so a batch's first
#: member waits at most ~40 ms for the commit, against ~50 ms in the lock's queue before.
MAX_MEMBERS = 32
#: Each member's savepoint (members run one at a time, so one name serves).
SAVEPOINT = "continuity_member"


class Twin(Protocol):
    """The writing connection the batches run on (``continuity.sqlite._LoopWriter``)."""

    _conn: sqlite3.Connection
    _committer: ThreadPoolExecutor

    def begin(self) -> bool: ...


class State(enum.Enum):
    NEW = "new"  # its transaction not begun yet
    OPEN = "open"  # begun, the write lock held: members run in it
    COMMITTING = "committing"
    ENDED = "ended"  # committed, or lost with a member's error (``_fail``)
    ELSEWHERE = "elsewhere"  # could not begin here: another process holds the file's lock


class Batch:
    """The transactions committed by one commit."""

    __slots__ = ("done", "joined", "pending", "state", "turn")

    def __init__(self) -> None:
        self.joined = 0  # members that joined (``MAX_MEMBERS``)
        self.pending = 0  # members that joined and have not ended
        self.turn = asyncio.Lock()  # held by the member running
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.state = State.NEW


class GroupCommit:
    """The batches of one writing connection (module docstring)."""

    def __init__(self, twin: Twin, lock: asyncio.Lock) -> None:
        self._twin = twin
        self._lock = lock
        self._open: Batch | None = None  # the batch new members join
        self._tasks: set[asyncio.Task[None]] = set()  # commits of abandoned batches

    @property
    def twin(self) -> Twin:
        return self._twin

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._twin._conn

    async def enter(self) -> Batch | None:
        """This transaction's turn in a batch, its savepoint set; ``None`` when the batch
        could not begin here (another process holds the file's write lock): the caller then
        runs an ordinary transaction, which may wait for that lock off the loop's thread."""
        while True:
            batch = self._open
            if batch is None or batch.joined >= MAX_MEMBERS:
                batch = self._open = Batch()
            batch.joined += 1
            batch.pending += 1
            try:
                await batch.turn.acquire()
            except BaseException:
                self._abandon(batch)
                raise
            try:
                if batch.state is State.NEW:  # the first member to run begins the batch
                    await self._begin(batch)
                if batch.state is State.OPEN:
                    self._conn.execute(f"SAVEPOINT {SAVEPOINT}")
                    return batch
            except BaseException as exc:
                batch.turn.release()
                self._abandon(batch)
                if isinstance(exc, sqlite3.Error):  # as the client's own statements raise
                    raise OperationalError(exc) from exc
                raise
            batch.turn.release()
            self._abandon(batch)
            if batch.state is State.ELSEWHERE:
                return None
            # its transaction was lost with an earlier member's error (``_fail``): a new one

    async def _begin(self, batch: Batch) -> None:
        await self._lock.acquire()
        try:
            begun = self._twin.begin()
        except BaseException:
            self._lock.release()
            raise
        if begun:
            batch.state = State.OPEN
            return
        self._lock.release()
        self._close(batch)
        batch.state = State.ELSEWHERE  # its members run ordinary transactions (``enter``)

    async def leave(self, batch: Batch, ok: bool) -> None:
        """Ends the member whose turn it is: its savepoint released (``ok``) or rolled back.
        The turn passes to the next member; the last one commits the batch. A member whose
        work is kept returns when the commit holding it is durable, and raises its error."""
        conn = self._conn
        try:
            if not conn.in_transaction:  # SQLite rolled it back itself (a full disk, …)
                raise sqlite3.OperationalError("the transaction was rolled back by SQLite")
            if not ok:
                conn.execute(f"ROLLBACK TO {SAVEPOINT}")
            conn.execute(f"RELEASE {SAVEPOINT}")
        except sqlite3.Error as exc:
            self._fail(batch, exc)
            batch.pending -= 1
            batch.turn.release()
            if ok:
                raise OperationalError(exc) from exc
            return
        batch.pending -= 1
        if batch.pending:
            batch.turn.release()
        else:
            self._close(batch)
            self._commit(batch)
        if ok:
            await _durable(batch)

    def _close(self, batch: Batch) -> None:
        """No new member joins ``batch``."""
        if self._open is batch:
            self._open = None

    def _abandon(self, batch: Batch) -> None:
        """A member leaves before its turn ended (cancelled while waiting for it, or its
        batch ended): if it was the last, the members before it are committed now."""
        batch.pending -= 1
        if batch.pending:
            return
        self._close(batch)
        if batch.state is State.OPEN:  # nobody left to commit it: a task does
            task = asyncio.ensure_future(self._commit_abandoned(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _commit_abandoned(self, batch: Batch) -> None:
        await batch.turn.acquire()
        self._commit(batch)

    def _commit(self, batch: Batch) -> None:
        """Commits ``batch`` on the committer's thread (the sync waits for the disk), its turn
        and the write lock held until the commit has ended: the next batch must not begin on a
        connection still committing."""
        batch.state = State.COMMITTING
        committed = asyncio.get_running_loop().run_in_executor(
            self._twin._committer, self._conn.commit
        )
        committed.add_done_callback(lambda future: self._settle(batch, future))

    def _settle(self, batch: Batch, committed: asyncio.Future[None]) -> None:
        error = committed.exception()
        if error is None:
            batch.done.set_result(None)
        else:
            self._rollback()
            batch.done.set_exception(OperationalError(error))
        self._end(batch)
        batch.turn.release()

    def _fail(self, batch: Batch, error: sqlite3.Error) -> None:
        """The batch's transaction is lost (a member's savepoint could not end): so is the
        work of the members before, which gets the error."""
        self._rollback()
        batch.done.set_exception(OperationalError(error))
        self._close(batch)
        self._end(batch)

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            try:
                self._conn.rollback()
            except sqlite3.Error:
                log.exception("a batch's rollback failed")

    def _end(self, batch: Batch) -> None:
        batch.state = State.ENDED
        # marks a failure retrieved: the members waiting raise it, and a batch whose members
        # all failed or were cancelled has nobody else to (``_durable`` logs the latter's)
        batch.done.exception()
        self._lock.release()


async def _durable(batch: Batch) -> None:
    """Waits for ``batch``'s commit; a member cancelled meanwhile still waits for it to end
    (its rows are committed or not, whatever the caller does), and a failure nobody will
    see then is logged."""
    try:
        await asyncio.shield(batch.done)
    except asyncio.CancelledError:
        await asyncio.wait([batch.done])
        if batch.done.exception() is not None:
            log.error("a cancelled transaction's commit failed", exc_info=batch.done.exception())
        raise
