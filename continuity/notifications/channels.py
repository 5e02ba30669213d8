"""Delivery channels behind one interface: signed webhooks over HTTP, e-mail over SMTP.

A channel sends one notification and says how it went; it never touches the database (the
delivery pass records the outcome), so a channel is easy to replace or fake. Errors are
reported as short texts that never contain a secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import smtplib
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol

import httpx2

from continuity.models import Notification
from continuity.notifications.events import EMAIL, WEBHOOK
from continuity.notifications.policy import Subscriber
from continuity.notifications.render import render_email
from continuity.notifications.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    sign,
)

MAX_ERROR = 500
USER_AGENT = "continuity-webhooks/1"


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    error: str | None = None
    #: False: retrying cannot help (e.g. the subscriber was removed); the row goes dead at once.
    retry: bool = True


SENT = DeliveryResult(ok=True)


class Channel(Protocol):
    """Sends one notification of its channel (``Notification.channel == name``)."""

    @property
    def name(self) -> str: ...

    async def deliver(self, notification: Notification) -> DeliveryResult: ...


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR]


def webhook_body(notification: Notification) -> bytes:
    """The JSON a subscriber receives; ``id`` is stable across retries and redeliveries."""
    payload = dict(notification.payload)
    document: dict[str, Any] = {
        "id": notification.dedupe_key,
        "type": notification.event_type,
        "created_at": notification.created_at.isoformat(),
        "order": payload.get("order"),
        "data": payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


class WebhookChannel:
    """HTTP POST of the JSON body, signed with the subscriber's secret.

    The recipient of a webhook row is the subscriber's *name*: its URL and secret are read from
    the configuration at delivery time, so rotating either needs no data change. A row whose
    subscriber is no longer configured goes dead (``retry=False``).
    """

    name = WEBHOOK

    def __init__(
        self,
        subscribers: Iterable[Subscriber],
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._subscribers = {s.name: s for s in subscribers}
        self._timeout = timeout
        self._clock = clock
        self._transport = transport

    async def deliver(self, notification: Notification) -> DeliveryResult:
        subscriber = self._subscribers.get(notification.recipient)
        if subscriber is None:
            return DeliveryResult(
                ok=False,
                error=f"no webhook subscriber named {notification.recipient!r}",
                retry=False,
            )
        body = webhook_body(notification)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(subscriber.secret, body, int(self._clock())),
            EVENT_ID_HEADER: notification.dedupe_key,
            EVENT_TYPE_HEADER: notification.event_type,
            "Continuity-Delivery-Attempt": str(notification.attempts),
        }
        try:
            async with httpx2.AsyncClient(
                timeout=self._timeout, follow_redirects=False, transport=self._transport
            ) as client:
                response = await client.post(subscriber.url, content=body, headers=headers)
        except httpx2.HTTPError as exc:
            return DeliveryResult(ok=False, error=_error(exc))
        if 200 <= response.status_code < 300:
            return SENT
        return DeliveryResult(ok=False, error=f"HTTP {response.status_code} from {subscriber.name}")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    #: Upgrade the connection with STARTTLS (port 587), or connect over TLS (port 465).
    starttls: bool = False
    use_ssl: bool = False
    sender: str = "Continuity <continuity@localhost>"
    timeout: float = 10.0


class EmailChannel:
    """A plain-text e-mail per notification through SMTP (stdlib ``smtplib`` in a thread).

    The ``Message-ID`` is derived from the de-duplication key, so a mail sent twice (a retry
    after a lost answer) is recognisably the same message.
    """

    name = EMAIL

    def __init__(self, smtp: SmtpConfig, *, locale: str = "en") -> None:
        self._smtp = smtp
        self._locale = locale

    def message(self, notification: Notification) -> EmailMessage:
        rendered = render_email(notification.event_type, dict(notification.payload), self._locale)
        message = EmailMessage()
        message["From"] = self._smtp.sender
        message["To"] = notification.recipient
        message["Subject"] = rendered.subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        digest = hashlib.sha256(notification.dedupe_key.encode()).hexdigest()[:32]
        message["Message-ID"] = f"<{digest}@continuity>"
        message[EVENT_ID_HEADER] = notification.dedupe_key
        message.set_content(rendered.body)
        message["Content-Language"] = rendered.locale  # after set_content, which drops Content-*
        return message

    def _send(self, message: EmailMessage) -> None:
        smtp = self._smtp
        client: smtplib.SMTP
        if smtp.use_ssl:
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            client.send_message(message)

    async def deliver(self, notification: Notification) -> DeliveryResult:
        try:
            message = self.message(notification)
        except (LookupError, ValueError) as exc:
            return DeliveryResult(ok=False, error=_error(exc), retry=False)
        try:
            await asyncio.to_thread(self._send, message)
        except smtplib.SMTPRecipientsRefused as exc:
            return DeliveryResult(ok=False, error=_error(exc), retry=False)
        except (smtplib.SMTPException, OSError) as exc:
            return DeliveryResult(ok=False, error=_error(exc))
        return SENT
