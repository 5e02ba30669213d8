"""Program versions name their file relative to the rules directory, including the versions
stored before that rule (migration 0004 rewrites them)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.models import ProgramVersion
from rules.loader import load_rules
from rules.sync import sync_rules

pytestmark = pytest.mark.db


async def test_migration_rewrites_absolute_source_paths(
    db: TortoiseContext, rules_dir: Path
) -> None:
    await sync_rules(load_rules(rules_dir))
    await ProgramVersion.all().update(source_path="/srv/continuity/rules/programs/old-name.yaml")
    migration = importlib.import_module("continuity.migrations.0005_relative_source_paths")
    [statement] = migration.Migration.operations[0].sql
    await db.db().execute_script(statement)
    rows = await ProgramVersion.all().order_by("id").values_list("source_path", flat=True)
    assert list(map(str, rows)) == [
        f"programs/{code}.yaml"
        for code in ["book-club", "coffee", "gift-box", "seasonal-wine", "vitamins-refill"]
    ]
