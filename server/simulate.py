"""``continuity simulate``: a program's life on a virtual calendar, before it goes live.

Runs the real daily job chain day after day on a throwaway SQLite database: the configured
rules are loaded, a few customers are generated and place an order on the first day, and a
simulated warehouse ships and invoices every paid child order the day it appears. The output is
a day-by-day table of child orders and charges: what the merchandiser's program will do.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from config.settings import Settings
from continuity.customers import (
    AddressInput,
    PaymentMethodInput,
    add_payment_method,
    create_customer,
)
from continuity.db import migrate, open_database
from continuity.enums import (
    ChildOrderStatus,
    ContinuityOrderStatus,
    PaymentKind,
    PaymentStatus,
    ProductKind,
)
from continuity.fulfilment import invoice_child_order, mark_child_order_shipped
from continuity.jobs import JobEnv, run_daily_chain
from continuity.models import (
    Address,
    ChildOrder,
    ContinuityLine,
    ContinuityOrder,
    Payment,
    Product,
    Program,
)
from continuity.money import from_minor
from continuity.orders.placement import (
    BillingRules,
    OrderLineInput,
    SalesOrderInput,
    place_sales_order,
)
from continuity.parameters import save_call_center_parameters
from continuity.payments.gateway import TestGateway
from rules.errors import RuleValidationFailed
from rules.loader import load_rules
from rules.sync import sync_rules


@dataclass
class SimulatedDay:
    day: date
    child_orders: list[str] = field(default_factory=list)  # "program event.repeat" per order
    charged_minor: int = 0
    declined: int = 0
    closed: int = 0

    @property
    def quiet(self) -> bool:
        return not (self.child_orders or self.charged_minor or self.declined or self.closed)


@dataclass
class Simulation:
    start: date
    days: list[SimulatedDay]
    orders: dict[str, int]  # program → orders placed
    currency: str

    def table(self) -> str:
        lines = [
            f"{'date':<10}  {'child orders':>12}  {'charged':>10}  {'declined':>8}  "
            f"{'closed':>6}  shipments"
        ]
        total_children = total_charged = 0
        for row in self.days:
            if row.quiet:
                continue
            total_children += len(row.child_orders)
            total_charged += row.charged_minor
            lines.append(
                f"{row.day.isoformat():<10}  {len(row.child_orders):>12}  "
                f"{from_minor(row.charged_minor, self.currency):>10}  {row.declined:>8}  "
                f"{row.closed:>6}  {', '.join(row.child_orders)}"
            )
        lines.append(
            f"{'total':<10}  {total_children:>12}  {from_minor(total_charged, self.currency):>10}"
        )
        return "\n".join(lines)


async def simulate(
    settings: Settings,
    start: date,
    days: int,
    *,
    program: str | None = None,
    customers: int = 1,
    on_day: Callable[[date], None] | None = None,
) -> Simulation:
    """Simulate ``days`` days from ``start`` (raises ``RuleValidationFailed`` on bad rules);
    ``on_day`` hears of every simulated day (the CLI's progress)."""
    rule_set = load_rules(settings.rules_dir)
    if program is not None and rule_set.program(program) is None:
        raise ValueError(f"no program {program!r} in {settings.rules_dir}")
    with tempfile.TemporaryDirectory(prefix="continuity-simulate-") as scratch:
        url = f"sqlite://{Path(scratch) / 'simulation.sqlite3'}"
        await migrate(url)
        async with open_database(url):
            await sync_rules(rule_set)
            params = settings.call_center
            await save_call_center_parameters(params.model_dump())
            gateway = TestGateway()
            placed = await _place_orders(
                start,
                program,
                customers,
                gateway,
                BillingRules(
                    params.repeat_threshold, params.retry_days, params.reauthorization_limit
                ),
            )
            rows = []
            counted: set[int] = set()  # payments already shown (placement charges on day 1)
            for offset in range(days):
                day = start + timedelta(days=offset)
                rows.append(await _one_day(day, gateway, counted))
                if on_day is not None:
                    on_day(day)
            currency = (await ContinuityOrder.first()).currency if placed else "USD"  # type: ignore[union-attr]
            return Simulation(start, rows, placed, currency)


async def _place_orders(
    start: date,
    program: str | None,
    customers: int,
    gateway: TestGateway,
    rules: BillingRules,
) -> dict[str, int]:
    parents = Product.filter(kind=ProductKind.PARENT, active=True)
    if program is not None:
        parents = parents.filter(program__code=program)
    placed: dict[str, int] = {}
    for n in range(1, customers + 1):
        customer = await create_customer(
            account_number=f"SIM-{n:04d}",
            name=f"Simulated customer {n}",
            addresses=[
                AddressInput(
                    name=f"Customer {n}",
                    line1="1 Main Street",
                    city="Springfield",
                    postal_code="12345",
                    country="US",
                )
            ],
        )
        address = await Address.get(customer_id=customer.id)
        card = await add_payment_method(
            customer.id,
            PaymentMethodInput(
                gateway_token="tok_visa",
                brand="visa",
                last4="4242",
                exp_month=12,
                exp_year=start.year + 5,
            ),
            today=start,
        )
        for parent in await parents.order_by("sku"):
            code = (await Program.get(id=parent.program_id)).code
            await place_sales_order(
                SalesOrderInput(customer.id, address.id, card.id, (OrderLineInput(parent.sku),)),
                order_date=start,
                actor="simulation",
                rules=rules,
                gateway=gateway,
            )
            placed[code] = placed.get(code, 0) + 1
    return placed


async def _one_day(day: date, gateway: TestGateway, counted: set[int]) -> SimulatedDay:
    row = SimulatedDay(day)
    known_children = set(await ChildOrder.all().values_list("id", flat=True))
    closed_before = await ContinuityOrder.filter(status=ContinuityOrderStatus.CLOSED).count()
    attempts_before = dict(await Payment.all().values_list("id", "attempts"))
    await run_daily_chain(day, env=JobEnv(gateway=gateway), triggered_by="simulation")
    for child in await ChildOrder.exclude(id__in=known_children).order_by("id"):
        order = await ContinuityOrder.get(id=child.continuity_order_id).prefetch_related("program")
        keys = sorted(
            {
                f"{line.event_number}.{line.repeat_index}"
                for line in await ContinuityLine.filter(child_order_id=child.id)
            }
        )
        label = f"{order.program.code} {'+'.join(keys)}"
        row.child_orders.append(label + (" (consolidated)" if child.consolidated else ""))
    # the warehouse ships and invoices what is paid (invoicing captures authorizations)
    for child in await ChildOrder.filter(status=ChildOrderStatus.AUTHORIZED).order_by("id"):
        await mark_child_order_shipped(child.id, actor="simulated-warehouse")
        await invoice_child_order(child.id, actor="simulated-warehouse", gateway=gateway, today=day)
    money_taken = Payment.filter(status=PaymentStatus.SUCCEEDED, kind=PaymentKind.CHARGE)
    for payment in await money_taken.exclude(id__in=counted):
        row.charged_minor += payment.amount_minor
        counted.add(payment.id)
    row.declined = sum(
        1
        for payment_id, attempts in await Payment.filter(
            status__in=[PaymentStatus.DECLINED, PaymentStatus.FAILED]
        ).values_list("id", "attempts")
        if attempts > attempts_before.get(payment_id, 0)
    )
    row.closed = (
        await ContinuityOrder.filter(status=ContinuityOrderStatus.CLOSED).count() - closed_before
    )
    return row


__all__ = ["RuleValidationFailed", "Simulation", "simulate"]
