"""Reading programs for the engine: the live version, its ``ProgramSpec``, and the payment
schedule an order for it would use (``offered_schedule``: placement and the program preview
refuse the same schedules).

A program version is immutable once written (a rules change makes a new version; what a spec
reads of a product is its SKU, which names it), so a version's parsed spec is cached per
version id (:func:`cached_spec`, :func:`version_spec`): placement, projections, the planner and
the jobs parse each version once per process instead of three queries per order. The cache
hangs off the database's connection object (its transactions share it), so another database
(a test's, a benchmark's) never sees this one's versions, and it is bounded (least recently
used go first).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.connection import connection
from continuity.engine.billing import ScheduleSpec
from continuity.engine.calendar import GapSpec
from continuity.engine.spec import EventSpec, ItemSpec, ProgramSpec
from continuity.errors import ErrorCode, InvalidInput
from continuity.models import (
    PaymentSchedule,
    PaymentScheduleLine,
    Product,
    ProgramEvent,
    ProgramEventItem,
    ProgramVersion,
    ProgramVersionSchedule,
)

#: How many versions' specs a process keeps per database (a handful are live at a time).
SPEC_CACHE_SIZE = 256
_CACHE_ATTRIBUTE = "_continuity_program_specs"


def _cache(client: Any = None) -> OrderedDict[int, ProgramSpec]:
    """The spec cache of the database the models are bound to (one per open connection);
    ``client``: that connection when the caller already holds it (``connection()`` is a
    context look-up, a microsecond a call)."""
    if client is None:
        client = connection()
    # a transaction (or a pinned connection, ``writes.one_connection``) wraps its database's
    # client: the versions it reads are the database's, and so is their cache
    while (parent := getattr(client, "_parent", None)) is not None:
        client = parent
    cache: OrderedDict[int, ProgramSpec] | None = getattr(client, _CACHE_ATTRIBUTE, None)
    if cache is None:
        cache = OrderedDict()
        setattr(client, _CACHE_ATTRIBUTE, cache)
    return cache


def _remember(version_id: int, spec: ProgramSpec) -> ProgramSpec:
    cache = _cache()
    cache[version_id] = spec
    cache.move_to_end(version_id)
    while len(cache) > SPEC_CACHE_SIZE:
        cache.popitem(last=False)
    return spec


def _recall(version_id: int, client: BaseDBAsyncClient | None = None) -> ProgramSpec | None:
    cache = _cache(client)
    spec = cache.get(version_id)
    if spec is not None:
        cache.move_to_end(version_id)
    return spec


async def cached_spec(version: ProgramVersion, code: str) -> ProgramSpec:
    """``program_spec`` of a version already read, parsed once per process."""
    return _recall(version.id) or _remember(version.id, await program_spec(version, code))


def recalled_spec(version_id: int, client: BaseDBAsyncClient) -> ProgramSpec | None:
    """The spec of a version already parsed, without a query (``None`` if it is not cached).
    ``client`` must be the models' own connection (``connection()`` in the caller's
    context), whose cache ``version_spec`` fills."""
    return _recall(version_id, client)


async def version_spec(version_id: int, conn: BaseDBAsyncClient | None = None) -> ProgramSpec:
    """The spec of a version by id: no query once it has been parsed."""
    spec = _recall(version_id)
    if spec is not None:
        return spec
    version = await ProgramVersion.get(id=version_id, using_db=conn).prefetch_related("program")
    return _remember(version_id, await program_spec(version, version.program.code))


async def live_version(program_id: int) -> ProgramVersion:
    version = await ProgramVersion.filter(program_id=program_id).order_by("-number").first()
    if version is None:
        raise LookupError(f"program {program_id} has no version")
    return version


async def offered_schedule(
    version: ProgramVersion, code: str | None, field: list[str]
) -> PaymentSchedule | None:
    """The payment schedule an order on ``version`` would use: ``code`` if the version offers
    it (else ``PAYMENT_SCHEDULE_NOT_ALLOWED`` at ``field``), or the version's default."""
    if code is None:
        if version.default_payment_schedule_id is None:
            return None
        return await PaymentSchedule.get(id=version.default_payment_schedule_id)
    allowed = await ProgramVersionSchedule.filter(
        version_id=version.id, schedule__code=code
    ).first()
    if allowed is None:
        raise InvalidInput(
            f"payment schedule {code!r} is not offered for this program",
            field=field,
            code=ErrorCode.PAYMENT_SCHEDULE_NOT_ALLOWED,
        )
    return await PaymentSchedule.get(id=allowed.schedule_id)


async def program_spec(version: ProgramVersion, code: str) -> ProgramSpec:
    events = await ProgramEvent.filter(version_id=version.id).order_by("number")
    items = await ProgramEventItem.filter(event__version_id=version.id).order_by("event_id", "seq")
    products = {p.id: p for p in await Product.filter(id__in={i.product_id for i in items})}
    by_event: dict[int, list[ItemSpec]] = {}
    for item in items:
        by_event.setdefault(item.event_id, []).append(
            ItemSpec(
                item.product_id, products[item.product_id].sku, item.quantity, item.price_minor
            )
        )
    return ProgramSpec(
        code=code,
        currency=version.currency,
        events=tuple(
            EventSpec(
                number=event.number,
                gap=GapSpec(event.gap_unit, event.gap_count),
                action=event.action,
                items=tuple(by_event.get(event.id, ())),
                shipments=None if event.repeat_forever else event.repeat + 1,
                not_before=event.not_before,
            )
            for event in events
        ),
        order_start=version.order_start,
        current_event_anchor=version.current_event_anchor,
        days_after_order=version.days_after_order,
        parent_event_count=version.parent_event_count,
        consolidate_past_orders=version.consolidate_past_orders,
        bill_up_front=version.bill_up_front,
    )


async def schedule_spec(schedule: PaymentSchedule) -> ScheduleSpec:
    lines = await PaymentScheduleLine.filter(schedule_id=schedule.id).order_by("seq")
    period = (
        GapSpec(schedule.period_unit, schedule.period_count)
        if schedule.period_unit is not None and schedule.period_count is not None
        else None
    )
    return ScheduleSpec(
        code=schedule.code,
        count=schedule.installment_count,
        period=period,
        lines=tuple((line.percent_hundredths, line.offset_days) for line in lines),
        ship_after_installment=schedule.ship_after_installment,
    )
