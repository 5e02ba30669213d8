"""Fault injection for the crash tests: inert unless ``CONTINUITY_FAULTS`` is set.

The crash-recovery tests (``tests/jobs/test_kill_recovery.py``) run a real ``continuity jobs
run`` process and need it to die at an exact point, and a gateway that remembers what it was
asked across processes. ``CONTINUITY_FAULTS`` is a comma-separated list of:

- ``kill_at=<point>``: the process kills itself with SIGKILL (no clean-up, no ``finally``: what a
  power cut or the OOM killer does) when it reaches ``kill_point(<point>)``;
- ``journal=<path>``: every gateway call is appended to ``<path>`` as a JSON line (operation,
  idempotency key, amount, outcome) as soon as it answers (``install``), so a test can count what a
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

from continuity.payments.gateway import GatewayResult

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


def journal_call(
    op: str, key: str, amount_minor: int, currency: str, result: GatewayResult | None
) -> None:
    """Append one gateway call to the journal ``CONTINUITY_FAULTS`` names (a call that raised
    is not journaled: nothing is known of it)."""
    journal = faults().journal
    if journal is None or result is None:
        return
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
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


async def gateway_delay() -> None:
    """Every gateway call takes ``latency`` seconds longer (widens the windows a test aims at)."""
    latency = faults().latency
    if latency:
        await asyncio.sleep(latency)


def install() -> None:
    """Journal every gateway call of this process when ``CONTINUITY_FAULTS`` asks for it."""
    if faults().journal is None:
        return
    from continuity.payments.charges import add_gateway_call_observer  # charges imports us

    add_gateway_call_observer(journal_call)
