"""Customers and rules ready for placing orders (domain-level tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from continuity.customers import (
    AddressInput,
    PaymentMethodInput,
    add_payment_method,
    create_customer,
)
from continuity.models import Address, Customer, PaymentMethod
from continuity.orders.placement import BillingRules
from rules.loader import load_rules
from rules.sync import sync_rules

RULES = BillingRules(repeat_threshold=3, retry_days=2, reauthorization_limit=3)
TODAY = date(2027, 1, 31)


@dataclass
class Buyer:
    customer: Customer
    address: Address
    card: PaymentMethod


async def setup(rules_dir: Path, *, token: str = "tok_visa", account: str = "C-1") -> Buyer:
    await sync_rules(load_rules(rules_dir))
    customer = await create_customer(
        account_number=account,
        name="Ada Lovelace",
        email="ada@example.com",
        addresses=[
            AddressInput(
                name="Ada Lovelace",
                line1="12 St James's Sq",
                city="London",
                postal_code="SW1Y 4LE",
                country="GB",
            )
        ],
    )
    address = await Address.get(customer_id=customer.id)
    card = await add_payment_method(
        customer.id,
        PaymentMethodInput(
            gateway_token=token, brand="visa", last4="4242", exp_month=12, exp_year=2030
        ),
        today=TODAY,
    )
    return Buyer(customer, address, card)
