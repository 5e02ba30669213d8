"""Fresh, throw-away databases for tests, on SQLite or on PostgreSQL (``TEST_DB_URL``).

One backend per pytest process: Tortoise reuses SQL built for the first backend it saw.
``scripts/test`` runs the suite on SQLite, then the ``db`` tests again on PostgreSQL.

Migrating a database takes most of a second, so the migrations run once per session into a
template (a file on SQLite, a template database on PostgreSQL) that each test copies.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from tortoise.connection import get_connection

from continuity.db import migrate

TEST_DB_URL = os.environ.get("TEST_DB_URL", "")
_templates: dict[str, str] = {}


def on_postgres() -> bool:
    return TEST_DB_URL.startswith(("postgres://", "postgresql://", "asyncpg://"))


def sqlite_client(what: str) -> Any:
    """The open database's SQLite client (``continuity.sqlite``), its internals reachable;
    on PostgreSQL the test is skipped, as ``what`` is SQLite's alone."""
    conn: Any = get_connection("default")
    if conn.capabilities.dialect != "sqlite":
        pytest.skip(what)
    return conn


def _pg_dsn(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


def _pg_url(name: str) -> str:
    parts = urlsplit(TEST_DB_URL)
    return urlunsplit(("postgres", parts.netloc, f"/{name}", parts.query, ""))


async def _pg_execute(sql: str) -> None:
    admin = await asyncpg.connect(_pg_dsn(TEST_DB_URL))
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


async def _template() -> str:
    """The migrated template (created on first use): a file path or a database name."""
    if "name" in _templates:
        return _templates["name"]
    if on_postgres():
        name = f"continuity_template_{uuid.uuid4().hex[:12]}"
        await _pg_execute(f'CREATE DATABASE "{name}"')
        await migrate(_pg_url(name))
    else:
        name = str(Path(tempfile.mkdtemp(prefix="continuity-template-")) / "template.sqlite3")
        await migrate(f"sqlite://{name}")
    _templates["name"] = name
    return name


async def drop_template() -> None:
    name = _templates.pop("name", None)
    if name is None:
        return
    if on_postgres():
        await _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        shutil.rmtree(Path(name).parent, ignore_errors=True)


async def create_database(tmp_path: Path | None = None, *, migrated: bool = True) -> str:
    """Create a database (migrated unless asked otherwise) and return its URL.

    SQLite uses a file, so that several connections (the app and the test) see the same data.
    """
    template = await _template() if migrated else None
    if not on_postgres():
        directory = tmp_path or Path(tempfile.gettempdir())
        path = directory / f"continuity-test-{uuid.uuid4().hex}.sqlite3"
        if template:
            shutil.copyfile(template, path)
        return f"sqlite://{path}"
    name = f"continuity_test_{uuid.uuid4().hex[:16]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    await _pg_execute(f'CREATE DATABASE "{name}"{clause}')
    return _pg_url(name)


def _remove_sqlite_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal", "-migrate-lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def drop_database(url: str) -> None:
    if url.startswith("sqlite://"):
        _remove_sqlite_files(url.removeprefix("sqlite://"))
        return
    name = urlsplit(url).path.lstrip("/")
    await _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def fresh_database_url(
    tmp_path: Path | None = None, *, migrated: bool = True
) -> AsyncIterator[str]:
    """A database for the duration of the block (see ``create_database``)."""
    url = await create_database(tmp_path, migrated=migrated)
    try:
        yield url
    finally:
        await drop_database(url)
