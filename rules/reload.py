"""Reload the rule files: validate everything, then sync in one transaction, or change nothing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from rules.errors import RuleError, RuleValidationFailed
from rules.loader import load_rules
from rules.sync import SyncReport, sync_rules


@dataclass(frozen=True)
class ReloadResult:
    """Either ``errors`` (and nothing was applied) or the ``report`` of what changed."""

    errors: tuple[RuleError, ...]
    report: SyncReport | None

    @property
    def ok(self) -> bool:
        return not self.errors


async def reload_rules(rules_dir: Path, *, dry_run: bool = False) -> ReloadResult:
    try:
        # Parsing is CPU work on files: keep it off the event loop that serves requests.
        rule_set = await asyncio.to_thread(load_rules, rules_dir)
    except RuleValidationFailed as failure:
        return ReloadResult(errors=failure.errors, report=None)
    return ReloadResult(errors=(), report=await sync_rules(rule_set, dry_run=dry_run))
