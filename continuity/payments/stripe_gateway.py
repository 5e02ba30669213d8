"""The Stripe adapter of ``PaymentGateway``, on the official ``stripe`` SDK's async client.

Every charge attempt is one PaymentIntent, created and confirmed in one request
(``confirm=true``; ``off_session=true`` for the jobs' recurring charges;
``capture_method=manual`` for an authorization), with our attempt key as Stripe's
``Idempotency-Key``: the SDK's own network retries and our next run both resend that key, so
Stripe never moves money twice for it. Outcomes (docs/PAYMENTS.md has the table):

- ``succeeded`` (or ``requires_capture`` for an authorization) → approved;
- HTTP 402 ``card_error`` → declined with its ``decline_code`` (retried, then payment hold),
  except ``authentication_required`` → action required (payment hold, the customer is asked);
- status ``requires_action`` → action required;
- connection error, timeout, HTTP 5xx, 409, 429, or status ``processing`` → unknown: nothing
  is known, the same key is sent again at the next run (or a webhook settles it first).

Refunds are Stripe Refunds on the charge's PaymentIntent, with their own keys; captures
capture the authorization's PaymentIntent. Webhooks are verified by the SDK with the endpoint's
secret (``verify_webhook``) and turned into provider-neutral ``GatewayEvent``s.

The SDK's HTTP client belongs to one event loop (it fails with "Event loop is closed" on
another), so it is made on first use in the running loop and remade if the loop changes;
``aclose`` releases it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
from stripe.params import PaymentIntentCreateParams

from continuity.payments.gateway import (
    AUTHENTICATION_REQUIRED,
    CardDetails,
    ChargeRequest,
    GatewayOutcome,
    GatewayResult,
    GatewayUnavailable,
    UnknownPaymentMethod,
)
from continuity.payments.webhooks import GatewayEvent, GatewayEventKind, WebhookRejected

#: Stripe's own API; ``CONTINUITY_STRIPE_API_BASE`` points elsewhere (a local stand-in).
STRIPE_API_BASE = "https://api.stripe.com"
#: A card authorization holds the money this long when Stripe does not say
#: (``latest_charge.payment_method_details.card.capture_before``).
CARD_AUTHORIZATION_DAYS = 7

_EVENT_KINDS = {
    "payment_intent.succeeded": GatewayEventKind.PAYMENT_SUCCEEDED,
    "payment_intent.payment_failed": GatewayEventKind.PAYMENT_FAILED,
    "charge.refunded": GatewayEventKind.REFUNDED,
    "charge.dispute.created": GatewayEventKind.DISPUTED,
}


def _unknown(code: str) -> GatewayResult:
    return GatewayResult(GatewayOutcome.UNKNOWN, code=code[:64])


class StripeGateway:
    """``PaymentGateway`` on Stripe. ``api_base`` is where every request goes."""

    name = "stripe"

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str = STRIPE_API_BASE,
        webhook_secret: str | None = None,
        timeout: float = 30.0,
        max_network_retries: int = 2,
    ) -> None:
        self._api_key = api_key
        self.api_base = api_base.rstrip("/")
        self._webhook_secret = webhook_secret
        self._timeout = timeout
        self._retries = max_network_retries
        self._client: stripe.StripeClient | None = None
        self._http: stripe.HTTPXClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:  # never the key
        return f"StripeGateway(api_base={self.api_base!r})"

    @property
    def test_mode(self) -> bool:
        """A test-mode key (``sk_test_…``, ``rk_test_…``): no real money moves."""
        return "_test_" in self._api_key

    @property
    def receives_webhooks(self) -> bool:
        return bool(self._webhook_secret)

    def _stripe(self) -> stripe.StripeClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._http = stripe.HTTPXClient(timeout=self._timeout)
            self._client = stripe.StripeClient(
                self._api_key,
                base_addresses={"api": self.api_base},
                http_client=self._http,
                max_network_retries=self._retries,
            )
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        http, self._http, self._client, self._loop = self._http, None, None, None
        if http is not None:
            await http.close_async()  # type: ignore[no-untyped-call]

    # -- money -----------------------------------------------------------------------------

    async def charge(self, request: ChargeRequest) -> GatewayResult:
        return await self._payment_intent(request, manual=False)

    async def authorize(self, request: ChargeRequest) -> GatewayResult:
        return await self._payment_intent(request, manual=True)

    async def _payment_intent(self, request: ChargeRequest, *, manual: bool) -> GatewayResult:
        params: PaymentIntentCreateParams = {
            "amount": request.amount_minor,
            "currency": request.currency.lower(),
            "payment_method": request.token,
            # a saved card: no redirect, so no return_url is needed to confirm
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "confirm": True,
            "capture_method": "manual" if manual else "automatic",
            "metadata": dict(request.metadata),
            "expand": ["latest_charge"],
        }
        if request.customer:
            params["customer"] = request.customer
        if request.off_session:
            params["off_session"] = True
        try:
            intent = await self._stripe().v1.payment_intents.create_async(
                params, {"idempotency_key": request.idempotency_key}
            )
        except stripe.CardError as error:
            return self._card_error(error)
        except stripe.StripeError as error:
            return self._other_error(error)
        return self._intent_result(intent, manual=manual)

    def _intent_result(self, intent: stripe.PaymentIntent, *, manual: bool) -> GatewayResult:
        status = intent.status
        if status == "succeeded" or (manual and status == "requires_capture"):
            expires = self._capture_before(intent) if manual else None
            return GatewayResult(GatewayOutcome.APPROVED, reference=intent.id, expires_at=expires)
        if status == "requires_action":
            return GatewayResult(
                GatewayOutcome.ACTION_REQUIRED, reference=intent.id, code=AUTHENTICATION_REQUIRED
            )
        if status == "processing":
            return GatewayResult(GatewayOutcome.UNKNOWN, reference=intent.id, code="processing")
        error = intent.last_payment_error
        code = (error.decline_code or error.code) if error is not None else None
        return GatewayResult(GatewayOutcome.DECLINED, reference=intent.id, code=code or status)

    @staticmethod
    def _capture_before(intent: stripe.PaymentIntent) -> datetime:
        charge = intent.latest_charge
        if isinstance(charge, stripe.Charge):
            details = charge.payment_method_details
            card = details.card if details is not None else None
            if card is not None and card.capture_before:
                return datetime.fromtimestamp(card.capture_before, UTC)
        return datetime.fromtimestamp(intent.created, UTC) + timedelta(days=CARD_AUTHORIZATION_DAYS)

    @staticmethod
    def _card_error(error: stripe.CardError) -> GatewayResult:
        """HTTP 402: the card was refused (the PaymentIntent exists, in
        ``requires_payment_method``); ``authentication_required`` needs the customer."""
        body = error.error
        intent = body.payment_intent if body is not None else None
        reference = intent.id if intent is not None else None
        if error.code == AUTHENTICATION_REQUIRED or (
            body is not None and body.decline_code == AUTHENTICATION_REQUIRED
        ):
            return GatewayResult(
                GatewayOutcome.ACTION_REQUIRED, reference=reference, code=AUTHENTICATION_REQUIRED
            )
        code = (body.decline_code if body is not None else None) or error.code or "card_declined"
        return GatewayResult(GatewayOutcome.DECLINED, reference=reference, code=code)

    @staticmethod
    def _other_error(error: stripe.StripeError) -> GatewayResult:
        """Anything but a card error. No answer, or an answer that does not tell whether the
        money moved (5xx, 409, 429) → unknown. A request Stripe refused as invalid (400/404:
        e.g. a card detached from its customer) moved nothing and will not succeed as is →
        declined, so the customer is asked for another card. A wrong API key (401/403) is
        the operator's to fix: unknown, so nothing is lost meanwhile."""
        if isinstance(error, stripe.APIConnectionError):
            return _unknown("gateway_unreachable")
        if isinstance(error, stripe.IdempotencyError):
            return _unknown("idempotency_error")
        if isinstance(error, stripe.InvalidRequestError):
            return GatewayResult(GatewayOutcome.DECLINED, code=error.code or "invalid_request")
        if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
            return _unknown("gateway_authentication")
        status = error.http_status
        return _unknown(f"gateway_http_{status}" if status else "gateway_error")

    async def capture(
        self, *, reference: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> GatewayResult:
        try:
            intent = await self._stripe().v1.payment_intents.capture_async(
                reference,
                {"amount_to_capture": amount_minor},
                {"idempotency_key": idempotency_key},
            )
        except stripe.CardError as error:
            return self._card_error(error)
        except stripe.InvalidRequestError as error:
            # not capturable any more: the hold lapsed or was cancelled
            return GatewayResult(
                GatewayOutcome.DECLINED,
                reference=reference,
                code=error.code or "authorization_expired",
            )
        except stripe.StripeError as error:
            return self._other_error(error)
        if intent.status == "succeeded":
            return GatewayResult(GatewayOutcome.APPROVED, reference=intent.id)
        return GatewayResult(GatewayOutcome.DECLINED, reference=intent.id, code=intent.status)

    async def refund(
        self,
        *,
        reference: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> GatewayResult:
        try:
            refund = await self._stripe().v1.refunds.create_async(
                {
                    "payment_intent": reference,
                    "amount": amount_minor,
                    "reason": "requested_by_customer",
                    "metadata": dict(metadata),
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError as error:
            return GatewayResult(
                GatewayOutcome.DECLINED, reference=reference, code=error.code or "refund_refused"
            )
        except stripe.StripeError as error:
            return self._other_error(error)
        if refund.status in ("succeeded", "pending", "requires_action"):
            return GatewayResult(GatewayOutcome.APPROVED, reference=reference)
        return GatewayResult(
            GatewayOutcome.DECLINED, reference=reference, code=refund.failure_reason or "failed"
        )

    # -- cards -----------------------------------------------------------------------------

    async def describe_card(self, token: str) -> CardDetails | None:
        try:
            method = await self._stripe().v1.payment_methods.retrieve_async(token)
        except stripe.InvalidRequestError as error:
            raise UnknownPaymentMethod(
                error.user_message or f"Stripe has no payment method {token}"
            ) from None
        except stripe.StripeError as error:
            raise GatewayUnavailable(error.user_message or type(error).__name__) from None
        card = method.card
        if method.type != "card" or card is None:
            raise UnknownPaymentMethod(f"{token} is a {method.type} payment method, not a card")
        customer = method.customer
        return CardDetails(
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            customer=customer if isinstance(customer, str) or customer is None else customer.id,
        )

    async def attach_test_card(self, test_method: str, *, name: str, email: str) -> str:
        """Test mode only (the demo): a Stripe customer with a copy of one of Stripe's test
        cards (``pm_card_visa``, ``pm_card_chargeDeclined``…) attached; returns the copy's id,
        which ``describe_card`` then reads like any card an agent's screen collected."""
        if not self.test_mode:
            raise ValueError("test cards need a test-mode key (sk_test_…)")
        client = self._stripe()
        customer = await client.v1.customers.create_async({"name": name, "email": email})
        method = await client.v1.payment_methods.attach_async(
            test_method, {"customer": customer.id}
        )
        return method.id

    # -- webhooks --------------------------------------------------------------------------

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """The event a webhook request carries, once the SDK has verified its
        ``Stripe-Signature`` with the endpoint's secret; ``WebhookRejected`` otherwise."""
        if not self._webhook_secret:
            raise WebhookRejected("no webhook secret is configured")
        signature = headers.get("stripe-signature")
        try:
            stripe.Webhook.construct_event(payload, signature, self._webhook_secret)
            body = json.loads(payload)
        except (ValueError, stripe.SignatureVerificationError) as error:
            raise WebhookRejected(f"{type(error).__name__}: {error}") from None
        if not isinstance(body, dict):
            raise WebhookRejected("the event is not a JSON object")
        return self.event_from(body)

    def event_from(self, body: dict[str, Any]) -> GatewayEvent:
        kind = _EVENT_KINDS.get(str(body.get("type")), GatewayEventKind.OTHER)
        data = body.get("data")
        item: dict[str, Any] = (data.get("object") if isinstance(data, dict) else None) or {}
        metadata = item.get("metadata") or {}
        reference = item.get("id") if kind is not GatewayEventKind.OTHER else None
        amount = item.get("amount")
        code = None
        if kind in (GatewayEventKind.REFUNDED, GatewayEventKind.DISPUTED):
            reference = item.get("payment_intent")
            if kind is GatewayEventKind.REFUNDED:
                amount = item.get("amount_refunded")
            else:
                code = item.get("reason")
        elif kind is GatewayEventKind.PAYMENT_FAILED:
            error = item.get("last_payment_error") or {}
            code = error.get("decline_code") or error.get("code") or "card_declined"
        elif kind is GatewayEventKind.PAYMENT_SUCCEEDED:
            amount = item.get("amount_received", amount)
        payment, attempt = _ours(metadata)
        return GatewayEvent(
            gateway=self.name,
            id=str(body.get("id") or ""),
            type=str(body.get("type") or ""),
            kind=kind,
            reference=str(reference) if reference else None,
            payment_id=payment,
            attempt=attempt,
            amount_minor=int(amount) if isinstance(amount, int) else None,
            currency=str(item["currency"]).upper() if item.get("currency") else None,
            code=str(code) if code else None,
            dispute=str(item.get("id")) if kind is GatewayEventKind.DISPUTED else None,
        )


def _ours(metadata: object) -> tuple[int | None, int | None]:
    """Our payment id and attempt number, from the metadata we put on the PaymentIntent."""
    if not isinstance(metadata, dict):
        return None, None
    payment = str(metadata.get("continuity_payment") or "")
    key = str(metadata.get("attempt_key") or "")
    attempt = key.rsplit("#", 1)[-1] if "#" in key else ""
    return (
        int(payment) if payment.isdigit() else None,
        int(attempt) if attempt.isdigit() else None,
    )
