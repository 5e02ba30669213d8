"""The ``payments`` settings and ``build_gateway``: the one place the gateway is chosen."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.payments import build_gateway, gateway_warnings
from config.settings import ConfigError, load_settings
from continuity.payments.gateway import TestGateway
from continuity.payments.stripe_gateway import STRIPE_API_BASE, StripeGateway


def test_the_test_gateway_is_the_default() -> None:
    settings = load_settings(environ={})
    gateway = build_gateway(settings)
    assert isinstance(gateway, TestGateway)
    assert gateway.name == "test"
    assert settings.payments.stripe_api_base == STRIPE_API_BASE
    [warning] = gateway_warnings(settings, gateway)
    assert "TEST gateway" in warning


def test_stripe_from_the_environment() -> None:
    settings = load_settings(
        environ={
            "CONTINUITY_PAYMENT_GATEWAY": "stripe",
            "CONTINUITY_STRIPE_API_KEY": "sk_test_abc",
            "CONTINUITY_STRIPE_WEBHOOK_SECRET": "whsec_abc",
            "CONTINUITY_STRIPE_API_BASE": "http://127.0.0.1:12111/",
        }
    )
    gateway = build_gateway(settings)
    assert isinstance(gateway, StripeGateway)
    assert (gateway.name, gateway.api_base, gateway.receives_webhooks, gateway.test_mode) == (
        "stripe",
        "http://127.0.0.1:12111",
        True,
        True,
    )
    assert gateway_warnings(settings, gateway, server=True) == []
    assert "sk_test_abc" not in repr(settings) + repr(gateway)
    assert "whsec_abc" not in repr(settings)


def test_stripe_from_the_file(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("payments:\n  payment_gateway: stripe\n  stripe_api_key: rk_live_x\n")
    settings = load_settings(environ={}, config_file=config)
    gateway = build_gateway(settings)
    assert isinstance(gateway, StripeGateway)
    assert not gateway.test_mode
    [warning] = gateway_warnings(settings, gateway, server=True)
    assert "CONTINUITY_STRIPE_WEBHOOK_SECRET is not set" in warning


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"CONTINUITY_PAYMENT_GATEWAY": "paypal"},
            "environment variable CONTINUITY_PAYMENT_GATEWAY: payments.payment_gateway:",
        ),
        (
            {"CONTINUITY_PAYMENT_GATEWAY": "stripe", "CONTINUITY_STRIPE_API_KEY": "pk_live_pub"},
            "environment variable CONTINUITY_STRIPE_API_KEY: payments.stripe_api_key: "
            "is a publishable key",
        ),
        (
            {"CONTINUITY_STRIPE_API_BASE": "api.stripe.com"},
            "environment variable CONTINUITY_STRIPE_API_BASE: payments.stripe_api_base:",
        ),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(environ=environ)
    assert message in str(refused.value)
    assert "pk_live_pub" not in str(refused.value)


def test_stripe_without_a_key_names_the_missing_variable() -> None:
    settings = load_settings(environ={"CONTINUITY_PAYMENT_GATEWAY": "stripe"})
    with pytest.raises(ConfigError, match=r"^CONTINUITY_STRIPE_API_KEY is not set"):
        build_gateway(settings)
