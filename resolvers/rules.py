"""Reloading the rule files on demand: the same path as at start-up."""

from __future__ import annotations

from resolvers.session import Session
from rules.reload import ReloadResult, reload_rules


async def reload(session: Session, dry_run: bool) -> ReloadResult:
    """Validate every rule file and sync them all in one transaction (or, with ``dry_run``,
    report what would change)."""
    return await reload_rules(session.settings.rules_dir, dry_run=dry_run)
