"""Reload the rule files: validate everything, then sync in one transaction, or change nothing."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import asyncpg
from tortoise.exceptions import BaseORMException

from rules.errors import RuleError, RuleValidationFailed
from rules.loader import load_rules
from rules.sync import SyncReport, sync_rules

log = logging.getLogger("continuity.rules")

#: What a database can raise while the sync writes: Tortoise wraps only some driver errors
#: (a PostgreSQL RAISE or an out-of-range number arrives as the driver's own exception).
DATABASE_ERRORS: Final = (BaseORMException, asyncpg.PostgresError, sqlite3.Error)


@dataclass(frozen=True)
class ReloadResult:
    """``errors`` (the files are invalid), or ``failure`` (the database refused the sync), and
    then nothing was applied; or the ``report`` of what changed."""

    errors: tuple[RuleError, ...]
    report: SyncReport | None
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.report is not None


async def reload_rules(rules_dir: Path, *, dry_run: bool = False) -> ReloadResult:
    try:
        # Parsing is CPU work on files: keep it off the event loop that serves requests.
        rule_set = await asyncio.to_thread(load_rules, rules_dir)
    except RuleValidationFailed as failure:
        return ReloadResult(errors=failure.errors, report=None)
    try:
        report = await sync_rules(rule_set, dry_run=dry_run)
    except DATABASE_ERRORS as exc:
        # The rules' bounds keep every value storable, so this is the database itself (down,
        # locked, out of space): the sync's transaction rolled back, the live rules stay.
        log.exception("the rules in %s could not be written to the database", rules_dir)
        return ReloadResult(errors=(), report=None, failure=f"{type(exc).__name__}: {exc}")
    return ReloadResult(errors=(), report=report)
