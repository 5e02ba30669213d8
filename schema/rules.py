"""The rule-reload mutation's payload."""

from __future__ import annotations

from enum import StrEnum

import strawberry

from schema.common import UserError


@strawberry.enum
class ProgramChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RETIRED = "retired"


@strawberry.type(description="One problem in a rule file, at path:line:column.")
class RuleError:
    path: str
    line: int
    column: int
    message: str


@strawberry.type
class ProgramChange:
    program_id: strawberry.ID
    kind: ProgramChangeKind
    from_version: int | None
    to_version: int | None


@strawberry.type
class ReloadRulesPayload:
    dry_run: bool
    applied: bool = strawberry.field(description="The changes were written (not a dry run).")
    changed_programs: list[ProgramChange]
    products_written: int
    schedules_written: int
    errors: list[RuleError] = strawberry.field(
        description="Every error of every rule file; when not empty, nothing changed."
    )
    user_errors: list[UserError]
