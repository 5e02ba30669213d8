"""Authorize when a child order is created, capture when it is invoiced (SPEC §8).

With ``authorize_child_orders`` the child-order job writes an ``authorization`` per
per-shipment child order (``jobs/release.py``) and collects it at once: the card's money is held
(Stripe: ``capture_method=manual``) and the child order may ship. The hold lapses (Stripe: after
7 days for cards; the row keeps its ``authorization_expires_at``), so:

- ``renew_authorizations`` (the payments job): a hold that lapsed is marked ``expired``; a child
  order not yet invoiced whose newest authorization lapses before the next daily run gets a new
  one (key ``<child order>:auth-<n>``), which the same run collects like any due payment
  (declines are retried, then payment hold, as for a charge);
- ``capture_on_invoice`` (``invoiceChildOrder``): in the invoice's transaction, a charge
  (``<child order>:capture``) that captures the live authorization, or charges the card
  directly when no hold is live any more; it is attempted right after the commit and, if that
  does not happen (a crash), by the payments job.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.enums import PaymentKind, PaymentPurpose, PaymentStatus
from continuity.models import ChildOrder, Payment
from continuity.sql import execute, fetch

#: Renew a hold that lapses within this time: the payments job runs daily, so tomorrow's run
#: would be too late.
RENEW_BEFORE = timedelta(days=1)

#: Child orders that may still be captured: created and paid for, not yet invoiced.
_OPEN_CHILDREN = "('authorized', 'shipped')"

_EXPIRE = f"""
UPDATE payment SET status = 'expired', updated_at = :now
WHERE kind = 'authorization' AND status = 'succeeded' AND authorization_expires_at <= :now
  AND child_order_id IN (SELECT id FROM child_order WHERE status IN {_OPEN_CHILDREN})
"""

#: Per open child order: its newest authorization, if it lapsed or lapses soon.
_DUE_RENEWALS = f"""
SELECT c.id AS child_id, c.number, c.total_minor, c.currency, o.id AS order_id,
       o.sales_order_id, o.payment_method_id,
       (SELECT COUNT(*) FROM payment n
        WHERE n.child_order_id = c.id AND n.kind = 'authorization') AS made
FROM child_order c
JOIN continuity_order o ON o.id = c.continuity_order_id
JOIN payment a ON a.child_order_id = c.id AND a.kind = 'authorization'
WHERE c.status IN {_OPEN_CHILDREN}
  AND a.id = (SELECT MAX(m.id) FROM payment m
              WHERE m.child_order_id = c.id AND m.kind = 'authorization')
  AND (a.status = 'expired'
       OR (a.status = 'succeeded' AND a.authorization_expires_at <= :soon))
  {{filters}}
ORDER BY c.id
"""


async def renew_authorizations(
    conn: BaseDBAsyncClient,
    as_of: date,
    *,
    order: int | None = None,
    program: str | None = None,
    now: datetime | None = None,
) -> int:
    """Mark lapsed holds expired and queue a new authorization (due ``as_of``, on the order's
    current card) for every open child order whose hold lapses before the next run; return
    how many were queued. A second replica doing the same finds the keys taken."""
    now = now or datetime.now(UTC)
    await execute(conn, _EXPIRE, now=now)
    filters, params = "", dict[str, object](soon=now + RENEW_BEFORE)
    if order is not None:
        filters += " AND o.id = :order"
        params["order"] = order
    if program is not None:
        filters += " AND o.program_id = (SELECT id FROM program WHERE code = :program)"
        params["program"] = program
    queued = 0
    for row in await fetch(conn, _DUE_RENEWALS.replace("{filters}", filters), **params):
        key = f"{row['number']}:auth-{int(row['made']) + 1}"
        if await Payment.filter(idempotency_key=key).using_db(conn).exists():
            continue
        await Payment.create(
            kind=PaymentKind.AUTHORIZATION,
            purpose=PaymentPurpose.SHIPMENT,
            status=PaymentStatus.PENDING,
            sales_order_id=row["sales_order_id"],
            continuity_order_id=row["order_id"],
            child_order_id=row["child_id"],
            payment_method_id=row["payment_method_id"],
            amount_minor=row["total_minor"],
            currency=row["currency"],
            due_date=as_of,
            idempotency_key=key,
            using_db=conn,
        )
        queued += 1
    return queued


async def capture_on_invoice(
    child: ChildOrder, today: date, conn: BaseDBAsyncClient
) -> Payment | None:
    """The charge that collects an authorized child order being invoiced (``None`` when it
    was charged, not authorized). Created claimed: the caller attempts it after the commit.

    It captures the newest live hold; with none live (lapsed and not renewed), it charges the
    card. Authorizations still being retried are cancelled: the capture supersedes them."""
    authorizations = (
        await Payment.filter(child_order_id=child.id, kind=PaymentKind.AUTHORIZATION)
        .using_db(conn)
        .order_by("-id")
    )
    if not authorizations:
        return None
    now = datetime.now(UTC)
    live = next(
        (
            a
            for a in authorizations
            if a.status is PaymentStatus.SUCCEEDED
            and a.authorization_expires_at is not None
            and a.authorization_expires_at > now
        ),
        None,
    )
    await (
        Payment.filter(
            id__in=[a.id for a in authorizations],
            status__in=[PaymentStatus.PENDING, PaymentStatus.DECLINED, PaymentStatus.UNKNOWN],
        )
        .using_db(conn)
        .update(status=PaymentStatus.CANCELLED, next_retry_on=None, updated_at=now)
    )
    newest = authorizations[0]
    return await Payment.create(
        kind=PaymentKind.CHARGE,
        purpose=PaymentPurpose.SHIPMENT,
        status=PaymentStatus.PENDING,
        sales_order_id=newest.sales_order_id,
        continuity_order_id=newest.continuity_order_id,
        child_order_id=child.id,
        payment_method_id=live.payment_method_id if live else newest.payment_method_id,
        amount_minor=live.amount_minor if live else child.total_minor,
        currency=child.currency,
        due_date=today,
        idempotency_key=f"{child.number}:capture",
        gateway_reference=live.gateway_reference if live else None,
        authorization_expires_at=live.authorization_expires_at if live else None,
        last_attempt_at=now,
        using_db=conn,
    )
