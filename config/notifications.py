"""The ``notifications:`` section of the settings: who is told what, and how it is delivered.

Validated once here; the domain receives plain values (``policy()``, ``channels()``,
``delivery_options()``). Secrets (webhook secrets, the SMTP password) are ``SecretStr``: they
never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

if TYPE_CHECKING:
    from continuity.notifications.channels import Channel
    from continuity.notifications.delivery import DeliveryOptions
    from continuity.notifications.policy import NotificationPolicy


def _known_events(events: list[str] | None) -> list[str] | None:
    from continuity.notifications.events import EVENT_TYPES

    if events is None:
        return None
    unknown = sorted(set(events) - EVENT_TYPES)
    if unknown:
        raise ValueError(
            f"unknown event(s) {', '.join(unknown)}: one of {', '.join(sorted(EVENT_TYPES))}"
        )
    return events


class WebhookSubscriberSettings(BaseModel):
    """An integrator's endpoint: its deliveries are signed with ``secret``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str
    secret: SecretStr
    #: The events it receives; absent: all of them.
    events: list[str] | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return _known_events(value)


class NotificationSettings(BaseModel):
    """Every key is also an environment variable ``CONTINUITY_<KEY>`` (``webhooks`` as JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Run the delivery pass in the server process (the scheduler's interval job).
    delivery_enabled: bool = True
    delivery_interval_seconds: int = Field(default=10, ge=1, le=3600)
    delivery_batch_size: int = Field(default=100, ge=1, le=1000)
    delivery_concurrency: int = Field(default=8, ge=1, le=100)
    #: A notification that failed this many times is dead (until redelivered).
    delivery_max_attempts: int = Field(default=8, ge=1, le=100)
    #: The first retry waits this long, each next one twice as long, at most the maximum.
    delivery_backoff_seconds: int = Field(default=300, ge=1)
    delivery_max_backoff_seconds: int = Field(default=21600, ge=1)
    #: A claimed notification is reserved this long for the replica that sends it.
    delivery_lease_seconds: int = Field(default=300, ge=5)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhooks: list[WebhookSubscriberSettings] = Field(default_factory=list)
    upcoming_shipment_days: int = Field(default=3, ge=0, le=60)
    renewal_notice_days: int = Field(default=30, ge=0, le=365)
    #: E-mail customers (needs ``smtp_host``); ``email_events`` narrows which events.
    email_enabled: bool = True
    email_events: list[str] | None = None
    #: The e-mail templates' language (``continuity/notifications/templates/<locale>``).
    default_locale: str = Field(default="en", pattern=r"^[a-z]{2}([_-][A-Za-z]{2})?$")
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_from: str = "Continuity <continuity@localhost>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    #: Operator events (a disputed payment) are e-mailed here; absent: webhooks only.
    operator_email: str | None = Field(default=None, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")

    @field_validator("email_events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return _known_events(value)

    @model_validator(mode="after")
    def _unique_names(self) -> NotificationSettings:
        names = [w.name for w in self.webhooks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"webhook names must be unique: {', '.join(duplicates)}")
        return self

    @property
    def email_configured(self) -> bool:
        return self.email_enabled and bool(self.smtp_host)

    def policy(self) -> NotificationPolicy:
        """Who receives which event, for the outbox writer."""
        from continuity.notifications.events import EventType
        from continuity.notifications.policy import NotificationPolicy, Subscriber

        return NotificationPolicy(
            email_enabled=self.email_configured,
            email_events=(
                frozenset(EventType(e) for e in self.email_events)
                if self.email_events is not None
                else None
            ),
            subscribers=tuple(
                Subscriber(
                    name=w.name,
                    url=w.url,
                    secret=w.secret.get_secret_value(),
                    events=(
                        frozenset(EventType(e) for e in w.events) if w.events is not None else None
                    ),
                )
                for w in self.webhooks
            ),
            upcoming_shipment_days=self.upcoming_shipment_days,
            renewal_notice_days=self.renewal_notice_days,
            operator_email=self.operator_email,
        )

    def channels(self) -> dict[str, Channel]:
        """The delivery channels this configuration can serve (e-mail only with SMTP)."""
        from continuity.notifications.channels import EmailChannel, SmtpConfig, WebhookChannel

        found: dict[str, Channel] = {}
        webhook = WebhookChannel(self.policy().subscribers, timeout=self.webhook_timeout_seconds)
        found[webhook.name] = webhook
        if self.email_configured and self.smtp_host:
            email = EmailChannel(
                SmtpConfig(
                    host=self.smtp_host,
                    port=self.smtp_port,
                    username=self.smtp_username,
                    password=(
                        self.smtp_password.get_secret_value() if self.smtp_password else None
                    ),
                    starttls=self.smtp_starttls,
                    use_ssl=self.smtp_ssl,
                    sender=self.smtp_from,
                    timeout=self.smtp_timeout_seconds,
                ),
                locale=self.default_locale,
            )
            found[email.name] = email
        return found

    def delivery_options(self) -> DeliveryOptions:
        from continuity.notifications.delivery import DeliveryOptions

        return DeliveryOptions(
            batch_size=self.delivery_batch_size,
            max_attempts=self.delivery_max_attempts,
            backoff=timedelta(seconds=self.delivery_backoff_seconds),
            max_backoff=timedelta(seconds=self.delivery_max_backoff_seconds),
            lease=timedelta(seconds=self.delivery_lease_seconds),
            concurrency=self.delivery_concurrency,
        )
