"""Customers, their addresses and payment methods: creation with validation.

A payment method is a gateway token plus display data. Anything that looks like a card number
(in the token or elsewhere) is refused, so a card number can never reach the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from continuity.errors import ContinuityError, ErrorCode, InvalidInput, NotFound
from continuity.models import Address, Customer, PaymentMethod
from continuity.payments.gateway import (
    CardDetails,
    GatewayUnavailable,
    PaymentGateway,
    UnknownPaymentMethod,
)

ACCOUNT_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9 ().-]{5,32}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
LAST4 = re.compile(r"^[0-9]{4}$")
BRANDS = frozenset({"visa", "mastercard", "amex", "discover", "jcb", "diners", "unionpay"})
#: 12 to 19 digits, possibly grouped by spaces or dashes: a card number (PAN).
_PAN = re.compile(r"(?:\d[ -]?){12,18}\d")


@dataclass(frozen=True)
class AddressInput:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    region: str | None = None
    label: str | None = None
    is_default: bool = False


@dataclass(frozen=True)
class PaymentMethodInput:
    """A card at the gateway. Its display data (brand, last 4 digits, expiry) is read from a
    gateway that knows it (Stripe); the test gateway does not, so they are typed in."""

    gateway_token: str
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    is_default: bool = True
    #: The gateway's customer the card is attached to (Stripe: ``cus_…``); read from the
    #: gateway when not given.
    gateway_customer: str | None = None


def _text(value: str | None, field: list[str], *, required: bool, max_length: int) -> str | None:
    cleaned = value.strip() if value is not None else None
    if not cleaned:
        if required:
            raise InvalidInput("is required", field=field)
        return None
    if len(cleaned) > max_length:
        raise InvalidInput(f"must be at most {max_length} characters", field=field)
    pan = _PAN.search(cleaned)
    if pan and _luhn(re.sub(r"\D", "", pan.group())):
        raise InvalidInput(
            "looks like a card number: send a gateway token, never a card number",
            field=field,
            code=ErrorCode.CARD_NUMBER_REFUSED,
        )
    return cleaned


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def validate_address(address: AddressInput, field: list[str]) -> dict[str, object]:
    country = (address.country or "").strip().upper()
    if not COUNTRY.match(country):
        raise InvalidInput("must be an ISO 3166 two-letter code", field=[*field, "country"])
    return {
        "name": _text(address.name, [*field, "name"], required=True, max_length=200),
        "line1": _text(address.line1, [*field, "line1"], required=True, max_length=200),
        "line2": _text(address.line2, [*field, "line2"], required=False, max_length=200),
        "city": _text(address.city, [*field, "city"], required=True, max_length=100),
        "region": _text(address.region, [*field, "region"], required=False, max_length=100),
        "postal_code": _text(
            address.postal_code, [*field, "postalCode"], required=True, max_length=20
        ),
        "country": country,
        "label": _text(address.label, [*field, "label"], required=False, max_length=64),
        "is_default": address.is_default,
    }


def phone_digits(phone: str | None) -> str | None:
    """The digits of a phone number, the form searches compare (people type numbers with
    spaces, dashes and brackets in any arrangement)."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return digits or None


async def create_customer(
    *,
    account_number: str,
    name: str,
    email: str | None = None,
    phone: str | None = None,
    addresses: list[AddressInput] | None = None,
) -> Customer:
    """Create a customer with its addresses in one transaction; the first address is the
    default unless another says so."""
    account = (account_number or "").strip()
    if not ACCOUNT_NUMBER.match(account):
        raise InvalidInput("must be 1-32 letters, digits or dashes", field=["accountNumber"])
    clean_name = _text(name, ["name"], required=True, max_length=200)
    clean_email = _text(email, ["email"], required=False, max_length=254)
    clean_phone = _text(phone, ["phone"], required=False, max_length=32)
    if clean_email and not EMAIL.match(clean_email):
        raise InvalidInput("is not an e-mail address", field=["email"])
    if clean_phone and not PHONE.match(clean_phone):
        raise InvalidInput("is not a phone number", field=["phone"])
    rows = [validate_address(a, ["addresses", str(i)]) for i, a in enumerate(addresses or [])]
    if len(rows) > 20:
        raise InvalidInput("at most 20 addresses", field=["addresses"])
    if rows and not any(row["is_default"] for row in rows):
        rows[0]["is_default"] = True
    try:
        async with in_transaction():
            customer = await Customer.create(
                account_number=account,
                name=clean_name,
                email=clean_email,
                phone=clean_phone,
                phone_digits=phone_digits(clean_phone),
            )
            for row in rows:
                await Address.create(customer_id=customer.id, **row)  # type: ignore[arg-type]
    except IntegrityError:
        raise InvalidInput(
            f"account number {account!r} is already used",
            field=["accountNumber"],
            code=ErrorCode.DUPLICATE,
        ) from None
    return customer


async def get_customer(customer_id: int) -> Customer:
    customer = await Customer.get_or_none(id=customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}", field=["customerId"])
    return customer


async def add_address(customer_id: int, address: AddressInput) -> Address:
    customer = await get_customer(customer_id)
    row = validate_address(address, ["address"])
    async with in_transaction():
        if row["is_default"]:
            await Address.filter(customer_id=customer.id).update(is_default=False)
        return await Address.create(customer_id=customer.id, **row)  # type: ignore[arg-type]


def card_expired(exp_month: int, exp_year: int, today: date) -> bool:
    """A card is valid through the last day of its expiry month."""
    return (exp_year, exp_month) < (today.year, today.month)


async def add_payment_method(
    customer_id: int,
    method: PaymentMethodInput,
    *,
    today: date,
    gateway: PaymentGateway | None = None,
) -> PaymentMethod:
    """Store a card. With a gateway that describes cards (Stripe: the PaymentMethod is read
    back), brand, last 4 digits, expiry and the gateway customer come from it and typed
    values are ignored; otherwise (the test gateway, or none given) they are required."""
    customer = await get_customer(customer_id)
    token = _text(method.gateway_token, ["gatewayToken"], required=True, max_length=200)
    assert token is not None
    if re.fullmatch(r"[\d -]+", token):
        raise InvalidInput(
            "a card number is refused: send the gateway's token",
            field=["gatewayToken"],
            code=ErrorCode.CARD_NUMBER_REFUSED,
        )
    owner = _text(method.gateway_customer, ["gatewayCustomer"], required=False, max_length=200)
    details = await _described(gateway, token) if gateway is not None else None
    if details is not None:
        if details.customer is None and owner is None:
            raise InvalidInput(
                f"the card is not attached to a customer at the {_name(gateway)} gateway: save "
                "it for later payments first (Stripe: a SetupIntent, or a PaymentIntent with "
                "setup_future_usage)",
                field=["gatewayToken"],
            )
        if owner is not None and details.customer not in (None, owner):
            raise InvalidInput(
                f"the card belongs to another gateway customer ({details.customer})",
                field=["gatewayCustomer"],
            )
        owner = owner or details.customer
        brand, last4 = details.brand.strip().lower()[:32], details.last4
        exp_month, exp_year = details.exp_month, details.exp_year
    else:
        brand = (method.brand or "").strip().lower()
        if brand not in BRANDS:
            raise InvalidInput(f"must be one of {', '.join(sorted(BRANDS))}", field=["brand"])
        last4 = method.last4 or ""
        if not LAST4.match(last4):
            raise InvalidInput("must be exactly the last 4 digits", field=["last4"])
        if method.exp_month is None or not 1 <= method.exp_month <= 12:
            raise InvalidInput("must be 1 to 12", field=["expMonth"])
        if method.exp_year is None or not 2000 <= method.exp_year <= 2100:
            raise InvalidInput("must be a four-digit year", field=["expYear"])
        exp_month, exp_year = method.exp_month, method.exp_year
    if card_expired(exp_month, exp_year, today):
        raise InvalidInput(
            "the card has expired", field=["expYear"], code=ErrorCode.PAYMENT_METHOD_EXPIRED
        )
    async with in_transaction():
        if method.is_default:
            await PaymentMethod.filter(customer_id=customer.id).update(is_default=False)
        return await PaymentMethod.create(
            customer_id=customer.id,
            gateway_token=token,
            gateway_customer=owner,
            brand=brand,
            last4=last4,
            exp_month=exp_month,
            exp_year=exp_year,
            is_default=method.is_default,
        )


def _name(gateway: PaymentGateway | None) -> str:
    return gateway.name if gateway is not None else "payment"


async def _described(gateway: PaymentGateway, token: str) -> CardDetails | None:
    try:
        return await gateway.describe_card(token)
    except UnknownPaymentMethod as error:
        raise InvalidInput(
            f"the {gateway.name} gateway does not know this card: {error}",
            field=["gatewayToken"],
        ) from None
    except GatewayUnavailable as error:
        raise ContinuityError(
            f"the {gateway.name} gateway did not answer ({error}); nothing was saved, try again",
            field=["gatewayToken"],
            code=ErrorCode.GATEWAY_UNAVAILABLE,
        ) from None
