"""The SQLite connection every process opens (the server, the CLI, the jobs, migrations).

SQLite lets one process write at a time. The README runs a server and ``continuity jobs run``
(or two CLI commands) on one file, so a second writer must wait for the first, not fail:

- ``journal_mode=WAL``: readers never wait for the writer, nor the writer for readers;
- ``busy_timeout`` (``BUSY_TIMEOUT_MS`` unless the URL names one, ``?busy_timeout=60000``): a
  writer that finds the file locked waits that long for it;
- ``BEGIN IMMEDIATE``: a transaction takes the write lock when it starts. Tortoise begins
  deferred transactions, which read first and ask for the lock at their first write; when
  another process has committed in between, SQLite cannot let that transaction write (its
  snapshot is stale) and answers "database is locked" at once, without waiting: the tracebacks
  and failed items two ``jobs run`` processes produced.

A writer that still finds the file locked after the timeout gets ``OperationalError``
("database is locked"), which the CLI prints as one line (``server/cli_support.py``). Every
commit also syncs the WAL (``synchronous=FULL``, ``PRAGMAS``): what was acknowledged survives
a power cut. The WAL is copied into the database file by a thread beside the writers
(``_Checkpointer``), not by the commit that happens to take it past SQLite's mark.

Within one process Tortoise has one connection, and a transaction holds it: a ``SELECT`` run
outside any transaction (every API read) waited for whatever transaction held it, a batch of
a job (up to ``BATCH_SECONDS``) or a placement, and a page that reads three times waited up
to three times. A database file therefore gets a second, read-only connection
(``query_only``): a plain ``SELECT`` outside a transaction runs there, on the last committed
state, as WAL lets readers do beside the writer; everything else (writes, ``WITH …``,
``PRAGMA``, every statement inside a transaction) stays on the one writing connection. An
in-memory database has no second connection (another connection would open another
database).

The read connection is the API's. A job's selections run outside its batches' transactions,
and one of them can take a quarter of a second on a million orders (the child-order job sorts
every due line): on the read connection every API read queued behind it, and a page waited
a second under load. So while a job runs (``background``, entered by every job's run) its
plain ``SELECT``s stay on the writing connection, which is idle between its batches.

A read sent to ``aiosqlite``'s thread costs a round trip of 25–100 µs (a queue, a wake-up of
the thread, a wake-up of the event loop, each taking the GIL), while the read itself, a look-up
by key, takes 5–20 µs: a projection waited four times as long for the hop as for its read.
Under load the thread also waits for the GIL after every row SQLite steps to (a page's read
of 150 lines, ~0.5 ms on the loop, took ~8 ms there). So the read connection has a
synchronous twin on the event loop's own thread (``_LoopReader``), and every read tries it
first. SQLite's progress handler bounds what that may cost the loop:
a read still running after ``LOOP_READ_BUDGET_S`` is interrupted and sent to the thread after
all, and its text's next ``SENT_AFTER_OVERRUN`` reads go there directly (then it is tried on the
loop again: a read that overran only because the machine took its core away is not exiled for
good, and a long one wastes one budget in that many reads). The twin never waits for a lock
(``busy_timeout=0``; WAL readers rarely meet one): a busy file sends the read to the thread,
which may wait. A read stopped after its first row leaves its statement marked in use in
CPython 3.11's statement cache, and every later read of its text was prepared anew (8× the
cost of a projection's read): after such a stop the twin opens a new connection.

Writes have a twin too, for short work only. A placement's transaction sent each of its
statements to aiosqlite's thread and back, and held the write lock across those round trips:
under load the lock was busy ~90 % of the time, and the hops (wake-ups, GIL hand-offs) cost
a quarter of a placement request's CPU (2.4–2.9 ms in process, 1.8–2.1 ms without them).
Work that enters ``short_writes`` (a few rows, bounded by its input) runs its transaction on
the writing connection's synchronous twin on the loop's thread (``_LoopWriter``): the same
statements, savepoints and rollback, at once. Its commit alone goes to a thread of its own: it
waits for the disk to sync the WAL (``synchronous=FULL``: a placement acknowledged is on disk),
~0.3–0.6 ms that on the loop's thread stopped every request. A write cannot be interrupted and
moved as a read can, so nothing else may enter it: a rule sync or a shipment import on the
loop's thread would stop every request for its duration. The twin too never waits for the
lock: when another process holds it, the transaction begins on aiosqlite's thread, which
waits. A job's work (``background``) never uses it. Short transactions that arrive while one
runs or commits are committed together, one sync of the WAL for all of them, none of them
acknowledged or visible before it (``continuity.group_commit``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from time import perf_counter
from typing import Any, cast

import aiosqlite
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
    translate_exceptions,
)
from tortoise.exceptions import IntegrityError, OperationalError, TransactionManagementError

from continuity.connection import connections
from continuity.group_commit import Batch, GroupCommit
from continuity.rows import row_dicts

log = logging.getLogger("continuity.sqlite")

#: How long a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_MS = 30_000
#: The pragmas every connection sets unless its URL gives its own value.
#: SQLite's page cache per connection, in KiB (its default is 2 MiB): the jobs walk indexes of
#: millions of lines, which thrash a 2 MiB cache. Memory only.
CACHE_KIB = 65536
PRAGMAS: dict[str, Any] = {
    "journal_mode": "WAL",
    # every commit syncs the WAL: a placement or a charge acknowledged survives a power cut
    # (``NORMAL`` would lose the last commits then). SQLite's usual default, but a build may
    # change it: said here, not assumed.
    "synchronous": "FULL",
    "busy_timeout": BUSY_TIMEOUT_MS,
    "cache_size": -CACHE_KIB,  # negative: KiB, not pages
    # the checkpointer's thread moves the WAL into the file (``_Checkpointer``); a committing
    # connection does it itself only past this many pages (~40 MB), should that thread lag
    "wal_autocheckpoint": 10_000,
}
#: What SQLite says when the lock could not be had in time.
LOCKED = "database is locked"


def is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) is SQLite's "database is locked"."""
    while exc is not None:
        if isinstance(exc, OperationalError | sqlite3.OperationalError) and LOCKED in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


class _ImmediateTransaction(SqliteTransactionWrapper):
    #: The batch this transaction is a member of (``short_writes`` work on the writing twin).
    _batch: Batch | None = None
    _group: GroupCommit

    def group(self) -> GroupCommit | None:
        """The batches this transaction may join: ``short_writes`` work, not a job's, on the
        loop's thread of a file (module docstring)."""
        parent = self._parent
        if not (_SHORT.get() and not _BACKGROUND.get()):
            return None
        if not isinstance(parent, ContinuitySqliteClient):
            return None
        writer = parent._loop_writer()
        if writer is None or not writer.on_its_thread():
            return None
        return writer.group

    def join(self, group: GroupCommit, batch: Batch) -> None:
        # every statement of the transaction and its savepoints go to the twin from here
        # (Tortoise reads ``_connection``)
        self._connection = cast(aiosqlite.Connection, group.twin)
        self._group = group
        self._batch = batch

    async def begin(self) -> None:
        try:
            # Tortoise's wrapper commits first, for a transaction the connection might still
            # hold; with none open (the usual case: autocommit, transactions under one lock)
            # that commit is a no-op, and a round trip through aiosqlite's thread saved.
            if self._connection.in_transaction:
                await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise OperationalError(exc) from exc

    async def commit(self) -> None:
        if self._batch is not None:
            raise TransactionManagementError("a short transaction commits when its block ends")
        await super().commit()

    async def rollback(self) -> None:
        if self._batch is not None:
            raise TransactionManagementError("a short transaction rolls back when its block fails")
        await super().rollback()


class _TransactionContext(SqliteTransactionContext):
    async def __aenter__(self) -> TransactionalDBClient:
        tx = self.connection
        group = tx.group()
        if group is not None:
            await self.ensure_connection()  # opens the client as Tortoise would (checkpointer)
            batch = await group.enter()
            if batch is not None:
                tx.join(group, batch)
                self.token = connections().set(self.connection_name, tx)
                return tx  # type: ignore[no-any-return]
        # Tortoise's own context keeps its lock when ``begin`` fails, and every later
        # transaction of the process would wait for it for ever: a busy file must not do that.
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = connections().set(self.connection_name, self.connection)
            try:
                await self.connection.begin()
            except BaseException:
                connections().reset(self.token)
                raise
        except BaseException:
            self._trxlock.release()
            raise
        return self.connection  # type: ignore[no-any-return]

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        tx = self.connection
        batch = tx._batch
        if batch is None:
            await super().__aexit__(exc_type, exc_val, exc_tb)
            return
        tx._finalized = True
        connections().reset(self.token)
        await tx._group.leave(batch, ok=exc_type is None)


async def execute_in(
    transaction: BaseDBAsyncClient, query: str, values: Sequence[Any]
) -> Sequence[Any]:
    """A statement of ``transaction`` (SQLite), its rows. A batch member's transaction
    (``short_writes``) runs it straight on the writing twin: Tortoise's wrapper around each
    statement (its connection's lock, a context manager, three coroutines, the errors
    translated) cost ~12 µs for each of a placement's half-dozen statements. Any other goes
    through the client, as ``execute_query``; both raise Tortoise's errors and log the
    statement."""
    if isinstance(transaction, _ImmediateTransaction) and transaction._batch is not None:
        transaction.log.debug("%s: %s", query, values)  # logged as Tortoise logs its own
        try:
            return transaction._group.twin._conn.execute(query, values).fetchall()
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(exc) from exc
        except sqlite3.OperationalError as exc:
            raise OperationalError(exc) from exc
    _changed, rows = await transaction.execute_query(query, list(values))
    return rows


def _add_functions(conn: sqlite3.Connection) -> None:
    for name, function in FUNCTIONS.items():
        conn.create_function(name, 1, function, deterministic=True)


async def _on_its_thread(
    connection: aiosqlite.Connection, setup: Callable[..., None], *args: Any
) -> None:
    """``setup(conn, *args)`` for the ``sqlite3`` connection inside ``connection``, on
    aiosqlite's thread, which owns it (aiosqlite leaves ``_execute`` untyped)."""
    await connection._execute(setup, connection._conn, *args)  # type: ignore[no-untyped-call]


def _b64(text: str | None) -> str | None:
    return None if text is None else base64.b64encode(text.encode()).decode()


def _sha256(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


#: SQL functions SQLite lacks and PostgreSQL has (``encode(…, 'base64')``, ``sha256``), for
#: statements that build outbox rows in the database (a global id in a payload, a hashed
#: recipient in a key: ``continuity.notifications.outcomes``).
FUNCTIONS = {"continuity_b64": _b64, "continuity_sha256": _sha256}


def _reads_only(query: str) -> bool:
    """A plain ``SELECT``: what the read connection may run (``WITH`` may front a write)."""
    return query.lstrip()[:6].upper() == "SELECT"


@lru_cache(maxsize=1024)
def _read_text(query: str) -> str | None:
    """A plain ``SELECT``'s text as the read connection runs it, NUL bytes written out as
    Tortoise's reads do; ``None`` for any other statement. Made once per text: a request
    reads with a few texts, again and again."""
    return query.replace("\x00", "'||CHAR(0)||'") if _reads_only(query) else None


#: Set while a job runs: its reads stay off the API's read connection (module docstring).
_BACKGROUND: ContextVar[bool] = ContextVar("continuity_sqlite_background", default=False)


@contextmanager
def background() -> Iterator[None]:
    """Background work (a job's run): its plain ``SELECT``s run on the writing connection, so
    that they never hold up the API's reads (the module docstring)."""
    token = _BACKGROUND.set(True)
    try:
        yield
    finally:
        _BACKGROUND.reset(token)


#: Set by a unit of work whose write transaction is a few short statements (``short_writes``).
_SHORT: ContextVar[bool] = ContextVar("continuity_sqlite_short", default=False)


@contextmanager
def short_writes() -> Iterator[None]:
    """A unit of work whose transaction writes a few rows and reads a few (a placement): on
    SQLite the transaction runs on the event loop's thread (``_LoopWriter``, the module
    docstring). Only such work may enter it: nothing else runs on the loop while it does."""
    token = _SHORT.set(True)
    try:
        yield
    finally:
        _SHORT.reset(token)


def _prepare(conn: sqlite3.Connection, pragmas: dict[str, Any]) -> None:
    """What every connection beside Tortoise's is, as Tortoise sets its own up: rows by name,
    the connection's pragmas, the SQL functions of ``FUNCTIONS`` (run on the thread that uses
    ``conn``)."""
    conn.row_factory = sqlite3.Row
    for pragma, value in pragmas.items():
        conn.execute(f"PRAGMA {pragma}={value}")
    _add_functions(conn)


def _prepare_reader(conn: sqlite3.Connection, pragmas: dict[str, Any]) -> None:
    """Both read connections: ``_prepare``'s, read-only."""
    _prepare(conn, {**pragmas, "query_only": "ON"})


#: How long a read may hold the event loop's thread before it is sent to the read thread.
#: Look-ups by key fit with room to spare; a page's read of 150 lines (~0.5 ms) mostly does
#: not under load. 5 ms kept those on the loop too, for 2–6 % more of graphql-read's
#: requests, but the loop then never waited for a read, and the daily chain running in the
#: same loop under that load took 238 s instead of 23 s (docs/PERFORMANCE.md).
LOOP_READ_BUDGET_S = 0.0005
#: SQLite virtual-machine steps between two looks at the clock (~20 µs of a read here).
_STEPS_PER_CHECK = 1000
#: How many reads of a text that overran the budget go straight to the read thread.
SENT_AFTER_OVERRUN = 100
#: How many such texts are remembered (then all forgotten at once).
_LONG_TEXTS = 1024


class _LoopReader:
    """The read connection's synchronous twin, used on the event loop's thread (module
    docstring): answers a read at once, or ``None`` when it belongs on the read thread."""

    def __init__(self, filename: str, pragmas: dict[str, Any]) -> None:
        self._thread = threading.get_ident()
        self._filename = filename
        self._pragmas = {**pragmas, "busy_timeout": 0}
        self._conn = self._connect()
        self._deadline = 0.0
        #: Statement text → how many of its next reads go straight to the read thread.
        self._sent: dict[str, int] = {}

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._filename, isolation_level=None)
        _prepare_reader(conn, self._pragmas)
        conn.set_progress_handler(self._overran, _STEPS_PER_CHECK)
        return conn

    def _overran(self) -> bool:
        return perf_counter() > self._deadline

    def read(self, query: str, values: Sequence[Any]) -> list[sqlite3.Row] | None:
        if threading.get_ident() != self._thread:
            return None
        if self._sent and (left := self._sent.get(query)):
            if left > 1:
                self._sent[query] = left - 1
            else:
                del self._sent[query]
            return None
        self._deadline = perf_counter() + LOOP_READ_BUDGET_S
        try:
            cursor = self._conn.execute(query, values)
        except sqlite3.OperationalError as exc:
            self._leave(query, exc)
            return None
        try:
            return cursor.fetchall()
        except sqlite3.OperationalError as exc:
            # CPython 3.11 leaves a statement stopped after its first row "in use" in the
            # connection's statement cache (its reset reports the step's error, and the flag
            # stays set), so every later read of that text was prepared anew: a projection's
            # statement took 170 µs instead of 20, for the life of the process. A new
            # connection (~1 ms, once per overrun) has a clean cache.
            self._renew()
            self._leave(query, exc)
            return None

    def _renew(self) -> None:
        """A new connection in place of this one; if none can be opened now, this one stays
        (slower for a text it cannot reuse, but answering)."""
        try:
            fresh = self._connect()
        except sqlite3.Error as exc:
            log.warning("could not reopen the loop's read connection: %s", exc)
            return
        stale, self._conn = self._conn, fresh
        stale.close()

    def _leave(self, query: str, exc: sqlite3.OperationalError) -> None:
        """A read that failed here goes to the read thread when it was interrupted (its text
        is sent there for its next reads too) or found the file locked; any other error is
        the read's own."""
        if str(exc) == "interrupted":
            if len(self._sent) >= _LONG_TEXTS:
                self._sent.clear()
            self._sent[query] = SENT_AFTER_OVERRUN
        elif not is_locked(exc):
            raise exc

    def close(self) -> None:
        self._conn.close()


class _LoopWriter:
    """The writing connection's synchronous twin on the event loop's thread, for the
    transactions of ``short_writes`` work (module docstring). It has the part of
    ``aiosqlite.Connection`` that Tortoise's transaction wrapper uses, run at once instead
    of on aiosqlite's thread: each statement of a placement cost a round trip there."""

    def __init__(self, filename: str, pragmas: dict[str, Any], lock: asyncio.Lock) -> None:
        self._thread = threading.get_ident()
        # a commit runs on a thread of its own (``GroupCommit``); everything else on the loop's
        conn = sqlite3.connect(filename, isolation_level=None, check_same_thread=False)
        # never waiting for a lock (``begin``); the journal of each batch member's savepoint
        # in memory, not in a temporary file that every member created, wrote and removed on
        # the loop's thread (its 12 lines took 270 µs instead of 140, waiting for the disk)
        _prepare(conn, {**pragmas, "busy_timeout": 0, "temp_store": "MEMORY"})
        self._conn = conn
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="continuity-commit")
        #: Its transactions, committed together (``continuity.group_commit``); ``lock`` is
        #: the client's, which a batch holds from its begin to its commit.
        self.group = GroupCommit(self, lock)

    def on_its_thread(self) -> bool:
        """Whether the caller runs on the loop's thread, the only one that may use the twin
        (another thread's transaction goes to aiosqlite's)."""
        return threading.get_ident() == self._thread

    def begin(self) -> bool:
        """``BEGIN IMMEDIATE`` here (on its thread: ``on_its_thread``); ``False`` when the
        file's write lock is held by another process: the transaction then belongs on
        aiosqlite's thread, which may wait for it without holding up the loop."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_locked(exc):
                return False
            raise
        return True

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    @property
    def total_changes(self) -> int:
        return self._conn.total_changes

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> sqlite3.Cursor:
        return self._conn.execute(sql, parameters or ())

    async def execute_fetchall(
        self, sql: str, parameters: Sequence[Any] | None = None
    ) -> list[sqlite3.Row]:
        return self._conn.execute(sql, parameters or ()).fetchall()

    async def execute_insert(
        self, sql: str, parameters: Sequence[Any] | None = None
    ) -> tuple[int | None]:
        return (self._conn.execute(sql, parameters or ()).lastrowid,)

    async def executemany(self, sql: str, parameters: Sequence[Sequence[Any]]) -> sqlite3.Cursor:
        return self._conn.executemany(sql, parameters)

    async def executescript(self, sql_script: str) -> sqlite3.Cursor:
        return self._conn.executescript(sql_script)

    def close(self) -> None:
        self._committer.shutdown(wait=True)
        self._conn.close()


#: How often the checkpointer's thread looks for committed pages to copy into the file.
CHECKPOINT_INTERVAL_S = 0.1


class _Checkpointer:
    """A thread that checkpoints the WAL (copies committed pages into the database file and
    syncs it) beside the writers, with a connection of its own.

    By default the connection whose commit takes the WAL past 1,000 pages checkpoints at
    once, before its commit returns: a batch of the child-order job writes ~10 MB, so every
    batch's commit also waited for the copy and the file's sync (the job's commits took 1.8 s
    instead of 1.3, docs/PERFORMANCE.md), and a placement's commit waited whenever it crossed
    the mark. SQLite's documentation on WAL offers this arrangement: the writers' automatic
    checkpoint turned off or pushed out (``PRAGMAS``), a thread doing it meanwhile. A ``PASSIVE``
    checkpoint waits for no reader or writer, and with nothing new in the WAL it only reads
    the WAL's index. What was committed is as durable either way (the WAL is synced at each
    commit); a checkpoint only moves it."""

    def __init__(self, filename: str) -> None:
        self._filename = filename
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="continuity-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self._filename, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=0")
            while not self._stop.wait(CHECKPOINT_INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # a busy or vanished file: the next round
                    log.debug("checkpoint of %s skipped: %s", self._filename, exc)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _in_memory(filename: str) -> bool:
    return filename in {"", ":memory:"} or "mode=memory" in filename


class ContinuitySqliteClient(SqliteClient):
    """Tortoise's SQLite client, with write transactions that begin ``IMMEDIATE``, the SQL
    functions of ``FUNCTIONS``, and reads outside transactions on a connection of their own
    (see the module docstring)."""

    def __init__(self, file_path: str, **kwargs: Any) -> None:
        super().__init__(file_path, **kwargs)
        self._reader: aiosqlite.Connection | None = None
        self._loop_reader: _LoopReader | None = None
        self._reader_opening = asyncio.Lock()
        self._writer_twin: _LoopWriter | None = None
        self._checkpointer: _Checkpointer | None = None

    def _loop_writer(self) -> _LoopWriter | None:
        """The writing connection's twin (``None`` in memory: another connection would open
        another database), opened at the first ``short_writes`` transaction."""
        if self._writer_twin is None and not _in_memory(self.filename):
            self._writer_twin = _LoopWriter(self.filename, self.pragmas, self._lock)
        return self._writer_twin

    async def create_connection(self, with_db: bool) -> None:
        opened = self._connection is not None
        await super().create_connection(with_db)
        if self._connection is not None and not opened:
            await _on_its_thread(self._connection, _add_functions)
            if self._checkpointer is None and self._in_wal() and not _in_memory(self.filename):
                self._checkpointer = _Checkpointer(self.filename)

    def _in_wal(self) -> bool:
        """Whether the file is in WAL mode (``PRAGMAS``, unless its URL names another journal
        mode): only a WAL has checkpoints for ``_Checkpointer`` to run."""
        return str(self.pragmas.get("journal_mode", "")).upper() == "WAL"

    async def _read_connection(self) -> aiosqlite.Connection | None:
        """The read-only connection, opened at the first read (``None``: in memory, or
        background work: ``background``)."""
        if _BACKGROUND.get():
            return None
        if self._reader is not None or _in_memory(self.filename):
            return self._reader
        async with self._reader_opening:
            if self._reader is None:
                reader = await aiosqlite.connect(self.filename, isolation_level=None)
                await _on_its_thread(reader, _prepare_reader, self.pragmas)
                self._loop_reader = _LoopReader(self.filename, self.pragmas)
                self._reader = reader
        return self._reader

    async def execute_query(
        self, query: str, values: list[Any] | None = None
    ) -> tuple[int, Sequence[dict[str, Any]]]:
        loop_reader = self._loop_reader
        text = None if loop_reader is None or _BACKGROUND.get() else _read_text(query)
        if loop_reader is None or text is None:
            answer: tuple[int, Sequence[dict[str, Any]]] = await self._execute_query(query, values)
            return answer
        # The usual read of a request, the read connection open: answered here, without the
        # three coroutines of ``_execute_query`` (~5 µs, a tenth of a projection's CPU)
        self.log.debug("%s: %s", query, values)
        try:
            rows = loop_reader.read(text, values or ())
        except sqlite3.OperationalError as exc:  # the read's own error
            raise OperationalError(exc) from exc  # as Tortoise's reads raise it
        if rows is None:  # too long for the loop, or the file busy
            rows = await self._read_on_thread(text, values)
        return len(rows), rows  # type: ignore[return-value]  # sqlite3.Row reads as a dict

    @translate_exceptions
    async def _execute_query(
        self, query: str, values: list[Any] | None
    ) -> tuple[int, Sequence[dict[str, Any]]]:
        """Writes, a job's reads, and the first read (which opens the read connection)."""
        reader = await self._read_connection() if _reads_only(query) else None
        if reader is None:
            written: tuple[int, Sequence[dict[str, Any]]] = await super().execute_query(
                query, values
            )
            return written
        assert self._loop_reader is not None  # opened with the read connection
        read: tuple[int, Sequence[dict[str, Any]]] = await self.execute_query(query, values)
        return read  # now the path above

    async def execute_query_dict(
        self, query: str, values: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        # Tortoise's makes each row a dict by name (``dict(row)``), a scan of the column names
        # per column; ``row_dicts`` reads the names once a statement (``sql.fetch`` does too)
        _changed, rows = await self.execute_query(query, values)
        return row_dicts(rows)

    @translate_exceptions
    async def _read_on_thread(self, query: str, values: list[Any] | None) -> list[sqlite3.Row]:
        """A read on the read connection's thread, which may take its time."""
        assert self._reader is not None  # opened with the twin (``_read_connection``)
        return list(await self._reader.execute_fetchall(query, values))

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        loop_reader, self._loop_reader = self._loop_reader, None
        if loop_reader is not None:
            loop_reader.close()
        writer, self._writer_twin = self._writer_twin, None
        if writer is not None:
            writer.close()
        if reader is not None:
            await reader.close()
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            await asyncio.to_thread(checkpointer.stop)
        await super().close()

    def _in_transaction(self) -> SqliteTransactionContext:
        return _TransactionContext(_ImmediateTransaction(self), self._lock)


#: How Tortoise finds the client of an ``engine`` module.
client_class = ContinuitySqliteClient
