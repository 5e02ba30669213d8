"""Placing a sales order: ordinary lines charged at once, parent-product lines becoming
continuity orders with their lines materialized and their billing set up (SPEC §3).

Everything is validated before anything is written; the order, its continuity orders, lines,
payments, history and outbox rows are built with ids allocated for them and written all or
nothing (``continuity.writes``: one statement on PostgreSQL, one transaction on SQLite); an
order number drawn twice fails the write, and the order is written again under new numbers.
Charges due now are attempted after the write, so a gateway failure never loses an order: the
payment stays recorded and is retried.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from continuity.connection import connection
from continuity.customers import card_expired
from continuity.engine.billing import ScheduleSpec
from continuity.engine.plan import OrderSchedule, Plan, plan
from continuity.engine.schedule import (
    Anchor,
    all_occurrences,
    first_event_number,
    is_finite,
    start_date,
)
from continuity.engine.spec import ProgramSpec
from continuity.enums import (
    BillingMode,
    EventAction,
    PaymentStatus,
    ProductKind,
    SalesLineKind,
)
from continuity.errors import ErrorCode, InvalidInput, NotFound
from continuity.group_writes import write_together
from continuity.models import (
    Address,
    ContinuityOrder,
    Customer,
    OrderHistoryEntry,
    Payment,
    PaymentMethod,
    PaymentSchedule,
    Product,
    Program,
    ProgramVersion,
    SalesOrder,
    SalesOrderLine,
)
from continuity.notifications.events import EventType, money, outbox_row_set
from continuity.orders.history import entry
from continuity.orders.numbers import NUMBER_DRAWS, new_number
from continuity.orders.replan import new_lines
from continuity.payments.charges import attempt_payment
from continuity.payments.gateway import PaymentGateway
from continuity.payments.records import order_lines_charge, prepaid_charges
from continuity.programs import cached_spec, live_version, offered_schedule, schedule_spec
from continuity.sql import dialect, fetch, model_columns, model_from_row
from continuity.sqlite import short_writes
from continuity.writes import (
    ModelRows,
    RowSet,
    all_or_nothing,
    allocate_ids,
    ids_of,
    ids_read_with,
    one_connection,
    violates_unique,
)

MAX_LINES = 50
MAX_QUANTITY = 1000
#: How far from the order date a prompted start date may be.
MAX_START_OFFSET = timedelta(days=366)


@dataclass(frozen=True)
class OrderLineInput:
    sku: str
    quantity: int = 1
    start_date: date | None = None
    payment_schedule: str | None = None


@dataclass(frozen=True)
class SalesOrderInput:
    customer_id: int
    ship_to_address_id: int
    payment_method_id: int
    lines: tuple[OrderLineInput, ...]


@dataclass(frozen=True)
class BillingRules:
    """The call-center parameters placement needs."""

    repeat_threshold: int
    retry_days: int
    reauthorization_limit: int


@dataclass
class _ParentLine:
    index: int
    line: OrderLineInput
    product: Product
    program: Program
    version: ProgramVersion
    spec: ProgramSpec
    schedule: PaymentSchedule | None
    schedule_spec: ScheduleSpec | None
    start: date
    first_event: int
    planned: Plan | None = None
    total_minor: int = 0


@dataclass
class PlacedOrder:
    sales_order: SalesOrder
    continuity_orders: list[ContinuityOrder]
    payments: list[Payment]


class Writer(Protocol):
    """``write_sales_order``'s signature: what runs a placement's checks and write."""

    async def __call__(
        self,
        order: SalesOrderInput,
        *,
        order_date: date,
        actor: str,
        rules: BillingRules,
        today: date | None = None,
    ) -> PlacedOrder: ...


def _line_field(index: int, name: str) -> list[str]:
    return ["input", "lines", str(index), name]


#: The ids a placement allocates with its read on PostgreSQL (``_order_sql``): an order's
#: lines are each a sales-order line, and at most each a continuity order.
_IDS_READ = {"sales_order": "1", "sales_order_line": ":lines", "continuity_order": ":lines"}


@cache
def _order_sql(postgres: bool) -> str:
    """The order's customer with the ship-to address and the card it names (``NULL`` when
    they are not the customer's), and each of its products with the product's program and
    that program's live (latest) version: one read for every check of ``validate_order``
    (on PostgreSQL each statement is a round trip through the pool, so there the read also
    allocates the new rows' ids, ``continuity.writes.ids_read_with``)."""
    ids = f", {ids_read_with(_IDS_READ)}" if postgres else ""
    return f"""
SELECT {model_columns(Customer, "c")}, {model_columns(Address, "a")},
       {model_columns(PaymentMethod, "m")}, {model_columns(Product, "pr")},
       {model_columns(Program, "pg")}, {model_columns(ProgramVersion, "v")}{ids}
FROM customer c
LEFT JOIN address a ON a.id = :address AND a.customer_id = c.id
LEFT JOIN payment_method m ON m.id = :method AND m.customer_id = c.id
LEFT JOIN product pr ON pr.sku IN (:skus)
LEFT JOIN program pg ON pg.id = pr.program_id
LEFT JOIN program_version v ON v.program_id = pg.id
     AND v.number = (SELECT MAX(l.number) FROM program_version l WHERE l.program_id = pg.id)
WHERE c.id = :customer
"""


def _customer_parts(
    rows: list[dict[str, Any]], today: date
) -> tuple[Customer, Address, PaymentMethod]:
    """The customer, address and card of ``_order_sql``'s rows, checked (every row holds
    the same three)."""
    if not rows:
        raise NotFound("no such customer", field=["input", "customerId"])
    customer = model_from_row(Customer, rows[0], "c")
    address = model_from_row(Address, rows[0], "a")
    method = model_from_row(PaymentMethod, rows[0], "m")
    assert customer is not None  # the row is the customer's
    if address is None:
        raise NotFound("no such address for this customer", field=["input", "shipToAddressId"])
    if method is None:
        raise NotFound(
            "no such payment method for this customer", field=["input", "paymentMethodId"]
        )
    if not method.active:
        raise InvalidInput(
            "the payment method was removed",
            field=["input", "paymentMethodId"],
            code=ErrorCode.PAYMENT_METHOD_INACTIVE,
        )
    if card_expired(method.exp_month, method.exp_year, today):
        raise InvalidInput(
            f"the card expired at the end of {method.exp_month:02d}/{method.exp_year}",
            field=["input", "paymentMethodId"],
            code=ErrorCode.PAYMENT_METHOD_EXPIRED,
        )
    return customer, address, method


async def _parent_line(
    index: int,
    line: OrderLineInput,
    product: Product,
    order_date: date,
    live: tuple[Program | None, ProgramVersion | None],
) -> _ParentLine:
    program, version = live
    if program is None or version is None:  # a parent product without its program: as before
        program = await Program.get(id=product.program_id)
        version = await live_version(program.id)
    if program.retired or not program.active:
        raise InvalidInput(
            f"program {program.code} takes no new orders",
            field=_line_field(index, "sku"),
            code=ErrorCode.PRODUCT_INACTIVE,
        )
    spec = await cached_spec(version, program.code)
    if line.start_date is not None:
        if not version.prompt_for_start_date:
            raise InvalidInput(
                f"program {program.code} does not take a start date",
                field=_line_field(index, "startDate"),
                code=ErrorCode.START_DATE_NOT_ALLOWED,
            )
        if abs(line.start_date - order_date) > MAX_START_OFFSET:
            raise InvalidInput(
                "must be within a year of the order date", field=_line_field(index, "startDate")
            )
    schedule = await offered_schedule(
        version, line.payment_schedule, _line_field(index, "paymentSchedule")
    )
    start = start_date(spec, order_date, line.start_date)
    first = first_event_number(spec, start)
    if spec.bill_up_front and not is_finite(spec, first):
        raise InvalidInput(  # the rule loader refuses it; kept for hand-made databases
            f"program {program.code} repeats forever and cannot be billed up front",
            field=_line_field(index, "sku"),
        )
    billing = await schedule_spec(schedule) if schedule is not None else None
    return _ParentLine(
        index, line, product, program, version, spec, schedule, billing, start, first
    )


def check_order_date(
    order_date: date, *, today: date, max_backdate_days: int, may_backdate: bool
) -> None:
    """A sales order is dated today, or, for mail and phone orders that arrive late, up to
    ``max_backdate_days`` back, by someone who may back-date (an agent, not a customer). Its
    occurrences planned before today are then missed: the next child-order run sends them,
    consolidated when the program says so (SPEC §3)."""
    field = ["input", "orderDate"]
    code = ErrorCode.ORDER_DATE_NOT_ALLOWED
    if order_date > today:
        raise InvalidInput(f"{order_date} is in the future", field=field, code=code)
    if order_date < today and not may_backdate:
        raise InvalidInput("only an agent may back-date an order", field=field, code=code)
    if (today - order_date).days > max_backdate_days:
        raise InvalidInput(
            f"an order may be dated at most {max_backdate_days} days back "
            f"({today - timedelta(days=max_backdate_days)} or later)",
            field=field,
            code=code,
        )


@dataclass
class CheckedOrder:
    """A sales order ``validate_order`` found valid: its customer, address and card, its
    ordinary lines (index, product), its parent lines planned, and on PostgreSQL the ids
    allocated for its rows (``None`` on SQLite: allocated in the writing transaction)."""

    customer: Customer
    address: Address
    method: PaymentMethod
    ordinary: list[tuple[int, Product]]
    parents: list[_ParentLine]
    ids: dict[str, list[int]] | None


async def validate_order(
    order: SalesOrderInput, *, order_date: date, rules: BillingRules, today: date | None = None
) -> CheckedOrder:
    """Every check, before anything is written; raises the first problem found. The card
    must be valid ``today`` (it is charged now), which is the order date unless back-dated."""
    # the products of an order with too many lines are not read: it is refused (below)
    valid_size = len(order.lines) <= MAX_LINES
    skus = sorted({line.sku for line in order.lines}) if valid_size else []
    conn = connection()
    postgres = dialect(conn) == "postgres"
    rows = await fetch(
        conn,
        _order_sql(postgres),
        customer=order.customer_id,
        address=order.ship_to_address_id,
        method=order.payment_method_id,
        skus=skus,
        **({"lines": len(order.lines) if valid_size else 0} if postgres else {}),
    )
    customer, address, method = _customer_parts(rows, today or order_date)
    if not order.lines:
        raise InvalidInput("an order needs at least one line", field=["input", "lines"])
    if len(order.lines) > MAX_LINES:
        raise InvalidInput(f"at most {MAX_LINES} lines", field=["input", "lines"])
    products: dict[str, Product] = {}
    programs: dict[str, tuple[Program | None, ProgramVersion | None]] = {}
    for row in rows:
        product = model_from_row(Product, row, "pr")
        if product is None:  # none of the SKUs is a product
            continue
        products[product.sku] = product
        programs[product.sku] = (
            model_from_row(Program, row, "pg"),
            model_from_row(ProgramVersion, row, "v"),
        )
    ordinary: list[tuple[int, Product]] = []
    parents: list[_ParentLine] = []
    currencies: set[str] = set()
    for index, line in enumerate(order.lines):
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise InvalidInput(f"must be 1 to {MAX_QUANTITY}", field=_line_field(index, "quantity"))
        product = products.get(line.sku)
        if product is None:
            raise InvalidInput(
                f"unknown SKU {line.sku!r}",
                field=_line_field(index, "sku"),
                code=ErrorCode.UNKNOWN_SKU,
            )
        if not product.active:
            raise InvalidInput(
                f"{line.sku} is not sold any more",
                field=_line_field(index, "sku"),
                code=ErrorCode.PRODUCT_INACTIVE,
            )
        currencies.add(product.currency)
        if len(currencies) > 1:
            raise InvalidInput(
                "all lines of an order must be in one currency",
                field=_line_field(index, "sku"),
                code=ErrorCode.CURRENCY_MISMATCH,
            )
        if product.kind is ProductKind.PARENT:
            parents.append(await _parent_line(index, line, product, order_date, programs[line.sku]))
        else:
            if line.start_date is not None or line.payment_schedule is not None:
                raise InvalidInput(
                    "only a continuity (parent) product takes a start date or payment schedule",
                    field=_line_field(index, "startDate" if line.start_date else "paymentSchedule"),
                )
            ordinary.append((index, product))
    for parent in parents:
        parent.planned, parent.total_minor = _new_order_plan(
            parent.spec, parent.first_event, parent.start, parent.line.quantity, rules
        )
    ids = ids_of(rows[0], _IDS_READ) if postgres else None
    return CheckedOrder(customer, address, method, ordinary, parents, ids)


#: New orders' plans a process keeps (``_new_order_plan``).
PLAN_CACHE_SIZE = 256
_PlanKey = tuple[int, int, date, int, int]  # spec id, first event, start, quantity, threshold
_plans: OrderedDict[_PlanKey, tuple[ProgramSpec, Plan, int]] = OrderedDict()


def _new_order_plan(
    spec: ProgramSpec, first_event: int, start: date, quantity: int, rules: BillingRules
) -> tuple[Plan, int]:
    """A new order's plan and its up-front total (0 unless billed up front).

    Both are pure functions of the version's spec (immutable, one object per version while
    ``programs`` caches it), the start, the quantity and the threshold: the day's orders on a
    program start alike, so they are computed once per process for orders alike, not ~0.1 ms
    each. An entry holds its spec, so the spec's ``id`` in the key stays its own."""
    threshold = rules.repeat_threshold
    key = (id(spec), first_event, start, quantity, threshold)
    found = _plans.get(key)
    if found is not None and found[0] is spec:
        _plans.move_to_end(key)
        return found[1], found[2]
    anchor = Anchor(start, first_event)
    schedule = OrderSchedule(spec, first_event, anchor, quantity)
    planned = plan(schedule, threshold=threshold, up_front=spec.bill_up_front)
    total = (
        sum(o.amount_minor for o in all_occurrences(spec, first_event, anchor, quantity=quantity))
        if spec.bill_up_front
        else 0
    )
    _plans[key] = (spec, planned, total)
    while len(_plans) > PLAN_CACHE_SIZE:
        _plans.popitem(last=False)
    return planned, total


async def place_sales_order(
    order: SalesOrderInput,
    *,
    order_date: date,
    actor: str,
    rules: BillingRules,
    gateway: PaymentGateway,
    today: date | None = None,
    write: Writer | None = None,
) -> PlacedOrder:
    """Place the order dated ``order_date``; ``today`` (when it was back-dated) is the day its
    charges are attempted. ``write`` is ``write_sales_order`` or who runs it elsewhere (the
    server's placement worker)."""
    placed = await (write or write_sales_order)(
        order, order_date=order_date, actor=actor, rules=rules, today=today
    )
    await charge_placed(placed, gateway, today=today or order_date, rules=rules, actor=actor)
    return placed


async def write_sales_order(
    order: SalesOrderInput,
    *,
    order_date: date,
    actor: str,
    rules: BillingRules,
    today: date | None = None,
) -> PlacedOrder:
    """Check the order and write it with everything it makes, its charges pending: the part
    of a placement that needs only the database (the server's placement worker runs it,
    ``server/placement_worker.py``); ``charge_placed`` then attempts the charges due now."""
    today = today or order_date
    # the read's statements on one connection (a program read on a cache miss too)
    async with one_connection():
        checked = await validate_order(order, order_date=order_date, rules=rules, today=today)
    # the write on the pool, not on the read's connection: joined with other placements'
    # (``group_writes``), it may wait for a statement in flight, and holding a connection
    # meanwhile would keep other placements' reads from the pool
    placed: PlacedOrder | None = None
    for _draw in range(NUMBER_DRAWS):
        try:
            # a few rows: on SQLite the transaction runs on the event loop's thread
            with short_writes():
                async with all_or_nothing() as conn:
                    placed = await _write_order(
                        conn, order, checked, order_date=order_date, actor=actor, today=today
                    )
            break
        except IntegrityError as exc:  # a number drawn was taken: nothing was written
            if not any(violates_unique(exc, table, "number") for table in _NUMBERED):
                raise
    if placed is None:
        raise RuntimeError(f"no free order number on {order_date} in {NUMBER_DRAWS} draws")
    return placed


async def charge_placed(
    placed: PlacedOrder, gateway: PaymentGateway, *, today: date, rules: BillingRules, actor: str
) -> None:
    """Attempt the placed order's charges due now, after its write: a gateway failure never
    loses an order (the payment stays recorded and is retried)."""
    for payment in placed.payments:
        if payment.status is PaymentStatus.PENDING:
            await attempt_payment(
                payment,
                gateway,
                today=today,
                retry_days=rules.retry_days,
                reauthorization_limit=rules.reauthorization_limit,
                actor=actor,
            )


#: The tables whose rows placement numbers (``new_number``).
_NUMBERED = ("sales_order", "continuity_order")


async def _write_order(
    conn: BaseDBAsyncClient,
    order: SalesOrderInput,
    checked: CheckedOrder,
    *,
    order_date: date,
    actor: str,
    today: date,
) -> PlacedOrder:
    """Write the order, its lines, continuity orders, their lines, charges, history and
    outbox rows, all or nothing (``continuity.writes``): on PostgreSQL one statement, with
    the ids its read allocated (and one round trip more for its charges' ids, if any)."""
    customer, address, method = checked.customer, checked.address, checked.method
    ordinary, parents = checked.ordinary, checked.parents
    ids = checked.ids or await allocate_ids(
        conn,
        {
            "sales_order": 1,
            "sales_order_line": len(ordinary) + len(parents),
            "continuity_order": len(parents),
        },
    )
    line_ids = iter(ids["sales_order_line"])
    currency = (ordinary[0][1] if ordinary else parents[0].product).currency
    sales_orders = ModelRows(SalesOrder)
    sales_lines = ModelRows(SalesOrderLine)
    orders = ModelRows(ContinuityOrder)
    entries = ModelRows(OrderHistoryEntry)
    charges: list[dict[str, Any]] = []
    later: list[RowSet] = []  # each continuity order's lines and outbox rows
    total = sum(order.lines[index].quantity * product.price_minor for index, product in ordinary)
    sales_order = sales_orders.add(
        id=ids["sales_order"][0],
        number=new_number("SO", order_date),
        customer_id=customer.id,
        ship_to_id=address.id,
        payment_method_id=method.id,
        currency=currency,
        order_date=order_date,
        placed_by=actor,
        total_minor=total,
    )
    for index, product in ordinary:
        quantity = order.lines[index].quantity
        sales_lines.append(
            id=next(line_ids),
            sales_order_id=sales_order.id,
            line_number=index + 1,
            kind=SalesLineKind.REGULAR,
            product_id=product.id,
            quantity=quantity,
            unit_price_minor=product.price_minor,
            amount_minor=quantity * product.price_minor,
        )
    if total:
        charges.append(
            order_lines_charge(
                sales_order_id=sales_order.id,
                sales_order_number=sales_order.number,
                payment_method_id=method.id,
                amount_minor=total,
                currency=currency,
                today=order_date,
            )
        )
    continuity_orders = []
    # PostgreSQL's read allocated a continuity order id for every line, parent or not
    for parent, order_id in zip(parents, ids["continuity_order"], strict=False):
        continuity_order = _continuity_order(
            parent,
            order_id,
            next(line_ids),
            sales_order,
            address,
            method,
            order_date,
            sales_lines,
            orders,
        )
        continuity_orders.append(continuity_order)
        charges.extend(
            prepaid_charges(
                continuity_order,
                parent.schedule_spec,
                payment_method_id=method.id,
                today=order_date,
            )
        )
        later.extend(
            _placed_rows(parent, continuity_order, customer, order_date, actor, today, entries)
        )
    payments = ModelRows(Payment)
    if charges:
        payment_ids = (await allocate_ids(conn, {"payment": len(charges)}))["payment"]
        placed_charges = [
            payments.add(id=payment_id, **values)
            for payment_id, values in zip(payment_ids, charges, strict=True)
        ]
    else:
        placed_charges = []
    await write_together(
        conn,
        [
            *sales_orders.sets(),
            *sales_lines.sets(),
            *orders.sets(),
            *payments.sets(),
            *entries.sets(),
            *later,
        ],
    )
    return PlacedOrder(sales_order, continuity_orders, placed_charges)


def _continuity_order(
    parent: _ParentLine,
    order_id: int,
    line_id: int,
    sales_order: SalesOrder,
    address: Address,
    method: PaymentMethod,
    order_date: date,
    sales_lines: ModelRows[SalesOrderLine],
    orders: ModelRows[ContinuityOrder],
) -> ContinuityOrder:
    """A parent line's sales-order line and continuity order, added to the rows to write."""
    spec, line, planned = parent.spec, parent.line, parent.planned
    assert planned is not None  # validate_order planned every parent line
    sales_lines.append(
        id=line_id,
        sales_order_id=sales_order.id,
        line_number=parent.index + 1,
        kind=SalesLineKind.CONTINUITY_PARENT,
        product_id=parent.product.id,
        quantity=line.quantity,
        unit_price_minor=parent.product.price_minor,
        amount_minor=0,
    )
    if not spec.bill_up_front:
        mode = BillingMode.PER_SHIPMENT
    else:
        mode = BillingMode.INSTALLMENTS if parent.schedule else BillingMode.UP_FRONT
    return orders.add(
        id=order_id,
        number=new_number("CO", order_date),
        sales_order_id=sales_order.id,
        sales_line_id=line_id,
        customer_id=sales_order.customer_id,
        program_id=parent.program.id,
        program_version_id=parent.version.id,
        start_date=parent.start,
        order_date=order_date,
        schedule_complete=planned.complete,
        first_event_number=parent.first_event,
        anchor_date=parent.start,
        anchor_event_number=parent.first_event,
        quantity=line.quantity,
        currency=spec.currency,
        billing_mode=mode,
        payment_schedule_id=parent.schedule.id if parent.schedule else None,
        total_minor=parent.total_minor,
        ship_to_id=address.id,
        payment_method_id=method.id,
    )


def _placed_rows(
    parent: _ParentLine,
    order: ContinuityOrder,
    customer: Customer,
    order_date: date,
    actor: str,
    today: date,
    entries: ModelRows[OrderHistoryEntry],
) -> list[RowSet]:
    """A new continuity order's lines and outbox rows; its "placed" history entry is added
    to ``entries``."""
    planned = parent.planned
    assert planned is not None  # validate_order planned every parent line
    rows = planned.rows
    missed = len(
        {
            row.key
            for row in rows
            # missed: planned before the day it is keyed in (a back-dated order's past ones too)
            if row.action is not EventAction.SKIP and row.ship_date < today
        }
    )
    mode = order.billing_mode
    entries.append(
        **entry(
            order.id,
            "placed",
            actor=actor,
            details={
                "program": parent.program.code,
                "version": parent.version.number,
                "start_date": parent.start.isoformat(),
                "first_event": parent.first_event,
                "lines": len(rows),
                "missed_occurrences": missed,
                "billing_mode": mode.value,
                # a back-dated order says when it was keyed in (the order date is the day taken)
                **(
                    {"order_date": order_date.isoformat(), "keyed_in": today.isoformat()}
                    if order_date != today
                    else {}
                ),
            },
        )
    )
    return [
        new_lines(((order.id, row) for row in rows), order.created_at),
        outbox_row_set(
            order,
            EventType.ORDER_PLACED,
            {
                "program": parent.program.code,
                "program_name": parent.version.name,
                "program_version": parent.version.number,
                "billing_mode": mode.value,
                "quantity": parent.line.quantity,
                "start_date": parent.start.isoformat(),
                "first_event": parent.first_event,
                "missed_occurrences": missed,
                "total": money(parent.total_minor, order.currency),
                "payment_schedule": parent.schedule.code if parent.schedule else None,
                "placed_by": actor,
            },
            discriminator="placed",
            customer=customer,
        ),
    ]
