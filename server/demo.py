"""Demo data: a few customers with an order on every bundled program (``continuity demo``).

Everything goes through the real domain functions (``create_customer``, ``add_payment_method``,
``place_sales_order`` with the configured gateway: the built-in ``TestGateway``, or Stripe in
test mode with Stripe's test cards), so the demo shows what the product does: a late book-club
order with missed occurrences, a ``forever`` refill held to the repeat threshold, two coffee
subscriptions on one line, an installment plan, and a prepaid gift box on a card the gateway
declines.

Idempotent: customers are found by account number (``DEMO-001`` …) and an order is placed only if
the customer has none for that program yet, so a second run creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable

from tortoise.exceptions import DoesNotExist

from config.settings import CallCenterSettings
from continuity.customers import (
    AddressInput,
    PaymentMethodInput,
    add_payment_method,
    create_customer,
)
from continuity.engine.calendar import add_months
from continuity.enums import ContinuityLineStatus, PaymentStatus, ProductKind
from continuity.errors import ContinuityError
from continuity.models import (
    Address,
    ContinuityLine,
    ContinuityOrder,
    Customer,
    Payment,
    PaymentMethod,
    Product,
    Program,
    SalesOrder,
)
from continuity.orders.placement import (
    BillingRules,
    OrderLineInput,
    SalesOrderInput,
    place_sales_order,
)
from continuity.parameters import load_call_center_parameters
from continuity.payments.gateway import PaymentGateway, TestGateway

ACTOR = "demo"

#: A query to paste into GraphiQL once the service runs (``continuity serve --dev``).
SAMPLE_QUERY = """\
{
  continuityOrders(first: 10) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id number status billingMode startDate firstEventNumber quantity
      customer { accountNumber name }
      program { code name }
      total { amount currencyCode }
      lines(first: 5) {
        totalCount
        nodes { eventNumber repeatIndex sku quantity plannedShipDate status }
      }
      payments(first: 5) {
        nodes {
          purpose status installmentNumber dueDate amount { amount currencyCode } failureCode
        }
      }
    }
  }
}"""


@dataclass(frozen=True)
class _PlannedOrder:
    program: str  # program id
    sku: str  # its parent product
    quantity: int = 1
    #: Start this many months before today (a late mail order): earlier occurrences are missed.
    months_late: int | None = None
    payment_schedule: str | None = None


@dataclass(frozen=True)
class _DemoCustomer:
    account: str
    name: str
    email: str
    phone: str
    address: AddressInput
    token: str  # a TestGateway token: "tok_decline" is declined
    brand: str
    last4: str
    orders: tuple[_PlannedOrder, ...]


DEMO_CUSTOMERS: tuple[_DemoCustomer, ...] = (
    _DemoCustomer(
        account="DEMO-001",
        name="Ada Lovelace",
        email="ada@example.com",
        phone="+44 20 7946 0001",
        address=AddressInput(
            name="Ada Lovelace",
            line1="12 St James's Square",
            city="London",
            postal_code="SW1Y 4LE",
            country="GB",
        ),
        token="tok_visa",
        brand="visa",
        last4="4242",
        orders=(
            _PlannedOrder("book-club", "BOOKCLUB", months_late=2),
            _PlannedOrder("vitamins-refill", "VITREFILL"),
        ),
    ),
    _DemoCustomer(
        account="DEMO-002",
        name="Grace Hopper",
        email="grace@example.com",
        phone="+1 703 555 0102",
        address=AddressInput(
            name="Grace Hopper",
            line1="1 Navy Way",
            city="Arlington",
            region="VA",
            postal_code="22202",
            country="US",
        ),
        token="tok_mastercard",
        brand="mastercard",
        last4="4444",
        orders=(
            _PlannedOrder("seasonal-wine", "WINECLUB12", payment_schedule="three-monthly"),
            _PlannedOrder("coffee", "COFFEECLUB", quantity=2),
        ),
    ),
    _DemoCustomer(
        account="DEMO-003",
        name="Alan Turing",
        email="alan@example.com",
        phone="+44 1625 555 003",
        address=AddressInput(
            name="Alan Turing",
            line1="43 Adlington Road",
            city="Wilmslow",
            postal_code="SK9 2BJ",
            country="GB",
        ),
        token="tok_decline",
        brand="amex",
        last4="0005",
        orders=(_PlannedOrder("gift-box", "GIFTBOX6"),),
    ),
)


@dataclass(frozen=True)
class DemoOrder:
    account_number: str
    program: str
    sales_order: str
    continuity_order: str
    billing_mode: str
    start_date: date
    #: Placed by this run (``False``: found from an earlier run).
    created: bool


@dataclass(frozen=True)
class DemoSummary:
    today: date
    customers_created: tuple[str, ...]
    customers_found: tuple[str, ...]
    orders: tuple[DemoOrder, ...]
    #: Orders that could not be placed (program missing or inactive in these rules): why.
    not_placed: tuple[str, ...]
    #: Pending lines of the demo orders planned before today (sent at the next child-order run).
    missed_lines: int
    #: Declined or failed charges of the demo customers.
    declined_payments: int

    @property
    def orders_created(self) -> tuple[DemoOrder, ...]:
        return tuple(order for order in self.orders if order.created)


async def _billing_rules() -> BillingRules:
    try:
        row = await load_call_center_parameters()
        threshold, retry, limit = row.repeat_threshold, row.retry_days, row.reauthorization_limit
    except DoesNotExist:  # no parameters stored yet: the configuration defaults
        defaults = CallCenterSettings()
        threshold, retry = defaults.repeat_threshold, defaults.retry_days
        limit = defaults.reauthorization_limit
    return BillingRules(repeat_threshold=threshold, retry_days=retry, reauthorization_limit=limit)


async def _customer(spec: _DemoCustomer) -> tuple[Customer, Address, bool]:
    customer = await Customer.get_or_none(account_number=spec.account)
    created = customer is None
    if customer is None:
        customer = await create_customer(
            account_number=spec.account,
            name=spec.name,
            email=spec.email,
            phone=spec.phone,
            addresses=[spec.address],
        )
    address = await Address.filter(customer_id=customer.id).order_by("-is_default", "id").first()
    if address is None:
        raise LookupError(f"demo customer {spec.account} has no address")
    return customer, address, created


#: The Stripe test-mode cards standing for the test gateway's tokens (a Stripe demo).
STRIPE_TEST_CARDS = {
    "tok_visa": "pm_card_visa",
    "tok_mastercard": "pm_card_mastercard",
    "tok_decline": "pm_card_chargeDeclined",
}


@runtime_checkable
class _TestCards(Protocol):
    """A gateway in test mode that can save one of its provider's test cards (Stripe)."""

    async def attach_test_card(self, test_method: str, *, name: str, email: str) -> str: ...


async def _card(
    customer: Customer, spec: _DemoCustomer, today: date, gateway: PaymentGateway
) -> PaymentMethod:
    """The customer's demo card: the active one added for this gateway, added if missing or
    expired (a demo database may be reused years later). With Stripe (test mode) the card is
    one of Stripe's test cards, saved to a new Stripe customer, and described by Stripe."""
    on_stripe = isinstance(gateway, _TestCards)
    cards = PaymentMethod.filter(customer_id=customer.id, active=True)
    if on_stripe:
        cards = cards.filter(gateway_customer__isnull=False)
    else:
        cards = cards.filter(gateway_token=spec.token)
    for card in await cards.order_by("-id"):
        if (card.exp_year, card.exp_month) >= (today.year, today.month):
            return card
    if isinstance(gateway, _TestCards):
        token = await gateway.attach_test_card(
            STRIPE_TEST_CARDS[spec.token], name=spec.name, email=spec.email
        )
        return await add_payment_method(
            customer.id, PaymentMethodInput(gateway_token=token), today=today, gateway=gateway
        )
    return await add_payment_method(
        customer.id,
        PaymentMethodInput(
            gateway_token=spec.token,
            brand=spec.brand,
            last4=spec.last4,
            exp_month=12,
            exp_year=today.year + 3,
        ),
        today=today,
        gateway=gateway,
    )


async def _existing_order(customer: Customer, program: str) -> ContinuityOrder | None:
    return (
        await ContinuityOrder.filter(customer_id=customer.id, program__code=program)
        .order_by("id")
        .first()
    )


async def _describe(order: ContinuityOrder, account: str, program: str, created: bool) -> DemoOrder:
    sales_order = await SalesOrder.get(id=order.sales_order_id)
    return DemoOrder(
        account_number=account,
        program=program,
        sales_order=sales_order.number,
        continuity_order=order.number,
        billing_mode=order.billing_mode.value,
        start_date=order.start_date,
        created=created,
    )


async def seed_demo(
    today: date,
    *,
    gateway: PaymentGateway | None = None,
    rules: BillingRules | None = None,
) -> DemoSummary:
    """Create the demo customers and their orders as of ``today`` (idempotent).

    The database must be open, migrated and hold the rules (``reload_rules``); the billing
    rules default to the stored call-center parameters, the gateway to the ``TestGateway``.
    """
    gateway = gateway or TestGateway()
    rules = rules or await _billing_rules()
    created_customers: list[str] = []
    found_customers: list[str] = []
    orders: list[DemoOrder] = []
    not_placed: list[str] = []
    for spec in DEMO_CUSTOMERS:
        customer, address, created = await _customer(spec)
        (created_customers if created else found_customers).append(spec.account)
        card = await _card(customer, spec, today, gateway)
        for planned in spec.orders:
            existing = await _existing_order(customer, planned.program)
            if existing is not None:
                orders.append(await _describe(existing, spec.account, planned.program, False))
                continue
            parent = await Product.get_or_none(sku=planned.sku, kind=ProductKind.PARENT)
            if parent is None or not await Program.exists(code=planned.program):
                not_placed.append(f"{spec.account} {planned.program}: program not loaded")
                continue
            start = (
                add_months(today, -planned.months_late) if planned.months_late is not None else None
            )
            try:
                placed = await place_sales_order(
                    SalesOrderInput(
                        customer_id=customer.id,
                        ship_to_address_id=address.id,
                        payment_method_id=card.id,
                        lines=(
                            OrderLineInput(
                                planned.sku,
                                quantity=planned.quantity,
                                start_date=start,
                                payment_schedule=planned.payment_schedule,
                            ),
                        ),
                    ),
                    order_date=today,
                    actor=ACTOR,
                    rules=rules,
                    gateway=gateway,
                )
            except ContinuityError as error:  # e.g. rules edited so the program takes no orders
                not_placed.append(f"{spec.account} {planned.program}: {error}")
                continue
            for order in placed.continuity_orders:
                orders.append(await _describe(order, spec.account, planned.program, True))
    accounts = [spec.account for spec in DEMO_CUSTOMERS]
    missed = await ContinuityLine.filter(
        continuity_order__customer__account_number__in=accounts,
        status=ContinuityLineStatus.PENDING,
        product_id__isnull=False,
        planned_ship_date__lt=today,
    ).count()
    declined = await Payment.filter(
        payment_method__customer__account_number__in=accounts,
        status__in=[PaymentStatus.DECLINED, PaymentStatus.FAILED],
    ).count()
    return DemoSummary(
        today=today,
        customers_created=tuple(created_customers),
        customers_found=tuple(found_customers),
        orders=tuple(orders),
        not_placed=tuple(not_placed),
        missed_lines=missed,
        declined_payments=declined,
    )
