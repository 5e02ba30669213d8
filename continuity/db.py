"""Database wiring shared by the service, the CLI, migrations and tests."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise.context import TortoiseContext
from tortoise.migrations import api as migrations_api
from tortoise.migrations.autodetector import MigrationAutodetector

from continuity.connection import connection

MODELS_MODULE = "continuity.models"
MIGRATIONS_MODULE = "continuity.migrations"


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise configuration for one database (one app, ``models``, with its migrations).

    Datetimes are stored in UTC (``use_tz``); business dates are plain ``DATE`` columns
    evaluated in the call center's time zone by the code, never by the database.
    """
    return {
        "connections": {"default": connection_config(database_url)},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def connection_config(database_url: str) -> str | dict[str, Any]:
    """PostgreSQL through asyncpg: our client (``continuity/postgres.py``: pooled connections
    go back without a reset query), with the URL's own parameters; another driver's URL as
    it is. SQLite: our client (``continuity/sqlite.py``: WAL, a busy timeout, transactions
    that take the write lock at once), with the URL's own parameters (``?busy_timeout=60000``)
    winning over its defaults."""
    from tortoise.backends.base.config_generator import expand_db_url

    if backend_name(database_url) != "sqlite":
        expanded = expand_db_url(database_url)
        if expanded["engine"] != "tortoise.backends.asyncpg":
            return database_url
        from continuity import postgres

        return {"engine": postgres.__name__, "credentials": expanded["credentials"]}
    from continuity import sqlite

    credentials = expand_db_url(database_url)["credentials"]
    query = database_url.partition("?")[2]
    given = {pair.split("=", 1)[0] for pair in query.split("&") if pair}
    for pragma, value in sqlite.PRAGMAS.items():
        if pragma not in given:
            credentials[pragma] = value
    return {"engine": sqlite.__name__, "credentials": credentials}


def backend_name(database_url: str) -> str:
    """``sqlite`` or ``postgres``: the two engines the service supports."""
    scheme = database_url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        return "sqlite"
    if scheme in {"postgres", "postgresql", "asyncpg", "psycopg"}:
        return "postgres"
    raise ValueError(f"unsupported database URL scheme {scheme!r}: use sqlite:// or postgres://")


@asynccontextmanager
async def open_database(
    database_url: str, *, global_fallback: bool = False
) -> AsyncIterator[TortoiseContext]:
    """Open the ORM on one database for the duration of the block (CLI commands, jobs, tests)."""
    async with TortoiseContext() as ctx:
        await ctx.init(
            config=tortoise_config(database_url), _enable_global_fallback=global_fallback
        )
        try:
            yield ctx
        finally:
            await ctx.close_connections()


@asynccontextmanager
async def migration_lock(database_url: str) -> AsyncIterator[None]:
    """Migrations one process at a time: replicas (or a server and a CLI run) that start
    together on a new database, or a new release, would otherwise create the same tables at
    once, and all but one fail to start. PostgreSQL: the ``MIGRATIONS`` advisory lock;
    SQLite: an exclusive ``flock`` on ``<database>-migrate-lock`` beside the file."""
    if backend_name(database_url) != "postgres":
        path = database_url.split("://", 1)[1].split("?", 1)[0]
        if path in {"", ":memory:"}:
            yield
            return
        import fcntl
        import os

        lock_fd = os.open(f"{path}-migrate-lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            # waited for in a thread: the event loop keeps serving while another migrates
            await asyncio.to_thread(fcntl.flock, lock_fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(lock_fd)  # the lock goes with its descriptor
        return
    import asyncpg

    from continuity.pglocks import MIGRATIONS

    dsn = "postgresql" + database_url[database_url.index(":") :]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1, $2)", *MIGRATIONS)
        yield
    finally:
        await conn.close()  # the lock goes with its session


async def migrate(database_url: str) -> list[str]:
    """Apply every pending migration; return the names of those applied (idempotent, and
    safe to run from several processes at once)."""
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(f"{app_label}.{name}")

    # The migration API initialises its own apps: give it a context of its own.
    async with migration_lock(database_url), TortoiseContext() as ctx:
        try:
            await migrations_api.migrate(config=tortoise_config(database_url), progress=progress)
        finally:
            await ctx.close_connections()
    return applied


async def unmigrated_model_changes() -> list[str]:
    """Migrations that ``tortoise makemigrations`` would write now; empty when models and
    migrations agree (the CI check)."""
    config = tortoise_config("sqlite://:memory:")
    async with TortoiseContext() as ctx:
        await ctx.init(config=config, init_connections=False)
        assert ctx.apps is not None
        detector = MigrationAutodetector(ctx.apps, config["apps"])
        writers = await detector.changes()
        return [f"{writer.app_label}.{writer.name}" for writer in writers]


def migration_names() -> list[str]:
    """The migrations this release ships (``continuity/migrations/NNNN_*.py``), in order."""
    import pkgutil

    from continuity import migrations

    return sorted(
        module.name
        for module in pkgutil.iter_modules(migrations.__path__)
        if module.name[:4].isdigit()
    )


def migration_indexes() -> list[str]:
    """The ``CREATE [UNIQUE] INDEX IF NOT EXISTS`` statements of the shipped migrations, in
    order: the indexes Tortoise cannot declare on a model (expression indexes, the ones its
    SQLite migrations dropped). A schema made from the models (``generate_schemas``) is the
    migrated schema once these run on it. An index a later migration removes
    (``RemoveIndex``, by its model's table and columns) is left out."""
    import importlib

    from continuity import models

    statements: list[str] = []
    for name in migration_names():
        module = importlib.import_module(f"{MIGRATIONS_MODULE}.{name}")
        for operation in module.Migration.operations:
            kind = type(operation).__name__
            if kind == "RemoveIndex" and operation.fields:
                meta = getattr(models, operation.model_name)._meta
                columns = tuple(meta.fields_db_projection.get(f, f) for f in operation.fields)
                removed = (meta.db_table, columns)
                statements = [text for text in statements if _index_target(text) != removed]
            sql = getattr(operation, "sql", None) if kind == "RunSQL" else None
            for statement in [sql] if isinstance(sql, str) else (sql or []):
                text = statement if isinstance(statement, str) else statement[0]
                if text.lstrip().upper().startswith(("CREATE INDEX", "CREATE UNIQUE INDEX")):
                    statements.append(text)
    return statements


#: ``CREATE … INDEX … ON <table> (<columns>)``: the table and the column list.
_INDEX_TARGET = re.compile(r"\bON\s+\"?(\w+)\"?\s*\(([^)]*)\)", re.IGNORECASE)


def _index_target(statement: str) -> tuple[str, tuple[str, ...]] | None:
    """The table and columns of an index's ``CREATE`` statement (``None`` without an
    ``ON`` clause). An expression index reads as a column list no ``RemoveIndex`` names
    (``LOWER(email)`` gives ``("LOWER(email",)``), so it is never left out."""
    match = _INDEX_TARGET.search(statement)
    if match is None:
        return None
    columns = tuple(part.strip().strip('"') for part in match.group(2).split(","))
    return match.group(1), columns


async def pending_migrations() -> list[str]:
    """The shipped migrations the open database has not applied (readiness: a replica of a
    new release must not serve an old schema)."""
    _count, rows = await connection().execute_query(
        "SELECT name FROM tortoise_migrations WHERE app = 'models'"
    )
    applied = {str(row["name"]) for row in rows}
    return [name for name in migration_names() if name not in applied]
