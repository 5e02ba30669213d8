"""The payment-gateway interface, and the deterministic built-in test gateway.

A ``PaymentGateway`` is the only thing that talks to a payment provider: the rest of the
domain asks it to charge, authorize, capture and refund, each call with an idempotency key, and
gets a ``GatewayResult`` back, never a provider's exception. A gateway that sees the same key
twice returns the first outcome and moves no money again; the service relies on that (and on
the unique ``Payment.idempotency_key``) so that a retried job or a crash between the call and
the database write never charges twice.

Adapters: ``TestGateway`` below (development, tests, the demo) and
``continuity.payments.stripe_gateway.StripeGateway``; docs/PAYMENTS.md says how to add another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

#: The failure code of every "the customer must act" outcome, whatever the gateway called it:
#: the order goes on payment hold and the customer is asked to confirm or replace the card.
AUTHENTICATION_REQUIRED = "authentication_required"


class GatewayOutcome(StrEnum):
    APPROVED = "approved"
    #: The card was refused: retried ``retry_days`` later, then payment hold.
    DECLINED = "declined"
    #: The card needs its holder (3-D Secure): payment hold at once, the customer is told.
    ACTION_REQUIRED = "action_required"
    #: No answer (timeout, connection error, 5xx): the money may or may not have moved. Never
    #: a decline; retried with the same idempotency key, which tells the truth.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class GatewayResult:
    outcome: GatewayOutcome
    #: The gateway's object (Stripe: the PaymentIntent), also when declined if one exists.
    reference: str | None = None
    #: Why it was declined or unknown, e.g. ``insufficient_funds``, ``gateway_timeout``.
    code: str | None = None
    #: An authorization's hold lapses then: capture it before, or authorize again.
    expires_at: datetime | None = None

    @property
    def approved(self) -> bool:
        return self.outcome is GatewayOutcome.APPROVED


@dataclass(frozen=True)
class ChargeRequest:
    """Money to take from a card (now, or held for a later capture)."""

    #: The card at the gateway (Stripe: a PaymentMethod ``pm_…``).
    token: str
    #: The gateway's customer owning the card (Stripe: ``cus_…``), when known.
    customer: str | None
    amount_minor: int
    currency: str
    idempotency_key: str
    #: The customer is not present (the jobs): the gateway must not ask them to authenticate.
    off_session: bool
    #: What the charge pays for (order numbers, installment, our payment id), shown by the
    #: provider's dashboard and echoed in its webhooks.
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CardDetails:
    """What a person may see of a card, as the gateway knows it."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    #: The gateway's customer the card is attached to.
    customer: str | None = None


class GatewayUnavailable(Exception):
    """The gateway did not answer a question that has no money at stake (a card look-up)."""


class UnknownPaymentMethod(Exception):
    """The gateway does not know the token (or it is not a card)."""


class PaymentGateway(Protocol):
    """A payment provider. Every money call takes an idempotency key and returns a
    ``GatewayResult``: provider errors are outcomes (declined, action required, unknown)."""

    @property
    def name(self) -> str:
        """``test``, ``stripe``, …: shown to operators (``/ready``, ``callCenterParameters``)."""
        ...

    async def charge(self, request: ChargeRequest) -> GatewayResult:
        """Take the money now."""
        ...

    async def authorize(self, request: ChargeRequest) -> GatewayResult:
        """Hold the money for a later ``capture`` (the result says until when)."""
        ...

    async def capture(
        self, *, reference: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> GatewayResult:
        """Take the money an authorization (``reference``) holds."""
        ...

    async def refund(
        self,
        *,
        reference: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> GatewayResult:
        """Give back part or all of a charge (``reference``); the result's reference is the
        charge's, so every payment row names the provider object it concerns."""
        ...

    async def describe_card(self, token: str) -> CardDetails | None:
        """Brand, last 4 digits, expiry and customer of a card, read from the gateway;
        ``None`` when the gateway cannot tell (then the caller must supply them).
        Raises ``UnknownPaymentMethod`` or ``GatewayUnavailable``."""
        ...

    async def aclose(self) -> None:
        """Release connections (the server's shutdown)."""
        ...


#: Test tokens and their outcomes; any other token is approved.
TEST_TOKENS: dict[str, GatewayResult] = {
    "tok_decline": GatewayResult(GatewayOutcome.DECLINED, code="card_declined"),
    "tok_insufficient_funds": GatewayResult(GatewayOutcome.DECLINED, code="insufficient_funds"),
    "tok_expired_card": GatewayResult(GatewayOutcome.DECLINED, code="expired_card"),
    "tok_authentication_required": GatewayResult(
        GatewayOutcome.ACTION_REQUIRED, code=AUTHENTICATION_REQUIRED
    ),
    "tok_gateway_error": GatewayResult(GatewayOutcome.UNKNOWN, code="gateway_unavailable"),
}

#: How long a test authorization holds (Stripe's, for cards).
TEST_AUTHORIZATION_DAYS = 7


@dataclass
class _Hold:
    amount_minor: int
    expires_at: datetime
    captured: bool = False


@dataclass
class TestGateway:
    """Outcomes chosen by token (``TEST_TOKENS``), so that every path can be tested without
    configuration. It models the provider's two steps: an authorization holds money for
    ``TEST_AUTHORIZATION_DAYS`` and is captured once; ``expire`` ends a hold early.

    ``calls`` counts the operations that reached it (a repeated key is not a new call) and
    ``moved_minor`` the money actually moved, so tests can prove nothing was charged twice.
    An ``UNKNOWN`` answer is not remembered (the request "never arrived"): its key, retried,
    gets a real answer once ``outage`` is off. ``latency`` simulates a slow gateway.
    """

    __test__ = False  # not a pytest test class

    name = "test"

    latency: float = 0.0
    calls: int = 0
    moved_minor: int = 0
    #: Every new request is answered UNKNOWN while set (a provider outage).
    outage: bool = False
    #: The requests that reached it: (kind, idempotency key, off_session), in order.
    requests: list[tuple[str, str, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._seen: dict[str, GatewayResult] = {}
        self._holds: dict[str, _Hold] = {}

    async def _once(
        self,
        kind: str,
        key: str,
        off_session: bool,
        decide: Callable[[str], tuple[GatewayResult, int]],
    ) -> GatewayResult:
        """The first answer for ``key`` (``decide`` gives it and the money it moves), or
        the one already given."""
        if self.latency:
            await asyncio.sleep(self.latency)
        if key in self._seen:
            return self._seen[key]
        if self.outage:
            return GatewayResult(GatewayOutcome.UNKNOWN, code="gateway_unavailable")
        result, moved = decide(f"test_{kind}_{len(self._seen) + 1}")
        if result.outcome is GatewayOutcome.UNKNOWN:
            return result
        self.calls += 1
        self.requests.append((kind, key, off_session))
        self.moved_minor += moved
        self._seen[key] = result
        return result

    async def charge(self, request: ChargeRequest) -> GatewayResult:
        def decide(reference: str) -> tuple[GatewayResult, int]:
            answer = TEST_TOKENS.get(request.token)
            if answer is not None:
                return answer, 0
            return GatewayResult(GatewayOutcome.APPROVED, reference), request.amount_minor

        return await self._once("charge", request.idempotency_key, request.off_session, decide)

    async def authorize(self, request: ChargeRequest) -> GatewayResult:
        def decide(reference: str) -> tuple[GatewayResult, int]:
            answer = TEST_TOKENS.get(request.token)
            if answer is not None:
                return answer, 0
            expires = datetime.now(UTC) + timedelta(days=TEST_AUTHORIZATION_DAYS)
            self._holds[reference] = _Hold(request.amount_minor, expires)
            return GatewayResult(GatewayOutcome.APPROVED, reference, expires_at=expires), 0

        return await self._once("auth", request.idempotency_key, request.off_session, decide)

    async def capture(
        self, *, reference: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> GatewayResult:
        def decide(_new: str) -> tuple[GatewayResult, int]:
            hold = self._holds.get(reference)
            if hold is None or hold.expires_at <= datetime.now(UTC):
                return GatewayResult(GatewayOutcome.DECLINED, reference, "authorization_expired"), 0
            if hold.captured or amount_minor > hold.amount_minor:
                return GatewayResult(GatewayOutcome.DECLINED, reference, "capture_refused"), 0
            hold.captured = True
            return GatewayResult(GatewayOutcome.APPROVED, reference), amount_minor

        return await self._once("capture", idempotency_key, True, decide)

    async def refund(
        self,
        *,
        reference: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> GatewayResult:
        def decide(_new: str) -> tuple[GatewayResult, int]:
            return GatewayResult(GatewayOutcome.APPROVED, reference), -amount_minor

        return await self._once("refund", idempotency_key, True, decide)

    async def describe_card(self, token: str) -> CardDetails | None:
        """The test gateway knows no card details: the caller types them in."""
        return None

    def expire(self, reference: str) -> None:
        """End an authorization's hold now (as a provider does after its days)."""
        self._holds[reference].expires_at = datetime.now(UTC)

    async def aclose(self) -> None:
        return None
