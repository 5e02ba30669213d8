"""Delivery through real local servers: a webhook receiver over HTTP and an SMTP server."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.enums import NotificationStatus
from continuity.errors import Conflict
from continuity.models import Notification
from continuity.notifications.channels import EmailChannel, SmtpConfig, WebhookChannel
from continuity.notifications.delivery import DeliveryOptions, deliver_due, redeliver
from continuity.notifications.policy import NotificationPolicy, Subscriber
from continuity.notifications.render import render_email
from continuity.notifications.signing import verify
from continuity.payments.gateway import TestGateway
from tests.jobs.world import buyer, open_business, order
from tests.notifications.receivers import smtp_server, webhook_receiver

pytestmark = pytest.mark.db

DAY0 = date(2027, 1, 10)
SECRET = "whsec-0123456789abcdef"
Use = Callable[[NotificationPolicy], None]


class Clock:
    """The delivery pass's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _one_order(rules_dir: Path, sku: str = "VITREFILL") -> str:
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    placed = await order(ada, sku, DAY0, rules, TestGateway())
    return placed.continuity_orders[0].number


async def test_a_webhook_is_signed_and_names_its_event(
    db: TortoiseContext, rules_dir: Path, use_policy: Use
) -> None:
    with webhook_receiver() as receiver:
        subscriber = Subscriber("erp", receiver.url, SECRET)
        use_policy(NotificationPolicy(email_enabled=False, subscribers=(subscriber,)))
        number = await _one_order(rules_dir)
        report = await deliver_due({"webhook": WebhookChannel([subscriber])})
    assert (report.claimed, report.sent) == (1, 1)
    [request] = receiver.requests
    row = await Notification.get(event_type="order_placed")
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.SENT, 1, None)
    assert row.sent_at is not None
    assert request.path == "/hooks"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["continuity-event-id"] == row.dedupe_key
    assert request.headers["continuity-event-type"] == "order_placed"
    # the integrator's check, with the secret it was given
    signature = request.headers["continuity-signature"]
    assert verify(SECRET, request.body, signature)
    assert not verify("another-secret-entirely", request.body, signature)
    assert not verify(SECRET, request.body + b" ", signature)
    assert not verify(SECRET, request.body, signature, now=datetime.now(UTC).timestamp() + 3600)
    body = json.loads(request.body)
    assert body["id"] == row.dedupe_key
    assert body["type"] == "order_placed"
    assert body["order"] == number
    assert body["data"]["program"] == "vitamins-refill"
    assert body["created_at"].startswith(row.created_at.date().isoformat())


async def test_failures_back_off_then_go_dead_and_redelivery_sends_again(
    db: TortoiseContext, rules_dir: Path, use_policy: Use
) -> None:
    with webhook_receiver(fail_first=1000) as receiver:
        subscriber = Subscriber("erp", receiver.url, SECRET)
        use_policy(NotificationPolicy(email_enabled=False, subscribers=(subscriber,)))
        await _one_order(rules_dir)
        channels = {"webhook": WebhookChannel([subscriber])}
        options = DeliveryOptions(max_attempts=4, backoff=timedelta(seconds=60))
        clock = Clock()
        delays = []
        for attempt in range(1, 5):
            report = await deliver_due(channels, options, clock=clock)
            assert report.claimed == 1
            row = await Notification.get(event_type="order_placed")
            assert row.attempts == attempt
            assert row.last_error == "HTTP 500 from erp"
            if attempt < 4:
                assert row.status is NotificationStatus.FAILED
                assert row.next_attempt_at is not None
                delays.append(row.next_attempt_at - clock.now)
                # not due before its time
                assert (await deliver_due(channels, options, clock=clock)).claimed == 0
                clock.now = row.next_attempt_at
        assert delays == [timedelta(seconds=60), timedelta(seconds=120), timedelta(seconds=240)]
        assert (row.status, row.next_attempt_at) == (NotificationStatus.DEAD, None)
        assert (await deliver_due(channels, options, clock=clock)).claimed == 0  # dead stays dead
        assert len(receiver.requests) == 4
        assert len({r.headers["continuity-event-id"] for r in receiver.requests}) == 1

        receiver.fail_first = 0  # the integrator fixed its endpoint
        again = await redeliver(row.id)
        assert (again.status, again.attempts, again.next_attempt_at) == (
            NotificationStatus.PENDING,
            0,
            None,
        )
        with pytest.raises(Conflict):
            await redeliver(row.id)  # already waiting
        assert (await deliver_due(channels, options, clock=clock)).sent == 1
        sent = await Notification.get(id=row.id)
        assert (sent.status, sent.attempts) == (NotificationStatus.SENT, 1)
        assert len(receiver.requests) == 5
        assert receiver.requests[-1].headers["continuity-event-id"] == row.dedupe_key
        # a sent notification can be sent again on demand, with the same event id
        await redeliver(row.id)
        assert (await deliver_due(channels, options, clock=clock)).sent == 1
        assert [r.headers["continuity-event-id"] for r in receiver.requests[-2:]] == [
            row.dedupe_key
        ] * 2


async def test_an_unreachable_endpoint_is_retried_and_a_removed_subscriber_is_dead(
    db: TortoiseContext, rules_dir: Path, use_policy: Use
) -> None:
    gone = Subscriber("gone", "http://127.0.0.1:9/nothing-listens-here", SECRET)
    removed = Subscriber("removed", "http://127.0.0.1:9/x", SECRET)
    use_policy(NotificationPolicy(email_enabled=False, subscribers=(gone, removed)))
    await _one_order(rules_dir)
    report = await deliver_due({"webhook": WebhookChannel([gone], timeout=2)})
    assert (report.claimed, report.failed, report.dead) == (2, 1, 1)
    unreachable = await Notification.get(recipient="gone")
    assert unreachable.status is NotificationStatus.FAILED
    assert unreachable.last_error is not None
    assert unreachable.last_error.startswith("ConnectError")
    dead = await Notification.get(recipient="removed")
    assert dead.status is NotificationStatus.DEAD
    assert dead.last_error == "no webhook subscriber named 'removed'"


async def test_email_from_the_locale_template_through_smtp(
    db: TortoiseContext, rules_dir: Path, use_policy: Use
) -> None:
    use_policy(NotificationPolicy())
    number = await _one_order(rules_dir, "GIFTBOX6")  # prepaid: charged at placement
    assert sorted(n.event_type for n in await Notification.all()) == [
        "order_placed",
        "payment_succeeded",
    ]
    with smtp_server() as mailbox:
        channel = EmailChannel(
            SmtpConfig(host=mailbox.host, port=mailbox.port, sender="Club <club@example.com>"),
            locale="fr",
        )
        report = await deliver_due({"email": channel})
        assert report.sent == 2
    mails = {message["Subject"]: (rcpt, message) for rcpt, message in mailbox.mails}
    # French where a French template exists ...
    rcpt, placed = mails[f"Votre commande {number} est confirmée"]
    assert rcpt == ["ada@example.com"]
    assert placed["To"] == "ada@example.com"
    assert placed["From"] == "Club <club@example.com>"
    assert placed["Content-Language"] == "fr"
    row = await Notification.get(event_type="order_placed")
    assert placed["Continuity-Event-Id"] == row.dedupe_key
    text = placed.get_content()
    assert text.startswith("Bonjour Customer ADA,")
    assert f"Votre commande {number} est confirmée." in text
    assert "Merci de votre inscription à Six-Month Gift Box." in text
    # ... English otherwise
    _rcpt, paid = mails[f"Payment received for order {number}"]
    assert paid["Content-Language"] == "en"
    assert "We received your payment of 129.00 USD" in paid.get_content()
    assert await Notification.filter(status=NotificationStatus.SENT).count() == 2


async def test_email_waits_while_no_smtp_server_is_configured(
    db: TortoiseContext, rules_dir: Path, use_policy: Use
) -> None:
    use_policy(NotificationPolicy())
    await _one_order(rules_dir)
    report = await deliver_due({"webhook": WebhookChannel([])})
    assert report.claimed == 0
    assert (await Notification.get(channel="email")).status is NotificationStatus.PENDING


def test_templates_fall_back_to_english_then_to_the_default() -> None:
    payload = {"order": "CO-1", "customer": {"name": "Ada"}, "ship_date": "2027-02-10"}
    german = render_email("upcoming_shipment", payload, "de_DE")
    assert german.locale == "en"
    assert german.subject == "Your next shipment of order CO-1 ships on 2027-02-10"
    assert render_email("upcoming_shipment", payload, "fr-CA").locale == "fr"
    unknown = render_email("something_new", payload, "fr")
    assert (unknown.locale, unknown.subject) == ("fr", "Votre commande CO-1 : something_new")
    assert render_email("upcoming_shipment", {**payload, "locale": "fr"}, "en").locale == "fr"
