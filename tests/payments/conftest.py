"""Fixtures: the Stripe stand-in on loopback, and a ``StripeGateway`` (the real SDK) on it."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import stripe

from continuity.payments.stripe_gateway import StripeGateway
from tests.payments.standin import StripeStandIn, running

WEBHOOK_SECRET = "whsec_test_secret"
API_KEY = "sk_test_continuity"


@pytest.fixture
def standin() -> Iterator[StripeStandIn]:
    with running() as state:
        yield state


@pytest.fixture
async def stripe_gateway(standin: StripeStandIn) -> AsyncIterator[StripeGateway]:
    """One network retry (the SDK's, same key), a short timeout: tests stay fast."""
    gateway = StripeGateway(
        API_KEY,
        api_base=standin.url,
        webhook_secret=WEBHOOK_SECRET,
        timeout=2.0,
        max_network_retries=1,
    )
    yield gateway
    await gateway.aclose()


def signed_event(
    kind: str, item: dict[str, Any], *, event_id: str, secret: str = WEBHOOK_SECRET
) -> tuple[bytes, dict[str, str]]:
    """A Stripe event body and its ``Stripe-Signature`` header, as Stripe sends them."""
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "type": kind,
            "data": {"object": item},
        }
    )
    header = stripe.WebhookSignature.generate_signature_header(body, secret)
    return body.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}
