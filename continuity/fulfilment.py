"""What the fulfilment system reports: a child order shipped, then invoiced.

Only a paid, authorized (or prepaid) child order may ship: ``AUTHORIZED`` → ``SHIPPED`` →
``INVOICED``. Invoicing captures the money an authorization holds (``authorize_child_orders``:
``continuity.payments.authorizations``) and lets the close job close the continuity lines.

Both steps are idempotent, because a warehouse retries when it does not hear back: the same
call on a child order already in the target state changes nothing and answers the same child
order. A call that contradicts what was recorded (another tracking number, another invoice
number) is refused (``ALREADY_SHIPPED`` / ``ALREADY_INVOICED``), and so is a step the child
order's state does not allow, each with its own code: ``NOT_PAID`` (its payment has not gone
through), ``CANCELLED``, ``NOT_SHIPPED`` (invoicing before shipping).

Shipping tells the customer: a ``child_order_shipped`` notification (e-mail and webhooks) with
the carrier and tracking number, written in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from continuity.enums import ChildOrderStatus, ContinuityOrderStatus
from continuity.errors import Conflict, ErrorCode, InvalidInput, NotFound
from continuity.globalids import global_id
from continuity.models import ChildOrder, ContinuityOrder, Payment
from continuity.notifications.events import EventType, emit
from continuity.orders.history import record
from continuity.parameters import load_call_center_parameters
from continuity.payments.authorizations import capture_on_invoice
from continuity.payments.charges import attempt_payment
from continuity.payments.gateway import PaymentGateway

_FIELD = ["input", "childOrderId"]
MAX_CARRIER = 64
MAX_TRACKING = 100
MAX_INVOICE = 64
#: A shipping time may fall on the business day after today (time zones), no later ...
CLOCK_SKEW = timedelta(days=1)
#: ... and at most this long before it (a typo in the year is refused, not recorded).
MAX_SHIPPED_AGE = timedelta(days=366)


@dataclass(frozen=True)
class Shipment:
    """What the warehouse says about a parcel; every part optional (a pick-up has no
    tracking number)."""

    carrier: str | None = None
    tracking_number: str | None = None
    shipped_at: datetime | None = None


def _text(value: str | None, field: str, max_length: int) -> str | None:
    if value is None:
        return None
    clean = value.strip()
    if not clean:
        raise InvalidInput("must not be blank", field=["input", field])
    if len(clean) > max_length:
        raise InvalidInput(f"at most {max_length} characters", field=["input", field])
    return clean


def _shipped_at(value: datetime | None, today: date | None) -> datetime | None:
    """The time the warehouse gives, checked against the business date (``today``)."""
    if value is None:
        return None
    moment = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)
    if today is not None:
        if moment.date() > today + CLOCK_SKEW:
            raise InvalidInput("is in the future", field=["input", "shippedAt"])
        if moment.date() < today - MAX_SHIPPED_AGE:
            raise InvalidInput("is more than a year ago", field=["input", "shippedAt"])
    return moment


async def _locked(child_order_id: int, conn: BaseDBAsyncClient) -> ChildOrder:
    child = await ChildOrder.filter(id=child_order_id).select_for_update().using_db(conn).first()
    if child is None:
        raise NotFound("no such child order", field=_FIELD)
    return child


def _refuse_before(child: ChildOrder, step: str, *, order_cancelled: bool = False) -> None:
    """The codes of a child order that may not take ``step`` yet (or ever)."""
    if child.status is ChildOrderStatus.CANCELLED or order_cancelled:
        raise Conflict(
            f"child order {child.number} was cancelled: it cannot be {step}",
            field=_FIELD,
            code=ErrorCode.CANCELLED,
        )
    if child.status is ChildOrderStatus.CREATED:
        raise Conflict(
            f"child order {child.number} is not paid yet: it cannot be {step}",
            field=_FIELD,
            code=ErrorCode.NOT_PAID,
        )


async def mark_child_order_shipped(
    child_order_id: int,
    *,
    actor: str,
    shipment: Shipment | None = None,
    today: date | None = None,
) -> ChildOrder:
    """Record that a paid child order left the warehouse, and tell the customer. ``today``
    (the business date) bounds the shipping time the warehouse may give."""
    async with in_transaction() as conn:
        return await ship_in(
            conn, child_order_id, actor=actor, shipment=shipment or Shipment(), today=today
        )


async def ship_in(
    conn: BaseDBAsyncClient,
    child_order_id: int,
    *,
    actor: str,
    shipment: Shipment,
    today: date | None,
) -> ChildOrder:
    """``mark_child_order_shipped`` in the caller's transaction (an import ships all its rows
    in one)."""
    carrier = _text(shipment.carrier, "carrier", MAX_CARRIER)
    tracking = _text(shipment.tracking_number, "trackingNumber", MAX_TRACKING)
    shipped_at = _shipped_at(shipment.shipped_at, today)
    child = await _locked(child_order_id, conn)
    if child.status in (ChildOrderStatus.SHIPPED, ChildOrderStatus.INVOICED):
        recorded = (child.carrier, child.tracking_number, child.shipped_at)
        given = (carrier, tracking, shipped_at)
        if all(g is None or g == r for g, r in zip(given, recorded, strict=True)):
            return child  # the same call again: nothing changes
        raise Conflict(
            f"child order {child.number} already shipped "
            f"(carrier {child.carrier or '-'}, tracking {child.tracking_number or '-'})",
            field=_FIELD,
            code=ErrorCode.ALREADY_SHIPPED,
        )
    order = await ContinuityOrder.filter(id=child.continuity_order_id).using_db(conn).get()
    _refuse_before(
        child, "shipped", order_cancelled=order.status is ContinuityOrderStatus.CANCELLED
    )
    child.status = ChildOrderStatus.SHIPPED
    child.shipped_at = shipped_at or datetime.now(UTC)
    child.carrier = carrier
    child.tracking_number = tracking
    await child.save(
        update_fields=["status", "shipped_at", "carrier", "tracking_number"], using_db=conn
    )
    details: dict[str, object] = {"child_order": child.number}
    if carrier:
        details["carrier"] = carrier
    if tracking:
        details["tracking_number"] = tracking
    await record(
        child.continuity_order_id,
        "child_order_shipped",
        actor=actor,
        details=details,
        using_db=conn,
    )
    await emit(
        order,
        EventType.CHILD_ORDER_SHIPPED,
        {
            "child_order": child.number,
            "child_order_id": child_global_id(child.id),
            "carrier": carrier,
            "tracking_number": tracking,
            "shipped_at": child.shipped_at.isoformat(),
        },
        conn=conn,
        discriminator=child.number,
    )
    return child


async def invoice_child_order(
    child_order_id: int,
    *,
    actor: str,
    gateway: PaymentGateway,
    today: date,
    invoice_number: str | None = None,
) -> ChildOrder:
    """Invoice a shipped child order; an authorized one is captured (after the commit: a
    capture that fails is retried by the payments job like any charge, the invoice stands)."""
    number = _text(invoice_number, "invoiceNumber", MAX_INVOICE)
    captures: list[Payment] = []
    async with in_transaction() as conn:
        child = await _locked(child_order_id, conn)
        if child.status is ChildOrderStatus.INVOICED:
            if number is None or number == child.invoice_number:
                return child  # the same call again: nothing changes
            raise Conflict(
                f"child order {child.number} was already invoiced as {child.invoice_number}",
                field=_FIELD,
                code=ErrorCode.ALREADY_INVOICED,
            )
        _refuse_before(child, "invoiced")
        if child.status is not ChildOrderStatus.SHIPPED:
            raise Conflict(
                f"child order {child.number} has not shipped: only a shipped child order can "
                "be invoiced",
                field=_FIELD,
                code=ErrorCode.NOT_SHIPPED,
            )
        child.status = ChildOrderStatus.INVOICED
        child.invoiced_at = datetime.now(UTC)
        child.invoice_number = number
        await child.save(update_fields=["status", "invoiced_at", "invoice_number"], using_db=conn)
        details: dict[str, object] = {"child_order": child.number}
        if number:
            details["invoice_number"] = number
        await record(
            child.continuity_order_id,
            "child_order_invoiced",
            actor=actor,
            details=details,
            using_db=conn,
        )
        payment = await capture_on_invoice(child, today, conn)
        if payment is not None:
            captures.append(payment)
    if captures:
        params = await load_call_center_parameters()
        for payment in captures:
            await attempt_payment(
                payment,
                gateway,
                today=today,
                retry_days=params.retry_days,
                reauthorization_limit=params.reauthorization_limit,
                actor=actor,
                off_session=True,
            )
    return child


def child_global_id(pk: int) -> str:
    """The child order's global id as the API spells it, for payloads that leave the service:
    a warehouse passes it back to the API as it is."""
    return global_id("ChildOrder", pk)
