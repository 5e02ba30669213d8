"""Customers, addresses and payment methods."""

from __future__ import annotations

import datetime

import strawberry

from continuity import models
from resolvers.context import Info
from schema.common import UserError
from schema.pagination import PageInfo


@strawberry.type
class Address:
    id: strawberry.ID
    label: str | None
    name: str
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    country: str
    is_default: bool

    @classmethod
    def from_row(cls, row: models.Address) -> Address:
        return cls(
            id=strawberry.ID(str(row.id)),
            label=row.label,
            name=row.name,
            line1=row.line1,
            line2=row.line2,
            city=row.city,
            region=row.region,
            postal_code=row.postal_code,
            country=row.country,
            is_default=row.is_default,
        )


@strawberry.type(description="A card on file: a gateway token and what a person may see of it.")
class PaymentMethod:
    id: strawberry.ID
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    is_default: bool
    active: bool

    @classmethod
    def from_row(cls, row: models.PaymentMethod) -> PaymentMethod:
        return cls(
            id=strawberry.ID(str(row.id)),
            brand=row.brand,
            last4=row.last4,
            exp_month=row.exp_month,
            exp_year=row.exp_year,
            is_default=row.is_default,
            active=row.active,
        )


@strawberry.type
class Customer:
    id: strawberry.ID
    account_number: str
    name: str
    email: str | None
    phone: str | None
    created_at: datetime.datetime
    _row_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Customer) -> Customer:
        return cls(
            id=strawberry.ID(str(row.id)),
            account_number=row.account_number,
            name=row.name,
            email=row.email,
            phone=row.phone,
            created_at=row.created_at,
            _row_id=row.id,
        )

    @strawberry.field
    async def addresses(self, info: Info) -> list[Address]:
        rows = await info.context.loaders.addresses_by_customer.load(self._row_id)
        return [Address.from_row(row) for row in rows]

    @strawberry.field
    async def payment_methods(self, info: Info) -> list[PaymentMethod]:
        rows = await info.context.loaders.payment_methods_by_customer.load(self._row_id)
        return [PaymentMethod.from_row(row) for row in rows]


@strawberry.input
class AddressInput:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str = strawberry.field(description="ISO 3166 two-letter code.")
    line2: str | None = None
    region: str | None = None
    label: str | None = None
    is_default: bool = False


@strawberry.input
class CreateCustomerInput:
    account_number: str
    name: str
    email: str | None = None
    phone: str | None = None
    addresses: list[AddressInput] = strawberry.field(default_factory=list)


@strawberry.input(
    description="A card saved at the payment gateway, by its token; card numbers are refused. "
    "With Stripe the brand, last 4 digits and expiry are read from Stripe (values given here "
    "are ignored); with the test gateway they are required."
)
class AddPaymentMethodInput:
    customer_id: strawberry.ID
    gateway_token: str = strawberry.field(
        description="The gateway's token of the card: with Stripe the PaymentMethod id "
        "(`pm_…`) from Stripe Elements or the Terminal, attached to a Stripe customer."
    )
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    is_default: bool = True
    gateway_customer: str | None = strawberry.field(
        default=None,
        description="The gateway's customer the card is attached to (Stripe: `cus_…`); "
        "read from the gateway when absent.",
    )


@strawberry.type
class CreateCustomerPayload:
    customer: Customer | None
    user_errors: list[UserError]


@strawberry.type
class AddPaymentMethodPayload:
    payment_method: PaymentMethod | None
    user_errors: list[UserError]


@strawberry.type
class CustomerEdge:
    cursor: str
    node: Customer


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo
