"""The ``reloadRules`` mutation."""

from __future__ import annotations

from continuity.errors import RulesInvalid
from resolvers.context import Info
from rules.reload import reload_rules
from schema.common import UserError
from schema.rules import (
    ProgramChange,
    ProgramChangeKind,
    ReloadRulesPayload,
    RuleError,
)


async def resolve_reload_rules(info: Info, dry_run: bool = False) -> ReloadRulesPayload:
    result = await reload_rules(info.context.settings.rules_dir, dry_run=dry_run)
    if result.report is None:
        problem = RulesInvalid(
            f"{len(result.errors)} error(s) in the rule files: nothing was changed"
        )
        return ReloadRulesPayload(
            dry_run=dry_run,
            applied=False,
            changed_programs=[],
            products_written=0,
            schedules_written=0,
            errors=[
                RuleError(path=e.path, line=e.line, column=e.column, message=e.message)
                for e in result.errors
            ],
            user_errors=[UserError.from_error(problem)],
        )
    report = result.report
    return ReloadRulesPayload(
        dry_run=dry_run,
        applied=not dry_run and report.changed,
        changed_programs=[
            ProgramChange(
                program_id=change.program_id,  # type: ignore[arg-type]
                kind=ProgramChangeKind(change.kind.value),
                from_version=change.from_version,
                to_version=change.to_version,
            )
            for change in report.programs
        ],
        products_written=report.products_written,
        schedules_written=report.schedules_written,
        errors=[],
        user_errors=[],
    )
