"""``continuity simulate``: a program's life on a virtual calendar, before it goes live.

Runs the real daily job chain day after day on a throwaway SQLite database: the configured
rules are loaded, a few customers are generated and place an order on the first day, and a
simulated warehouse ships and invoices every paid child order the day it appears. The output is
what the merchandiser's program will do, in their words: every shipment by the day it ships
(with the day its child order is created beside it), the skip slots that ship nothing, the
shipments an event's ``not_before`` held back, each order named by customer, program and order
number; then money and orders day by day, totalled per currency (amounts in different
currencies are never added).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tortoise.context import TortoiseContext

from config.settings import Settings
from continuity.customers import (
    AddressInput,
    PaymentMethodInput,
    add_payment_method,
    create_customer,
)
from continuity.db import migration_indexes, open_database
from continuity.enums import (
    BillingMode,
    ChildOrderStatus,
    ContinuityLineStatus,
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
    ProgramEvent,
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


@dataclass(frozen=True)
class SimulatedShipment:
    """One row of the shipments table: a child order, or a skip slot that ships nothing."""

    #: When it ships: its lines' planned date (never before the child order exists).
    ship_date: date
    #: The day its child order was created (a few days ahead); ``None`` for a skip slot.
    created: date | None
    #: Who and what: ``SIM-0001 coffee CO-…`` (customer account, program, order number).
    order: str
    #: Which occurrences: ``event 1``, ``event 1 repeat 2``; a consolidated order lists all.
    shipment: str
    #: ``2× WINE-RED-750, BOOK-003``; empty for a skip slot.
    items: str
    amount_minor: int
    currency: str
    skip: bool = False
    consolidated: bool = False
    #: The order is billed up front (at placement or in installments): the child order
    #: charges nothing.
    prepaid: bool = False
    #: The event's ``not_before`` held this shipment to that date.
    held_until: date | None = None

    @property
    def note(self) -> str:
        notes = []
        if self.skip:
            notes.append("skip: nothing ships, nothing is charged")
        if self.prepaid and not self.skip:
            notes.append("paid up front")
        if self.consolidated:
            notes.append("consolidated: missed shipments sent together")
        if self.held_until is not None:
            notes.append(f"held to not_before {self.held_until.isoformat()}")
        return "; ".join(notes)

    def as_json(self) -> dict[str, Any]:
        return {
            "ship_date": self.ship_date.isoformat(),
            "created": self.created.isoformat() if self.created else None,
            "order": self.order,
            "shipment": self.shipment,
            "items": self.items,
            "amount": str(from_minor(self.amount_minor, self.currency)),
            "currency": self.currency,
            "skip": self.skip,
            "consolidated": self.consolidated,
            "prepaid": self.prepaid,
            "held_until": self.held_until.isoformat() if self.held_until else None,
        }


@dataclass
class SimulatedDay:
    """What one simulated day's chain and warehouse did."""

    day: date
    child_orders: int = 0
    #: Money taken that day, per currency (minor units).
    charged: dict[str, int] = field(default_factory=dict)
    declined: int = 0
    closed: int = 0

    @property
    def quiet(self) -> bool:
        return not (self.child_orders or self.charged or self.declined or self.closed)


def money(amounts: dict[str, int]) -> str:
    """``372.49 USD, 40.00 EUR``: one amount per currency, never added across currencies."""
    return ", ".join(
        f"{from_minor(minor, currency)} {currency}" for currency, minor in sorted(amounts.items())
    )


def _columns(rows: list[list[str]], right: frozenset[int] = frozenset()) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


@dataclass
class Simulation:
    start: date
    days: list[SimulatedDay]
    #: Child orders created and skip slots passed, by ship date.
    shipments: list[SimulatedShipment]
    orders: dict[str, int]  # program → orders placed

    @property
    def charged(self) -> dict[str, int]:
        """Money taken over the whole simulation, per currency."""
        total: dict[str, int] = {}
        for day in self.days:
            for currency, minor in day.charged.items():
                total[currency] = total.get(currency, 0) + minor
        return total

    def heading(self) -> str:
        placed = ", ".join(f"{code} ×{count}" for code, count in sorted(self.orders.items()))
        return (
            f"Simulated {len(self.days)} days from {self.start} on a throwaway database; "
            f"orders placed on day 1: {placed}"
        )

    def table(self) -> str:
        """The shipments by ship date, then money and orders by day, then the totals."""
        rows = [["ship date", "created", "order", "shipment", "items", "amount", "note"]]
        for s in self.shipments:
            rows.append(
                [
                    s.ship_date.isoformat(),
                    s.created.isoformat() if s.created else "-",
                    s.order,
                    s.shipment,
                    s.items or "-",
                    f"{from_minor(s.amount_minor, s.currency)} {s.currency}",
                    s.note,
                ]
            )
        lines = ["Shipments (by ship date; child orders are created a few days ahead)"]
        lines += _columns(rows, frozenset({5})) if self.shipments else ["  none"]
        lines += ["", "By day (the day the chain ran)"]
        rows = [["date", "child orders", "charged", "declined", "closed"]]
        created = 0
        for day in self.days:
            if day.quiet:
                continue
            created += day.child_orders
            rows.append(
                [
                    day.day.isoformat(),
                    str(day.child_orders),
                    money(day.charged) or "-",
                    str(day.declined),
                    str(day.closed),
                ]
            )
        rows.append(["total", str(created), money(self.charged) or "-", "", ""])
        lines += _columns(rows, frozenset({1, 2, 3, 4}))
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "days": len(self.days),
            "orders": self.orders,
            "shipments": [s.as_json() for s in self.shipments],
            "activity": [
                {
                    "date": day.day.isoformat(),
                    "child_orders": day.child_orders,
                    "charged": [
                        {"amount": str(from_minor(minor, currency)), "currency": currency}
                        for currency, minor in sorted(day.charged.items())
                    ],
                    "declined": day.declined,
                    "closed": day.closed,
                }
                for day in self.days
                if not day.quiet
            ],
            "charged": [
                {"amount": str(from_minor(minor, currency)), "currency": currency}
                for currency, minor in sorted(self.charged.items())
            ],
        }


async def throwaway_schema(ctx: TortoiseContext) -> None:
    """The simulation's tables, made from the models in one step: the tables, columns,
    indexes and constraints the migrations make (``continuity db check`` keeps models and
    migrations in step; ``tests/test_simulate.py`` compares the two), without replaying
    every migration, which took most of a 30-day simulation's time. The indexes only the
    migrations declare (``migration_indexes``) are added after."""
    await ctx.generate_schemas(safe=False)
    connection = ctx.connections.get("default")
    for statement in migration_indexes():
        await connection.execute_script(statement)


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
        # a scratch file: no fsync, nothing to keep if the machine stops
        url = f"sqlite://{Path(scratch) / 'simulation.sqlite3'}?synchronous=OFF"
        async with open_database(url) as ctx:
            await throwaway_schema(ctx)
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
            watch = await _Watch.start()
            rows = []
            for offset in range(days):
                day = start + timedelta(days=offset)
                rows.append(await watch.one_day(day, gateway))
                if on_day is not None:
                    on_day(day)
            end = start + timedelta(days=days)
            shipments = watch.shipments + await watch.skip_slots(start, end)
            shipments.sort(key=lambda s: (s.ship_date, s.order, s.shipment))
            return Simulation(start, rows, shipments, placed)


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


def _occurrences(keys: list[tuple[int, int]]) -> str:
    return ", ".join(
        f"event {event}" + (f" repeat {repeat}" if repeat else "") for event, repeat in keys
    )


@dataclass(frozen=True)
class _Order:
    #: ``SIM-0001 coffee CO-…``: customer account, program, order number.
    label: str
    currency: str
    version_id: int
    prepaid: bool


@dataclass
class _Watch:
    """What the simulation has seen so far, to tell each day's news: read in a few queries a
    day (the rule data once), so a month of the bundled programs takes a second or two."""

    skus: dict[int, str]
    #: (program version id, event number) → the event's ``not_before``.
    not_before: dict[tuple[int, int], date]
    orders: dict[int, _Order] = field(default_factory=dict)
    shipments: list[SimulatedShipment] = field(default_factory=list)
    last_child: int = 0
    counted: set[int] = field(default_factory=set)  # payments already shown
    attempts: dict[int, int] = field(default_factory=dict)
    closed: int = 0

    @classmethod
    async def start(cls) -> _Watch:
        skus = dict(await Product.all().values_list("id", "sku"))
        not_before = {
            (int(version), int(number)): when
            for version, number, when in await ProgramEvent.filter(
                not_before__isnull=False
            ).values_list("version_id", "number", "not_before")
        }
        return cls(skus, not_before)

    async def _order(self, order_id: int) -> _Order:
        if order_id not in self.orders:
            row = (
                await ContinuityOrder.filter(id=order_id).values(
                    "number",
                    "currency",
                    "program_version_id",
                    "billing_mode",
                    "customer__account_number",
                    "program__code",
                )
            )[0]
            self.orders[order_id] = _Order(
                f"{row['customer__account_number']} {row['program__code']} {row['number']}",
                row["currency"],
                row["program_version_id"],
                BillingMode(row["billing_mode"]) is not BillingMode.PER_SHIPMENT,
            )
        return self.orders[order_id]

    def _items(self, lines: list[ContinuityLine]) -> str:
        return ", ".join(
            (f"{line.quantity}× " if line.quantity != 1 else "")
            + self.skus.get(line.product_id or 0, "?")
            for line in lines
            if line.product_id is not None
        )

    async def one_day(self, day: date, gateway: TestGateway) -> SimulatedDay:
        row = SimulatedDay(day)
        await run_daily_chain(day, env=JobEnv(gateway=gateway), triggered_by="simulation")
        children = await ChildOrder.filter(id__gt=self.last_child).order_by("id")
        lines: dict[int, list[ContinuityLine]] = {}
        for line in await ContinuityLine.filter(
            child_order_id__in=[c.id for c in children]
        ).order_by("event_number", "repeat_index", "item_seq"):
            lines.setdefault(line.child_order_id or 0, []).append(line)
        for child in children:
            self.last_child = child.id
            row.child_orders += 1
            mine = lines.get(child.id, [])
            order = await self._order(child.continuity_order_id)
            version = order.version_id
            planned = max((line.planned_ship_date for line in mine), default=child.created_for)
            held = [
                self.not_before[(version, line.event_number)]
                for line in mine
                if self.not_before.get((version, line.event_number)) == line.planned_ship_date
            ]
            self.shipments.append(
                SimulatedShipment(
                    ship_date=max(planned, child.created_for),
                    created=child.created_for,
                    order=order.label,
                    shipment=_occurrences(
                        sorted({(line.event_number, line.repeat_index) for line in mine})
                    ),
                    items=self._items(mine),
                    amount_minor=child.total_minor,
                    currency=child.currency,
                    consolidated=child.consolidated,
                    prepaid=order.prepaid,
                    held_until=max(held) if held else None,
                )
            )
        # the warehouse ships and invoices what is paid (invoicing captures authorizations)
        for child in await ChildOrder.filter(status=ChildOrderStatus.AUTHORIZED).order_by("id"):
            await mark_child_order_shipped(child.id, actor="simulated-warehouse")
            await invoice_child_order(
                child.id, actor="simulated-warehouse", gateway=gateway, today=day
            )
        for payment_id, amount, currency in await Payment.filter(
            status=PaymentStatus.SUCCEEDED, kind=PaymentKind.CHARGE
        ).values_list("id", "amount_minor", "currency"):
            if payment_id not in self.counted:
                self.counted.add(payment_id)
                row.charged[currency] = row.charged.get(currency, 0) + amount
        for payment_id, attempts in await Payment.filter(
            status__in=[PaymentStatus.DECLINED, PaymentStatus.FAILED]
        ).values_list("id", "attempts"):
            if attempts > self.attempts.get(payment_id, 0):
                row.declined += 1
            self.attempts[payment_id] = attempts
        closed = await ContinuityOrder.filter(status=ContinuityOrderStatus.CLOSED).count()
        row.closed, self.closed = closed - self.closed, closed
        return row

    async def skip_slots(self, start: date, end: date) -> list[SimulatedShipment]:
        """The skip slots the simulated days passed: skip events and customers' skips."""
        slots = []
        for line in await ContinuityLine.filter(
            status=ContinuityLineStatus.SKIPPED,
            planned_ship_date__gte=start,
            planned_ship_date__lt=end,
        ).order_by("continuity_order_id", "event_number", "repeat_index", "item_seq"):
            if line.item_seq:
                continue  # one row per occurrence
            order = await self._order(line.continuity_order_id)
            slots.append(
                SimulatedShipment(
                    ship_date=line.planned_ship_date,
                    created=None,
                    order=order.label,
                    shipment=_occurrences([(line.event_number, line.repeat_index)]),
                    items="",
                    amount_minor=0,
                    currency=order.currency,
                    skip=True,
                )
            )
        return slots


__all__ = ["RuleValidationFailed", "SimulatedShipment", "Simulation", "simulate"]
