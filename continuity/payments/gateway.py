"""The payment-gateway interface and a deterministic test gateway.

Every call carries an idempotency key: a gateway that sees the same key twice returns the first
outcome and moves no money again. The service relies on that (and on the unique key of
``Payment.idempotency_key``) so that a retried job or a crash between the call and the database
write never charges twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class GatewayOutcome(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"  # the card was refused: retried later, then payment hold
    ERROR = "error"  # the gateway failed: retried later, the card is not blamed


@dataclass(frozen=True)
class GatewayResult:
    outcome: GatewayOutcome
    reference: str | None = None
    code: str | None = None  # why it was declined or failed, e.g. "insufficient_funds"

    @property
    def approved(self) -> bool:
        return self.outcome is GatewayOutcome.APPROVED


class PaymentGateway(Protocol):
    async def authorize(
        self, *, token: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> GatewayResult: ...

    async def capture(
        self, *, token: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> GatewayResult: ...

    async def refund(
        self, *, reference: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> GatewayResult: ...


#: Test tokens and their outcomes; any other token is approved.
TEST_TOKENS: dict[str, GatewayResult] = {
    "tok_decline": GatewayResult(GatewayOutcome.DECLINED, code="card_declined"),
    "tok_insufficient_funds": GatewayResult(GatewayOutcome.DECLINED, code="insufficient_funds"),
    "tok_expired_card": GatewayResult(GatewayOutcome.DECLINED, code="expired_card"),
    "tok_gateway_error": GatewayResult(GatewayOutcome.ERROR, code="gateway_unavailable"),
}


@dataclass
class TestGateway:
    """Outcomes chosen by token (``TEST_TOKENS``), so that every path can be tested.

    ``calls`` counts the operations that reached it (a repeated key is not a new call) and
    ``moved_minor`` the money actually moved, so tests can prove nothing was charged twice.
    ``latency`` simulates a slow gateway.
    """

    __test__ = False  # not a pytest test class

    latency: float = 0.0
    calls: int = 0
    moved_minor: int = 0

    def __post_init__(self) -> None:
        self._seen: dict[str, GatewayResult] = {}

    async def _call(
        self, kind: str, token: str, amount_minor: int, idempotency_key: str, sign: int
    ) -> GatewayResult:
        if self.latency:
            await asyncio.sleep(self.latency)
        if idempotency_key in self._seen:
            return self._seen[idempotency_key]
        self.calls += 1
        result = TEST_TOKENS.get(token) or GatewayResult(
            GatewayOutcome.APPROVED, reference=f"test_{kind}_{len(self._seen) + 1}"
        )
        if result.approved and kind != "auth":
            self.moved_minor += sign * amount_minor
        self._seen[idempotency_key] = result
        return result

    async def authorize(
        self, *, token: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> GatewayResult:
        return await self._call("auth", token, amount_minor, idempotency_key, 0)

    async def capture(
        self, *, token: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> GatewayResult:
        return await self._call("charge", token, amount_minor, idempotency_key, 1)

    async def refund(
        self, *, reference: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> GatewayResult:
        return await self._call("refund", "tok_refund", amount_minor, idempotency_key, -1)
