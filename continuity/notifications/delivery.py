"""Delivering the outbox: claim due rows, send them outside any transaction, record outcomes.

A pass claims a batch of due rows (``PENDING``, or ``FAILED`` with their retry time come) in one
short transaction: on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED``, so a replica running
its own pass at the same moment skips them; and in that transaction it leases them
(``next_attempt_at = now + lease``) and counts the attempt, so once it commits no other pass
sees them as due. It then sends each through its channel, with no transaction open while the
network is slow, and records the outcome: ``SENT``; or ``FAILED`` with the next attempt after an
exponential back-off; or ``DEAD`` after ``max_attempts`` (or at once when retrying cannot help).
A process that dies mid-send leaves its rows leased: they are due again when the lease ends, so
a notification may be sent twice in that case but is never lost. Receivers de-duplicate on the
event id (the row's de-duplication key), which makes delivery exactly-once in effect.

``redeliver`` puts a sent, failed or dead row back to ``PENDING`` with a fresh attempt budget.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from continuity.enums import NotificationStatus
from continuity.errors import Conflict, NotFound
from continuity.models import Notification
from continuity.notifications.channels import MAX_ERROR, Channel, DeliveryResult

log = logging.getLogger("continuity.notifications")

Clock = Callable[[], datetime]
#: Rows a pass may pick up.
DUE = (NotificationStatus.PENDING, NotificationStatus.FAILED)


@dataclass(frozen=True)
class DeliveryOptions:
    batch_size: int = 100
    #: After this many failed attempts a notification is dead (redeliver it by hand).
    max_attempts: int = 8
    #: The first retry waits this long; each next one twice as long, at most ``max_backoff``.
    backoff: timedelta = timedelta(minutes=5)
    max_backoff: timedelta = timedelta(hours=6)
    #: How long a claimed row is reserved for the pass that claimed it.
    lease: timedelta = timedelta(minutes=5)
    #: Notifications sent at the same time within a pass.
    concurrency: int = 8


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


def backoff_delay(attempts: int, options: DeliveryOptions) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: backoff × 2^(attempts-1), capped."""
    factor: int = 2 ** max(0, min(attempts - 1, 30))
    delay: timedelta = options.backoff * factor
    return min(delay, options.max_backoff)


async def claim_due(
    channels: list[str], options: DeliveryOptions, now: datetime
) -> list[Notification]:
    """Lease up to one batch of due rows of these channels for this pass (see the module)."""
    async with in_transaction() as conn:
        query = (
            Notification.filter(
                Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
                status__in=DUE,
                channel__in=channels,
            )
            .order_by("id")
            .limit(options.batch_size)
            .using_db(conn)
            .select_for_update(skip_locked=True)  # PostgreSQL; SQLite serializes writers
        )
        rows = await query
        if not rows:
            return []
        lease_until = now + options.lease
        await (
            Notification.filter(id__in=[row.id for row in rows])
            .using_db(conn)
            .update(next_attempt_at=lease_until, attempts=F("attempts") + 1)
        )
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = lease_until
    return rows


async def record_outcome(
    row: Notification, result: DeliveryResult, options: DeliveryOptions, now: datetime
) -> NotificationStatus:
    if result.ok:
        status = NotificationStatus.SENT
        await Notification.filter(id=row.id).update(
            status=status, sent_at=now, next_attempt_at=None, last_error=None
        )
        return status
    error = (result.error or "delivery failed")[:MAX_ERROR]
    if not result.retry or row.attempts >= options.max_attempts:
        status = NotificationStatus.DEAD
        retry_at = None
    else:
        status = NotificationStatus.FAILED
        retry_at = now + backoff_delay(row.attempts, options)
    await Notification.filter(id=row.id).update(
        status=status, next_attempt_at=retry_at, last_error=error
    )
    log.warning(
        "notification %s (%s via %s) attempt %s: %s -> %s",
        row.id,
        row.event_type,
        row.channel,
        row.attempts,
        error,
        status.value,
    )
    return status


async def _send(channel: Channel, row: Notification) -> DeliveryResult:
    try:
        return await channel.deliver(row)
    except Exception as exc:  # a channel bug must not stop the pass
        return DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR])


async def deliver_due(
    channels: Mapping[str, Channel],
    options: DeliveryOptions | None = None,
    *,
    clock: Clock = _now,
    max_batches: int | None = None,
) -> DeliveryReport:
    """One delivery pass: batches until nothing is due (or ``max_batches``). Rows of a channel
    that is not configured here (e-mail without SMTP settings) stay pending."""
    options = options or DeliveryOptions()
    report = DeliveryReport()
    if not channels:
        return report
    limit = asyncio.Semaphore(max(1, options.concurrency))
    batches = 0

    async def one(row: Notification) -> None:
        async with limit:
            result = await _send(channels[row.channel], row)
        status = await record_outcome(row, result, options, clock())
        if status is NotificationStatus.SENT:
            report.sent += 1
        elif status is NotificationStatus.DEAD:
            report.dead += 1
        else:
            report.failed += 1

    while max_batches is None or batches < max_batches:
        rows = await claim_due(list(channels), options, clock())
        if not rows:
            break
        batches += 1
        report.claimed += len(rows)
        await asyncio.gather(*(one(row) for row in rows))
    return report


async def redeliver(notification_id: int) -> Notification:
    """Send a notification again: a sent, failed or dead row becomes ``PENDING``, due now, with
    a fresh attempt budget. A row already waiting for delivery is refused (``INVALID_STATE``)."""
    async with in_transaction() as conn:
        row = (
            await Notification.filter(id=notification_id).select_for_update().using_db(conn).first()
        )
        if row is None:
            raise NotFound(f"no notification {notification_id}", field=["id"])
        if row.status is NotificationStatus.PENDING:
            raise Conflict(
                f"notification {notification_id} is already waiting to be delivered",
                field=["id"],
            )
        row.status = NotificationStatus.PENDING
        row.attempts = 0
        row.next_attempt_at = None
        await row.save(update_fields=["status", "attempts", "next_attempt_at"], using_db=conn)
    return row
