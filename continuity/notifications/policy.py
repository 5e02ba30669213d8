"""Who receives which event: the customer by e-mail, and the configured webhook subscribers.

The policy is a plain value set once per process by the interfaces (server, CLI) from
``config/``; the domain reads it when it writes an outbox row. It is process-wide rather than
passed through every domain call because a notification is a side effect of many operations
(placement, changes, jobs) whose signatures should not all grow a parameter for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from continuity.notifications.events import EventType


@dataclass(frozen=True)
class Subscriber:
    """An integrator's webhook endpoint. The secret signs every delivery (never logged)."""

    name: str
    url: str
    secret: str = field(repr=False)
    #: The event types it wants; ``None``: every event.
    events: frozenset[EventType] | None = None

    def wants(self, event: EventType) -> bool:
        return self.events is None or event in self.events


@dataclass(frozen=True)
class NotificationPolicy:
    """What the outbox writes: the recipients per event, and when schedule notices go out."""

    #: E-mail the customer (when they have an address) about these events; ``None``: all.
    email_events: frozenset[EventType] | None = None
    email_enabled: bool = True
    subscribers: tuple[Subscriber, ...] = ()
    #: Where operator events (``events.OPERATOR_EVENTS``: disputes) are e-mailed; ``None``:
    #: only to the webhook subscribers.
    operator_email: str | None = None
    #: An upcoming-shipment notice goes out this many days before the planned ship date.
    upcoming_shipment_days: int = 3
    #: A prepaid order's plan-renewal notice goes out this many days before its last shipment.
    renewal_notice_days: int = 30

    def emails(self, event: EventType) -> bool:
        return self.email_enabled and (self.email_events is None or event in self.email_events)


_DEFAULT = NotificationPolicy()
_current: list[NotificationPolicy] = [_DEFAULT]


def current_policy() -> NotificationPolicy:
    return _current[0]


def set_policy(policy: NotificationPolicy | None) -> NotificationPolicy:
    """Install ``policy`` (``None``: the default) and return the one it replaces, so that a
    caller (the app's lifespan, a test) can put it back."""
    previous = _current[0]
    _current[0] = policy or _DEFAULT
    return previous
