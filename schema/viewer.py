"""Who the caller is: the ``viewer`` query (a customer app learns its customer from it)."""

from __future__ import annotations

import strawberry

from schema.context import Info
from schema.customers import Customer
from schema.enums import Role


@strawberry.type(description="The authenticated caller.")
class Viewer:
    role: Role = strawberry.field(description="What the caller may do (docs/ACCESS.md).")
    name: str = strawberry.field(description="The token's name (the history's actor).")
    _customer_id: strawberry.Private[int | None]

    @strawberry.field(description="The customer a customer token is bound to; null otherwise.")
    async def customer(self, info: Info) -> Customer | None:
        return await Customer.load(info, self._customer_id)


@strawberry.type
class ViewerQueries:
    @strawberry.field(description="Who is calling: role, token name, and a customer's account.")
    def viewer(self, info: Info) -> Viewer | None:
        caller = info.context.caller
        if caller is None:
            return None
        return Viewer(role=caller.role, name=caller.name, _customer_id=caller.customer_id)
