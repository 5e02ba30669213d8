"""Telling a live job run from a dead one, so that a dead run's work is taken over at once.

Every run records its **owner** (host, process id, the process's start time, and a lock key)
and, while it runs, holds a proof of life that disappears with its process:

- **PostgreSQL**: a session advisory lock ``(RUN_NAMESPACE, key)`` on a dedicated connection
  (``continuity.pglocks``). When the process dies the server drops the connection and the lock:
  a run whose lock is free is dead, whichever host it ran on.
- **SQLite** (one host): the process itself. A run whose process id no longer exists, or now
  belongs to a process started at another time (a reused id), is dead.

Either way a **heartbeat** (``heartbeat_at``, every ``HEARTBEAT_SECONDS``) backs this up: a run
of another host on SQLite, or a row written before owners existed, is dead once its heartbeat is
older than ``STALE_AFTER``.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from continuity.pglocks import RUN_NAMESPACE, SessionLock, lock_is_free, on_postgres

#: How often a running run writes its heartbeat (and its counts so far).
HEARTBEAT_SECONDS = 10.0
#: A run whose heartbeat is older than this is dead when nothing better can be asked.
STALE_AFTER = timedelta(minutes=2)


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) from Linux's ``/proc``; ``None`` when the
    process does not exist. Raises ``OSError`` where there is no ``/proc``."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if not Path("/proc/self/stat").exists():
            raise OSError("no /proc") from None
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return fields[0], fields[19]


@cache
def _started(pid: int) -> str:
    try:
        stat = _proc_stat(pid)
    except OSError:
        return ""
    return stat[1] if stat else ""


@dataclass(frozen=True)
class Owner:
    """Who runs a run: stored as ``host pid=N start=T key=K`` in ``JobRun.owner``."""

    host: str
    pid: int
    started: str
    key: int

    def __str__(self) -> str:
        return f"{self.host} pid={self.pid} start={self.started or '-'} key={self.key}"

    @classmethod
    def parse(cls, text: str | None) -> Owner | None:
        if not text:
            return None
        try:
            host, *pairs = text.split(" ")
            values = dict(pair.split("=", 1) for pair in pairs)
            started = values["start"]
            return cls(
                host, int(values["pid"]), "" if started == "-" else started, int(values["key"])
            )
        except (KeyError, ValueError):
            return None

    @property
    def lock_key(self) -> tuple[int, int]:
        return (RUN_NAMESPACE, self.key)


def this_process(key: int = 0) -> Owner:
    pid = os.getpid()
    return Owner(socket.gethostname()[:120], pid, _started(pid), key)


def process_alive(pid: int, started: str) -> bool:
    """Whether process ``pid`` of this host is running and is the one started at ``started``."""
    try:
        stat = _proc_stat(pid)
    except OSError:  # no /proc: ask the kernel (cannot see a reused id)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if stat is None:
        return False
    state, start_time = stat
    return state not in ("Z", "X") and (not started or start_time == started)


@asynccontextmanager
async def run_lease() -> AsyncIterator[Owner]:
    """Hold this process's proof of life for one run (the PostgreSQL lock is taken before the
    run's row exists, so no other process can ever see the row without it)."""
    owner = this_process(secrets.randbelow(2**31 - 1) + 1)
    if not on_postgres():
        yield owner
        return
    lock = SessionLock(owner.lock_key)
    await lock.acquire()
    try:
        yield owner
    finally:
        await lock.release()


async def is_dead(owner_text: str | None, heartbeat: datetime | None, now: datetime) -> bool:
    """Whether the run owned by ``owner_text`` (last heartbeat ``heartbeat``) is dead."""
    owner = Owner.parse(owner_text)
    stale = heartbeat is None or heartbeat < now - STALE_AFTER
    if owner is None:
        return stale
    if on_postgres():
        return await lock_is_free(owner.lock_key)
    me = this_process()
    if owner.host == me.host:
        return not process_alive(owner.pid, owner.started)
    return stale
