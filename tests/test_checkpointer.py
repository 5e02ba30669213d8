"""The WAL is moved into the database file by a thread beside the writers (SQLite, issue 15).

A commit that took the WAL past SQLite's default 1,000 pages checkpointed before it returned:
every batch of the child-order job waited for the copy and the file's sync. The writers'
automatic checkpoint is pushed out to ``wal_autocheckpoint`` pages, and the client's
checkpointer thread does the work meanwhile; it stops when the client closes.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext
from tortoise.transactions import in_transaction

from continuity.db import open_database
from continuity.models import Customer
from continuity.sqlite import PRAGMAS
from tests.dbutil import sqlite_client

pytestmark = pytest.mark.db


def _in_the_file(database: str, copy: Path) -> list[str]:
    """The customers the database file itself holds, its WAL left aside: a copy of the file
    alone, opened on its own."""
    shutil.copyfile(database, copy)
    with sqlite3.connect(copy) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM customer ORDER BY id")]


async def test_committed_pages_reach_the_file_without_the_committer(
    db: TortoiseContext, tmp_path: Path
) -> None:
    client = sqlite_client("SQLite's write-ahead log")
    async with in_transaction():
        await Customer.create(account_number="C-1", name="Ada")
    # the writer checkpoints only past the configured mark, far above one small commit
    _count, rows = await client.execute_query("PRAGMA wal_autocheckpoint")
    assert rows[0][0] == PRAGMAS["wal_autocheckpoint"] > 1000
    names: list[str] = []
    for _ in range(100):  # the thread looks every CHECKPOINT_INTERVAL_S (0.1 s)
        names = _in_the_file(client.filename, tmp_path / "copy.sqlite3")
        if names:
            break
        await asyncio.sleep(0.05)
    assert names == ["Ada"]


async def test_the_thread_stops_when_the_client_closes(database_url: str) -> None:
    async with open_database(database_url):
        client = sqlite_client("SQLite's write-ahead log")
        await Customer.create(account_number="C-1", name="Ada")  # opens the writing connection
        checkpointer = client._checkpointer
        assert checkpointer is not None
        assert checkpointer._thread.is_alive()
    assert not checkpointer._thread.is_alive()
    assert client._checkpointer is None


async def test_no_thread_without_a_write_ahead_log(tmp_path: Path) -> None:
    """A file opened in another journal mode (its URL says so) has no WAL to checkpoint."""
    async with open_database(f"sqlite://{tmp_path / 'rollback.sqlite3'}?journal_mode=DELETE"):
        client = sqlite_client("SQLite's journal modes")
        await client.execute_script("CREATE TABLE t (x INTEGER)")  # opens the writing connection
        _count, rows = await client.execute_query("PRAGMA journal_mode")
        assert rows[0][0] == "delete"
        assert client._checkpointer is None
