"""PostgreSQL session advisory locks, held on a connection of their own.

A session lock lives exactly as long as its connection: when the process holding it dies
(``kill -9``, a lost host), PostgreSQL closes the connection and frees the lock, so a lock is
the surest "is that process still alive?" a replica can ask. Two users:

- the scheduler's leader election (``scheduler.leader``): one replica holds ``LEADER``;
- the run ledger (``continuity.jobs.liveness``): every running job run holds a key of its own,
  so that a later run can tell a live run from a dead one at once.

The connection is dedicated (never from the ORM's pool: a pooled connection goes back to the
pool and would keep, or silently lose, the lock) and sends TCP keep-alives, so that the server
notices a vanished host within about half a minute. It must reach PostgreSQL directly or through
a session-pooling proxy: a transaction-pooling proxy (PgBouncer ``pool_mode=transaction``)
cannot hold session locks.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import asyncpg
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from continuity.connection import connection

#: Two-integer advisory keys: (namespace, id). The namespaces spell "Cont" and "Conu".
LEADER_NAMESPACE = 0x436F6E74
RUN_NAMESPACE = 0x436F6E75
#: The scheduler leader's lock.
LEADER = (LEADER_NAMESPACE, 1)
#: Held while migrating: replicas starting together apply the migrations one after the other.
MIGRATIONS = (LEADER_NAMESPACE, 2)

#: Server-side keep-alives on the dedicated connection: a silent peer is dropped (and its
#: locks freed) after about idle + interval × count seconds.
_KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
    "application_name": "continuity-lock",
}
#: How long a liveness probe of the lock connection may take before the lock counts as lost.
PROBE_TIMEOUT = 5.0


def default_client() -> BaseDBAsyncClient:
    """The ORM's connection of the open database."""
    return connection()


def on_postgres(client: BaseDBAsyncClient | None = None) -> bool:
    client = client or default_client()
    return client.capabilities.dialect == "postgres"


_CONNECT_PARAMETERS = frozenset(inspect.signature(asyncpg.connect).parameters)


async def dedicated_connection(client: BaseDBAsyncClient | None = None) -> Any:
    """A new asyncpg connection to the database the ORM uses, outside its pool."""
    client = client or default_client()
    extra = {
        key: value
        for key, value in getattr(client, "extra", {}).items()
        if key in _CONNECT_PARAMETERS and key not in {"server_settings", "loop"}
    }
    return await asyncpg.connect(
        host=getattr(client, "host", None),
        port=getattr(client, "port", None),
        user=getattr(client, "user", None),
        password=getattr(client, "password", None),
        database=getattr(client, "database", None),
        server_settings={**getattr(client, "server_settings", {}), **_KEEPALIVES},
        **extra,
    )


class SessionLock:
    """One advisory lock on a dedicated connection: ``acquire``/``try_acquire``, ``alive``
    (is the connection, and so the lock, still there?), ``release``."""

    def __init__(self, key: tuple[int, int]) -> None:
        self.key = key
        self._conn: Any = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def try_acquire(self, client: BaseDBAsyncClient | None = None) -> bool:
        """Take the lock if it is free; never waits for it."""
        if self._conn is None:
            self._conn = await dedicated_connection(client)
        try:
            taken = bool(
                await self._conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", *self.key)
            )
        except BaseException:
            await self.release()
            raise
        if not taken:
            await self.release()
        return taken

    async def acquire(self, client: BaseDBAsyncClient | None = None) -> None:
        """Take the lock, waiting for it if another session holds it."""
        if self._conn is None:
            self._conn = await dedicated_connection(client)
        try:
            await self._conn.execute("SELECT pg_advisory_lock($1, $2)", *self.key)
        except BaseException:
            await self.release()
            raise

    async def alive(self) -> bool:
        """Whether the lock is still held: its connection answers within ``PROBE_TIMEOUT``."""
        if self._conn is None:
            return False
        try:
            await asyncio.wait_for(self._conn.fetchval("SELECT 1"), PROBE_TIMEOUT)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await self.release()
            return False
        return True

    async def release(self) -> None:
        """Close the connection: the lock goes with it."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await asyncio.wait_for(conn.close(), PROBE_TIMEOUT)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            conn.terminate()


async def lock_is_free(key: tuple[int, int], client: BaseDBAsyncClient | None = None) -> bool:
    """Whether nobody holds ``key`` (so its holder, if it ever had one, is gone).

    Asked with a transaction-scoped try-lock, released by the transaction's end: the probe
    never keeps what it tests.
    """
    async with in_transaction(client.connection_name if client else None) as conn:
        _count, rows = await conn.execute_query(
            "SELECT pg_try_advisory_xact_lock($1, $2) AS free", list(key)
        )
    return bool(rows[0]["free"])
