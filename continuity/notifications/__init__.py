"""Events out: an outbox of notifications and the channels that deliver them.

A change that matters to a customer or an integrator writes its ``Notification`` rows in the
same transaction as the change itself (``events.emit``), one row per channel and recipient with
a deterministic de-duplication key, so a change that rolls back notifies nobody and a replayed
cause never notifies twice. Schedule-driven notices (upcoming shipments, plan renewals,
installment bills) are written by the payments job (``notices``). A delivery pass
(``delivery.deliver_due``) claims due rows, sends them through a ``Channel`` (signed webhooks,
e-mail over SMTP) and records the outcome with retries, back-off and a dead-letter state.

Configuration reaches the domain as plain values: the interfaces call ``policy.set_policy``
with who receives what, and build the channels from their settings.
"""

from __future__ import annotations

from continuity.notifications.events import (
    EVENT_TYPES,
    Event,
    EventType,
    dedupe_key,
    emit,
    emit_many,
)
from continuity.notifications.policy import (
    NotificationPolicy,
    Subscriber,
    current_policy,
    set_policy,
)

__all__ = [
    "EVENT_TYPES",
    "Event",
    "EventType",
    "NotificationPolicy",
    "Subscriber",
    "current_policy",
    "dedupe_key",
    "emit",
    "emit_many",
    "set_policy",
]
