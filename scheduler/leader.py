"""Which replica runs the scheduled job chain.

On PostgreSQL the leader is the replica holding the ``LEADER`` session advisory lock on a
dedicated connection (``continuity.pglocks``). Every replica tries to take it every
``leader_check_seconds``; the leader checks that its connection still answers. When the leader
dies, PostgreSQL drops its connection and its lock, and another replica takes the lock at its
next try: within a minute. A leader whose connection stops answering steps down at once.

On SQLite there is one server per database file: it always leads.
"""

from __future__ import annotations

import logging

import asyncpg

from continuity.pglocks import LEADER, SessionLock, on_postgres

log = logging.getLogger("continuity.scheduler")


class Leadership:
    def __init__(self) -> None:
        self._lock = SessionLock(LEADER)
        self.is_leader = False

    async def refresh(self) -> bool:
        """Try to lead (or check that this replica still does); returns whether it leads."""
        if not on_postgres():
            self.is_leader = True
            return True
        try:
            if self._lock.held:
                self.is_leader = await self._lock.alive()
            else:
                self.is_leader = await self._lock.try_acquire()
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("scheduler leadership: cannot reach the database: %s", exc)
            await self._lock.release()
            self.is_leader = False
        return self.is_leader

    async def resign(self) -> None:
        """Let another replica lead (at shutdown)."""
        await self._lock.release()
        self.is_leader = False
