"""The ``payments:`` section of the settings: which gateway moves the money, and its secrets.

``build_gateway`` is the one place that turns the configuration into a ``PaymentGateway``:
the server and every CLI command that moves money call it. Secrets are ``SecretStr`` (never
in a repr, a log line or an error message). docs/PAYMENTS.md explains each variable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

if TYPE_CHECKING:
    from config.settings import Settings
    from continuity.payments.gateway import PaymentGateway

#: Stripe's API; the default of ``CONTINUITY_STRIPE_API_BASE``.
STRIPE_API_BASE = "https://api.stripe.com"


class PaymentSettings(BaseModel):
    """Every key is also an environment variable ``CONTINUITY_<KEY>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: ``test``: the built-in gateway (no money moves); ``stripe``: real payments.
    payment_gateway: Literal["test", "stripe"] = "test"
    #: Stripe's secret (``sk_…``) or restricted (``rk_…``) key; required with ``stripe``.
    stripe_api_key: SecretStr | None = None
    #: The signing secret of the ``/webhooks/stripe`` endpoint (``whsec_…``).
    stripe_webhook_secret: SecretStr | None = None
    #: Where every Stripe request goes: Stripe itself, or a local stand-in (tests, demos).
    stripe_api_base: str = STRIPE_API_BASE
    #: One request's time limit; a request that runs out is an unknown outcome, asked again.
    stripe_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    #: The SDK's own retries of a request that got no answer (same idempotency key).
    stripe_max_network_retries: int = Field(default=2, ge=0, le=5)

    @field_validator("stripe_api_base")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("stripe_api_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().startswith("pk_"):
            raise ValueError(
                "is a publishable key: the server needs the secret key (sk_…) "
                "or a restricted key (rk_…)"
            )
        return value


def build_gateway(settings: Settings) -> PaymentGateway:
    """The configured gateway; ``ConfigError`` (naming the variable) when it cannot be built."""
    from config.settings import ConfigError

    payments = settings.payments
    if payments.payment_gateway == "test":
        from continuity.payments.gateway import TestGateway

        return TestGateway()
    if payments.stripe_api_key is None or not payments.stripe_api_key.get_secret_value():
        raise ConfigError(
            "CONTINUITY_STRIPE_API_KEY is not set: CONTINUITY_PAYMENT_GATEWAY=stripe needs "
            "Stripe's secret key (or payments.stripe_api_key in the configuration file)"
        )
    from continuity.payments.stripe_gateway import StripeGateway

    secret = payments.stripe_webhook_secret
    return StripeGateway(
        payments.stripe_api_key.get_secret_value(),
        api_base=payments.stripe_api_base,
        webhook_secret=secret.get_secret_value() if secret is not None else None,
        timeout=payments.stripe_timeout_seconds,
        max_network_retries=payments.stripe_max_network_retries,
    )


def gateway_warnings(
    settings: Settings, gateway: PaymentGateway, *, server: bool = False
) -> list[str]:
    """What an operator must be told at start: no real money outside development, or (the
    server) a Stripe webhook endpoint that will refuse every event."""
    from continuity.payments.webhooks import WebhookVerifier

    found = []
    if gateway.name == "test" and not settings.service.development:
        found.append(
            "payments go to the built-in TEST gateway: no money moves. "
            "Set CONTINUITY_PAYMENT_GATEWAY=stripe (docs/PAYMENTS.md) for real payments."
        )
    if server and isinstance(gateway, WebhookVerifier) and not gateway.receives_webhooks:
        found.append(
            f"CONTINUITY_{gateway.name.upper()}_WEBHOOK_SECRET is not set: "
            f"/webhooks/{gateway.name} refuses every event"
        )
    return found
