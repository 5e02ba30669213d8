"""Throwaway databases for the benchmarks, and a minimal raw-SQL connection to them.

SQLite databases are files in a temporary directory (a copy is a file copy); PostgreSQL
databases are created and dropped on the server named by ``BENCH_POSTGRES_URL`` (a copy is
``CREATE DATABASE … TEMPLATE``). Everything created is dropped by :meth:`Backend.close`.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgres")


def postgres_admin_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _pg_dsn(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


def _pg_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(("postgres", parts.netloc, f"/{name}", parts.query, ""))


def _pg_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


async def postgres_reachable() -> str | None:
    """``None`` when the PostgreSQL server answers, else why not."""
    try:
        conn = await asyncpg.connect(_pg_dsn(postgres_admin_url()), timeout=5)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite://"))


class Backend:
    """Creates, copies and drops the databases of one run on one engine."""

    def __init__(self, name: str) -> None:
        if name not in BACKENDS:
            raise ValueError(f"unknown backend {name!r}")
        self.name = name
        self._dir = Path(tempfile.mkdtemp(prefix=f"continuity-bench-{name}-"))
        self._created: list[str] = []

    @property
    def directory(self) -> Path:
        return self._dir

    async def __aenter__(self) -> Backend:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(_pg_dsn(postgres_admin_url()))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create(self, label: str) -> str:
        """A new empty database; returns its URL."""
        if self.name == "sqlite":
            path = self._dir / f"{label}-{uuid.uuid4().hex[:8]}.sqlite3"
            url = f"sqlite://{path}"
        else:
            db = f"bench_{label.replace('-', '_')}_{uuid.uuid4().hex[:10]}"
            await self._admin(f'CREATE DATABASE "{db}"')
            url = _pg_url(postgres_admin_url(), db)
        self._created.append(url)
        return url

    async def clone(self, source: str, label: str) -> str:
        """An identical copy of ``source`` (nobody may be connected to it)."""
        if self.name == "sqlite":
            src = sqlite_path(source)
            with sqlite3.connect(src) as conn:  # fold the WAL into the main file first
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            path = self._dir / f"{label}-{uuid.uuid4().hex[:8]}.sqlite3"
            shutil.copyfile(src, path)
            url = f"sqlite://{path}"
        else:
            db = f"bench_{label.replace('-', '_')}_{uuid.uuid4().hex[:10]}"
            await self._admin(f'CREATE DATABASE "{db}" TEMPLATE "{_pg_name(source)}"')
            url = _pg_url(postgres_admin_url(), db)
        self._created.append(url)
        return url

    async def drop(self, url: str) -> None:
        if url in self._created:
            self._created.remove(url)
        if self.name == "sqlite":
            _remove_sqlite_files(sqlite_path(url))
        else:
            await self._admin(f'DROP DATABASE IF EXISTS "{_pg_name(url)}" WITH (FORCE)')

    async def close(self) -> None:
        for url in list(reversed(self._created)):
            try:
                await self.drop(url)
            except Exception as exc:  # keep cleaning up the others
                print(f"# could not drop {url}: {exc}")
        shutil.rmtree(self._dir, ignore_errors=True)


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


_PLACEHOLDER = re.compile(r"\?")


class RawDB:
    """The raw driver (``sqlite3`` or ``asyncpg``) behind one small async interface.

    SQL is written with ``?`` placeholders (turned into ``$n`` for PostgreSQL); dates and
    timestamps go through :meth:`date` and :meth:`now` so that each driver gets its own type.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = "sqlite" if url.startswith("sqlite://") else "postgres"
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None

    async def __aenter__(self) -> RawDB:
        if self.dialect == "sqlite":
            self._sqlite = sqlite3.connect(sqlite_path(self.url), isolation_level=None)
            # What Tortoise sets on its connections: the same engine settings for both paths.
            self._sqlite.execute("PRAGMA journal_mode=WAL")
            self._sqlite.execute("PRAGMA foreign_keys=ON")
        else:
            self._pg = await asyncpg.connect(_pg_dsn(self.url))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            await self._pg.close()

    def _sql(self, sql: str) -> str:
        if self.dialect == "sqlite":
            return sql
        counter = iter(range(1, 1000))
        return _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)

    def date(self, value: date) -> Any:
        return value.isoformat() if self.dialect == "sqlite" else value

    def now(self) -> Any:
        """A timestamp in the form Tortoise stores (ISO text with offset on SQLite)."""
        value = datetime.now(UTC)
        return value.isoformat(sep=" ") if self.dialect == "sqlite" else value

    async def execute(self, sql: str, *args: Any) -> None:
        if self._sqlite is not None:
            self._sqlite.execute(sql, args)
        else:
            await self._pg.execute(self._sql(sql), *args)

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        if self._sqlite is not None:
            return list(self._sqlite.execute(sql, args).fetchall())
        return [tuple(row) for row in await self._pg.fetch(self._sql(sql), *args)]

    async def value(self, sql: str, *args: Any) -> Any:
        rows = await self.fetch(sql, *args)
        return rows[0][0] if rows else None

    async def begin(self) -> None:
        await self.execute("BEGIN")

    async def commit(self) -> None:
        await self.execute("COMMIT")
