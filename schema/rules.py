"""Reloading the rule files on demand."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import strawberry

from continuity.errors import RulesInvalid
from resolvers import programs, rules
from schema.common import INPUT, USER_ERRORS, UserError
from schema.context import Info
from schema.enums import describe
from schema.inputs import check_input
from schema.programs import Program


class ProgramChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RETIRED = "retired"


describe(
    ProgramChangeKind,
    "What a reload did to a program.",
    {
        "CREATED": "A new rule file: a new program with its first version.",
        "UPDATED": "A changed rule file: a new version.",
        "RETIRED": "A removed rule file: the program takes no new orders.",
    },
)


@strawberry.type(description="One problem in a rule file, at path:line:column.")
class RuleError:
    path: str = strawberry.field(description="The rule file.")
    line: int = strawberry.field(description="1-based line.")
    column: int = strawberry.field(description="1-based column.")
    message: str = strawberry.field(description="What is wrong.")


@strawberry.type(description="What a reload did (or, in a dry run, would do) to one program.")
class ProgramChange:
    program_code: str = strawberry.field(description="The program's id in the rule files.")
    kind: ProgramChangeKind = strawberry.field(description="Created, updated or retired.")
    from_version: int | None = strawberry.field(description="The version before, if any.")
    to_version: int | None = strawberry.field(description="The version after, if any.")

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
        description="The programs created, updated or retired."
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
            f"{len(result.errors)} error(s) in the rule files: nothing was changed"
        )
        return ReloadRulesPayload(
            dry_run=input.dry_run,
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
        dry_run=input.dry_run,
        applied=not input.dry_run and report.changed,
        changed_programs=[
            ProgramChange(
                program_code=change.program_id,
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


@strawberry.type
class RuleMutations:
    reload_rules: ReloadRulesPayload = strawberry.mutation(
        resolver=reload_rules,
        description="Validate every rule file and sync programs, products and schedules in one "
        "transaction (all files or none); with dryRun, only report what would change.",
    )
