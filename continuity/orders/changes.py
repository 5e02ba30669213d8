"""Changes to a continuity order after placement (SPEC §6): skip an occurrence, change the
ship-to address or the payment method, swap an item, change the quantity. Pausing, resuming
and cancelling are in ``pause`` and ``cancel``; all of them share the helpers here.

Every change locks the order row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serializes
writers), checks it against the locked state, writes its rows and one history entry in the same
transaction, and returns the changed order. A refused change raises a ``ContinuityError``
inside the transaction, so it writes nothing. Only ``PENDING`` lines are ever rewritten: lines
on a child order (released or closed), skipped or cancelled lines are history. Policies are
documented in ``docs/CHANGES.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from continuity.customers import card_expired
from continuity.engine.plan import Substitution, ships_later
from continuity.enums import (
    BillingMode,
    ContinuityLineStatus,
    PaymentKind,
    PaymentStatus,
    ProductKind,
)
from continuity.errors import Conflict, ErrorCode, InvalidInput, NotFound
from continuity.models import (
    Address,
    ContinuityLine,
    ContinuityOrder,
    OrderItemSubstitution,
    Payment,
    PaymentMethod,
    Product,
)
from continuity.orders.history import record
from continuity.orders.placement import BillingRules
from continuity.orders.replan import OrderState, order_state, save
from continuity.orders.status import ENDED
from continuity.payments.charges import attempt_payment
from continuity.payments.gateway import PaymentGateway
from continuity.payments.records import refund_occurrence

MAX_REASON = 500
MAX_QUANTITY = 1000
ORDER_FIELD = ("input", "orderId")
#: Charges not yet taken that move to a new payment method with the order. A ``FAILED`` charge
#: (the order is on payment hold) stays on its card: the payments job moves it to the order's new
#: card itself and retries it (``continuity.jobs.payments``).
WAITING = (PaymentStatus.SCHEDULED, PaymentStatus.PENDING)


def clean_reason(reason: str | None) -> str | None:
    """The free-text reason recorded in the history: trimmed, at most 500 characters."""
    cleaned = reason.strip() if reason is not None else None
    if not cleaned:
        return None
    if len(cleaned) > MAX_REASON:
        raise InvalidInput(
            f"must be at most {MAX_REASON} characters",
            field=["input", "reason"],
            code=ErrorCode.VALUE_TOO_LONG,
        )
    return cleaned


async def locked_order(order_id: int, conn: BaseDBAsyncClient) -> ContinuityOrder:
    """The order, locked for the rest of the transaction (concurrent changes wait)."""
    order = await ContinuityOrder.filter(id=order_id).select_for_update().using_db(conn).first()
    if order is None:
        raise NotFound(f"no continuity order {order_id}", field=ORDER_FIELD)
    return order


def require_open(order: ContinuityOrder) -> None:
    if order.status in ENDED:
        raise Conflict(
            f"order {order.number} is {order.status.value}: it can no longer be changed",
            field=ORDER_FIELD,
        )


def now() -> datetime:
    return datetime.now(UTC)


async def save_order(
    order: ContinuityOrder, fields: Iterable[str], conn: BaseDBAsyncClient
) -> None:
    await order.save(update_fields=[*fields, "updated_at"], using_db=conn)


async def skip_shipment(
    order_id: int,
    event_number: int,
    repeat_index: int,
    *,
    today: date,
    actor: str,
    rules: BillingRules,
    gateway: PaymentGateway,
    reason: str | None = None,
) -> ContinuityOrder:
    """Skip one upcoming occurrence: its pending lines become ``SKIPPED``.

    Nothing else moves: later dates stay as planned (a skip is a hole in its slot, never a
    shift), and a skipped occurrence never gets a child order, so a per-shipment order is
    never billed for it. A prepaid order gets what it paid for the occurrence back at once
    (``continuity.payments.records.refund_occurrence``): the refund is recorded in the same
    transaction, and sent to the gateway right after it.
    """
    why = clean_reason(reason)
    async with in_transaction() as conn:
        order = await locked_order(order_id, conn)
        require_open(order)
        lines = (
            await ContinuityLine.filter(
                continuity_order_id=order.id,
                event_number=event_number,
                repeat_index=repeat_index,
            )
            .order_by("item_seq")
            .using_db(conn)
        )
        if not lines:
            raise NotFound(
                f"order {order.number} has no planned occurrence "
                f"(event {event_number}, repeat {repeat_index})",
                field=["input", "eventNumber"],
            )
        status = lines[0].status
        if any(line.status is not ContinuityLineStatus.PENDING for line in lines):
            raise Conflict(
                f"event {event_number} (repeat {repeat_index}) is {status.value}: "
                "only a pending occurrence can be skipped",
                field=["input", "eventNumber"],
            )
        stamp = now()
        await (
            ContinuityLine.filter(id__in=[line.id for line in lines])
            .using_db(conn)
            .update(status=ContinuityLineStatus.SKIPPED, updated_at=stamp)
        )
        refunds = await refund_occurrence(conn, order, lines, today=today)
        await record(
            order.id,
            "skipped",
            actor=actor,
            reason=why,
            details={
                "event_number": event_number,
                "repeat_index": repeat_index,
                "planned_ship_date": lines[0].planned_ship_date.isoformat(),
                "lines": len(lines),
                "amount_minor": sum(line.quantity * line.price_minor for line in lines),
                "refund_minor": sum(refund.amount_minor for refund in refunds),
                "refunds": [refund.idempotency_key for refund in refunds],
                "before": {"status": ContinuityLineStatus.PENDING.value},
                "after": {"status": ContinuityLineStatus.SKIPPED.value},
            },
            using_db=conn,
        )
    for refund in refunds:
        if refund.status is PaymentStatus.PENDING:
            await attempt_payment(
                refund,
                gateway,
                today=today,
                retry_days=rules.retry_days,
                reauthorization_limit=rules.reauthorization_limit,
            )
    return order


async def change_ship_to(
    order_id: int, address_id: int, *, actor: str, reason: str | None = None
) -> ContinuityOrder:
    """Child orders created from now on ship to ``address_id`` (one of the customer's)."""
    why = clean_reason(reason)
    async with in_transaction() as conn:
        order = await locked_order(order_id, conn)
        require_open(order)
        address = (
            await Address.filter(id=address_id, customer_id=order.customer_id)
            .using_db(conn)
            .first()
        )
        if address is None:
            raise NotFound("no such address for this customer", field=["input", "addressId"])
        if address.id == order.ship_to_id:
            raise InvalidInput(
                "the order already ships to this address", field=["input", "addressId"]
            )
        before = order.ship_to_id
        order.ship_to_id = address.id
        await save_order(order, ["ship_to_id"], conn)
        await record(
            order.id,
            "ship_to_changed",
            actor=actor,
            reason=why,
            details={
                "before": {"ship_to_id": before},
                "after": {
                    "ship_to_id": address.id,
                    "city": address.city,
                    "postal_code": address.postal_code,
                    "country": address.country,
                },
            },
            using_db=conn,
        )
    return order


async def change_payment_method(
    order_id: int,
    payment_method_id: int,
    *,
    today: date,
    actor: str,
    reason: str | None = None,
) -> ContinuityOrder:
    """Bill the order to another of the customer's cards, active and not expired.

    The order's charges not yet taken (scheduled, pending, declined) move to the new card too;
    a declined one is retried on it at the next payments run with a fresh retry budget.
    Refunds stay on the card that was charged. An order on payment hold stays on hold: the
    payments job moves its failed charge to the new card, retries it and lifts the hold.
    """
    why = clean_reason(reason)
    field = ["input", "paymentMethodId"]
    async with in_transaction() as conn:
        order = await locked_order(order_id, conn)
        require_open(order)
        method = (
            await PaymentMethod.filter(id=payment_method_id, customer_id=order.customer_id)
            .using_db(conn)
            .first()
        )
        if method is None:
            raise NotFound("no such payment method for this customer", field=field)
        if not method.active:
            raise InvalidInput(
                "the payment method was removed",
                field=field,
                code=ErrorCode.PAYMENT_METHOD_INACTIVE,
            )
        if card_expired(method.exp_month, method.exp_year, today):
            raise InvalidInput(
                f"the card expired at the end of {method.exp_month:02d}/{method.exp_year}",
                field=field,
                code=ErrorCode.PAYMENT_METHOD_EXPIRED,
            )
        if method.id == order.payment_method_id:
            raise InvalidInput("the order is already billed to this card", field=field)
        previous = await PaymentMethod.get(id=order.payment_method_id, using_db=conn)
        charges = Payment.filter(continuity_order_id=order.id, kind=PaymentKind.CHARGE)
        moved = await (
            charges.filter(status__in=WAITING)
            .using_db(conn)
            .update(payment_method_id=method.id, updated_at=now())
        )
        # a declined charge is retried on the new card at the next payments run, with a fresh
        # retry budget (as the payments job does for a held order's new card)
        moved += await (
            charges.filter(status=PaymentStatus.DECLINED)
            .using_db(conn)
            .update(
                payment_method_id=method.id,
                attempt_base=F("attempts"),
                next_retry_on=today,
                updated_at=now(),
            )
        )
        order.payment_method_id = method.id
        await save_order(order, ["payment_method_id"], conn)
        await record(
            order.id,
            "payment_method_changed",
            actor=actor,
            reason=why,
            details={
                "before": {"payment_method_id": previous.id, "last4": previous.last4},
                "after": {"payment_method_id": method.id, "last4": method.last4},
                "payments_moved": moved,
            },
            using_db=conn,
        )
    return order


async def _replanned(
    order: ContinuityOrder, state: OrderState, conn: BaseDBAsyncClient
) -> list[tuple[int, int]]:
    """Re-plan the order's held window in its new state (dates stay: same anchor); the
    occurrences whose lines changed."""
    result = await save(conn, order, state, state.plan(threshold=None))
    return sorted(
        {row.key for _line, row in result.changes.update}
        | {row.key for row in result.changes.insert}
    )


async def swap_item(
    order_id: int,
    from_sku: str,
    to_sku: str,
    *,
    today: date,
    actor: str,
    reason: str | None = None,
) -> ContinuityOrder:
    """Ship ``to_sku`` instead of ``from_sku`` on every occurrence of the order still to
    ship: the pending lines now, and every occurrence planned later (the substitution is
    stored on the order and the planner applies it, so the extend job and the continuity
    update materialize later occurrences with it, and projections show it).

    Per-shipment orders pay the new item's catalog price; prepaid (up-front, installment)
    orders keep the price they paid for the line, so nothing is re-billed.
    """
    why = clean_reason(reason)
    from_sku, to_sku = from_sku.strip(), to_sku.strip()
    if from_sku == to_sku:
        raise InvalidInput("must differ from fromSku", field=["input", "toSku"])
    async with in_transaction() as conn:
        order = await locked_order(order_id, conn)
        require_open(order)
        product = await Product.filter(sku=to_sku).using_db(conn).first()
        to_field = ["input", "toSku"]
        if product is None:
            raise InvalidInput(
                f"unknown SKU {to_sku!r}", field=to_field, code=ErrorCode.UNKNOWN_SKU
            )
        if product.kind is not ProductKind.ITEM:
            raise InvalidInput(
                f"{to_sku} is a continuity (parent) product, not an item that ships",
                field=to_field,
            )
        if not product.active:
            raise InvalidInput(
                f"{to_sku} is not sold any more", field=to_field, code=ErrorCode.PRODUCT_INACTIVE
            )
        if product.currency != order.currency:
            raise InvalidInput(
                f"{to_sku} is priced in {product.currency}, the order in {order.currency}",
                field=to_field,
                code=ErrorCode.CURRENCY_MISMATCH,
            )
        state = await order_state(conn, order, as_of=today)
        replaced = await Product.filter(sku=from_sku).using_db(conn).first()
        if replaced is None or not ships_later(state.schedule, state.held, replaced.id):
            raise NotFound(
                f"nothing order {order.number} still ships is {from_sku}",
                field=["input", "fromSku"],
            )
        prepaid = order.billing_mode is not BillingMode.PER_SHIPMENT
        before = sorted(
            {
                line.row.price_minor
                for line in state.held
                if line.row.status is ContinuityLineStatus.PENDING
                and line.row.product_id == replaced.id
            }
        )
        price = None if prepaid else product.price_minor
        await OrderItemSubstitution.create(
            continuity_order_id=order.id,
            from_product_id=replaced.id,
            to_product_id=product.id,
            price_minor=price,
            using_db=conn,
        )
        swap = Substitution(replaced.id, product.id, product.sku, price)
        schedule = state.schedule._replace(substitutions=(*state.schedule.substitutions, swap))
        occurrences = await _replanned(order, state._replace(schedule=schedule), conn)
        lines = sum(
            1
            for line in state.held
            if line.row.status is ContinuityLineStatus.PENDING
            and line.row.product_id == replaced.id
        )
        await save_order(order, [], conn)
        await record(
            order.id,
            "item_swapped",
            actor=actor,
            reason=why,
            details={
                "before": {"sku": from_sku, "price_minor": before},
                "after": {
                    "sku": to_sku,
                    "price_minor": before if prepaid else [product.price_minor],
                },
                "lines": lines,
                "occurrences": [list(key) for key in occurrences],
                "later_occurrences": True,
                "price_kept": prepaid,
            },
            using_db=conn,
        )
    return order


async def change_quantity(
    order_id: int, quantity: int, *, today: date, actor: str, reason: str | None = None
) -> ContinuityOrder:
    """Set the order's parent quantity: every occurrence still to ship (pending lines now,
    later ones when planned) ships its event item's quantity times ``quantity``. Prepaid
    orders are refused: their total is paid or scheduled; cancel and re-order instead."""
    why = clean_reason(reason)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInput(f"must be 1 to {MAX_QUANTITY}", field=["input", "quantity"])
    async with in_transaction() as conn:
        order = await locked_order(order_id, conn)
        require_open(order)
        if order.billing_mode is not BillingMode.PER_SHIPMENT:
            raise Conflict(
                "prepaid orders cannot change quantity; cancel and re-order", field=ORDER_FIELD
            )
        if quantity == order.quantity:
            raise InvalidInput(
                f"the order's quantity is already {quantity}", field=["input", "quantity"]
            )
        state = await order_state(conn, order, as_of=today)
        before = order.quantity
        order.quantity = quantity
        changed = state._replace(schedule=state.schedule._replace(quantity=quantity))
        result = await save(conn, order, changed, changed.plan(threshold=None))
        await save_order(order, ["quantity"], conn)
        await record(
            order.id,
            "quantity_changed",
            actor=actor,
            reason=why,
            details={
                "before": {"quantity": before},
                "after": {"quantity": quantity},
                "lines": len(result.changes.update),
            },
            using_db=conn,
        )
    return order
