"""Reloading the rule files on demand: errors, or what changed (or would change), field by field."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import strawberry

from continuity.errors import RulesInvalid
from resolvers import programs, rules
from rules import diff
from schema.common import INPUT, USER_ERRORS, UserError
from schema.context import Info
from schema.enums import describe
from schema.inputs import check_input
from schema.programs import Program


class ProgramChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RETIRED = "retired"
    RESTORED = "restored"


describe(
    ProgramChangeKind,
    "What a reload did to a program.",
    {
        "CREATED": "A new rule file: a new program with its first version.",
        "UPDATED": "A changed rule file: a new version.",
        "RETIRED": "A removed rule file: the program takes no new orders (existing orders carry "
        "on).",
        "RESTORED": "A retired program's file is back unchanged: the live version takes orders "
        "again.",
    },
)


class RuleChange(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


describe(
    RuleChange,
    "What happens to an event, a catalog item or a payment schedule.",
    {
        "ADDED": "It is new.",
        "REMOVED": "It is gone (a catalog item is deactivated, a schedule retired).",
        "CHANGED": "Some of its values change (see fields).",
    },
)


@strawberry.type(description="One problem in a rule file, at path:line:column.")
class RuleError:
    path: str = strawberry.field(
        description="The file, relative to the rules directory (programs/book-club.yaml)."
    )
    line: int = strawberry.field(description="1-based line of the value or key concerned.")
    column: int = strawberry.field(description="1-based column of the value or key concerned.")
    message: str = strawberry.field(description="What is wrong, and how to write it instead.")


@strawberry.type(description="One value, old → new, as written in the rule file.")
class FieldChange:
    field: str = strawberry.field(
        description="The key, in the file's words: days_after_order, billing.up_front, "
        "items.0.price."
    )
    old: str | None = strawberry.field(description="The live value; null when it was not set.")
    new: str | None = strawberry.field(description="The value loaded; null when it is not set.")

    @classmethod
    def list_of(cls, fields: tuple[diff.FieldChange, ...]) -> list[FieldChange]:
        return [cls(field=f.field, old=f.old, new=f.new) for f in fields]


@strawberry.type(description="An event of a program that is added, removed or changed.")
class EventChange:
    number: int = strawberry.field(description="The event number.")
    change: RuleChange = strawberry.field(description="Added, removed or changed.")
    fields: list[FieldChange] = strawberry.field(
        description="Its values old → new: action, gap, repeat, not_before and per item "
        "items.N.sku, items.N.quantity, items.N.price."
    )


@strawberry.type(description="A catalog item the reload adds, removes (deactivates) or changes.")
class CatalogItemChange:
    sku: str = strawberry.field(description="The item's SKU.")
    change: RuleChange = strawberry.field(description="Added, removed or changed.")
    fields: list[FieldChange] = strawberry.field(
        description="Its values old → new: name, price, currency, active."
    )


@strawberry.type(description="A payment schedule the reload adds, removes (retires) or changes.")
class ScheduleChange:
    schedule_code: str = strawberry.field(description="The schedule's id in the rule files.")
    change: RuleChange = strawberry.field(description="Added, removed or changed.")
    fields: list[FieldChange] = strawberry.field(
        description="Its values old → new: name, installments, every, lines, "
        "ship_after_installment."
    )


@strawberry.type(description="What a reload did (or, in a dry run, would do) to one program.")
class ProgramChange:
    program_code: str = strawberry.field(description="The program's id in the rule files.")
    kind: ProgramChangeKind = strawberry.field(description="Created, updated or retired.")
    from_version: int | None = strawberry.field(description="The version before, if any.")
    to_version: int | None = strawberry.field(description="The version after, if any.")
    settings: list[FieldChange] = strawberry.field(
        description="Program settings old → new (every setting of a new program)."
    )
    events: list[EventChange] = strawberry.field(
        description="Events added, removed or changed, in event order."
    )

    @strawberry.field(
        description="The program; null in a dry run that would create it (it does not exist yet)."
    )
    async def program(self, info: Info) -> Program | None:
        row = await programs.program_by_code(self.program_code)
        return Program.from_row(row) if row else None


@strawberry.input(description="How to reload the rule files.")
class ReloadRulesInput:
    dry_run: bool = strawberry.field(
        default=False, description="Only report what would change; write nothing."
    )


@strawberry.type(description="The result of reloadRules.")
class ReloadRulesPayload:
    dry_run: bool = strawberry.field(description="It was a dry run.")
    applied: bool = strawberry.field(description="The changes were written (not a dry run).")
    changed_programs: list[ProgramChange] = strawberry.field(
        description="Every program that changes, with its settings and events old → new."
    )
    catalog: list[CatalogItemChange] = strawberry.field(
        description="Catalog items that change, old → new."
    )
    schedules: list[ScheduleChange] = strawberry.field(
        description="Payment schedules that change, old → new."
    )
    products_written: int = strawberry.field(description="Products created or changed.")
    schedules_written: int = strawberry.field(description="Payment schedules created or changed.")
    errors: list[RuleError] = strawberry.field(
        description="Every error of every rule file; when not empty, nothing changed."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


async def reload_rules(info: Info, input: Annotated[ReloadRulesInput, INPUT]) -> ReloadRulesPayload:
    check_input(input, ["input"])
    result = await rules.reload(info.context, input.dry_run)
    if result.report is None:
        problem = RulesInvalid(
            "the database could not store the rules (the server log says why): nothing was changed"
            if result.failure
            else f"{len(result.errors)} error(s) in the rule files: nothing was changed"
        )
        rules_dir = info.context.settings.rules_dir
        return ReloadRulesPayload(
            dry_run=input.dry_run,
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
        dry_run=input.dry_run,
        applied=not input.dry_run and report.changed,
        changed_programs=[
            ProgramChange(
                program_code=change.program_id,
                kind=ProgramChangeKind(change.kind.value),
                from_version=change.from_version,
                to_version=change.to_version,
                settings=FieldChange.list_of(change.settings),
                events=[
                    EventChange(
                        number=event.number,
                        change=RuleChange(event.change.value),
                        fields=FieldChange.list_of(event.fields),
                    )
                    for event in change.events
                ],
            )
            for change in report.programs
        ],
        catalog=[
            CatalogItemChange(
                sku=item.sku,
                change=RuleChange(item.change.value),
                fields=FieldChange.list_of(item.fields),
            )
            for item in (changes.catalog if changes else [])
        ],
        schedules=[
            ScheduleChange(
                schedule_code=schedule.schedule_id,
                change=RuleChange(schedule.change.value),
                fields=FieldChange.list_of(schedule.fields),
            )
            for schedule in (changes.schedules if changes else [])
        ],
        products_written=report.products_written,
        schedules_written=report.schedules_written,
        errors=[],
        user_errors=[],
    )


@strawberry.type
class RuleMutations:
    reload_rules: ReloadRulesPayload = strawberry.mutation(
        resolver=reload_rules,
        description="Validate every rule file and sync programs, products and schedules in one "
        "transaction (all files or none); with dryRun, only report what would change.",
    )
