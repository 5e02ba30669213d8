"""Fault injection for the crash tests: inert unless ``CONTINUITY_FAULTS`` is set.

The crash-recovery tests (``tests/jobs/test_kill_recovery.py``) run a real ``continuity jobs
run`` process and need it to die at an exact point, and a gateway that remembers what it was
asked across processes. ``CONTINUITY_FAULTS`` is a comma-separated list of:

- ``kill_at=<point>``: the process kills itself with SIGKILL (no clean-up, no ``finally``: what a
  power cut or the OOM killer does) when it reaches ``kill_point(<point>)``;
- ``journal=<path>``: every gateway call is appended to ``<path>`` as a JSON line (operation,
  idempotency key, amount, outcome) before anything else happens, so a test can count what a
  real gateway, which deduplicates keys, would have charged;
- ``latency=<seconds>``: every gateway call takes this long (widens the windows a test aims at).

The points: ``payments-claimed`` (the payments job claimed a batch, no gateway call yet),
``gateway-called`` (the gateway answered, the outcomes are not written),
``child-orders-committed`` (a batch of child orders and their claimed charges committed, the
charges not collected).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from continuity.payments.gateway import GatewayResult, PaymentGateway

ENVIRONMENT_VARIABLE = "CONTINUITY_FAULTS"


@dataclass(frozen=True)
class Faults:
    kill_at: str | None = None
    journal: Path | None = None
    latency: float = 0.0


@cache
def _parse(text: str) -> Faults:
    values = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
    return Faults(
        kill_at=values.get("kill_at") or None,
        journal=Path(values["journal"]) if values.get("journal") else None,
        latency=float(values.get("latency") or 0),
    )


def faults() -> Faults:
    return _parse(os.environ.get(ENVIRONMENT_VARIABLE, ""))


def kill_point(name: str) -> None:
    """Die here, at once, if ``CONTINUITY_FAULTS`` says ``kill_at=<name>``."""
    if faults().kill_at == name:
        os.kill(os.getpid(), signal.SIGKILL)


class JournalGateway:
    """A gateway that writes every call to a journal (and may be slow) before answering."""

    def __init__(self, inner: PaymentGateway, journal: Path | None, latency: float) -> None:
        self.inner = inner
        self.journal = journal
        self.latency = latency

    @property
    def name(self) -> str:
        return str(getattr(self.inner, "name", type(self.inner).__name__))

    async def _record(
        self, op: str, key: str, amount_minor: int, currency: str, result: GatewayResult
    ) -> GatewayResult:
        if self.journal is not None:
            line = json.dumps(
                {
                    "op": op,
                    "key": key,
                    "amount_minor": amount_minor,
                    "currency": currency,
                    "outcome": result.outcome.value,
                    "pid": os.getpid(),
                }
            )
            fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
        return result

    async def authorize(
        self, *, token: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> GatewayResult:
        await asyncio.sleep(self.latency)
        result = await self.inner.authorize(
            token=token,
            amount_minor=amount_minor,
            currency=currency,
            idempotency_key=idempotency_key,
        )
        return await self._record("authorize", idempotency_key, amount_minor, currency, result)

    async def capture(
        self, *, token: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> GatewayResult:
        await asyncio.sleep(self.latency)
        result = await self.inner.capture(
            token=token,
            amount_minor=amount_minor,
            currency=currency,
            idempotency_key=idempotency_key,
        )
        return await self._record("capture", idempotency_key, amount_minor, currency, result)

    async def refund(
        self, *, reference: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> GatewayResult:
        await asyncio.sleep(self.latency)
        result = await self.inner.refund(
            reference=reference,
            amount_minor=amount_minor,
            currency=currency,
            idempotency_key=idempotency_key,
        )
        return await self._record("refund", idempotency_key, amount_minor, currency, result)


def instrument(gateway: PaymentGateway) -> PaymentGateway:
    """``gateway``, journaled and slowed down as ``CONTINUITY_FAULTS`` asks (else unchanged)."""
    configured = faults()
    if configured.journal is None and not configured.latency:
        return gateway
    return JournalGateway(gateway, configured.journal, configured.latency)
