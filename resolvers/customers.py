"""Customer queries and the createCustomer / addPaymentMethod mutations."""

from __future__ import annotations

from tortoise.expressions import Q

from continuity import customers as domain
from continuity import models
from continuity.errors import ContinuityError, NotFound
from resolvers.access import customer_scope
from resolvers.context import Info
from resolvers.errors import parse_id, query_error, user_errors
from resolvers.inputs import check_arguments, check_input
from schema.customers import (
    AddPaymentMethodInput,
    AddPaymentMethodPayload,
    CreateCustomerInput,
    CreateCustomerPayload,
    Customer,
    CustomerConnection,
    CustomerEdge,
    PaymentMethod,
)
from schema.pagination import PageInfo, decode_cursor, encode_cursor, page_size


async def resolve_create_customer(info: Info, data: CreateCustomerInput) -> CreateCustomerPayload:
    try:
        check_input(data, ["input"])
        row = await domain.create_customer(
            account_number=data.account_number,
            name=data.name,
            email=data.email,
            phone=data.phone,
            addresses=[
                domain.AddressInput(
                    name=a.name,
                    line1=a.line1,
                    line2=a.line2,
                    city=a.city,
                    region=a.region,
                    postal_code=a.postal_code,
                    country=a.country,
                    label=a.label,
                    is_default=a.is_default,
                )
                for a in data.addresses
            ],
        )
    except ContinuityError as error:
        _prefix(error, "input")
        return CreateCustomerPayload(customer=None, user_errors=user_errors(error))
    return CreateCustomerPayload(customer=Customer.from_row(row), user_errors=[])


async def resolve_add_payment_method(
    info: Info, data: AddPaymentMethodInput
) -> AddPaymentMethodPayload:
    try:
        check_input(data, ["input"])
        customer_id = parse_id(data.customer_id, ["customerId"])
        scope = customer_scope(info.context.caller)
        if scope is not None and customer_id != scope:
            # Exactly what the domain says of a customer that does not exist.
            raise NotFound(f"no customer {customer_id}", field=["customerId"])
        row = await domain.add_payment_method(
            customer_id,
            domain.PaymentMethodInput(
                gateway_token=data.gateway_token,
                brand=data.brand,
                last4=data.last4,
                exp_month=data.exp_month,
                exp_year=data.exp_year,
                is_default=data.is_default,
                gateway_customer=data.gateway_customer,
            ),
            today=info.context.today,
            gateway=info.context.gateway,
        )
    except ContinuityError as error:
        _prefix(error, "input")
        return AddPaymentMethodPayload(payment_method=None, user_errors=user_errors(error))
    return AddPaymentMethodPayload(payment_method=PaymentMethod.from_row(row), user_errors=[])


def _prefix(error: ContinuityError, root: str) -> None:
    """Domain fields are relative to the input object; the API names them from the root."""
    if error.field is not None and error.field[:1] != (root,):
        error.field = (root, *error.field)


async def resolve_customer(info: Info, customer_id: str) -> Customer | None:
    try:
        number = parse_id(customer_id, ["id"])
    except ContinuityError:
        return None
    scope = customer_scope(info.context.caller)
    if scope is not None and number != scope:
        return None
    row = await models.Customer.get_or_none(id=number)
    return Customer.from_row(row) if row else None


async def resolve_customers(
    info: Info, first: int | None, after: str | None, search: str | None
) -> CustomerConnection:
    size = page_size(first)
    try:
        check_arguments(search=search, after=after)
    except ContinuityError as error:
        raise query_error(error) from None
    query = models.Customer.all().order_by("id")
    scope = customer_scope(info.context.caller)
    if scope is not None:
        query = query.filter(id=scope)
    after_id = decode_cursor("Customer", after)
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    if search:
        term = search.strip()[:100]
        query = query.filter(Q(name__icontains=term) | Q(account_number__iexact=term))
    rows = await query.limit(size + 1)
    edges = [
        CustomerEdge(cursor=encode_cursor("Customer", r.id), node=Customer.from_row(r))
        for r in rows[:size]
    ]
    return CustomerConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
        ),
    )
