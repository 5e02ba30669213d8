"""Claiming payments for a gateway call, and handing the claims back.

A payment is **claimed** (``status`` PENDING, ``last_attempt_at`` set, ``claimed_by_run`` the
run) before its gateway call, so that another replica leaves it alone meanwhile. A claim lives
as long as its run:

- when the run ends (succeeded, partial, failed or interrupted), a claim it still holds (a call
  that raised, a call cut short by a shutdown) is released: the payment is due at once;
- when the run dies (``kill -9``, a lost host), the run that finds it dead marks it
  ``ABANDONED`` and releases its claims (``continuity.jobs.runs``);
- ``CLAIM_LEASE`` is the last resort for a claim whose run is alive but stuck.

Releasing is always safe: the next attempt of a payment reuses the attempt's idempotency key
(``continuity.payments.charges.attempt_key``), so a call that did reach the gateway before the
crash is answered with its first outcome, never charged twice.

The child-order job creates its shipment charges already claimed by its run
(``continuity.jobs.release``, ``charge_now``): the only other place a claim is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from continuity.enums import PaymentStatus
from continuity.jobs.locking import locking
from continuity.models import Payment
from continuity.rows import select
from continuity.sql import execute

#: A claim whose run is alive but has not finished its call after this long is due again.
CLAIM_LEASE = timedelta(minutes=10)


def due(as_of: date, now: datetime) -> Q:
    """Payments due by ``as_of`` and not claimed by a run still at work on them."""
    return Q(
        Q(status__in=[PaymentStatus.PENDING, PaymentStatus.SCHEDULED], due_date__lte=as_of)
        & Q(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=now - CLAIM_LEASE)),
        Q(status=PaymentStatus.DECLINED, next_retry_on__lte=as_of),
        Q(status=PaymentStatus.UNKNOWN),  # asked again, same key, at every run
        join_type="OR",
    )


#: The claim of a batch's payments, in SQL; its rows are built by ``rows.select``
#: (docs/ARCHITECTURE.md, "no ORM machinery over a batch's thousands of rows").
_CLAIM = """
UPDATE payment SET status = :pending, last_attempt_at = :now, claimed_by_run_id = :run
WHERE id IN (:ids)
"""


async def claim_payments(payment_ids: list[int], as_of: date, run_id: int) -> list[Payment]:
    """Claim the payments still due for run ``run_id`` (PostgreSQL: rows another replica holds
    are skipped) and return those this run will collect."""
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        query = locking(Payment.filter(due(as_of, now), id__in=payment_ids), conn)
        claimed = await select(query.order_by("id"))
        if claimed:
            await execute(
                conn,
                _CLAIM,
                ids=[p.id for p in claimed],
                pending=PaymentStatus.PENDING.value,
                now=now,
                run=run_id,
            )
    for payment in claimed:
        payment.status, payment.last_attempt_at = PaymentStatus.PENDING, now
        payment.claimed_by_run_id = run_id
    return claimed


async def release_claims(run_ids: list[int], conn: BaseDBAsyncClient) -> int:
    """Hand back what runs ``run_ids`` still hold: those payments are due again at once."""
    if not run_ids:
        return 0
    return await (
        Payment.filter(claimed_by_run_id__in=run_ids, status=PaymentStatus.PENDING)
        .using_db(conn)
        .update(last_attempt_at=None, claimed_by_run_id=None)
    )


@dataclass(frozen=True)
class Collected:
    """Payments of some runs with one outcome: e.g. 12 charges succeeded, 230.50 USD."""

    kind: str
    status: str
    currency: str
    count: int
    amount_minor: int


async def collected_by(run_ids: list[int]) -> list[Collected]:
    """What runs ``run_ids`` collected (the payments they claimed last), by kind, outcome and
    currency: the money lines of a run's summary."""
    if not run_ids:
        return []
    rows = (
        await Payment.filter(claimed_by_run_id__in=run_ids)
        .annotate(n=Count("id"), total=Sum("amount_minor"))
        .group_by("kind", "status", "currency")
        .order_by("kind", "status", "currency")
        .values("kind", "status", "currency", "n", "total")
    )
    return [
        Collected(
            kind=str(getattr(row["kind"], "value", row["kind"])),
            status=str(getattr(row["status"], "value", row["status"])),
            currency=str(row["currency"]),
            count=int(row["n"]),
            amount_minor=int(row["total"] or 0),
        )
        for row in rows
    ]
