"""Replicas that start together: the migrations and the start-up writes happen once, and no
replica fails its start because another did the same work a moment before (PostgreSQL runs
several replicas on one database; SQLite a server and a CLI)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from config.settings import load_settings
from continuity.db import migrate, migration_names, open_database
from continuity.models import CallCenterParameters
from continuity.parameters import save_call_center_parameters
from tests.dbutil import fresh_database_url

pytestmark = pytest.mark.db


async def test_migrations_run_once_when_three_processes_start_together(tmp_path: Path) -> None:
    async with fresh_database_url(tmp_path, migrated=False) as url:
        applied = await asyncio.gather(*(migrate(url) for _ in range(3)))
        assert sorted(len(names) for names in applied) == [0, 0, len(migration_names())]
        assert await migrate(url) == []


async def test_the_parameters_row_is_written_once_by_concurrent_starts(tmp_path: Path) -> None:
    values = load_settings().call_center.model_dump()
    async with fresh_database_url(tmp_path) as url, open_database(url):
        changed = await asyncio.gather(*(save_call_center_parameters(values) for _ in range(4)))
        assert sorted(changed) == [False, False, False, True]  # one start wrote it
        assert await CallCenterParameters.all().count() == 1
        assert await save_call_center_parameters(values) is False
