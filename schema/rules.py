"""The rule-reload mutation's payload: errors, or what changed (or would change), field by field."""

from __future__ import annotations

from enum import StrEnum

import strawberry

from schema.common import UserError


@strawberry.enum(
    description="What happens to a program: CREATED (new, version 1), UPDATED (a new version), "
    "RETIRED (its file is gone: no new orders, existing orders carry on), RESTORED (its file is "
    "back unchanged: the live version takes orders again)."
)
class ProgramChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RETIRED = "retired"
    RESTORED = "restored"


@strawberry.enum(description="What happens to an event, a catalog item or a payment schedule.")
class RuleChange(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


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


@strawberry.type(description="An event of a program that is added, removed or changed.")
class EventChange:
    number: int = strawberry.field(description="The event number.")
    change: RuleChange = strawberry.field(description="Added, removed or changed.")
    fields: list[FieldChange] = strawberry.field(
        description="Its values old → new: action, gap, repeat, not_before and per item "
        "items.N.sku, items.N.quantity, items.N.price."
    )


@strawberry.type(description="A program the reload creates, versions, retires or restores.")
class ProgramChange:
    program_id: strawberry.ID = strawberry.field(description="The program id.")
    kind: ProgramChangeKind = strawberry.field(description="What happens to the program.")
    from_version: int | None = strawberry.field(description="The live version; null if new.")
    to_version: int | None = strawberry.field(description="The version after the reload.")
    settings: list[FieldChange] = strawberry.field(
        description="Program settings old → new (every setting of a new program)."
    )
    events: list[EventChange] = strawberry.field(
        description="Events added, removed or changed, in event order."
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
    schedule_id: strawberry.ID = strawberry.field(description="The schedule id.")
    change: RuleChange = strawberry.field(description="Added, removed or changed.")
    fields: list[FieldChange] = strawberry.field(
        description="Its values old → new: name, installments, every, lines, "
        "ship_after_installment."
    )


@strawberry.type
class ReloadRulesPayload:
    dry_run: bool
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
    products_written: int
    schedules_written: int
    errors: list[RuleError] = strawberry.field(
        description="Every error of every rule file; when not empty, nothing changed."
    )
    user_errors: list[UserError]
