"""What a caller may touch among customers' data, and what an agent must say.

A ``customer`` token is bound to one customer: every read and change of customer data is
narrowed to it, and another customer's object is reported exactly like one that does not
exist (the same ``NotFound``), so a client cannot tell "someone else's" from "missing".
"""

from __future__ import annotations

from continuity.access import Caller
from continuity.enums import Role
from continuity.errors import InvalidInput, NotFound
from continuity.models import ContinuityOrder, Customer


def customer_scope(caller: Caller | None) -> int | None:
    """The one customer id the caller is restricted to, or None when unrestricted."""
    if caller is not None and caller.role is Role.CUSTOMER:
        # A customer token without a customer sees nothing: -1 names no row.
        return caller.customer_id if caller.customer_id is not None else -1
    return None


async def require_order(caller: Caller | None, order_id: int, field: list[str]) -> None:
    """``NotFound`` when the continuity order does not exist or is someone else's (one message
    for both, naming no internal id)."""
    query = ContinuityOrder.filter(id=order_id)
    scope = customer_scope(caller)
    if scope is not None:
        query = query.filter(customer_id=scope)
    if not await query.exists():
        raise NotFound("no such continuity order", field=field)


async def require_customer(caller: Caller | None, customer_id: int, field: list[str]) -> None:
    """``NotFound`` when the customer does not exist or is not the caller's own."""
    scope = customer_scope(caller)
    if (scope is not None and customer_id != scope) or not await Customer.exists(id=customer_id):
        raise NotFound("no such customer", field=field)


def require_agent_reason(caller: Caller | None, reason: str | None) -> None:
    """Agents act on a customer's behalf: SPEC §7 wants the reason on record."""
    if caller is not None and caller.role is Role.AGENT and not (reason and reason.strip()):
        raise InvalidInput(
            "an agent gives a reason for a change made on a customer's behalf",
            field=["input", "reason"],
        )
