"""The per-request context: settings and one fresh set of DataLoaders.

Loaders are created per request (never module-level): a loader caches what it loaded, and a
long-lived one would serve stale rows and bind to the wrong event loop.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeAlias, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from config.settings import Settings
from continuity import models
from continuity.access import Caller
from continuity.payments.gateway import PaymentGateway

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _by_key(
    fetch: Callable[[list[K]], Awaitable[Iterable[V]]], key: Callable[[V], K]
) -> DataLoader[K, V]:
    """A loader of one row per key; a missing key is an error in its slot."""

    async def load(keys: list[K]) -> Sequence[V | BaseException]:
        rows = {key(row): row for row in await fetch(keys)}
        return [rows.get(k) or KeyError(k) for k in keys]

    return DataLoader(load_fn=load)


def _grouped(
    fetch: Callable[[list[K]], Awaitable[Iterable[V]]], key: Callable[[V], K]
) -> DataLoader[K, list[V]]:
    """A loader of the rows belonging to each key, in the order the query returned them."""

    async def load(keys: list[K]) -> Sequence[list[V]]:
        groups: dict[K, list[V]] = defaultdict(list)
        for row in await fetch(keys):
            groups[key(row)].append(row)
        return [groups.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


async def _latest_versions(ids: list[int]) -> list[models.ProgramVersion]:
    rows = await models.ProgramVersion.filter(program_id__in=ids).order_by("program_id", "number")
    latest: dict[int, models.ProgramVersion] = {}
    for row in rows:
        latest[row.program_id] = row
    return list(latest.values())


async def _allowed_schedules(ids: list[int]) -> list[models.ProgramVersionSchedule]:
    return await models.ProgramVersionSchedule.filter(version_id__in=ids).order_by("id")


@dataclass
class Loaders:
    program_by_id: DataLoader[int, models.Program] = field(
        default_factory=lambda: _by_key(
            lambda ids: models.Program.filter(id__in=ids), lambda r: r.id
        )
    )
    latest_version_by_program: DataLoader[int, models.ProgramVersion] = field(
        default_factory=lambda: _by_key(_latest_versions, lambda r: r.program_id)
    )
    versions_by_program: DataLoader[int, list[models.ProgramVersion]] = field(
        default_factory=lambda: _grouped(
            lambda ids: models.ProgramVersion.filter(program_id__in=ids).order_by("number"),
            lambda r: r.program_id,
        )
    )
    events_by_version: DataLoader[int, list[models.ProgramEvent]] = field(
        default_factory=lambda: _grouped(
            lambda ids: models.ProgramEvent.filter(version_id__in=ids).order_by("number"),
            lambda r: r.version_id,
        )
    )
    items_by_event: DataLoader[int, list[models.ProgramEventItem]] = field(
        default_factory=lambda: _grouped(
            lambda ids: models.ProgramEventItem.filter(event_id__in=ids).order_by("seq"),
            lambda r: r.event_id,
        )
    )
    product_by_id: DataLoader[int, models.Product] = field(
        default_factory=lambda: _by_key(
            lambda ids: models.Product.filter(id__in=ids), lambda r: r.id
        )
    )
    schedule_by_id: DataLoader[int, models.PaymentSchedule] = field(
        default_factory=lambda: _by_key(
            lambda ids: models.PaymentSchedule.filter(id__in=ids), lambda r: r.id
        )
    )
    lines_by_schedule: DataLoader[int, list[models.PaymentScheduleLine]] = field(
        default_factory=lambda: _grouped(
            lambda ids: models.PaymentScheduleLine.filter(schedule_id__in=ids).order_by("seq"),
            lambda r: r.schedule_id,
        )
    )
    allowed_schedule_ids_by_version: DataLoader[int, list[int]] = field(
        default_factory=lambda: _grouped_ids(_allowed_schedules)
    )
    version_by_id: DataLoader[int, models.ProgramVersion] = field(
        default_factory=lambda: _by_key(
            lambda ids: models.ProgramVersion.filter(id__in=ids), lambda r: r.id
        )
    )
    customer_by_id: DataLoader[int, models.Customer] = field(
        default_factory=lambda: _by_key(
            lambda ids: models.Customer.filter(id__in=ids), lambda r: r.id
        )
    )
    address_by_id: DataLoader[int, models.Address] = field(
        default_factory=lambda: _by_key(
            lambda ids: models.Address.filter(id__in=ids), lambda r: r.id
        )
    )
    payment_method_by_id: DataLoader[int, models.PaymentMethod] = field(
        default_factory=lambda: _by_key(
            lambda ids: models.PaymentMethod.filter(id__in=ids), lambda r: r.id
        )
    )
    addresses_by_customer: DataLoader[int, list[models.Address]] = field(
        default_factory=lambda: _grouped(
            lambda ids: models.Address.filter(customer_id__in=ids).order_by("id"),
            lambda r: r.customer_id,
        )
    )
    payment_methods_by_customer: DataLoader[int, list[models.PaymentMethod]] = field(
        default_factory=lambda: _grouped(
            lambda ids: models.PaymentMethod.filter(customer_id__in=ids).order_by("id"),
            lambda r: r.customer_id,
        )
    )
    sales_order_by_id: DataLoader[int, models.SalesOrder] = field(
        default_factory=lambda: _by_key(
            lambda ids: models.SalesOrder.filter(id__in=ids), lambda r: r.id
        )
    )
    sales_lines_by_order: DataLoader[int, list[models.SalesOrderLine]] = field(
        default_factory=lambda: _grouped(
            lambda ids: models.SalesOrderLine.filter(sales_order_id__in=ids).order_by(
                "line_number"
            ),
            lambda r: r.sales_order_id,
        )
    )
    continuity_orders_by_sales_order: DataLoader[int, list[models.ContinuityOrder]] = field(
        default_factory=lambda: _grouped(
            lambda ids: models.ContinuityOrder.filter(sales_order_id__in=ids).order_by("id"),
            lambda r: r.sales_order_id,
        )
    )
    lines_by_continuity_order: DataLoader[int, list[models.ContinuityLine]] = field(
        default_factory=lambda: _grouped(
            lambda ids: models.ContinuityLine.filter(continuity_order_id__in=ids).order_by(
                "planned_ship_date", "event_number", "repeat_index", "item_seq"
            ),
            lambda r: r.continuity_order_id,
        )
    )
    payments_by_continuity_order: DataLoader[int, list[models.Payment]] = field(
        default_factory=lambda: _grouped(
            lambda ids: models.Payment.filter(continuity_order_id__in=ids).order_by("id"),
            lambda r: r.continuity_order_id,
        )
    )
    payments_by_sales_order: DataLoader[int, list[models.Payment]] = field(
        default_factory=lambda: _grouped(
            lambda ids: models.Payment.filter(sales_order_id__in=ids).order_by("id"),
            lambda r: r.sales_order_id,
        )
    )
    history_by_continuity_order: DataLoader[int, list[models.OrderHistoryEntry]] = field(
        default_factory=lambda: _grouped(
            lambda ids: models.OrderHistoryEntry.filter(continuity_order_id__in=ids).order_by("id"),
            lambda r: r.continuity_order_id,
        )
    )
    child_order_by_id: DataLoader[int, models.ChildOrder] = field(
        default_factory=lambda: _by_key(
            lambda ids: models.ChildOrder.filter(id__in=ids), lambda r: r.id
        )
    )
    payment_by_id: DataLoader[int, models.Payment] = field(
        default_factory=lambda: _by_key(
            lambda ids: models.Payment.filter(id__in=ids), lambda r: r.id
        )
    )


def _grouped_ids(
    fetch: Callable[[list[int]], Awaitable[list[models.ProgramVersionSchedule]]],
) -> DataLoader[int, list[int]]:
    async def load(keys: list[int]) -> Sequence[list[int]]:
        groups: dict[int, list[int]] = defaultdict(list)
        for row in await fetch(keys):
            groups[row.version_id].append(row.schedule_id)
        return [groups.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


Clock: TypeAlias = Callable[[], date]


@dataclass
class Context:
    settings: Settings
    gateway: PaymentGateway
    #: Today's business date; tests pass a fixed one.
    clock: Clock | None = None
    request: Request | WebSocket | None = None
    response: Response | WebSocket | None = None
    loaders: Loaders = field(default_factory=Loaders)
    #: The authenticated caller (``server/guard.py``); None only for development-mode
    #: introspection, which ``resolvers.access.AccessControl`` allows and nothing else.
    caller: Caller | None = None
    #: Names this request in the logs and in masked errors (the ``X-Request-Id`` header).
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: The websocket ``connection_init`` payload (strawberry sets it).
    connection_params: dict[str, Any] | None = None

    @property
    def actor(self) -> str:
        """Who is calling, for the order history and job runs: ``<role>:<token name>``."""
        return self.caller.actor if self.caller is not None else "api"

    @property
    def today(self) -> date:
        """Today in the call center's time zone."""
        if self.clock is not None:
            return self.clock()
        return datetime.now(self.settings.timezone).date()


Info: TypeAlias = StrawberryInfo[Context, Any]
