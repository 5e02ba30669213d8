"""Customers: creating them and their cards, and the queries a caller may run over them."""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.functions import Lower
from tortoise.queryset import QuerySet

from continuity import customers as domain
from continuity import models
from resolvers.scope import customer_scope, require_customer
from resolvers.session import Session

#: A search term is cut to this many characters.
MAX_SEARCH = 100
#: A phone search needs at least this many digits (a local number without its area code
#: would match too many customers).
MIN_PHONE_DIGITS = 7


async def create_customer(
    session: Session,
    *,
    account_number: str,
    name: str,
    email: str | None,
    phone: str | None,
    addresses: list[domain.AddressInput],
) -> models.Customer:
    return await domain.create_customer(
        account_number=account_number, name=name, email=email, phone=phone, addresses=addresses
    )


async def add_payment_method(
    session: Session, customer_id: int, method: domain.PaymentMethodInput
) -> models.PaymentMethod:
    """A card for a customer the caller may see (another customer's reads as missing)."""
    await require_customer(session.caller, customer_id, ["input", "customerId"])
    return await domain.add_payment_method(
        customer_id, method, today=session.today, gateway=session.gateway
    )


def customers(session: Session, search: str | None) -> QuerySet[models.Customer]:
    """Customers the caller may see; ``search`` matches a name (part of it, any case), an
    account number or an e-mail address (all of it, any case), or a phone number by its
    digits (all of them, or the last ``MIN_PHONE_DIGITS`` or more: an agent may leave out
    the country code)."""
    query = models.Customer.all()
    scope = customer_scope(session.caller)
    if scope is not None:
        query = query.filter(id=scope)
    if search and search.strip():
        term = search.strip()[:MAX_SEARCH]
        wanted = Q(name__icontains=term) | Q(account_number__iexact=term)
        if "@" in term:
            # LOWER(email) = …: the expression index of migration 0009
            query = query.annotate(email_lower=Lower("email"))
            wanted |= Q(email_lower=term.lower())
        digits = domain.phone_digits(term)
        if digits and len(digits) >= MIN_PHONE_DIGITS:
            wanted |= Q(phone_digits=digits) | Q(phone_digits__endswith=digits)
        query = query.filter(wanted)
    return query


async def customer_by_account(session: Session, account_number: str) -> models.Customer | None:
    """The customer with this account number, if the caller may see it."""
    return await customers(session, None).filter(account_number=account_number.strip()).first()
