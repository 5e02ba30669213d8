"""Payment webhooks in: what the provider tells us, handled once per event.

The gateway adapter verifies a webhook's signature and turns it into a provider-neutral
``GatewayEvent`` (``WebhookVerifier``); ``handle_gateway_event`` applies it in one transaction
that also records the event's id (``GatewayEvent`` rows, unique), so a redelivered event (the
provider retries until it sees a 2xx) changes nothing:

- a payment succeeded: settles our payment when its outcome was not known yet (an unknown
  answer, a crash before our write, the customer confirming a charge that needed them);
  already recorded → nothing; a *second* PaymentIntent of a payment already paid → refunded;
- a payment failed: settles a payment still in flight or unknown as declined (or as needing
  the customer); one already recorded → nothing;
- a charge refunded: settles our refunds of that charge up to the amount refunded; a refund
  made outside Continuity (the provider's dashboard) is noted in the order's history;
- a dispute opened: the order's history and an operator notification (``payment_disputed``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol, runtime_checkable

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from continuity.enums import PaymentKind, PaymentStatus
from continuity.models import CallCenterParameters, ContinuityOrder, Payment
from continuity.models import GatewayEvent as GatewayEventRow
from continuity.notifications.events import Event, EventType, emit_many, money
from continuity.notifications.outcomes import payment_event
from continuity.orders.history import record
from continuity.parameters import load_call_center_parameters
from continuity.payments.charges import OUTCOME_FIELDS, record_outcome
from continuity.payments.gateway import (
    AUTHENTICATION_REQUIRED,
    GatewayOutcome,
    GatewayResult,
)
from continuity.payments.outcomes import (
    PAYING,
    apply_outcome,
    cancelled_orders,
    late_refund,
    refund_unowed,
)

log = logging.getLogger("continuity.payments")


class GatewayEventKind(StrEnum):
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    OTHER = "other"  # recorded, nothing else


@dataclass(frozen=True)
class GatewayEvent:
    """One provider event, in our words."""

    gateway: str
    id: str
    #: The provider's own name for it, e.g. ``payment_intent.succeeded``.
    type: str
    kind: GatewayEventKind
    #: The provider object it is about (Stripe: the PaymentIntent).
    reference: str | None
    #: Ours, from the metadata we sent: the payment and the attempt number.
    payment_id: int | None = None
    attempt: int | None = None
    #: Received, refunded (in total) or disputed, in minor units.
    amount_minor: int | None = None
    currency: str | None = None
    #: Why it failed, or why it is disputed.
    code: str | None = None
    dispute: str | None = None


class WebhookRejected(Exception):
    """Not a genuine event (bad or missing signature, unreadable body): answer 400."""


@runtime_checkable
class WebhookVerifier(Protocol):
    """A gateway that receives webhooks (``POST /webhooks/<name>``)."""

    @property
    def name(self) -> str: ...

    @property
    def receives_webhooks(self) -> bool: ...

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """The event, once the request's signature is verified (``headers``: lower-case
        names); ``WebhookRejected`` otherwise."""
        ...


@dataclass(frozen=True)
class Handled:
    """What ``handle_gateway_event`` did: ``settled``, ``already_recorded``, ``disputed``,
    ``duplicate_refunded``, ``external_refund``, ``unknown_payment``, ``ignored`` or
    ``duplicate`` (this event was handled before)."""

    outcome: str
    payment_id: int | None = None


async def handle_gateway_event(event: GatewayEvent, *, today: date) -> Handled:
    """Apply ``event`` once (see the module docstring). ``today``: the business date, for the
    retry date of a decline."""
    if not event.id:
        raise WebhookRejected("the event has no id")
    key = f"{event.gateway}:{event.id}"[:255]
    if await GatewayEventRow.exists(key=key):
        return Handled("duplicate")
    params = await load_call_center_parameters()
    settled: list[Payment] = []
    try:
        async with in_transaction() as conn:
            outcome, payment = await _apply(event, conn, today, params, settled)
            await GatewayEventRow.create(
                key=key,
                type=event.type[:64],
                payment_id=payment.id if payment is not None else None,
                outcome=outcome,
                using_db=conn,
            )
    except IntegrityError:
        if await GatewayEventRow.exists(key=key):  # a concurrent delivery of it won
            return Handled("duplicate")
        raise
    for paid in settled:  # child order ready to ship, payment hold, hold released
        await apply_outcome(paid, actor=f"gateway:{event.gateway}")
    return Handled(outcome, payment.id if payment is not None else None)


async def _apply(
    event: GatewayEvent,
    conn: BaseDBAsyncClient,
    today: date,
    params: CallCenterParameters,
    settled: list[Payment],
) -> tuple[str, Payment | None]:
    if event.kind is GatewayEventKind.PAYMENT_SUCCEEDED:
        return await _succeeded(event, conn, today, params, settled)
    if event.kind is GatewayEventKind.PAYMENT_FAILED:
        return await _failed(event, conn, today, params, settled)
    if event.kind is GatewayEventKind.REFUNDED:
        return await _refunded(event, conn, today, params)
    if event.kind is GatewayEventKind.DISPUTED:
        return await _disputed(event, conn)
    return "ignored", None


async def _locked(conn: BaseDBAsyncClient, **where: object) -> Payment | None:
    return await Payment.filter(**where).using_db(conn).order_by("id").select_for_update().first()


async def _ours(event: GatewayEvent, conn: BaseDBAsyncClient) -> Payment | None:
    """The payment the event is about: the one named in the metadata, else the one that
    holds the reference. A manual-capture PaymentIntent succeeds when it is captured, so an
    authorization's success is its capture's."""
    payment = None
    if event.payment_id is not None:
        payment = await _locked(conn, id=event.payment_id)
    if payment is None and event.reference:
        payment = await _locked(conn, gateway_reference=event.reference, kind__in=PAYING)
    if payment is not None and payment.kind is PaymentKind.AUTHORIZATION:
        if event.kind is not GatewayEventKind.PAYMENT_SUCCEEDED:
            return payment
        return await _locked(
            conn,
            kind=PaymentKind.CHARGE,
            child_order_id=payment.child_order_id,
            gateway_reference=event.reference,
        )
    return payment


async def _write(payment: Payment, conn: BaseDBAsyncClient) -> None:
    await payment.save(update_fields=list(OUTCOME_FIELDS), using_db=conn)
    event = payment_event(payment)
    if event is not None:
        await emit_many([event], conn=conn)


async def _succeeded(
    event: GatewayEvent,
    conn: BaseDBAsyncClient,
    today: date,
    params: CallCenterParameters,
    settled: list[Payment],
) -> tuple[str, Payment | None]:
    payment = await _ours(event, conn)
    if payment is None:
        return "unknown_payment", None
    if payment.status is PaymentStatus.SUCCEEDED:
        if payment.gateway_reference in (None, event.reference):
            return "already_recorded", payment
        # another PaymentIntent of a payment already paid took the money: give it back
        await late_refund(
            payment,
            today,
            conn,
            suffix=f"refund-{event.reference}",
            reference=event.reference,
            amount_minor=event.amount_minor,
        )
        return "duplicate_refunded", payment
    was = payment.status
    result = GatewayResult(GatewayOutcome.APPROVED, reference=event.reference)
    if was in (PaymentStatus.PENDING, PaymentStatus.UNKNOWN):
        # the attempt in flight, or whose answer never came: now known
        record_outcome(
            payment,
            result,
            today=today,
            retry_days=params.retry_days,
            reauthorization_limit=params.reauthorization_limit,
        )
    else:
        # an attempt already counted (declined, or waiting for the customer, who confirmed
        # it), or cancelled meanwhile: paid all the same
        payment.status = PaymentStatus.SUCCEEDED
        payment.gateway_reference = event.reference
        payment.failure_code = None
        payment.next_retry_on = None
    await _write(payment, conn)
    await refund_unowed(
        payment,
        was=was,
        order_cancelled=payment.continuity_order_id in await cancelled_orders([payment], conn),
        as_of=today,
        conn=conn,
    )
    settled.append(payment)
    return "settled", payment


async def _failed(
    event: GatewayEvent,
    conn: BaseDBAsyncClient,
    today: date,
    params: CallCenterParameters,
    settled: list[Payment],
) -> tuple[str, Payment | None]:
    payment = await _ours(event, conn)
    if payment is None:
        return "unknown_payment", None
    in_flight = payment.status in (PaymentStatus.PENDING, PaymentStatus.UNKNOWN)
    if not in_flight or event.attempt not in (None, payment.attempts + 1):
        return "already_recorded", payment
    needs_customer = event.code == AUTHENTICATION_REQUIRED
    result = GatewayResult(
        GatewayOutcome.ACTION_REQUIRED if needs_customer else GatewayOutcome.DECLINED,
        reference=event.reference,
        code=event.code,
    )
    record_outcome(
        payment,
        result,
        today=today,
        retry_days=params.retry_days,
        reauthorization_limit=params.reauthorization_limit,
    )
    await _write(payment, conn)
    settled.append(payment)
    return "settled", payment


async def _refunded(
    event: GatewayEvent, conn: BaseDBAsyncClient, today: date, params: CallCenterParameters
) -> tuple[str, Payment | None]:
    if not event.reference:
        return "ignored", None
    refunds = await (
        Payment.filter(kind=PaymentKind.REFUND, gateway_reference=event.reference)
        .using_db(conn)
        .order_by("id")
        .select_for_update()
    )
    total = event.amount_minor or 0
    known = sum(r.amount_minor for r in refunds if r.status is PaymentStatus.SUCCEEDED)
    first: Payment | None = None
    for refund in refunds:
        if refund.status not in (PaymentStatus.PENDING, PaymentStatus.UNKNOWN):
            continue
        if known + refund.amount_minor > total:
            break
        record_outcome(
            refund,
            GatewayResult(GatewayOutcome.APPROVED, reference=event.reference),
            today=today,
            retry_days=params.retry_days,
            reauthorization_limit=params.reauthorization_limit,
        )
        await _write(refund, conn)
        known += refund.amount_minor
        first = first or refund
    if first is not None:
        return "settled", first
    if total <= known:
        return "already_recorded", None
    charge = (
        await Payment.filter(kind=PaymentKind.CHARGE, gateway_reference=event.reference)
        .using_db(conn)
        .first()
    )
    order_id = await _order_of(charge, conn) if charge is not None else None
    if order_id is not None and charge is not None:
        await record(
            order_id,
            "refunded_outside",
            actor=f"gateway:{event.gateway}",
            reason="a refund was made in the payment provider, not through Continuity",
            details={
                "payment": charge.id,
                "gateway_reference": event.reference,
                "refunded": money(total, charge.currency),
                "recorded": money(known, charge.currency),
            },
            using_db=conn,
        )
    return "external_refund", charge


async def _disputed(event: GatewayEvent, conn: BaseDBAsyncClient) -> tuple[str, Payment | None]:
    charge = (
        await Payment.filter(kind=PaymentKind.CHARGE, gateway_reference=event.reference)
        .using_db(conn)
        .order_by("-id")
        .first()
        if event.reference
        else None
    )
    if charge is None:
        log.warning("dispute %s on %s: no such payment here", event.dispute, event.reference)
        return "unknown_payment", None
    order_id = await _order_of(charge, conn)
    if order_id is None:
        log.warning("dispute %s on payment %s: no continuity order", event.dispute, charge.id)
        return "disputed", charge
    amount = money(event.amount_minor or charge.amount_minor, event.currency or charge.currency)
    details = {
        "payment": charge.id,
        "dispute": event.dispute,
        "reason": event.code,
        "amount": amount,
        "gateway_reference": event.reference,
    }
    await record(
        order_id,
        "payment_disputed",
        actor=f"gateway:{event.gateway}",
        reason=event.code,
        details=details,
        using_db=conn,
    )
    await emit_many(
        [
            Event(
                order_id=order_id,
                type=EventType.PAYMENT_DISPUTED,
                payload={
                    "payment_id": charge.id,
                    "dispute": event.dispute,
                    "reason": event.code,
                    "amount": amount,
                    "charged": money(charge.amount_minor, charge.currency),
                    "gateway_reference": event.reference,
                },
                discriminator=f"dispute-{event.dispute}",
            )
        ],
        conn=conn,
    )
    return "disputed", charge


async def _order_of(payment: Payment, conn: BaseDBAsyncClient) -> int | None:
    """The continuity order a payment belongs to (an ordinary-lines charge: the first one
    placed on the same sales order)."""
    if payment.continuity_order_id is not None:
        return payment.continuity_order_id
    if payment.sales_order_id is None:
        return None
    order = (
        await ContinuityOrder.filter(sales_order_id=payment.sales_order_id)
        .using_db(conn)
        .order_by("id")
        .first()
    )
    return order.id if order is not None else None
