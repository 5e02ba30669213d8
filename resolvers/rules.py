"""The ``reloadRules`` mutation."""

from __future__ import annotations

from continuity.errors import RulesInvalid
from resolvers.context import Info
from rules import diff
from rules.reload import reload_rules
from schema.common import UserError
from schema.rules import (
    CatalogItemChange,
    EventChange,
    FieldChange,
    ProgramChange,
    ProgramChangeKind,
    ReloadRulesPayload,
    RuleChange,
    RuleError,
    ScheduleChange,
)


def _fields(fields: tuple[diff.FieldChange, ...]) -> list[FieldChange]:
    return [FieldChange(field=f.field, old=f.old, new=f.new) for f in fields]


def _program(change: diff.ProgramChange) -> ProgramChange:
    return ProgramChange(
        program_id=change.program_id,  # type: ignore[arg-type]
        kind=ProgramChangeKind(change.kind.value),
        from_version=change.from_version,
        to_version=change.to_version,
        settings=_fields(change.settings),
        events=[
            EventChange(
                number=event.number,
                change=RuleChange(event.change.value),
                fields=_fields(event.fields),
            )
            for event in change.events
        ],
    )


async def resolve_reload_rules(info: Info, dry_run: bool = False) -> ReloadRulesPayload:
    rules_dir = info.context.settings.rules_dir
    result = await reload_rules(rules_dir, dry_run=dry_run)
    if result.report is None:
        problem = RulesInvalid(
            "the database could not store the rules (the server log says why): nothing was changed"
            if result.failure
            else f"{len(result.errors)} error(s) in the rule files: nothing was changed"
        )
        return ReloadRulesPayload(
            dry_run=dry_run,
            applied=False,
            changed_programs=[],
            catalog=[],
            schedules=[],
            products_written=0,
            schedules_written=0,
            errors=[
                RuleError(path=e.path, line=e.line, column=e.column, message=e.message)
                for e in (error.relative_to(rules_dir) for error in result.errors)
            ],
            user_errors=[UserError.from_error(problem)],
        )
    report = result.report
    changes = report.diff
    return ReloadRulesPayload(
        dry_run=dry_run,
        applied=not dry_run and report.changed,
        changed_programs=[_program(change) for change in report.programs],
        catalog=[
            CatalogItemChange(
                sku=item.sku, change=RuleChange(item.change.value), fields=_fields(item.fields)
            )
            for item in (changes.catalog if changes else [])
        ],
        schedules=[
            ScheduleChange(
                schedule_id=schedule.schedule_id,  # type: ignore[arg-type]
                change=RuleChange(schedule.change.value),
                fields=_fields(schedule.fields),
            )
            for schedule in (changes.schedules if changes else [])
        ],
        products_written=report.products_written,
        schedules_written=report.schedules_written,
        errors=[],
        user_errors=[],
    )
