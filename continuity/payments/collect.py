"""Collecting due payments and applying what their outcome means for the order.

Shared by the child-order job and the payments job, so that "paid", "declined, retry later"
and "failed: payment hold" mean the same everywhere. ``collect_many`` is the batch path: the
gateway calls run concurrently (bounded), then the outcomes are written with one statement
per chunk; only the rare consequences (a payment hold, a hold released) go row by row.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Protocol, cast

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from continuity.enums import (
    ChildOrderStatus,
    ContinuityOrderStatus,
    PaymentKind,
    PaymentPurpose,
    PaymentStatus,
)
from continuity.faults import kill_point
from continuity.models import (
    CallCenterParameters,
    ChildOrder,
    ContinuityOrder,
    Payment,
    PaymentMethod,
)
from continuity.notifications.events import Event, emit_many
from continuity.notifications.outcomes import hold_event, payment_event
from continuity.orders.history import record
from continuity.payments.charges import call_gateway, record_outcome
from continuity.payments.gateway import GatewayResult, PaymentGateway
from continuity.sql import execute_many, id_list


class Counts(Protocol):
    def count(self, what: str, n: int = 1) -> None: ...

    def fail(self, item: str, error: str) -> None: ...


class HasGateway(Protocol):
    @property
    def gateway(self) -> PaymentGateway: ...

    @property
    def gateway_concurrency(self) -> int: ...


_WRITE_OUTCOME = """
UPDATE payment SET status = :status, attempts = :attempts, last_attempt_at = :at,
       next_retry_on = :retry, gateway_reference = :reference, failure_code = :code,
       updated_at = :at
WHERE id = :id
"""


async def collect_many(
    payments: list[Payment],
    env: HasGateway,
    as_of: date,
    params: CallCenterParameters,
    run: Counts,
    *,
    actor: str,
) -> None:
    """Charge (or refund) every payment: concurrent gateway calls, then batched writes."""
    if not payments:
        return
    methods = await PaymentMethod.filter(
        id__in={p.payment_method_id for p in payments}
    ).values_list("id", "gateway_token")
    tokens = {int(cast(int, pid)): str(token) for pid, token in methods}
    limit = asyncio.Semaphore(env.gateway_concurrency)

    async def one(payment: Payment) -> GatewayResult:
        async with limit:
            return await call_gateway(payment, env.gateway, tokens[payment.payment_method_id])

    results = await asyncio.gather(*(one(p) for p in payments), return_exceptions=True)
    kill_point("gateway-called")
    done: list[Payment] = []
    for payment, result in zip(payments, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            # the call blew up: nothing is known, the payment stays due and is retried
            run.fail(f"payment {payment.id}", f"{type(result).__name__}: {result}")
            continue
        record_outcome(
            payment,
            result,
            today=as_of,
            retry_days=params.retry_days,
            reauthorization_limit=params.reauthorization_limit,
        )
        done.append(payment)
        if result.approved:
            run.count("charged")
            run.count("charged_minor", payment.amount_minor)
        else:
            run.count("declined")
    async with in_transaction() as conn:
        done = await _still_owed(done, conn, as_of)
        await execute_many(
            conn,
            _WRITE_OUTCOME,
            [
                {
                    "status": p.status.value,
                    "attempts": p.attempts,
                    "at": p.last_attempt_at,
                    "retry": p.next_retry_on,
                    "reference": p.gateway_reference,
                    "code": p.failure_code,
                    "id": p.id,
                }
                for p in done
            ],
        )
        # the outbox, in the outcomes' transaction: payment_succeeded / payment_failed
        await emit_many(
            [e for p in done if (e := payment_event(p)) is not None], conn=conn, fresh=True
        )
        paid_children = [
            p.child_order_id
            for p in done
            if p.status is PaymentStatus.SUCCEEDED and p.child_order_id is not None
        ]
        if paid_children:
            await (
                ChildOrder.filter(id__in=paid_children, status=ChildOrderStatus.CREATED)
                .using_db(conn)
                .update(status=ChildOrderStatus.AUTHORIZED)
            )
    held = set(
        await id_list(
            ContinuityOrder.filter(
                id__in={p.continuity_order_id for p in done if p.continuity_order_id},
                status=ContinuityOrderStatus.PAYMENT_HOLD,
            )
        )
    )
    for payment in done:
        if payment.status is PaymentStatus.FAILED or payment.continuity_order_id in held:
            await apply_outcome(payment, actor=actor)
            if payment.status is PaymentStatus.FAILED and payment.kind is PaymentKind.CHARGE:
                run.count("payment_holds")


async def _still_owed(done: list[Payment], conn: BaseDBAsyncClient, as_of: date) -> list[Payment]:
    """The outcomes to record: a payment cancelled while its gateway call was in flight (the
    order was cancelled meanwhile) keeps its cancelled status, unless the money moved: then
    the charge is recorded as it happened and a refund of it is queued, so that nobody pays
    for a cancelled order. The rows are locked so a concurrent cancel waits or has finished."""
    query = Payment.filter(id__in=[p.id for p in done]).using_db(conn)
    if conn.capabilities.dialect == "postgres":
        query = query.select_for_update()
    current = dict(await query.values_list("id", "status"))
    kept: list[Payment] = []
    for payment in done:
        if current.get(payment.id) == PaymentStatus.PENDING.value:
            kept.append(payment)
        elif payment.status is PaymentStatus.SUCCEEDED and payment.kind is PaymentKind.CHARGE:
            kept.append(payment)
            await Payment.create(
                kind=PaymentKind.REFUND,
                purpose=PaymentPurpose.REFUND,
                status=PaymentStatus.PENDING,
                sales_order_id=payment.sales_order_id,
                continuity_order_id=payment.continuity_order_id,
                child_order_id=payment.child_order_id,
                payment_method_id=payment.payment_method_id,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                due_date=as_of,
                idempotency_key=f"{payment.idempotency_key}:refund-late",
                gateway_reference=payment.gateway_reference,
                using_db=conn,
            )
    return kept


async def apply_outcome(payment: Payment, *, actor: str) -> None:
    """A paid shipment charge makes its child order ready to ship; a payment that failed for
    good puts its order on payment hold; the last failed payment paid releases the hold."""
    async with in_transaction() as conn:
        if payment.status is PaymentStatus.SUCCEEDED and payment.child_order_id is not None:
            await ChildOrder.filter(
                id=payment.child_order_id, status=ChildOrderStatus.CREATED
            ).update(status=ChildOrderStatus.AUTHORIZED)
        if payment.continuity_order_id is None:
            return
        order = await ContinuityOrder.get(id=payment.continuity_order_id)
        if (
            payment.status is PaymentStatus.FAILED
            and payment.kind is PaymentKind.CHARGE
            and order.status is ContinuityOrderStatus.ACTIVE
        ):
            order.status = ContinuityOrderStatus.PAYMENT_HOLD
            await order.save(update_fields=["status", "updated_at"])
            await record(
                order.id,
                "payment_hold",
                actor=actor,
                reason=f"payment {payment.id} failed after {payment.attempts} attempt(s)",
                details={"payment": payment.id, "failure_code": payment.failure_code},
            )
            await emit_many(_events(hold_event(payment, released=False)), conn=conn)
        elif (
            payment.status is PaymentStatus.SUCCEEDED
            and order.status is ContinuityOrderStatus.PAYMENT_HOLD
            and not await Payment.filter(
                continuity_order_id=order.id, status=PaymentStatus.FAILED
            ).exists()
        ):
            order.status = ContinuityOrderStatus.ACTIVE
            await order.save(update_fields=["status", "updated_at"])
            await record(
                order.id,
                "payment_hold_released",
                actor=actor,
                details={"payment": payment.id},
            )
            await emit_many(_events(hold_event(payment, released=True)), conn=conn)


def _events(event: Event | None) -> list[Event]:
    return [event] if event is not None else []
