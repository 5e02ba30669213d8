"""Who the caller is: the ``viewer`` query (a customer app learns its customer from it)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from continuity import models
from continuity.enums import Role as RoleEnum
from resolvers.context import Info
from schema.customers import Customer

Role = Annotated[RoleEnum, strawberry.enum(name="Role", description="docs/ACCESS.md")]


@strawberry.type(description="The authenticated caller.")
class Viewer:
    role: Role
    name: str = strawberry.field(description="The token's name (the history's actor).")
    _customer_id: strawberry.Private[int | None]

    @strawberry.field(description="The customer a customer token is bound to; null otherwise.")
    async def customer(self, info: Info) -> Customer | None:
        if self._customer_id is None:
            return None
        row = await models.Customer.get_or_none(id=self._customer_id)
        return Customer.from_row(row) if row else None


def resolve_viewer(info: Info) -> Viewer | None:
    caller = info.context.caller
    if caller is None:
        return None
    return Viewer(role=caller.role, name=caller.name, _customer_id=caller.customer_id)
