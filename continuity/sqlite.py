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
("database is locked"), which the CLI prints as one line (``server/cli_support.py``).
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from typing import Any

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.exceptions import OperationalError

#: How long a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_MS = 30_000
#: The pragmas every connection sets unless its URL gives its own value.
#: SQLite's page cache per connection, in KiB (its default is 2 MiB): the jobs walk indexes of
#: millions of lines, which thrash a 2 MiB cache. Memory only.
CACHE_KIB = 65536
PRAGMAS: dict[str, Any] = {
    "journal_mode": "WAL",
    "busy_timeout": BUSY_TIMEOUT_MS,
    "cache_size": -CACHE_KIB,  # negative: KiB, not pages
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


class _TransactionContext(SqliteTransactionContext):
    async def __aenter__(self) -> TransactionalDBClient:
        # Tortoise's own context keeps its lock when ``begin`` fails, and every later
        # transaction of the process would wait for it for ever: a busy file must not do that.
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
            try:
                await self.connection.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            self._trxlock.release()
            raise
        return self.connection  # type: ignore[no-any-return]


def _b64(text: str | None) -> str | None:
    return None if text is None else base64.b64encode(text.encode()).decode()


def _sha256(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


#: SQL functions SQLite lacks and PostgreSQL has (``encode(…, 'base64')``, ``sha256``), for
#: statements that build outbox rows in the database (a global id in a payload, a hashed
#: recipient in a key: ``continuity.notifications.outcomes``).
FUNCTIONS = {"continuity_b64": _b64, "continuity_sha256": _sha256}


class ContinuitySqliteClient(SqliteClient):
    """Tortoise's SQLite client, with write transactions that begin ``IMMEDIATE`` and the
    SQL functions of ``FUNCTIONS``."""

    async def create_connection(self, with_db: bool) -> None:
        opened = self._connection is not None
        await super().create_connection(with_db)
        if self._connection is not None and not opened:
            for name, function in FUNCTIONS.items():
                await self._connection.create_function(name, 1, function, deterministic=True)

    def _in_transaction(self) -> SqliteTransactionContext:
        return _TransactionContext(_ImmediateTransaction(self), self._lock)


#: How Tortoise finds the client of an ``engine`` module.
client_class = ContinuitySqliteClient
