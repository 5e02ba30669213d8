"""The agents' bulk changes: a start date or a product on many orders at once, all or none,
with a dry run first."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry

from continuity.errors import ContinuityError
from resolvers import bulk
from schema.common import INPUT, USER_ERRORS, UserError, at_input, user_errors
from schema.context import Info
from schema.idempotency import idempotent, key_field
from schema.ids import decode_id, encode_id
from schema.inputs import check_input

ORDER_IDS = "The continuity orders' global ids (at most 1000)."
DRY_RUN = "Only report what would change; write nothing."
REASON = "Why, for each order's history; agents must give one unless dryRun."


def _order_ids(ids: list[strawberry.ID]) -> list[int]:
    return [
        decode_id(value, "ContinuityOrder", ["input", "orderIds", str(i)])
        for i, value in enumerate(ids)
    ]


@strawberry.input(description="Orders whose start date moves: to a date, or by days.")
class UpdateStartDateInput:
    order_ids: list[strawberry.ID] = strawberry.field(description=ORDER_IDS)
    new_start_date: datetime.date | None = strawberry.field(
        default=None, description="The new start date (give this or addDays)."
    )
    add_days: int | None = strawberry.field(
        default=None, description="Days to add, or (negative) to take away; not 0."
    )
    dry_run: bool = strawberry.field(default=False, description=DRY_RUN)
    reason: str | None = strawberry.field(default=None, description=REASON)
    idempotency_key: str | None = key_field()


@strawberry.type(description="How one order's start date moves.")
class StartDateChange:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    order_number: str = strawberry.field(description="The order's number.")
    from_start_date: datetime.date = strawberry.field(description="The start date before.")
    to_start_date: datetime.date = strawberry.field(description="The start date after.")
    pending_lines_moved: int = strawberry.field(description="Pending lines whose date moves.")


@strawberry.type(description="The result of updateStartDate.")
class UpdateStartDatePayload:
    applied: bool = strawberry.field(description="The changes were written (not a dry run).")
    changes: list[StartDateChange] = strawberry.field(description="One per order.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.input(description="Orders on whose pending lines one product replaces another.")
class SubstituteProductInput:
    order_ids: list[strawberry.ID] = strawberry.field(description=ORDER_IDS)
    from_sku: str = strawberry.field(description="The item replaced.")
    to_sku: str = strawberry.field(description="An active catalog item in the orders' currency.")
    dry_run: bool = strawberry.field(default=False, description=DRY_RUN)
    reason: str | None = strawberry.field(default=None, description=REASON)
    idempotency_key: str | None = key_field()


@strawberry.type(description="What one order's substitution changes.")
class Substitution:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    order_number: str = strawberry.field(description="The order's number.")
    lines_changed: int = strawberry.field(
        description="Pending lines that change (0: the order does not ship the item)."
    )


@strawberry.type(description="The result of substituteProduct.")
class SubstituteProductPayload:
    applied: bool = strawberry.field(description="The changes were written (not a dry run).")
    substitutions: list[Substitution] = strawberry.field(description="One per order.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@idempotent(UpdateStartDatePayload)
async def update_start_date(
    info: Info, input: Annotated[UpdateStartDateInput, INPUT]
) -> UpdateStartDatePayload:
    try:
        check_input(input, ["input"])
        changes = await bulk.update_start_date(
            info.context,
            _order_ids(input.order_ids),
            new_start_date=input.new_start_date,
            add_days=input.add_days,
            dry_run=input.dry_run,
            reason=input.reason,
        )
    except ContinuityError as error:
        return UpdateStartDatePayload(
            applied=False, changes=[], user_errors=user_errors(at_input(error))
        )
    return UpdateStartDatePayload(
        applied=not input.dry_run,
        changes=[
            StartDateChange(
                order_id=strawberry.ID(encode_id("ContinuityOrder", c.order_id)),
                order_number=c.order_number,
                from_start_date=c.from_start,
                to_start_date=c.to_start,
                pending_lines_moved=c.lines_moved,
            )
            for c in changes
        ],
        user_errors=[],
    )


@idempotent(SubstituteProductPayload)
async def substitute_product(
    info: Info, input: Annotated[SubstituteProductInput, INPUT]
) -> SubstituteProductPayload:
    try:
        check_input(input, ["input"])
        result = await bulk.substitute_product(
            info.context,
            _order_ids(input.order_ids),
            from_sku=input.from_sku,
            to_sku=input.to_sku,
            dry_run=input.dry_run,
            reason=input.reason,
        )
    except ContinuityError as error:
        return SubstituteProductPayload(
            applied=False, substitutions=[], user_errors=user_errors(at_input(error))
        )
    return SubstituteProductPayload(
        applied=not input.dry_run,
        substitutions=[
            Substitution(
                order_id=strawberry.ID(encode_id("ContinuityOrder", s.order_id)),
                order_number=s.order_number,
                lines_changed=s.lines_changed,
            )
            for s in result
        ],
        user_errors=[],
    )


@strawberry.type
class BulkMutations:
    update_start_date: UpdateStartDatePayload = strawberry.mutation(
        resolver=update_start_date,
        description="Move the start date of chosen orders (new date or days to add); all or "
        "none; dryRun shows the changes and writes nothing.",
    )
    substitute_product: SubstituteProductPayload = strawberry.mutation(
        resolver=substitute_product,
        description="Ship another item instead of one on every future occurrence of chosen "
        "orders; all or none; dryRun shows the changes and writes nothing.",
    )
