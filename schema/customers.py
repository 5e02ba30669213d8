"""Customers, their addresses and cards: the types, the look-ups, and creating them."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from continuity import customers as domain
from continuity import keyset, models
from continuity.errors import ContinuityError
from resolvers import customers
from schema.common import (
    INPUT,
    USER_ERRORS,
    UserError,
    at_input,
    postal_fields,
    query_error,
    user_errors,
)
from schema.connections import Connection, QueryPager, RelationPager, connection
from schema.context import Info
from schema.idempotency import idempotent, key_field
from schema.ids import decode_id, decode_optional
from schema.inputs import check_arguments, check_input, one_of
from schema.nodes import Entity, entity

if TYPE_CHECKING:
    from schema.orders import ContinuityOrder, SalesOrder

BY_ID = keyset.Ordering(("id",))
ADDRESSES = keyset.Relation(models.Address, "customer_id", BY_ID)
PAYMENT_METHODS = keyset.Relation(models.PaymentMethod, "customer_id", BY_ID)
CONTINUITY_ORDERS = keyset.Relation(models.ContinuityOrder, "customer_id", BY_ID)
SALES_ORDERS = keyset.Relation(models.SalesOrder, "customer_id", BY_ID)


@entity(models.Address, owner="customer_id")
@strawberry.type(description="A postal address of a customer.")
class Address(Entity):
    id: relay.NodeID[int]
    label: str | None = strawberry.field(description="The customer's name for it (`home`).")
    name: str = strawberry.field(description="Who receives the parcel.")
    line1: str = strawberry.field(description="Street and number.")
    line2: str | None = strawberry.field(description="More of the address, if any.")
    city: str = strawberry.field(description="The city.")
    region: str | None = strawberry.field(description="State, province or county, if any.")
    postal_code: str = strawberry.field(description="The postal code.")
    country: str = strawberry.field(description="ISO 3166 two-letter country code.")
    is_default: bool = strawberry.field(description="New orders ship here unless told otherwise.")

    @classmethod
    def from_row(cls, row: models.Address) -> Address:
        return cls(id=row.id, label=row.label, is_default=row.is_default, **postal_fields(row))


@entity(models.PaymentMethod, owner="customer_id")
@strawberry.type(description="A card on file: a gateway token and what a person may see of it.")
class PaymentMethod(Entity):
    id: relay.NodeID[int]
    brand: str = strawberry.field(description="The card brand (`visa`).")
    last4: str = strawberry.field(description="The card number's last four digits.")
    exp_month: int = strawberry.field(description="Expiry month, 1 to 12.")
    exp_year: int = strawberry.field(description="Expiry year, four digits.")
    is_default: bool = strawberry.field(description="New orders are billed to it.")
    active: bool = strawberry.field(description="May be charged (inactive cards are kept).")

    @classmethod
    def from_row(cls, row: models.PaymentMethod) -> PaymentMethod:
        return cls(
            id=row.id,
            brand=row.brand,
            last4=row.last4,
            exp_month=row.exp_month,
            exp_year=row.exp_year,
            is_default=row.is_default,
            active=row.active,
        )


@entity(models.Customer, owner="id")
@strawberry.type(description="A customer: who orders, with addresses, cards and orders.")
class Customer(Entity):
    id: relay.NodeID[int]
    account_number: str = strawberry.field(
        description="The account number people quote on the phone."
    )
    name: str = strawberry.field(description="The customer's name.")
    email: str | None = strawberry.field(description="Where e-mail notifications go.")
    phone: str | None = strawberry.field(description="A phone number.")
    created_at: datetime.datetime = strawberry.field(description="When the customer was created.")

    @classmethod
    def from_row(cls, row: models.Customer) -> Customer:
        return cls(
            id=row.id,
            account_number=row.account_number,
            name=row.name,
            email=row.email,
            phone=row.phone,
            created_at=row.created_at,
        )

    @connection(Connection[Address], description="The customer's addresses, oldest first.")
    def addresses(self) -> RelationPager[models.Address, Address]:
        return RelationPager(ADDRESSES, self.id, Address.from_row)

    @connection(Connection[PaymentMethod], description="The customer's cards, oldest first.")
    def payment_methods(self) -> RelationPager[models.PaymentMethod, PaymentMethod]:
        return RelationPager(PAYMENT_METHODS, self.id, PaymentMethod.from_row)

    @connection(
        Connection[Annotated["ContinuityOrder", strawberry.lazy("schema.orders")]],
        description="The customer's continuity orders, oldest first.",
    )
    def continuity_orders(self) -> RelationPager[models.ContinuityOrder, ContinuityOrder]:
        from schema.orders import ContinuityOrder

        return RelationPager(CONTINUITY_ORDERS, self.id, ContinuityOrder.from_row)

    @connection(
        Connection[Annotated["SalesOrder", strawberry.lazy("schema.orders")]],
        description="The customer's sales orders, oldest first.",
    )
    def sales_orders(self) -> RelationPager[models.SalesOrder, SalesOrder]:
        from schema.orders import SalesOrder

        return RelationPager(SALES_ORDERS, self.id, SalesOrder.from_row)


@strawberry.input(description="A postal address.")
class AddressInput:
    name: str = strawberry.field(description="Who receives the parcel.")
    line1: str = strawberry.field(description="Street and number.")
    city: str = strawberry.field(description="The city.")
    postal_code: str = strawberry.field(description="The postal code.")
    country: str = strawberry.field(description="ISO 3166 two-letter code.")
    line2: str | None = strawberry.field(default=None, description="More of the address.")
    region: str | None = strawberry.field(default=None, description="State, province, county.")
    label: str | None = strawberry.field(default=None, description="A name for it (`home`).")
    is_default: bool = strawberry.field(
        default=False, description="New orders ship here (the first address always does)."
    )

    def to_domain(self) -> domain.AddressInput:
        return domain.AddressInput(
            name=self.name,
            line1=self.line1,
            line2=self.line2,
            city=self.city,
            region=self.region,
            postal_code=self.postal_code,
            country=self.country,
            label=self.label,
            is_default=self.is_default,
        )


@strawberry.input(description="A new customer with its addresses.")
class CreateCustomerInput:
    account_number: str = strawberry.field(description="Unique: 1 to 32 letters, digits or dashes.")
    name: str = strawberry.field(description="The customer's name.")
    email: str | None = strawberry.field(default=None, description="An e-mail address.")
    phone: str | None = strawberry.field(default=None, description="A phone number.")
    addresses: list[AddressInput] = strawberry.field(
        default_factory=list, description="At most 20 addresses."
    )
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of createCustomer.")
class CreateCustomerPayload:
    customer: Customer | None = strawberry.field(description="The new customer.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.input(
    description="A card saved at the payment gateway, by its token; card numbers are refused. "
    "With Stripe the brand, last 4 digits and expiry are read from Stripe (values given here "
    "are ignored); with the test gateway they are required."
)
class AddPaymentMethodInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer's global id.")
    gateway_token: str = strawberry.field(
        description="The gateway's token of the card: with Stripe the PaymentMethod id "
        "(`pm_…`) from Stripe Elements or the Terminal, attached to a Stripe customer."
    )
    brand: str | None = strawberry.field(
        default=None, description="The card brand (`visa`, `mastercard`, …); test gateway only."
    )
    last4: str | None = strawberry.field(
        default=None, description="The card number's last four digits; test gateway only."
    )
    exp_month: int | None = strawberry.field(
        default=None, description="Expiry month, 1 to 12; test gateway only."
    )
    exp_year: int | None = strawberry.field(
        default=None, description="Expiry year, four digits; test gateway only."
    )
    is_default: bool = strawberry.field(default=True, description="New orders are billed to it.")
    gateway_customer: str | None = strawberry.field(
        default=None,
        description="The gateway's customer the card is attached to (Stripe: `cus_…`); "
        "read from the gateway when absent.",
    )
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of addPaymentMethod.")
class AddPaymentMethodPayload:
    payment_method: PaymentMethod | None = strawberry.field(description="The new card.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@idempotent(CreateCustomerPayload)
async def create_customer(
    info: Info, input: Annotated[CreateCustomerInput, INPUT]
) -> CreateCustomerPayload:
    try:
        check_input(input, ["input"])
        row = await customers.create_customer(
            info.context,
            account_number=input.account_number,
            name=input.name,
            email=input.email,
            phone=input.phone,
            addresses=[a.to_domain() for a in input.addresses],
        )
    except ContinuityError as error:
        return CreateCustomerPayload(customer=None, user_errors=user_errors(at_input(error)))
    return CreateCustomerPayload(customer=Customer.from_row(row), user_errors=[])


@idempotent(AddPaymentMethodPayload)
async def add_payment_method(
    info: Info, input: Annotated[AddPaymentMethodInput, INPUT]
) -> AddPaymentMethodPayload:
    try:
        check_input(input, ["input"])
        row = await customers.add_payment_method(
            info.context,
            decode_id(input.customer_id, "Customer", ["input", "customerId"]),
            domain.PaymentMethodInput(
                gateway_token=input.gateway_token,
                brand=input.brand,
                last4=input.last4,
                exp_month=input.exp_month,
                exp_year=input.exp_year,
                is_default=input.is_default,
                gateway_customer=input.gateway_customer,
            ),
        )
    except ContinuityError as error:
        return AddPaymentMethodPayload(
            payment_method=None, user_errors=user_errors(at_input(error))
        )
    return AddPaymentMethodPayload(payment_method=PaymentMethod.from_row(row), user_errors=[])


@strawberry.type
class CustomerQueries:
    @strawberry.field(
        description="One customer, by its global id or its account number (give one); null "
        "when there is none or it is not the caller's."
    )
    async def customer(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Its global id.")
        ] = None,
        account_number: Annotated[
            str | None, strawberry.argument(description="Its account number.")
        ] = None,
    ) -> Customer | None:
        try:
            one_of(id=id, account_number=account_number)
            check_arguments(account_number=account_number)
            if account_number is not None:
                row = await customers.customer_by_account(info.context, account_number)
                return Customer.from_row(row) if row else None
            return await Customer.load(info, decode_optional(id, "Customer", ["id"]))
        except ContinuityError as error:
            raise query_error(error) from None

    @connection(Connection[Customer], description="Customers, oldest first, filtered.")
    def customers(
        self,
        info: Info,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="What an agent hears on the phone: part of a name (any case), a "
                "whole account number, a whole e-mail address (any case), or a phone number "
                "(its digits, however written; the last 7 or more are enough)."
            ),
        ] = None,
    ) -> QueryPager[models.Customer, Customer]:
        try:
            check_arguments(search=search)
        except ContinuityError as error:
            raise query_error(error) from None
        return QueryPager(customers.customers(info.context, search), BY_ID, Customer.from_row)


@strawberry.type
class CustomerMutations:
    create_customer: CreateCustomerPayload = strawberry.mutation(
        resolver=create_customer, description="Create a customer with its addresses."
    )
    add_payment_method: AddPaymentMethodPayload = strawberry.mutation(
        resolver=add_payment_method,
        description="Put a card on file, as a gateway token (never a card number).",
    )
