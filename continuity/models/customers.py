"""Customers, their addresses and their payment methods.

A payment method holds a gateway token and display data only: a card number never reaches
the database.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Customer(Model):
    id = fields.IntField(primary_key=True)
    account_number = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=32, null=True)
    #: The phone number's digits only: an agent's search finds ``(555) 010-2030`` as
    #: ``5550102030`` (``continuity.customers.phone_digits``).
    phone_digits = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    addresses: fields.ReverseRelation[Address]
    payment_methods: fields.ReverseRelation[PaymentMethod]

    class Meta:
        table = "customer"


class Address(Model):
    """Addresses are never edited in place once an order uses them: a change adds a new row."""

    id = fields.IntField(primary_key=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="addresses", on_delete=fields.RESTRICT
    )
    customer_id: int
    label = fields.CharField(max_length=64, null=True)
    name = fields.CharField(max_length=200)
    line1 = fields.CharField(max_length=200)
    line2 = fields.CharField(max_length=200, null=True)
    city = fields.CharField(max_length=100)
    region = fields.CharField(max_length=100, null=True)
    postal_code = fields.CharField(max_length=20)
    country = fields.CharField(max_length=2)
    is_default = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "address"


class PaymentMethod(Model):
    id = fields.IntField(primary_key=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="payment_methods", on_delete=fields.RESTRICT
    )
    customer_id: int
    # The card at the gateway (Stripe: a PaymentMethod id pm_...).
    gateway_token = fields.CharField(max_length=200)
    # The gateway's customer the card is attached to (Stripe: cus_...); charges name it.
    gateway_customer = fields.CharField(max_length=200, null=True)
    brand = fields.CharField(max_length=32)
    last4 = fields.CharField(max_length=4)
    exp_month = fields.SmallIntField()
    exp_year = fields.SmallIntField()
    is_default = fields.BooleanField(default=False)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payment_method"
