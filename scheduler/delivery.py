"""The notification delivery pass, as the scheduler and ``continuity notifications deliver``
run it: the channels and options come from the settings, the work from the domain."""

from __future__ import annotations

import logging
from collections.abc import Callable

from config.settings import Settings
from continuity.notifications.delivery import DeliveryReport, deliver_due

log = logging.getLogger("continuity.notifications")

DELIVERY_JOB_ID = "notifications:deliver"

#: Called with the report of every delivery pass of this process (the server's metrics).
delivery_observers: list[Callable[[DeliveryReport], None]] = []


async def deliver_notifications(settings: Settings) -> DeliveryReport:
    """One pass over the due notifications; safe beside other replicas' passes."""
    notifications = settings.notifications
    report = await deliver_due(notifications.channels(), notifications.delivery_options())
    for observe in list(delivery_observers):
        try:
            observe(report)
        except Exception:  # an observer never breaks delivery
            log.exception("delivery observer %r failed", observe)
    if report.claimed:
        log.info(
            "notifications: %d claimed, %d sent, %d to retry, %d dead",
            report.claimed,
            report.sent,
            report.failed,
            report.dead,
        )
    return report
