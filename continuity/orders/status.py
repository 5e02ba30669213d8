"""Which order statuses are open and which are ended, and a sales order's status, which
follows its continuity orders. Every module that asks "is this order still running?" asks
here."""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.enums import ContinuityOrderStatus
from continuity.sql import execute

#: Orders still running: the jobs plan, bill and ship them (a paused or held one waits).
OPEN = frozenset(
    {
        ContinuityOrderStatus.ACTIVE,
        ContinuityOrderStatus.PAUSED,
        ContinuityOrderStatus.PAYMENT_HOLD,
    }
)
#: Orders that no change applies to any more.
ENDED = frozenset({ContinuityOrderStatus.CANCELLED, ContinuityOrderStatus.CLOSED})
#: Orders whose charges are no longer taken (nor billed): a cancelled order. A closed order
#: was delivered and still pays what it owes (an installment due after its last shipment).
NOT_BILLED = frozenset({ContinuityOrderStatus.CANCELLED})
#: ``OPEN`` as the values stored in the database (for hand-written SQL).
OPEN_VALUES = tuple(sorted(status.value for status in OPEN))

_FOLLOW = """
UPDATE sales_order SET status = CASE
    WHEN NOT EXISTS (SELECT 1 FROM continuity_order o
                     WHERE o.sales_order_id = sales_order.id AND o.status <> 'cancelled')
        THEN 'cancelled'
    ELSE 'closed' END
WHERE id IN (:ids) AND status = 'placed'
  AND EXISTS (SELECT 1 FROM continuity_order o WHERE o.sales_order_id = sales_order.id)
  AND NOT EXISTS (SELECT 1 FROM continuity_order o
                  WHERE o.sales_order_id = sales_order.id AND o.status IN (:open))
"""


async def follow_continuity_orders(conn: BaseDBAsyncClient, sales_order_ids: Sequence[int]) -> int:
    """A sales order whose continuity orders have all ended ends too: ``cancelled`` when
    every one was cancelled, else ``closed``. Returns how many sales orders changed."""
    if not sales_order_ids:
        return 0
    return await execute(conn, _FOLLOW, ids=sorted(set(sales_order_ids)), open=list(OPEN_VALUES))
