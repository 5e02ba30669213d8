"""A small continuity business for job tests: rules, parameters, customers, orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from config.settings import load_settings
from continuity.customers import (
    AddressInput,
    PaymentMethodInput,
    add_payment_method,
    create_customer,
)
from continuity.enums import ChildOrderStatus
from continuity.fulfilment import invoice_child_order, mark_child_order_shipped
from continuity.jobs import JobEnv, run_daily_chain
from continuity.models import (
    Address,
    ChildOrder,
    ChildOrderLine,
    ContinuityLine,
    ContinuityOrder,
    Notification,
    Payment,
)
from continuity.orders.placement import (
    BillingRules,
    OrderLineInput,
    PlacedOrder,
    SalesOrderInput,
    place_sales_order,
)
from continuity.parameters import save_call_center_parameters
from continuity.payments.gateway import PaymentGateway
from rules.loader import load_rules
from rules.sync import sync_rules


@dataclass
class Buyer:
    customer_id: int
    address_id: int
    card_id: int


async def open_business(rules_dir: Path, **parameters: Any) -> BillingRules:
    await sync_rules(load_rules(rules_dir))
    values = {**load_settings(environ={}).call_center.model_dump(), **parameters}
    await save_call_center_parameters(values)
    return BillingRules(
        repeat_threshold=values["repeat_threshold"],
        retry_days=values["retry_days"],
        reauthorization_limit=values["reauthorization_limit"],
    )


async def buyer(
    account: str, *, token: str = "tok_visa", today: date, gateway: PaymentGateway | None = None
) -> Buyer:
    """A customer with an address and a card (``gateway``: one that describes its cards, such
    as Stripe, reads them back; the typed details are for the test gateway)."""
    customer = await create_customer(
        account_number=account,
        name=f"Customer {account}",
        email=f"{account.lower()}@example.com",
        addresses=[
            AddressInput(
                name="X", line1="1 Main St", city="Springfield", postal_code="12345", country="US"
            )
        ],
    )
    address = await Address.get(customer_id=customer.id)
    card = await add_payment_method(
        customer.id,
        PaymentMethodInput(
            gateway_token=token, brand="visa", last4="4242", exp_month=12, exp_year=2035
        ),
        today=today,
        gateway=gateway,
    )
    return Buyer(customer.id, address.id, card.id)


async def order(
    who: Buyer, sku: str, on: date, rules: BillingRules, gateway: PaymentGateway, **line: Any
) -> PlacedOrder:
    return await place_sales_order(
        SalesOrderInput(
            who.customer_id, who.address_id, who.card_id, (OrderLineInput(sku, **line),)
        ),
        order_date=on,
        actor="test",
        rules=rules,
        gateway=gateway,
    )


async def fulfil(shipped_on: date, gateway: PaymentGateway) -> int:
    """The warehouse: every paid child order ships and is invoiced the day it appears
    (invoicing captures what the child order's authorization holds)."""
    count = 0
    for child in await ChildOrder.filter(status=ChildOrderStatus.AUTHORIZED).order_by("id"):
        await mark_child_order_shipped(child.id, actor="warehouse")
        await invoice_child_order(child.id, actor="warehouse", gateway=gateway, today=shipped_on)
        count += 1
    return count


async def run_days(start: date, days: int, gateway: PaymentGateway, *, ship: bool = True) -> None:
    for offset in range(days):
        day = start + timedelta(days=offset)
        await run_daily_chain(day, env=JobEnv(gateway=gateway), triggered_by="test")
        if ship:
            await fulfil(day, gateway)


async def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row the jobs write (but the job runs themselves), to compare runs row by row."""
    return {
        "orders": await ContinuityOrder.all()
        .order_by("id")
        .values_list(
            "id",
            "status",
            "schedule_complete",
            "closed_at",
            "program_version_id",
            "anchor_date",
            "updated_at",
        ),
        "lines": await ContinuityLine.all()
        .order_by("id")
        .values_list(
            "id",
            "event_number",
            "repeat_index",
            "status",
            "planned_ship_date",
            "child_order_id",
            "quantity",
            "price_minor",
            "updated_at",
        ),
        "child_orders": await ChildOrder.all()
        .order_by("id")
        .values_list("id", "status", "total_minor", "consolidated", "created_for"),
        "child_lines": await ChildOrderLine.all()
        .order_by("id")
        .values_list("id", "child_order_id", "continuity_line_id"),
        "payments": await Payment.all()
        .order_by("id")
        .values_list("id", "status", "attempts", "amount_minor", "next_retry_on", "updated_at"),
        "notifications": await Notification.all().order_by("id").values_list("id", "dedupe_key"),
    }


def differences(
    before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]
) -> list[str]:
    """The rows that differ between two snapshots, readable in an assertion message."""
    found = []
    for table in before:
        old, new = set(before[table]), set(after[table])
        found += [f"{table} - {row}" for row in sorted(old - new, key=repr)]
        found += [f"{table} + {row}" for row in sorted(new - old, key=repr)]
    return found
