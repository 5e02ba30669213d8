"""Collecting due payments in batches: the child-order job and the payments job.

The gateway calls run concurrently (bounded), off session (the customer is not there), then the
outcomes are written with one statement per chunk (``outcomes.write_outcomes``); only the rare
consequences (a payment hold, a hold released) go row by row.
"""

from __future__ import annotations

import asyncio
from datetime import date
from time import monotonic
from typing import Protocol

from continuity.enums import PaymentKind
from continuity.faults import kill_point
from continuity.models import CallCenterParameters, Payment
from continuity.payments.charges import call_contexts, call_gateway, record_outcome
from continuity.payments.gateway import GatewayOutcome, GatewayResult, PaymentGateway
from continuity.payments.outcomes import apply_outcome, write_outcomes

__all__ = ["Counts", "HasGateway", "apply_outcome", "collect_many"]


class Counts(Protocol):
    def count(self, what: str, n: int = 1) -> None: ...

    def fail(self, item: str, error: str) -> None: ...


class HasGateway(Protocol):
    @property
    def gateway(self) -> PaymentGateway: ...

    @property
    def gateway_concurrency(self) -> int: ...


#: What an approved call is counted as on the run.
_DONE = {
    PaymentKind.CHARGE: "charged",
    PaymentKind.AUTHORIZATION: "authorized",
    PaymentKind.REFUND: "refunded",
}


async def collect_many(
    payments: list[Payment],
    env: HasGateway,
    as_of: date,
    params: CallCenterParameters,
    run: Counts,
    *,
    actor: str,
) -> float:
    """Charge, authorize or refund every (claimed) payment: concurrent gateway calls, then
    batched writes. Returns the seconds spent waiting for the gateway, with no transaction
    open (``Outcome.waited``: the batch loop does not size batches by it)."""
    if not payments:
        return 0.0
    contexts = await call_contexts(payments)
    limit = asyncio.Semaphore(env.gateway_concurrency)

    async def one(payment: Payment) -> GatewayResult:
        async with limit:
            return await call_gateway(payment, env.gateway, contexts[payment.id], off_session=True)

    started = monotonic()
    results = await asyncio.gather(*(one(p) for p in payments), return_exceptions=True)
    waited = monotonic() - started
    kill_point("gateway-called")
    for payment, result in zip(payments, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            # an adapter bug: nothing is known, so the same attempt is asked again next run
            run.fail(f"payment {payment.id}", f"{type(result).__name__}: {result}")
            result = GatewayResult(GatewayOutcome.UNKNOWN, code="gateway_error")
        record_outcome(
            payment,
            result,
            today=as_of,
            retry_days=params.retry_days,
            reauthorization_limit=params.reauthorization_limit,
        )
        if result.approved:
            run.count(_DONE[payment.kind])
            # per currency: a sum of cents across currencies would mean nothing
            run.count(
                f"{_DONE[payment.kind]}_amount_minor:{payment.currency}", payment.amount_minor
            )
        elif result.outcome is GatewayOutcome.UNKNOWN:
            run.count("unknown")
        elif result.outcome is GatewayOutcome.ACTION_REQUIRED:
            run.count("action_required")
        else:
            run.count("declined")
    await write_outcomes(payments, as_of=as_of, actor=actor, counts=run)
    return waited
