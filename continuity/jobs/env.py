"""What every job receives besides its date and filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from continuity.payments.gateway import PaymentGateway, TestGateway


@dataclass(frozen=True)
class JobFilters:
    """Restrict a run to one program (by id) and/or one continuity order (by id)."""

    program: str | None = None
    order: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("program", self.program), ("order", self.order)) if v}


#: The default: no restriction.
NO_FILTERS = JobFilters()


@dataclass(frozen=True)
class JobEnv:
    gateway: PaymentGateway = field(default_factory=TestGateway)
    #: Orders handled per transaction/batch: bounds memory and lock time.
    batch_size: int = 2000
    #: Gateway calls in flight at once: enough to hide a 50 ms gateway (≥ 600 charges/s),
    #: few enough not to flood it.
    gateway_concurrency: int = 64
